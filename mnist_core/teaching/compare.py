"""What a side-by-side comparison of runs shows, computed in the core (the Compare page and
`python -m mnist_core runs compare` draw it).

- `differing_settings(runs)`: only the settings that differ, one row each, readable values;
- `side_by_side_metrics(runs)`: test accuracy, loss, parameters, time, speed, epochs, status;
- `per_class_accuracy_rows(runs)`: the test accuracy of every class, per run (long format);
- `curve_rows(runs)`: loss and accuracy by epoch for overlaid charts (long format): the
  epoch-level points of the history, and the thinned batch curve as fractional epochs;
- `run_label(run)` and `architecture_summary(config)`: short readable names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mnist_core.modeling.config import ModelConfig
from mnist_core.modeling.presets import preset_title
from mnist_core.modeling.summary import count_parameters
from mnist_core.runs.record import (
    Run,
    finite_or_none,
)
from mnist_core.teaching.fairness import (
    images_used_text,
    rankable,
    work_done,
    work_text,
)

NOT_APPLICABLE = "—"
# Settings that only mean something for a CNN, or for SGD.
_CNN_ONLY = ("kernel_sizes", "dense_units", "dense_dropout_rate")
_SETTING_NAMES = {
    "training_images": "training images",
    "work_done": "how far it got",
    "training_images_used": "training images used",
    "layer_sizes": "layer sizes",
    "layer_activations": "activations",
    "layer_dropout_rates": "dropout rates",
    "kernel_sizes": "kernel sizes",
    "dense_units": "dense units (cnn)",
    "dense_dropout_rate": "dense dropout (cnn)",
    "input_batch_normalization": "input batch normalisation",
    "batch_normalization": "batch normalisation",
    "learning_rate_schedule": "learning-rate schedule",
    "validation_split": "validation split",
}


@dataclass(frozen=True)
class SettingRow:
    """One setting that differs between the compared runs.

    Attributes:
        setting: its readable name ("layer sizes").
        field: the config field it comes from ("layer_sizes"), or "preset", "dataset",
            "training_images".
        values: its readable value in each run, in the runs' order ("512 → 256").
    """

    setting: str
    field: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class MetricRow:
    """One figure of every compared run.

    Attributes:
        metric: its readable name ("test accuracy").
        values: the readable value per run ("97.12%"; "—" when the run has none).
        numbers: the raw value per run (None when it has none, or for text like the status).
        best: the index of the best run, when the figure ranks them and two runs have it.
    """

    metric: str
    values: tuple[str, ...]
    numbers: tuple[float | None, ...]
    best: int | None = None


def run_label(run: Run) -> str:
    """A short readable name for a run: its label (or preset, or network) and short id.

    Args:
        run: the run.
    """
    return run.display_label


def differing_settings(runs: Sequence[Run]) -> list[SettingRow]:
    """The settings that differ between the runs, in a fixed order, with readable values.

    The config's fields, plus the preset, the dataset and the number of training images. A
    setting that does not apply to a run (kernel sizes of a dense network, momentum of adam)
    reads "—".

    Args:
        runs: the runs to compare, in the order of their columns.
    """
    rows = []
    fields: list[tuple[str, Callable[[Run], str]]] = [
        ("preset", lambda run: preset_title(run.preset) if run.preset else NOT_APPLICABLE),
        ("dataset", lambda run: run.dataset),
        (
            "training_images",
            lambda run: "all" if run.training_images is None else f"{run.training_images:,}",
        ),
        # How far each run got: a run stopped early did less work (`teaching.fairness`).
        ("work_done", work_text),
        ("training_images_used", images_used_text),
    ]
    for config_field in dataclasses.fields(ModelConfig):
        if config_field.name == "dataset":
            continue
        fields.append(
            (config_field.name, lambda run, name=config_field.name: setting_value(run.config, name))
        )
    for name, value_of in fields:
        values = tuple(value_of(run) for run in runs)
        if len(set(values)) > 1:
            rows.append(SettingRow(setting_name(name), name, values))
    return rows


def setting_name(field: str) -> str:
    """A config field's readable name: "layer sizes", "learning-rate schedule", "optimizer"."""
    return _SETTING_NAMES.get(field, field.replace("_", " "))


