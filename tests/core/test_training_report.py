"""training_report: curve points, the history table and the progress lines."""

import dataclasses
import math

import pytest

from mnist_core.training.progress import (
    BatchProgress,
    EpochMetrics,
)
from mnist_core.training.report import (
    curve_rows,
    format_duration,
    history_rows,
    progress_text,
    run_outline,
    starting_text,
    waiting_text,
)


def epoch(number, loss, val_loss, elapsed):
    return EpochMetrics(
        epoch=number,
        epochs=2,
        loss=loss,
        accuracy=1 - loss,
        val_loss=val_loss,
        val_accuracy=1 - val_loss,
        elapsed_seconds=elapsed,
        samples_per_second=100.0,
    )


def test_curve_rows_mix_in_epoch_and_epoch_points_in_epoch_order():
    history = [epoch(1, 0.5, 0.4, 2.0), epoch(2, 0.3, 0.35, 5.0)]
    rows = curve_rows(history, [(0.5, 0.8, 0.2), (1.5, 0.4, 0.6)])
    training_loss = [
        (row["epoch"], row["value"])
        for row in rows
        if row["metric"] == "loss" and row["split"] == "training"
    ]
    assert training_loss == [(0.5, 0.8), (1.0, 0.5), (1.5, 0.4), (2.0, 0.3)]
    validation_accuracy = [
        row["value"] for row in rows if row["metric"] == "accuracy" and row["split"] == "validation"
    ]
    assert validation_accuracy == [0.6, 0.65]
    assert [row["metric"] for row in rows][0] == "loss"


def test_curve_rows_leave_out_nan_points():
    rows = curve_rows([epoch(1, math.nan, math.nan, 1.0)], [(0.5, math.inf, 0.1)])
    assert [(row["metric"], row["value"]) for row in rows] == [("accuracy", 0.1)]


def test_history_rows_give_the_seconds_of_each_epoch():
    rows = history_rows([epoch(1, 0.5, 0.4, 2.0), epoch(2, 0.3, 0.35, 5.0)])
    assert [row["seconds"] for row in rows] == [2.0, 3.0]
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]


def test_format_duration():
    assert format_duration(0.42) == "0.4 s"
    assert format_duration(12.4) == "12 s"
    assert format_duration(185) == "3 min 05 s"
    assert format_duration(3725) == "1 h 02 min"
    assert format_duration(math.nan) == "?"


def test_progress_and_waiting_text():
    progress = BatchProgress(
        epoch=2,
        epochs=5,
        batch=10,
        batches_per_epoch=20,
        loss=0.3,
        accuracy=0.9,
        elapsed_seconds=6.0,
        samples_per_second=3400.4,
        seconds_left=12.0,
    )
    assert progress_text(progress) == "Epoch 2 of 5 · 3,400 images/s · about 12 s left"
    unknown = dataclasses.replace(progress, seconds_left=math.nan)
    assert progress_text(unknown).endswith("working out the time left")
    assert waiting_text(2, 1) == "Waiting: place 2 in line (1 training running on this server)"
    assert waiting_text(1, 2).endswith("(2 trainings running on this server)")


def test_run_outline_counts_held_out_images_and_steps():
    from mnist_core.modeling.presets import PRESETS

    split = PRESETS["relu_784_128_adam"].config  # 20% held out, batch 128, 5 epochs
    assert run_outline(split, 1000) == (
        "5 epoch(s) over 800 training images (200 held out for validation), "
        "in batches of 128: 7 steps per epoch."
    )
    on_test = PRESETS["relu_512_sparse_rmsprop"].config
    assert "60,000 training images (validated on the test set)" in run_outline(on_test, 60000)
    assert "469 steps per epoch" in run_outline(on_test, 60000)


def test_a_run_starting_says_what_its_worker_does_and_after_10_s_why():
    assert starting_text("loading MNIST", 3.0) == "Starting on a worker: loading MNIST…"
    late = starting_text("loading TensorFlow", 14.0)
    assert late.startswith("Starting on a worker: loading TensorFlow, for 14 s now:")
    assert "first run" in late
    assert "every worker is still busy" in starting_text(None, 12.0)


def test_the_time_left_is_unknown_until_the_pace_after_the_first_batches():
    from types import SimpleNamespace

    from mnist_core.training.progress import (
        ESTIMATE_MIN_BATCHES,
        ESTIMATE_WARM_UP_BATCHES,
        ProgressCallback,
    )

    tracker = SimpleNamespace(pace_from=None)
    left = ProgressCallback.seconds_left
    # The first batches are slow (the graph is built): they never make the estimate.
    assert math.isnan(left(tracker, 30.0, ESTIMATE_WARM_UP_BATCHES, 1000))
    done = ESTIMATE_WARM_UP_BATCHES + ESTIMATE_MIN_BATCHES
    assert math.isnan(left(tracker, 30.5, done, 1000))  # under a second since
    # Then 10 batches in 2 s: 0.2 s a batch for the rest.
    assert left(tracker, 32.0, done, 1000) == pytest.approx(0.2 * (1000 - done))
