"""The app's charts: one style for curves, bars and matrices, as plain Vega-Lite specs.

Plain specs, not Altair objects: building and validating Altair objects took 40 ms a chart,
twice a second, for every student watching a run."""

from __future__ import annotations

from typing import Any

import streamlit as st

from mnist_core.runs.record import (
    Run,
)
from mnist_core.training.report import (
    TRAINING,
    VALIDATION,
    curve_rows,
)

CURVE_COLORS = {TRAINING: "#1f77b4", VALIDATION: "#ff7f0e"}


CURVE_TITLES = {"loss": "Loss (lower is better)", "accuracy": "Accuracy (higher is better)"}


def curve_spec(
    rows: list[dict[str, Any]], metric: str, epochs: int, *, log_scale: bool = False
) -> dict[str, Any]:
    """The Vega-Lite chart of one metric: training (solid) and validation (dashed) against
    epochs, a dot at each epoch's end. A plain spec: building and validating Altair objects
    took 40 ms a chart, twice a second, for every student watching a run."""
    shared = {
        "x": {
            "field": "epoch",
            "type": "quantitative",
            "title": "epoch",
            "scale": {"domain": [0, epochs]},
            "axis": {"tickMinStep": 1},
        },
        "y": {
            "field": "value",
            "type": "quantitative",
            "title": f"{metric} (log scale)" if log_scale else metric,
            "scale": {"type": "log"} if log_scale else {"zero": False},
        },
        "color": {
            "field": "split",
            "type": "nominal",
            "title": None,
            "scale": {"domain": list(CURVE_COLORS), "range": list(CURVE_COLORS.values())},
            "legend": {"orient": "top"},
        },
        "strokeDash": {
            "field": "split",
            "type": "nominal",
            "title": None,
            "scale": {"domain": [TRAINING, VALIDATION], "range": [[1, 0], [6, 3]]},
            "legend": None,
        },
        "tooltip": [
            {"field": "epoch", "type": "quantitative", "format": ".2f"},
            {"field": "split", "type": "nominal"},
            {"field": "value", "type": "quantitative", "title": metric, "format": ".4f"},
        ],
    }
    return {
        "title": CURVE_TITLES[metric],
        "height": 300,
        "data": {
            "values": [
                row
                for row in rows
                if row["metric"] == metric and (row["value"] > 0 or not log_scale)
            ]
        },
        "encoding": shared,
        "layer": [
            {"mark": {"type": "line", "strokeWidth": 2.5}},
            {
                "mark": {"type": "point", "filled": True, "size": 60},
                "transform": [{"filter": "datum.epoch % 1 == 0"}],
            },
        ],
    }


def show_curves(run: Run, *, key: str, log_scale_loss: bool = True) -> None:
    """Loss and accuracy side by side, training and validation in two colours.

    The loss is on a log scale by default, as on the Compare page: the first batches' loss is
    ten times the rest, and on a linear axis it flattens everything after them.
    """
    rows = curve_rows(run.epoch_metrics(), run.batch_curve)
    if not rows:
        st.caption("The loss and accuracy curves appear after the first batches.")
        return
    for column, metric in zip(st.columns(2), ("loss", "accuracy")):
        spec = curve_spec(
            rows, metric, run.config.epochs, log_scale=metric == "loss" and log_scale_loss
        )
        column.vega_lite_chart(spec, width="stretch", key=f"{key}_{metric}")
    st.caption(
        "Training points within an epoch are the average over the epoch so far; dots mark the "
        "end of each epoch, when the validation images are scored (dashed line)."
    )
