"""The app's charts: one style for every page, as plain Vega-Lite specs, each shown with a one-line
summary in numbers for readers who cannot see it (`show_chart`).

One function a kind of chart: here the charts of how runs learn and what models answer (loss
and accuracy curves of one run or of several, accuracy per class, the confusion matrix, the
accuracy under noise); in `app_glue.probability_chart` the class probabilities of one image
(plain HTML bars in the same colours: they change at every drawing); in
`app_glue.value_charts` the charts of values (bars of counts, histograms and their epochs
overlaid, a vector of unit outputs as cells). The
sentences that go with them are in `app_glue.chart_summaries`.

The style (the project's issue "What a learner sees"): the plot fills its box (`autosize` fit,
a modest height), few gridlines, a log-loss axis ticked at 0.01, 0.1, 1 only, Paul Tol's
colour-blind-safe "bright" palette, a point shape per run so that runs differ without colour,
whole run names in a legend below the chart, digit labels upright.

Plain specs, not Altair objects: building and validating Altair objects took 40 ms a chart,
twice a second, for every student watching a run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import streamlit as st

from app_glue.chart_summaries import curves_summary
from mnist_core.runs.record import Run
from mnist_core.training.report import (
    TRAINING,
    VALIDATION,
)
from mnist_core.training.report import curve_rows as report_curve_rows

Spec = dict[str, Any]
# Paul Tol's "bright" scheme, told apart with every kind of colour blindness.
PALETTE = ("#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB")
BLUE, RED, GREEN, YELLOW, CYAN, PURPLE, GREY = PALETTE
# Up to eight runs are told apart by their point shape as well as their colour.
MARKERS = (
    "circle", "square", "triangle-up", "diamond", "cross", "triangle-down", "wedge", "stroke",
)  # fmt: skip
# Training solid, validation dashed.
SPLIT_DASHES = {TRAINING: [1, 0], VALIDATION: [6, 3]}
CURVE_TITLES = {"loss": "Loss (lower is better)", "accuracy": "Accuracy (higher is better)"}
# A legend of lines (training solid, validation dashed), not of dots.
LINES = {"symbolType": "stroke", "symbolStrokeWidth": 2.5, "symbolSize": 400}
# Class names longer than this are tilted on an axis (Fashion-MNIST's "Ankle boot").
SHORT_NAME = 2

STYLE: Spec = {
    "axis": {"grid": False, "labelFontSize": 12, "titleFontSize": 12, "tickCount": 5},
    "axisY": {"grid": True, "gridOpacity": 0.6, "tickCount": 4},
    "axisDiscrete": {"grid": False},
    # Whole run names ("cnn_three_epochs (24a8f0)", never "cnn_thr…"), below the chart.
    "legend": {"orient": "bottom", "labelLimit": 1000, "labelFontSize": 12, "symbolSize": 90},
    "range": {"category": list(PALETTE)},
    "view": {"stroke": None},
    "title": {"fontSize": 14, "anchor": "start"},
}


def chart(body: Spec, *, height: int, title: str | None = None) -> Spec:
    """A spec in the app's style: `body` (data, marks, encodings) in a box `height` pixels high
    that the plot fills, legend and axes included."""
    spec = {"height": height, "autosize": {"type": "fit", "contains": "padding"}, "config": STYLE}
    return {**spec, **({"title": title} if title else {}), **body}


def show_chart(
    spec: Spec, summary: str, *, key: str | None = None, data: Any = None, **options: Any
) -> Any:
    """Draw a chart across its column with its summary under it; returns what
    `st.vega_lite_chart` returns (a selection, with `on_select`). `data` (a DataFrame) is the
    chart's data when the spec holds none."""
    shown = st.vega_lite_chart(data, spec, width="stretch", key=key, **options)
    st.caption(summary)
    return shown


def channel(field: str, kind: str = "quantitative", **options: Any) -> Spec:
    """An encoding channel (or a tooltip entry) of one data field."""
    return {"field": field, "type": kind, **options}


def class_axis(class_names: Sequence[str], title: str | None = None) -> Spec:
    """An axis of class names: digits upright, longer names tilted."""
    tilted = max(len(str(name)) for name in class_names) > SHORT_NAME
    return {
        "title": title,
        "labelAngle": -40 if tilted else 0,
        "labelAlign": "right" if tilted else "center",
        "labelOverlap": False,
        "labelFontSize": 13,
    }


