"""The class probabilities of one image as bars, in the app's chart style (`app_glue.charts`).

The spec holds no data: the bars' rows go to the chart apart from it (`st.vega_lite_chart`'s
`data`). A new reading then changes only the chart's data, and the browser updates the Vega view
it has instead of building a new one, which on a phone is most of the chart's cost. The chart
is drawn on a canvas, not in SVG: Vega's SVG renderer left about twenty detached nodes behind
at every new reading (a hundred drawings, two thousand nodes the page never gave back).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app_glue.chart_summaries import probability_summary
from app_glue.charts import (
    BLUE,
    GREY,
    RED,
    Spec,
    channel,
    chart,
    class_axis,
    show_chart,
)


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


def probability_spec(class_names: Sequence[str], *, height: int = 220) -> Spec:
    """One bar a class (rows of `probability_rows`), its probability written on it: the answer
    blue, the true class red, the others grey."""
    colours = {"domain": ["answer", "truth", "other"], "range": [BLUE, RED, GREY]}
    return chart(
        {
            "usermeta": {"embedOptions": {"renderer": "canvas"}},
            "encoding": {
                "x": channel("class", "nominal", sort=None, axis=class_axis(class_names)),
                "y": channel(
                    "probability",
                    scale={"domain": [0, 1]},
                    axis={"format": "%", "values": [0, 0.5, 1]},
                ),
                "tooltip": [channel("class", "nominal"), channel("probability", format=".1%")],
            },
            "layer": [
                {
                    "mark": {"type": "bar", "cornerRadiusEnd": 2},
                    "encoding": {"color": channel("role", "nominal", scale=colours, legend=None)},
                },
                {
                    # Only bars worth reading get a number: ten "0%" would hide the answer.
                    "transform": [{"filter": "datum.probability >= 0.01"}],
                    "mark": {"type": "text", "dy": -7, "fontSize": 12},
                    "encoding": {"text": {"field": "probability", "format": ".0%"}},
                },
            ],
        },
        height=height,
    )


def show_probabilities(
    probabilities: Sequence[float] | None,
    class_names: Sequence[str],
    *,
    truth: int | None = None,
    key: str | None = None,
    empty_summary: str = "",
) -> None:
    """The class probabilities of one image as bars, the answer (the tallest) blue, the true
    class (when given and not the answer) red, with their summary.

    Args:
        probabilities: one a class; None for no image yet: bars at 0 and `empty_summary` (the
            chart stays on the page, ready for the next reading).
        class_names: the classes, in order.
        truth: the true class, if known.
        key: the chart's key.
        empty_summary: the line under bars at 0.
    """
    import pandas as pd

    if probabilities is None:
        rows = probability_rows([0.0] * len(class_names), class_names, answer=None)
        summary = empty_summary
    else:
        answer = max(range(len(probabilities)), key=lambda index: probabilities[index])
        rows = probability_rows(probabilities, class_names, answer=answer, truth=truth)
        summary = probability_summary(probabilities, class_names, truth=truth)
    show_chart(probability_spec(class_names), summary, key=key, data=pd.DataFrame(rows))
