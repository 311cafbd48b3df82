"""One sentence in numbers for each chart of `app_glue.charts`, shown under it: what a reader
who cannot see the chart needs from it ("Highest: 7 at 96.1%; next: 9 at 2.3%.").

Plain functions of the rows the charts are drawn from; no Streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mnist_core.training.report import (
    TRAINING,
    VALIDATION,
)


def metric_text(metric: str, value: float) -> str:
    """A loss with three significant digits ("0.123"), an accuracy in percent ("97.1%")."""
    return f"{value:.1%}" if metric == "accuracy" else f"{value:.3g}"


def probability_summary(
    probabilities: Sequence[float], class_names: Sequence[str], *, truth: int | None = None
) -> str:
    """ "Highest: 7 at 96.1%; next: 9 at 2.3%." and, when the answer is wrong, the truth's."""
    order = sorted(range(len(probabilities)), key=lambda index: -probabilities[index])
    first, second = order[0], order[1]
    text = (
        f"Highest: {class_names[first]} at {probabilities[first]:.1%}; "
        f"next: {class_names[second]} at {probabilities[second]:.1%}."
    )
    if truth is not None and truth != first:
        text += f" The true class, {class_names[truth]}, gets {probabilities[truth]:.1%}."
    return text


def _last_epoch_points(rows: list[dict[str, Any]], metric: str) -> dict[tuple[str, str], dict]:
    """The last epoch-end point of each (run, split) of one metric."""
    last: dict[tuple[str, str], dict] = {}
    for row in rows:
        if row["metric"] == metric and row["epoch"] > 0 and row["epoch"] % 1 == 0:
            key = (row.get("run", ""), row["split"])
            if key not in last or row["epoch"] >= last[key]["epoch"]:
                last[key] = row
    return last


def curves_summary(
    rows: list[dict[str, Any]], metric: str, *, run_labels: Sequence[str] | None = None
) -> str:
    """Where the curves end: "After 3 epochs: training loss 0.12, validation loss 0.15." for one
    run; each run's last validation (else training) figure for several."""
    last = _last_epoch_points(rows, metric)
    if not run_labels:
        ended = [last[("", split)] for split in (TRAINING, VALIDATION) if ("", split) in last]
        if ended:
            epochs = int(max(row["epoch"] for row in ended))
            figures = ", ".join(
                f"{row['split']} {metric} {metric_text(metric, row['value'])}" for row in ended
            )
            return f"After {epochs} epoch{'s' if epochs != 1 else ''}: {figures}."
        so_far = [row for row in rows if row["metric"] == metric]
        if not so_far:
            return f"No {metric} measured yet."
        latest = max(so_far, key=lambda row: row["epoch"])
        return (
            f"So far (epoch {latest['epoch']:.1f}): training {metric} "
            f"{metric_text(metric, latest['value'])}."
        )
    split = VALIDATION if any(key[1] == VALIDATION for key in last) else TRAINING
    figures = [
        f"{label} {metric_text(metric, last[(label, split)]['value'])} "
        f"(epoch {int(last[(label, split)]['epoch'])})"
        for label in run_labels
        if (label, split) in last
    ]
    if not figures:
        return f"No epoch has ended yet, so there is no {metric} to compare."
    return f"{split.capitalize()} {metric} after each run's last epoch: " + "; ".join(figures) + "."


def per_class_summary(rows: list[dict[str, Any]], run_labels: Sequence[str]) -> str:
    """Each run's weakest class: "Weakest class: adam (ab12cd) 8 at 95.1%; …"."""
    parts = []
    for label in run_labels:
        own = [row for row in rows if row["run"] == label]
        if own:
            weakest = min(own, key=lambda row: row["accuracy"])
            parts.append(f"{label}: {weakest['class']} at {weakest['accuracy']:.1%}")
    return "Weakest class of each run: " + "; ".join(parts) + "." if parts else "No figures."