def log_axis(values: Sequence[float], *, low: float | None = None) -> tuple[Spec, Spec]:
    """The scale and the axis of a log axis over `values` (> 0), from `low` (default: just below
    the least value, or the power of ten under it when that is near) to just above the greatest:
    ticked at powers of ten only (0.01, 0.1, 1), or at 1, 2 and 5 times them when fewer than two
    powers of ten fall in."""
    least, greatest = min(values), max(values)
    below, above = 10.0 ** math.floor(math.log10(least)), 10.0 ** math.ceil(math.log10(greatest))
    bottom = min(least / 1.15, below) if least <= 1.5 * below else least / 1.15
    bottom = low if low is not None else bottom
    top = max(greatest * 1.15, above) if above <= 1.5 * greatest else greatest * 1.15
    powers = range(math.floor(math.log10(bottom)), math.ceil(math.log10(top)) + 1)
    steps = [(step, round(step * 10.0**power, 12)) for power in powers for step in (1, 2, 5)]
    inside = [(step, tick) for step, tick in steps if bottom <= tick <= top]
    ticks = [tick for step, tick in inside if step == 1]
    if len(ticks) < 2:
        ticks = [tick for _, tick in inside]
    ticks = ticks[:: math.ceil(len(ticks) / 6)] if ticks else ticks  # at most six labels
    axis = {"values": ticks, "format": "~s" if bottom >= 1 else "~g"} if len(ticks) >= 2 else {}
    return {"type": "log", "domain": [bottom, top], "nice": False}, axis


def run_channel(run_labels: Sequence[str], **options: Any) -> Spec:
    """The colour (or, with `shapes`, the point shape) of each run: one legend entry a run, one a
    line, its whole name."""
    return channel(
        "run",
        "nominal",
        title=None,
        scale={"domain": list(run_labels), **options},
        legend={"columns": 1},
    )


def run_shapes(run_labels: Sequence[str]) -> Spec:
    """The point shape of each run (sharing the colour's legend)."""
    return run_channel(run_labels, range=list(MARKERS[: len(run_labels)]))


def curves_spec(
    rows: list[dict[str, Any]],
    metric: str,
    *,
    epochs: int | None = None,
    log_scale: bool = False,
    run_labels: Sequence[str] | None = None,
) -> Spec:
    """Loss or accuracy against epochs, a dot at each epoch's end; training solid, validation
    dashed.

    Args:
        rows: points {"epoch", "metric", "split", "value"} (and "run" for several runs), as
            `mnist_core.training.report.curve_rows` or `mnist_core.teaching.compare.curve_rows`
            give them.
        metric: "loss" or "accuracy".
        epochs: the x axis runs from 0 to this (default: as far as the points go).
        log_scale: a log y axis (for the loss), ticked at powers of ten.
        run_labels: several runs: one colour and point shape a run, in this order; None for
            one run, whose two splits then get a colour each.
    """
    points = [
        row for row in rows if row["metric"] == metric and (row["value"] > 0 or not log_scale)
    ]
    y_axis: Spec = {"format": "%"} if metric == "accuracy" else {}
    y_scale: Spec = {"zero": False}
    if log_scale and points:
        y_scale, y_axis = log_axis([row["value"] for row in points])
    dash_scale = {"domain": list(SPLIT_DASHES), "range": list(SPLIT_DASHES.values())}
    x_scale = {"scale": {"domain": [0, epochs]}} if epochs else {}
    encoding: Spec = {
        "x": channel("epoch", title="epoch", axis={"tickMinStep": 1, "format": "~g"}, **x_scale),
        "y": channel(
            "value",
            title=f"{metric} (log scale)" if log_scale else metric,
            scale=y_scale,
            axis=y_axis,
        ),
        "tooltip": [
            *([channel("run", "nominal")] if run_labels else []),
            channel("split", "nominal"),
            channel("epoch", format=".2f"),
            channel("value", title=metric, format=".4f"),
        ],
    }
    # The dashes on the lines only: the legend then shows them as lines, not as dots.
    dashes = channel("split", "nominal", title=None, scale=dash_scale, legend=LINES)
    points_encoding: Spec = {}
    if run_labels:
        # Colour and shape share one legend (same field, title and legend): each run's name
        # once, with its colour and its point shape.
        encoding["color"] = run_channel(run_labels)
        dashes["legend"] = {**LINES, "orient": "top"}
        points_encoding["shape"] = run_shapes(run_labels)
    else:
        # Colour and dash share one legend (same field, title and legend), a line a split.
        colours = {"domain": list(SPLIT_DASHES), "range": [BLUE, RED]}
        encoding["color"] = channel("split", "nominal", title=None, scale=colours, legend=LINES)
    return chart(
        {
            "data": {"values": points},
            "encoding": encoding,
            "layer": [
                {"mark": {"type": "line", "strokeWidth": 2.2}, "encoding": {"strokeDash": dashes}},
                {
                    "mark": {"type": "point", "filled": True, "size": 60, "opacity": 1},
                    "transform": [{"filter": "datum.epoch % 1 == 0"}],
                    "encoding": points_encoding,
                },
            ],
        },
        height=300 if run_labels else 260,
        title=CURVE_TITLES[metric],
    )


