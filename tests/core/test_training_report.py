"""training_report: curve points, the history table and the progress lines."""

import math

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