def confusion_summary(cells: list[dict[str, Any]], *, limit: int = 3) -> str:
    """The right answers and the worst mix-ups: "9,812 of 10,000 right. Most mixed up: 4 taken
    for 9 (12 times), 7 for 2 (9)."."""
    right = sum(cell["count"] for cell in cells if cell["correct"])
    total = sum(cell["count"] for cell in cells)
    mistakes = sorted(
        (cell for cell in cells if not cell["correct"] and cell["count"] > 0),
        key=lambda cell: (-cell["count"], cell["true_index"], cell["predicted_index"]),
    )[:limit]
    text = f"{right:,} of {total:,} right (the diagonal)."
    if not mistakes:
        return text + " Not a single mix-up."
    first, *others = mistakes
    pairs = [f"{first['true']} taken for {first['predicted']} ({first['count']:,} times)"]
    pairs += [f"{cell['true']} for {cell['predicted']} ({cell['count']:,})" for cell in others]
    return text + " Most mixed up: " + ", ".join(pairs) + "."


def bars_summary(
    rows: list[dict[str, Any]],
    category: str,
    value: str,
    *,
    value_format: str = ",",
    unit: str = "",
) -> str:
    """The tallest and the shortest bar: "Most: 1 with 6,742 images; fewest: 5 with 5,421."."""
    if not rows:
        return "Nothing to show."
    tallest = max(rows, key=lambda row: row[value])
    shortest = min(rows, key=lambda row: row[value])
    suffix = f" {unit}" if unit else ""
    return (
        f"Most: {tallest[category]} with {tallest[value]:{value_format}}{suffix}; "
        f"fewest: {shortest[category]} with {shortest[value]:{value_format}}."
    )


def histogram_summary(
    rows: list[dict[str, Any]],
    *,
    unit: str,
    start: str = "start",
    end: str = "end",
    count: str = "count",
) -> str:
    """The fullest bin and the range with any values: "The fullest bin, 0 to 8, holds 650,000
    of 784,000 pixels; values from 0 to 255."."""
    filled = [row for row in rows if row[count] > 0]
    if not filled:
        return f"No {unit}."
    fullest = max(filled, key=lambda row: row[count])
    total = sum(row[count] for row in filled)
    return (
        f"The fullest bin, {fullest[start]:.3g} to {fullest[end]:.3g}, holds "
        f"{fullest[count]:,} of {total:,} {unit}; values from {filled[0][start]:.3g} to "
        f"{filled[-1][end]:.3g}."
    )


def epoch_lines_summary(rows: list[dict[str, Any]]) -> str:
    """How far the values spread at the first and the last epoch."""
    spreads = {}
    for row in rows:
        if row["count"] > 0:
            low, high = spreads.get(row["epoch"], (row["bin_start"], row["bin_end"]))
            spreads[row["epoch"]] = (min(low, row["bin_start"]), max(high, row["bin_end"]))
    if not spreads:
        return "No values."
    first, last = min(spreads), max(spreads)
    text = f"Epoch {first}: values from {spreads[first][0]:.3g} to {spreads[first][1]:.3g}"
    if last != first:
        text += f"; epoch {last}: from {spreads[last][0]:.3g} to {spreads[last][1]:.3g}"
    return text + "."


def units_summary(values: Sequence[float]) -> str:
    """The strongest unit and how many are silent: "Largest output: unit 12 at 3.41; 40 of 128
    units output 0."."""
    strongest = max(range(len(values)), key=lambda index: values[index])
    silent = sum(1 for value in values if value == 0)
    return (
        f"Largest output: unit {strongest} at {values[strongest]:.3g}; "
        f"{silent} of {len(values)} units output 0."
    )


def noise_summary(points: list[dict[str, float]], *, num_classes: int) -> str:
    """The accuracy without noise, halfway and at the strongest noise, and guessing's."""
    chosen = [points[0], points[len(points) // 2], points[-1]] if len(points) > 2 else points
    figures = [
        f"{point['accuracy']:.1%} "
        + ("without noise" if point["sigma"] == 0 else f"at sigma {point['sigma']:g}")
        for point in chosen
    ]
    return f"Test accuracy {', '.join(figures)}; guessing scores {1 / num_classes:.0%}."