def per_class_spec(rows: list[dict[str, Any]], run_labels: Sequence[str]) -> Spec:
    """The accuracy of every class, one bar a run side by side, each bar topped with its run's
    point shape. The axis starts a little below the weakest class (the bars are cut there), so
    that differences of a point or two show.

    Args:
        rows: {"run", "class", "class_index", "accuracy"}, as
            `mnist_core.teaching.compare.per_class_accuracy_rows` gives them.
        run_labels: the runs, in the order of their bars.
    """
    by_index = sorted(rows, key=lambda row: row["class_index"])
    class_names = list(dict.fromkeys(row["class"] for row in by_index))
    tips = [channel("run", "nominal"), channel("class", "nominal")]
    weakest = min([row["accuracy"] for row in rows] or [0.0])
    bottom = {"domain": [max(0.0, math.floor((weakest - 0.01) * 20) / 20), 1]}
    return chart(
        {
            "data": {"values": rows},
            "encoding": {
                "x": channel(
                    "class", "nominal", sort=list(class_names), axis=class_axis(class_names)
                ),
                "xOffset": channel("run", "nominal", sort=list(run_labels)),
                "y": channel("accuracy", title="test accuracy", scale=bottom, axis={"format": "%"}),
                "color": run_channel(run_labels),
                "tooltip": [*tips, channel("accuracy", format=".2%")],
            },
            "layer": [
                {"mark": {"type": "bar", "clip": True}},
                {
                    "mark": {"type": "point", "filled": True, "size": 40, "opacity": 1},
                    "encoding": {"shape": run_shapes(run_labels)},
                },
            ],
        },
        height=280,
    )


def confusion_spec(
    cells: list[dict[str, Any]],
    class_names: Sequence[str],
    *,
    chosen: tuple[int, int] | None = None,
    selectable: bool = False,
    counts: bool = True,
    height: int = 480,
    title: str | None = None,
) -> Spec:
    """The confusion matrix: a square a (true, predicted) pair; right answers blue, mistakes
    from white to red (a square-root scale: one mistake already shows), counts written in.

    Args:
        cells: `mnist_core.evaluation.confusion.confusion_cells` records.
        class_names: the classes, in the order of both axes.
        chosen: (true, predicted) of the square to outline.
        selectable: a click selects a square (the selection parameter "cell").
        counts: write each non-zero count in its square.
        height: the chart's height in pixels.
        title: above the chart.
    """
    most_mistakes = max([cell["count"] for cell in cells if not cell["correct"]] or [1]) or 1
    is_chosen = (
        f"datum.true_index == {chosen[0]} && datum.predicted_index == {chosen[1]}"
        if chosen is not None
        else "false"
    )
    mistakes = {"type": "sqrt", "domain": [0, most_mistakes], "range": ["#ffffff", RED]}
    squares: Spec = {
        "mark": {
            "type": "rect",
            "stroke": "#dddddd",
            "cursor": "pointer" if selectable else "default",
        },
        "encoding": {
            "color": channel(
                "count",
                scale={**mistakes, "interpolate": "rgb"},
                legend=None,
                condition={"test": "datum.correct", "value": BLUE},
            ),
            "tooltip": [
                channel("true", "nominal", title="True class"),
                channel("predicted", "nominal", title="Predicted as"),
                channel("count", title="Images"),
                channel("share", title="Share of the true class", format=".1%"),
            ],
        },
    }
    if selectable:
        fields = ["true_index", "predicted_index"]
        select = {"type": "point", "fields": fields, "on": "click", "clear": False}
        squares["params"] = [{"name": "cell", "select": select}]
    outline = {"type": "rect", "fill": None, "stroke": "#222222", "strokeWidth": 4}
    layers = [squares, {"transform": [{"filter": is_chosen}], "mark": outline}]
    if counts:
        white_on_blue = {"condition": {"test": "datum.correct", "value": "white"}, "value": "black"}
        layers.append(
            {
                "transform": [{"filter": "datum.count > 0"}],
                "mark": {"type": "text", "fontSize": 13},
                "encoding": {"text": channel("count"), "color": white_on_blue},
            }
        )
    axis = {"labelFontSize": 13 if counts else 11, "titleFontSize": 13}
    top_axis = {**class_axis(class_names, "Predicted class"), **axis, "orient": "top"}
    if top_axis["labelAngle"]:
        top_axis.update(labelAngle=-40, labelAlign="left")
    return chart(
        {
            "data": {"values": cells},
            "encoding": {
                "x": channel("predicted", "nominal", sort=list(class_names), axis=top_axis),
                "y": channel(
                    "true", "nominal", sort=list(class_names), title="True class", axis=axis
                ),
            },
            "layer": layers,
        },
        height=height,
        title=title,
    )


