"""The charts of values, in the app's style (`app_glue.charts`): bars of counts or of outputs,
histograms, histograms of several epochs overlaid, and a long vector of outputs as cells.

Each comes with its sentence in `app_glue.chart_summaries`; `app_glue.charts.show_chart` draws
both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app_glue.charts import (
    BLUE,
    Spec,
    channel,
    chart,
    class_axis,
    log_axis,
)


def bars_spec(
    rows: list[dict[str, Any]],
    category: str,
    value: str,
    *,
    category_title: str | None,
    value_title: str,
    order: Sequence[str] | None = None,
    value_format: str = ",",
    height: int = 240,
    title: str | None = None,
) -> Spec:
    """One bar a category (a class, a unit): how many, or how much.

    Args:
        rows: one record a bar.
        category, value: the fields of the bar's name and height.
        category_title, value_title: the axes' titles.
        order: the categories in the order of the axis (default: as in `rows`).
        value_format: the d3 format of the values in the tooltip.
        height: the chart's height in pixels.
        title: above the chart.
    """
    names = [str(row[category]) for row in rows] if order is None else list(order)
    axis = class_axis(names, category_title)
    if len(names) > 32:  # many units: small labels, some left out
        axis.update(labelAngle=0, labelFontSize=10, labelOverlap=True)
    return chart(
        {
            "data": {"values": rows},
            "mark": {"type": "bar", "color": BLUE},
            "encoding": {
                "x": channel(category, "ordinal", sort=None if order is None else names, axis=axis),
                "y": channel(value, title=value_title),
                "tooltip": [channel(category, "ordinal"), channel(value, format=value_format)],
            },
        },
        height=height,
        title=title,
    )


def histogram_spec(
    rows: list[dict[str, Any]],
    *,
    value_title: str,
    count_title: str,
    start: str = "start",
    end: str = "end",
    count: str = "count",
    log_count: bool = False,
    domain: Sequence[float] | None = None,
    height: int = 240,
    title: str | None = None,
) -> Spec:
    """A histogram of bins given as rows {start, end, count}.

    Args:
        rows: one record a bin.
        value_title, count_title: the axes' titles.
        start, end, count: the fields of a bin's edges and its count.
        log_count: a log scale for the counts (bins without any are left out).
        domain: the value axis' range (default: the bins').
        height: the chart's height in pixels.
        title: above the chart.
    """
    if log_count:
        rows = [row for row in rows if row[count] > 0]
    counts = channel(count, title=count_title)
    if log_count and rows:
        scale, axis = log_axis([row[count] for row in rows], low=1)
        counts.update(scale=scale, axis=axis)
    value_scale = {"scale": {"domain": list(domain)}} if domain else {}
    return chart(
        {
            "data": {"values": rows},
            "mark": {"type": "bar", "color": BLUE, "binSpacing": 0},
            "encoding": {
                "x": channel(start, bin="binned", title=value_title, **value_scale),
                "x2": {"field": end},
                "y": counts,
                **({"y2": {"datum": 1}} if log_count else {}),
                "tooltip": [
                    channel(start, format=".3g", title="from"),
                    channel(end, format=".3g", title="to"),
                    channel(count, format=",", title=count_title),
                ],
            },
        },
        height=height,
        title=title,
    )


def epoch_lines_spec(rows: list[dict[str, Any]], *, value_title: str, height: int = 260) -> Spec:
    """Histograms of several epochs as lines of their density, one colour an epoch, dark to
    light (viridis, colour-blind safe, without its pale yellow end).

    Args:
        rows: `mnist_core.evaluation.inspection.weight_histogram_rows` records.
        value_title: the value axis' title.
        height: the chart's height in pixels.
    """
    epochs = {"scheme": {"name": "viridis", "extent": [0, 0.8]}}
    return chart(
        {
            "data": {"values": rows},
            "mark": {"type": "line", "strokeWidth": 2},
            "encoding": {
                "x": channel("bin_centre", title=value_title),
                "y": channel("density"),
                "color": channel("epoch", "ordinal", scale=epochs, legend={"orient": "right"}),
                "tooltip": [
                    channel("epoch", "ordinal"),
                    channel("bin_centre", format=".3f", title="value"),
                    channel("density", format=".3g"),
                ],
            },
        },
        height=height,
    )


def unit_cells_spec(cells: list[dict[str, Any]], *, row_height: int) -> Spec:
    """Many units' outputs as rows of coloured cells (bright = large), one cell a unit.

    Args:
        cells: `mnist_core.evaluation.inspection.unit_rows` records.
        row_height: the height of a row of cells, in pixels.
    """
    rows = max(cell["row"] for cell in cells) + 1
    legend = {"title": "output", "orient": "top", "direction": "horizontal", "gradientLength": 240}
    return chart(
        {
            "data": {"values": cells},
            "mark": "rect",
            "encoding": {
                "x": channel("column", "ordinal", axis=None),
                "y": channel("row", "ordinal", axis=None),
                "color": channel("value", scale={"scheme": "viridis"}, legend=legend),
                "tooltip": [channel("unit"), channel("value", format=".3f")],
            },
        },
        height=rows * row_height + 50,
    )
