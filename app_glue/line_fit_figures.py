"""The Fit a line page's two figures (matplotlib): the ten points with the line and its errors,
and the error over every (slope, intercept) with the descent's path on top."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from mnist_core.teaching.line_fit import (
    LossSurface,
    loss_surface_grid,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FIGURE_SIZE = (5.6, 4.0)
LINE_COLOUR = "#e4572e"
POINT_COLOUR = "#1f4e79"
BEST_COLOUR = "#2a9d8f"


def line_figure(
    x: np.ndarray,
    y: np.ndarray,
    slope: float,
    intercept: float,
    best: tuple[float, float] | None,
) -> Figure:
    """The points, the line y = slope x + intercept and its errors (and the best line once
    revealed, as (slope, intercept))."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=FIGURE_SIZE, layout="constrained")
    axes = figure.subplots()
    predicted = slope * x + intercept
    axes.vlines(x, y, predicted, colors=LINE_COLOUR, linewidth=1.2, alpha=0.7, label="errors")
    axes.scatter(x, y, color=POINT_COLOUR, zorder=3, label="the ten points")
    line_x = np.array([-0.5, 9.5])
    axes.plot(
        line_x,
        slope * line_x + intercept,
        color=LINE_COLOUR,
        linewidth=2.2,
        label=f"y = {slope:.2f} x + {intercept:.2f}",
    )
    if best is not None:
        axes.plot(
            line_x,
            best[0] * line_x + best[1],
            color=BEST_COLOUR,
            linestyle="--",
            linewidth=1.8,
            label="best fit",
        )
    axes.set_xlim(-0.5, 9.5)
    axes.set_ylim(-10, 80)
    axes.set_xlabel("x")
    axes.set_ylabel("y")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", fontsize=8)
    return figure


@st.cache_data(show_spinner=False)
def surface(
    x: np.ndarray,
    y: np.ndarray,
    slope_range: tuple[float, float],
    intercept_range: tuple[float, float],
) -> LossSurface:
    """The error over the grid: the same for everyone, so computed once."""
    return loss_surface_grid(x, y, slope_range, intercept_range)


def surface_figure(
    grid: LossSurface, path: list[tuple[float, float]], best: tuple[float, float] | None
) -> Figure:
    """The error over (slope, intercept) as contours, with the descent's path on top (and the
    best fit once revealed)."""
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    figure = Figure(figsize=FIGURE_SIZE, layout="constrained")
    axes = figure.subplots()
    levels = grid.contour_levels()
    filled = axes.contourf(
        grid.slopes,
        grid.intercepts,
        grid.losses,
        levels=levels,
        norm=LogNorm(),
        cmap="viridis_r",
        alpha=0.85,
        extend="both",
    )
    axes.contour(
        grid.slopes, grid.intercepts, grid.losses, levels=levels, colors="white", linewidths=0.4
    )
    figure.colorbar(filled, ax=axes, label="mean squared error", format="%g")
    path_slopes = [point[0] for point in path]
    path_intercepts = [point[1] for point in path]
    axes.plot(
        path_slopes,
        path_intercepts,
        color=LINE_COLOUR,
        linewidth=1.5,
        marker="o" if len(path) <= 60 else None,
        markersize=3,
        label="descent",
    )
    start, now = (path_slopes[:1], path_intercepts[:1]), (path_slopes[-1:], path_intercepts[-1:])
    axes.plot(*start, "o", color="white", markeredgecolor="black", markersize=7, label="start")
    axes.plot(*now, "o", color=LINE_COLOUR, markeredgecolor="black", markersize=8, label="now")
    if best is not None:
        axes.plot(
            [best[0]],
            [best[1]],
            "*",
            color=BEST_COLOUR,
            markeredgecolor="black",
            markersize=15,
            label="best fit",
        )
    axes.set_xlim(grid.slopes[0], grid.slopes[-1])
    axes.set_ylim(grid.intercepts[0], grid.intercepts[-1])
    axes.set_xlabel("m (slope)")
    axes.set_ylabel("b (intercept)")
    axes.legend(loc="upper right", fontsize=8)
    return figure