def noise_spec(
    points: list[dict[str, float]], *, chosen_sigma: float, num_classes: int, height: int = 280
) -> Spec:
    """Test accuracy against the noise's sigma, with guessing (dashed) and the slider's sigma
    (grey) as rules.

    Args:
        points: {"sigma", "accuracy"}, one a noise level.
        chosen_sigma: the noise of the page's slider.
        num_classes: guessing is right one time in this many.
        height: the chart's height in pixels.
    """
    sigma = channel("sigma", title="noise (sigma)", axis={"format": ".1f"})
    accuracy = channel(
        "accuracy",
        title="test accuracy",
        scale={"domain": [0, 1]},
        axis={"format": "%", "values": [0, 0.25, 0.5, 0.75, 1]},
    )
    guessing = {"type": "rule", "strokeDash": [6, 4], "color": GREY, "strokeWidth": 2}
    line = {"data": {"values": points}, "encoding": {"x": sigma, "y": accuracy}}
    return chart(
        {
            "layer": [
                {
                    "data": {"values": [{"accuracy": 1 / num_classes}]},
                    "mark": guessing,
                    "encoding": {"y": accuracy},
                },
                {
                    "data": {"values": [{"sigma": chosen_sigma}]},
                    "mark": {"type": "rule", "color": GREY, "strokeWidth": 2},
                    "encoding": {"x": sigma},
                },
                {**line, "mark": {"type": "line", "strokeWidth": 3, "color": BLUE}},
                {
                    **line,
                    "mark": {"type": "point", "filled": True, "size": 70, "color": BLUE},
                    "encoding": {
                        **line["encoding"],
                        "tooltip": [
                            channel("sigma", format=".1f"),
                            channel("accuracy", format=".1%"),
                        ],
                    },
                },
            ]
        },
        height=height,
    )


# --- the charts several pages show the same way -----------------------------------------------


def show_curves(run: Run, *, key: str, log_scale_loss: bool = True) -> None:
    """One run's loss and accuracy side by side, training and validation in two colours.

    The loss is on a log scale by default, as on the Compare page: the first batches' loss is
    ten times the rest, and on a linear axis it flattens everything after them.
    """
    rows = report_curve_rows(run.epoch_metrics(), run.batch_curve)
    if not rows:
        st.caption("The loss and accuracy curves appear after the first batches.")
        return
    for column, metric in zip(st.columns(2), ("loss", "accuracy")):
        log_scale = metric == "loss" and log_scale_loss
        with column:
            show_chart(
                curves_spec(rows, metric, epochs=run.config.epochs, log_scale=log_scale),
                curves_summary(rows, metric),
                key=f"{key}_{metric}",
            )
    st.caption(
        "Training points within an epoch are the average over the epoch so far; dots mark the "
        "end of each epoch, when the validation images are scored (dashed line)."
    )


def show_runs_curves(runs: Sequence[Run], *, key: str, log_scale_loss: bool = True) -> None:
    """Several runs' loss and accuracy overlaid, a colour and a point shape a run, each chart in
    a container keyed `{key}_{metric}`."""
    from mnist_core.teaching.compare import curve_rows as runs_curve_rows

    rows = runs_curve_rows(runs)
    if not rows:
        st.caption("The curves appear after the first batches.")
        return
    labels = [run.display_label for run in runs]
    for column, metric in zip(st.columns(2), ("loss", "accuracy")):
        log_scale = metric == "loss" and log_scale_loss
        with column.container(key=f"{key}_{metric}"):
            show_chart(
                curves_spec(rows, metric, log_scale=log_scale, run_labels=labels),
                curves_summary(rows, metric, run_labels=labels),
            )
    st.caption(
        "Training solid, validation dashed; each run has its own colour and point shape. "
        "x is in epochs (fractions are points within an epoch)."
    )
