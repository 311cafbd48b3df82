"""Training progress in the form people read: curve points, a history table, progress lines.

The Train page draws loss and accuracy curves while a job runs and after it ends; these
functions turn a job's epoch history and in-epoch points into rows a chart or a table takes,
and its progress into one line of text. Plain Python, no Streamlit, no TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from mnist_core.modeling.config import (
    ModelConfig,
    steps_per_epoch,
)
from mnist_core.training.progress import (
    BatchProgress,
    EpochMetrics,
)

TRAINING = "training"
VALIDATION = "validation"
METRICS = ("loss", "accuracy")


def curve_rows(
    history: Sequence[EpochMetrics],
    batch_curve: Sequence[tuple[float, float, float]] = (),
) -> list[dict[str, Any]]:
    """Points of the loss and accuracy curves, one row per (metric, split, epoch).

    Training points come from within epochs (fractional epochs, e.g. 1.5 is halfway through
    the second epoch; Keras reports the running mean of the epoch so far) and from the end of
    every epoch; validation points only from the end of every epoch. Points that are not
    finite (a diverged run) are left out.

    Args:
        history: the metrics at the end of each epoch.
        batch_curve: in-epoch points (fractional epoch, loss, accuracy), oldest first
            (default none).

    Returns:
        Rows {"epoch": float, "metric": "loss"|"accuracy", "split": "training"|"validation",
        "value": float}, sorted by metric, split and epoch.
    """
    rows: list[dict[str, Any]] = []

    def add(epoch: float, metric: str, split: str, value: float) -> None:
        if isinstance(value, int | float) and math.isfinite(value):
            rows.append({"epoch": float(epoch), "metric": metric, "split": split, "value": value})

    for epoch, loss, accuracy in batch_curve:
        add(epoch, "loss", TRAINING, loss)
        add(epoch, "accuracy", TRAINING, accuracy)
    for entry in history:
        add(entry.epoch, "loss", TRAINING, entry.loss)
        add(entry.epoch, "accuracy", TRAINING, entry.accuracy)
        add(entry.epoch, "loss", VALIDATION, entry.val_loss)
        add(entry.epoch, "accuracy", VALIDATION, entry.val_accuracy)
    order = {name: index for index, name in enumerate(METRICS)}
    rows.sort(key=lambda row: (order[row["metric"]], row["split"], row["epoch"]))
    return rows


def history_rows(history: Sequence[EpochMetrics]) -> list[dict[str, Any]]:
    """The per-epoch table the notebooks print: epoch, loss, accuracy, val_loss,
    val_accuracy and the seconds the epoch took.

    Args:
        history: the metrics at the end of each epoch, in order.
    """
    rows = []
    previous_elapsed = 0.0
    for entry in history:
        rows.append(
            {
                "epoch": entry.epoch,
                "loss": entry.loss,
                "accuracy": entry.accuracy,
                "val_loss": entry.val_loss,
                "val_accuracy": entry.val_accuracy,
                "seconds": entry.elapsed_seconds - previous_elapsed,
            }
        )
        previous_elapsed = entry.elapsed_seconds
    return rows


def format_duration(seconds: float) -> str:
    """A duration for people: "0.4 s", "12 s", "3 min 05 s", "1 h 02 min"; "?" when unknown.

    Args:
        seconds: the duration in seconds (NaN or negative: unknown).
    """
    if not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
        return "?"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def progress_text(progress: BatchProgress) -> str:
    """One line under the progress bar: "Epoch 2 of 5 · 3,400 images/s · about 12 s left".

    Args:
        progress: the latest in-epoch progress report.
    """
    parts = [f"Epoch {progress.epoch} of {progress.epochs}"]
    if math.isfinite(progress.samples_per_second) and progress.samples_per_second > 0:
        parts.append(f"{progress.samples_per_second:,.0f} images/s")
    if math.isfinite(progress.seconds_left):
        parts.append(f"about {format_duration(progress.seconds_left)} left")
    else:
        parts.append("working out the time left")
    return " · ".join(parts)


# A run still starting after this long says why.
STARTING_EXPLAINED_SECONDS = 10.0


def starting_text(phase: str | None, elapsed_seconds: float) -> str:
    """What a run shows before its training begins: what its worker is doing, and after
    STARTING_EXPLAINED_SECONDS, why it takes a while.

    Args:
        phase: what the worker reported it is doing (e.g. "loading MNIST"); None: no worker
            has taken the run yet.
        elapsed_seconds: since the run left the line.
    """
    if phase is None:
        text = "Waiting for a worker to take it"
        why = (
            "every worker is still busy (one that was stopped while starting frees its "
            "worker only once it gets there)"
        )
    else:
        text = f"Starting on a worker: {phase}"
        why = (
            "a worker's first run loads TensorFlow and the data, which takes a while on a "
            "small server; the next runs start at once"
            if phase.startswith("loading")
            else "the worker is busy with other runs too"
        )
    if elapsed_seconds < STARTING_EXPLAINED_SECONDS:
        return f"{text}…"
    return f"{text}, for {format_duration(elapsed_seconds)} now: {why}."


def line_text(position: int, users_ahead: Sequence[str], expected_wait_seconds: Any) -> str:
    """What a queued run shows: "Place 3 in line, behind ada and bob: about 40 s to wait."

    Args:
        position: the run's 1-based place among the queued runs.
        users_ahead: the names of the users whose runs are ahead.
        expected_wait_seconds: the expected wait (None or NaN: unknown).
    """
    if users_ahead:
        names = list(users_ahead)
        shown = names if len(names) <= 4 else [*names[:4], f"{len(names) - 4} more"]
        behind = ", ".join(shown[:-1]) + (" and " if len(shown) > 1 else "") + shown[-1]
        text = f"Place {position} in line, behind {behind}"
    else:
        text = f"Place {position} in line: next to start"
    if isinstance(expected_wait_seconds, int | float) and math.isfinite(expected_wait_seconds):
        wait = max(1.0, float(expected_wait_seconds))
        text += f"; about {format_duration(wait)} to wait"
    return text + "."


def waiting_text(place_in_line: int, running: int) -> str:
    """What a job waiting in line shows: "Waiting: place 2 in line (2 trainings running ...)".

    Args:
        place_in_line: the job's 1-based place in the line.
        running: how many trainings the server runs now.
    """
    trainings = "training" if running == 1 else "trainings"
    return f"Waiting: place {place_in_line} in line ({running} {trainings} running on this server)"


def run_outline(config: ModelConfig, training_images: int) -> str:
    """What a run will do, in one sentence: epochs, training images, held-out images, steps.

    Args:
        config: the model and training description.
        training_images: training images available before the validation split.
    """
    held_out = (
        int(round(training_images * config.validation_split)) if config.validation == "split" else 0
    )
    validation = (
        f" ({held_out:,} held out for validation)" if held_out else " (validated on the test set)"
    )
    return (
        f"{config.epochs} epoch(s) over {training_images - held_out:,} training images"
        f"{validation}, in batches of {config.batch_size}: "
        f"{steps_per_epoch(config, training_images):,} steps per epoch."
    )