def setting_value(config: ModelConfig, field: str) -> str:
    """One config field, readable: "512 → 256", "on", "10%", "0.001"; "—" where it does not
    apply to this config.

    Args:
        config: the config.
        field: one of its field names.
    """
    value = getattr(config, field)
    if field in _CNN_ONLY and config.architecture != "cnn":
        return NOT_APPLICABLE
    if field == "momentum" and config.optimizer != "sgd":
        return NOT_APPLICABLE
    if field == "validation_split":
        return f"{value * 100:g}%" if config.validation == "split" else NOT_APPLICABLE
    if isinstance(value, tuple):
        return " → ".join(_plain(item) for item in value) if value else "none"
    return _plain(value)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def side_by_side_metrics(runs: Sequence[Run]) -> list[MetricRow]:
    """The runs' figures, one row per figure, with the best run marked where it ranks.

    Rows: test accuracy, on the class's held-out writers (when a run was scored on them),
    test loss, validation accuracy (last epoch), parameters, training time, images a second,
    how far it got, status. A run that ended short cannot be marked best
    (`fairness.rankable`).

    Args:
        runs: the runs to compare, in the order of their columns.
    """
    fair = rankable(runs)
    rows = [
        _metric_row(
            "test accuracy",
            [run.test_accuracy for run in runs],
            lambda value: f"{value * 100:.2f}%",
            higher_is_better=True,
        ),
        *(
            [
                _metric_row(
                    "our held-out classmates",
                    [run.class_test_accuracy for run in runs],
                    lambda value: f"{value * 100:.2f}%",
                    higher_is_better=True,
                )
            ]
            if any(run.class_test_accuracy is not None for run in runs)
            else []
        ),
        _metric_row(
            "test loss",
            [finite_or_none(run.metrics.get("test_loss")) for run in runs],
            lambda value: f"{value:.4f}",
            higher_is_better=False,
        ),
        _metric_row(
            "validation accuracy (last epoch)",
            [
                finite_or_none(run.history[-1].get("val_accuracy")) if run.history else None
                for run in runs
            ],
            lambda value: f"{value * 100:.2f}%",
            higher_is_better=True,
        ),
        _metric_row(
            "parameters",
            [float(run.parameter_count or count_parameters(run.config)) for run in runs],
            lambda value: f"{value:,.0f}",
        ),
        _metric_row(
            "training time",
            [finite_or_none(run.metrics.get("training_seconds")) for run in runs],
            lambda value: f"{value:.1f} s",
            higher_is_better=False,
        ),
        _metric_row(
            "images a second",
            [finite_or_none(run.metrics.get("samples_per_second")) for run in runs],
            lambda value: f"{value:,.0f}",
            higher_is_better=True,
        ),
    ]
    rows = [_fair(row, fair) for row in rows]
    rows.append(
        MetricRow(
            "how far it got",
            tuple(work_text(run) for run in runs),
            tuple(work_done(run).epochs_done for run in runs),
        )
    )
    rows.append(MetricRow("status", tuple(run.status for run in runs), (None,) * len(runs)))
    return rows


def _fair(row: MetricRow, fair: Sequence[bool]) -> MetricRow:
    """The row with its best chosen among the runs that may be ranked (`fair`) only."""
    if row.best is None or fair[row.best]:
        return row
    candidates = [
        (number, index)
        for index, number in enumerate(row.numbers)
        if number is not None and fair[index]
    ]
    if len(candidates) < 2 or len({number for number, _ in candidates}) < 2:
        return dataclasses.replace(row, best=None)
    higher_is_better = row.numbers[row.best] >= max(number for number, _ in candidates)
    chosen = max(candidates) if higher_is_better else min(candidates)
    return dataclasses.replace(row, best=chosen[1])


