"""The class probabilities of one image as bars, in the app's colours (`app_glue.charts`).

Plain HTML (`st.html`), not a Vega-Lite chart: these are the bars a drawing changes, and a
Vega view drew its canvas again at every reading and at every Clear. Measured with the
benchmark of a lesson on a cheap phone (`bench/phone_drawing.py`: 390x844 touch, CPU slowed 4x,
100 drawings of a 1, side by side, 2026-12-05): 1.35 s of renderer CPU a drawing with the Vega
chart, 1.11 s with these bars; the JS heap after drawing 1 went from 19.2 to 14.3 MB. A new
reading replaces the bars' few dozen nodes and leaves none behind.

It shows what the Vega chart showed: a bar a class, the answer blue, the true class (when given
and not the answer) red, the others grey, a bar's probability written above it when it is at
least 1%, the whole bar's figure on hover, gridlines at 0, 50% and 100%, and the class names
under the bars (long ones, Fashion-MNIST's "Ankle boot", tilted). The sentence
under it (`chart_summaries.probability_summary`) says the same in numbers.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import streamlit as st

from app_glue.chart_summaries import probability_summary
from app_glue.charts import BLUE, GREY, RED, SHORT_NAME

ROLE_COLOURS = {"answer": BLUE, "truth": RED, "other": GREY}
# Only bars worth reading get a number: ten "0%" would hide the answer.
LEAST_WRITTEN = 0.01
PLOT_HEIGHT = 170  # pixels, the bars' box; with the figures above and the names under: ~220
AXIS_WIDTH = 40  # pixels, the "100%" column left of the bars
NAMES_HEIGHT = 18  # pixels under the bars for upright names (digits)
TILTED_NAMES_HEIGHT = 52  # for tilted ones: "T-shirt/top" at 40 degrees
TILT_DEGREES = 40
GRIDLINE = "rgba(128, 128, 128, 0.35)"
# A class of the probability bars' root element: what tests and the page's CSS find them by.
BARS_CLASS = "probability-bars"


def probability_rows(
    probabilities: Sequence[float],
    class_names: Sequence[str],
    *,
    answer: int | None,
    truth: int | None = None,
) -> list[dict[str, Any]]:
    """One row a class: its name, its probability and its role (the answer, the true class when
    given and not the answer, or another class)."""
    return [
        {
            "class": name,
            "probability": float(probability),
            "role": "answer" if index == answer else "truth" if index == truth else "other",
        }
        for index, (name, probability) in enumerate(zip(class_names, probabilities))
    ]


def _bar(row: dict[str, Any]) -> str:
    """One class' column: its bar from the bottom, its figure above it when worth reading."""
    share = min(max(row["probability"], 0.0), 1.0)
    height = f"{share * 100:.2f}%"
    figure = (
        f'<span style="position:absolute;left:-4px;right:-4px;bottom:calc({height} + 1px);'
        f'text-align:center;font-size:12px;line-height:1.3">{share:.0%}</span>'
        if share >= LEAST_WRITTEN
        else ""
    )
    return (
        f'<div title="{html.escape(str(row["class"]))}: {share:.1%}" '
        'style="position:relative;flex:1;height:100%">'
        f'<div style="position:absolute;left:0;right:0;bottom:0;height:{height};'
        f'background:{ROLE_COLOURS[row["role"]]};border-radius:2px 2px 0 0"></div>{figure}</div>'
    )


def _name(name: str, tilted: bool) -> str:
    """One class' name under its bar: upright, or (a long one) tilted like the app's Vega axes,
    ending under the bar."""
    if not tilted:
        return f'<div style="flex:1;text-align:center;font-size:13px">{html.escape(name)}</div>'
    return (
        '<div style="flex:1;position:relative">'
        '<span style="position:absolute;right:50%;top:4px;white-space:nowrap;font-size:11px;'
        f'transform-origin:right center;transform:rotate(-{TILT_DEGREES}deg)">'
        f"{html.escape(name)}</span></div>"
    )


def probability_bars_html(rows: Sequence[dict[str, Any]], summary: str) -> str:
    """The bars of `probability_rows` as one HTML block, its summary as its accessible name."""
    tilted = max(len(str(row["class"])) for row in rows) > SHORT_NAME
    axis = "".join(
        f'<span style="position:absolute;right:6px;top:{top};transform:translateY(-50%);'
        f'font-size:12px;line-height:1">{label}</span>'
        for label, top in (("100%", "0"), ("50%", "50%"), ("0%", "100%"))
    )
    bars = "".join(_bar(row) for row in rows)
    names = "".join(_name(str(row["class"]), tilted) for row in rows)
    gap = "gap:6px"
    return (
        f'<div class="{BARS_CLASS}" role="img" aria-label="{html.escape(summary)}" '
        'style="padding-top:20px">'
        f'<div style="display:flex;height:{PLOT_HEIGHT}px">'
        f'<div style="position:relative;width:{AXIS_WIDTH}px;flex:none">{axis}</div>'
        f'<div style="flex:1;display:flex;{gap};border-bottom:1px solid {GRIDLINE};'
        f"background:linear-gradient(to bottom, {GRIDLINE} 1px, transparent 1px) "
        f'0 0 / 100% 50%">{bars}</div></div>'
        f'<div style="display:flex;{gap};margin:4px 0 2px {AXIS_WIDTH}px;'
        f'height:{TILTED_NAMES_HEIGHT if tilted else NAMES_HEIGHT}px">{names}</div></div>'
    )


def show_probabilities(
    probabilities: Sequence[float] | None,
    class_names: Sequence[str],
    *,
    truth: int | None = None,
    empty_summary: str = "",
) -> None:
    """The class probabilities of one image as bars, the answer (the tallest) blue, the true
    class (when given and not the answer) red, with their summary under them.

    Args:
        probabilities: one a class; None for no image yet: bars at 0 and `empty_summary` (the
            bars stay on the page, ready for the next reading).
        class_names: the classes, in order.
        truth: the true class, if known.
        empty_summary: the line under bars at 0.
    """
    if probabilities is None:
        rows = probability_rows([0.0] * len(class_names), class_names, answer=None)
        summary = empty_summary
    else:
        answer = max(range(len(probabilities)), key=lambda index: probabilities[index])
        rows = probability_rows(probabilities, class_names, answer=answer, truth=truth)
        summary = probability_summary(probabilities, class_names, truth=truth)
    st.html(probability_bars_html(rows, summary or "The class probabilities"))
    st.caption(summary)