def _metric_row(
    metric: str,
    numbers: list[float | None],
    shown: Callable[[float], str],
    higher_is_better: bool | None = None,
) -> MetricRow:
    values = tuple(NOT_APPLICABLE if value is None else shown(value) for value in numbers)
    present = [(value, index) for index, value in enumerate(numbers) if value is not None]
    best = None
    if higher_is_better is not None and len(present) >= 2:
        chosen = max(present) if higher_is_better else min(present, key=lambda item: item[0])
        if len({value for value, _ in present}) > 1:
            best = chosen[1]
    return MetricRow(metric, values, tuple(numbers), best)


def per_class_accuracy_rows(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """The test accuracy of every class, one row per run and class (runs without it skipped).

    Returns:
        Dicts with "run" (its label), "class" (its name), "class_index" and "accuracy".
    """
    from mnist_core.data.format import (
        FASHION_MNIST_CLASS_NAMES,
        MNIST_CLASS_NAMES,
    )

    rows = []
    for run in runs:
        accuracies = run.metrics.get("per_class_accuracy")
        if not isinstance(accuracies, list):
            continue
        names = FASHION_MNIST_CLASS_NAMES if run.dataset == "fashion_mnist" else MNIST_CLASS_NAMES
        label = run_label(run)
        for index, accuracy in enumerate(accuracies):
            value = finite_or_none(accuracy)
            if value is None:
                continue
            rows.append(
                {
                    "run": label,
                    "class": names[index] if index < len(names) else str(index),
                    "class_index": index,
                    "accuracy": value,
                }
            )
    return rows


def per_class_accuracy_table(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """`per_class_accuracy_rows` as a table: one row a class ("class" first), then one column a
    run, in the order the runs were compared (as their cards and the chart's legend), each
    class's accuracy in percent."""
    runs = list(dict.fromkeys(row["run"] for row in rows))
    # By index and name: a digit 0 and a T-shirt (Fashion-MNIST's class 0) are two rows.
    classes: dict[tuple[int, str], dict[str, float]] = {}
    for row in rows:
        classes.setdefault((row["class_index"], row["class"]), {})[row["run"]] = (
            100 * row["accuracy"]
        )
    return [
        {"class": name, **{run: accuracies.get(run) for run in runs}}
        for (_, name), accuracies in sorted(classes.items())
    ]


def curve_rows(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """Loss and accuracy by epoch, for overlaid charts, one row per point (long format).

    Epoch k's figures from the history sit at x = k (its end), for the training and the
    validation split; the batch curve gives training points in between, at fractional epochs
    (batch 30 of 100 in epoch 2 is 1.3). Points that are not finite are left out.

    Returns:
        Dicts with "run" (its label), "metric" ("loss" or "accuracy"), "split" ("training" or
        "validation"), "epoch" (x), "value" and "source" ("epoch" or "batch").
    """
    rows = []
    for run in runs:
        label = run_label(run)
        for entry in run.history:
            epoch = float(entry.get("epoch", 0))
            for metric in ("loss", "accuracy"):
                for split, key in (("training", metric), ("validation", f"val_{metric}")):
                    value = finite_or_none(entry.get(key))
                    if value is not None:
                        rows.append(_point(label, metric, split, epoch, value, "epoch"))
        for epoch, loss, accuracy in run.batch_curve:
            for metric, value in (("loss", loss), ("accuracy", accuracy)):
                value = finite_or_none(value)
                if value is not None:
                    rows.append(_point(label, metric, "training", float(epoch), value, "batch"))
    rows.sort(key=lambda row: (row["run"], row["metric"], row["split"], row["epoch"]))
    return rows


def _point(
    run: str, metric: str, split: str, epoch: float, value: float, source: str
) -> dict[str, Any]:
    return {
        "run": run,
        "metric": metric,
        "split": split,
        "epoch": epoch,
        "value": value,
        "source": source,
    }
