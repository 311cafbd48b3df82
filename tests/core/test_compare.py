"""Tests of mnist_core.teaching.compare: what the Compare page and `runs compare` show.

The runs are real records in a temporary run log, written through its lifecycle functions
(no training: the figures are given, so every expected value is known).
"""

import math

import pytest

from mnist_core.modeling.presets import get_preset
from mnist_core.modeling.summary import architecture_summary, count_parameters
from mnist_core.runs.log import RunLog
from mnist_core.runs.record import (
    FINISHED,
    RUNNING,
    STOPPED,
)
from mnist_core.teaching import compare


@pytest.fixture
def run_log(tmp_path):
    return RunLog(tmp_path / "runs.sqlite3")


def epoch(number, epochs, loss, accuracy, val_loss, val_accuracy):
    return {
        "epoch": number, "epochs": epochs, "loss": loss, "accuracy": accuracy,
        "val_loss": val_loss, "val_accuracy": val_accuracy,
        "elapsed_seconds": 2.0 * number, "samples_per_second": 1000.0,
    }  # fmt: skip


def finished_run(run_log, config, *, label=None, preset=None, training_images=None, history=(),
                 metrics=None, status=FINISHED, batches=()):  # fmt: skip
    run = run_log.create_run(
        config,
        user="ada",
        label=label,
        preset=preset,
        training_images=training_images,
        status=RUNNING,
    )
    for entry in history:
        run_log.record_epoch(run.id, entry, [])
    if batches:
        run_log.record_progress(run.id, *batches)
    return run_log.finish_run(run.id, status, metrics=metrics or {})


def test_architecture_summary_reads_like_the_network():
    assert architecture_summary(get_preset("dense_fast").config) == "dense 512-256 relu"
    assert architecture_summary(get_preset("cnn_three_epochs").config) == "cnn 16-32 k5 + 128"
    assert (
        architecture_summary(get_preset("relu_binary_crossentropy_adam").config)
        == "dense 256-64 sigmoid/relu"
    )
    assert architecture_summary(get_preset("softmax_regression").config) == "softmax regression"
    odd_cnn = get_preset("cnn_three_epochs").config.replace(
        kernel_sizes=(3, 5), layer_activations=("tanh", "tanh"), dense_units=0
    )
    assert architecture_summary(odd_cnn) == "cnn 16-32 k3-5 tanh"


def test_run_label_is_the_label_or_preset_with_a_short_id(run_log):
    config = get_preset("dense_fast").config
    labelled = finished_run(run_log, config, label="adam", preset="dense_fast")
    preset_only = finished_run(run_log, config, preset="dense_fast")
    bare = finished_run(run_log, config)
    assert compare.run_label(labelled) == f"adam ({labelled.id[:6]})"
    # A preset is named by its title, as people read it.
    assert compare.run_label(preset_only) == f"Quick dense network: past 98% ({preset_only.id[:6]})"
    assert compare.run_label(bare) == f"dense 512-256 relu ({bare.id[:6]})"


def test_differing_settings_lists_only_what_differs_readably(run_log):
    base = get_preset("dense_fast").config
    first = finished_run(run_log, base, preset="dense_fast", training_images=2000)
    second = finished_run(
        run_log,
        base.replace(layer_sizes=(512, 128), optimizer="sgd", momentum=0.9, validation_split=0.2),
        preset="dense_fast",
    )
    rows = {row.field: row for row in compare.differing_settings([first, second])}
    assert set(rows) == {
        "training_images",
        "layer_sizes",
        "optimizer",
        "momentum",
        "validation_split",
    }
    assert rows["layer_sizes"].values == ("512 → 256", "512 → 128")
    assert rows["layer_sizes"].setting == "layer sizes"
    assert rows["training_images"].values == ("2,000", "all")
    assert rows["optimizer"].values == ("adam", "sgd")
    assert rows["momentum"].values == ("—", "0.9")  # momentum means nothing to adam
    assert rows["validation_split"].values == ("10%", "20%")
    assert compare.differing_settings([first, first]) == []


def test_differing_settings_between_dense_and_cnn(run_log):
    dense = finished_run(run_log, get_preset("dense_fast").config, preset="dense_fast")
    cnn = finished_run(run_log, get_preset("cnn_three_epochs").config, preset="cnn_three_epochs")
    rows = {row.field: row.values for row in compare.differing_settings([dense, cnn])}
    assert rows["preset"] == (
        get_preset("dense_fast").title,
        get_preset("cnn_three_epochs").title,
    )
    assert rows["architecture"] == ("dense", "cnn")
    assert rows["kernel_sizes"] == ("—", "5 → 5")
    assert rows["dense_units"] == ("—", "128")
    assert rows["batch_normalization"] == ("off", "on")
    assert rows["learning_rate"] == ("0.002", "0.003")
    # A cnn-only field that a dense config happens to hold is no difference.
    twin = finished_run(run_log, get_preset("dense_fast").config.replace(dense_units=64))
    assert "dense_units" not in {row.field for row in compare.differing_settings([dense, twin])}


def test_side_by_side_metrics_with_the_best_marked(run_log):
    config = get_preset("dense_fast").config
    good = finished_run(
        run_log, config.replace(epochs=1), label="good",
        history=[epoch(1, 1, 0.3, 0.9, 0.25, 0.93)],
        metrics={"test_accuracy": 0.9712, "test_loss": 0.09, "parameter_count": 535818,
                 "training_seconds": 12.34, "samples_per_second": 20345.0},
    )  # fmt: skip
    poor = finished_run(
        run_log, config.replace(epochs=3), label="poor", status=STOPPED,
        history=[epoch(1, 3, 1.2, 0.6, 1.1, 0.61), epoch(2, 3, 1.0, 0.62, 1.0, 0.63)],
        metrics={"test_accuracy": 0.614, "test_loss": 1.02, "parameter_count": 535818,
                 "training_seconds": 4.0, "samples_per_second": 30000.0},
    )  # fmt: skip
    empty = finished_run(run_log, config, label="failed", status="failed")
    rows = {row.metric: row for row in compare.side_by_side_metrics([good, poor, empty])}

    accuracy = rows["test accuracy"]
    assert accuracy.values == ("97.12%", "61.40%", "—")
    assert accuracy.numbers[:2] == (0.9712, 0.614) and accuracy.numbers[2] is None
    assert accuracy.best == 0
    assert rows["test loss"].values[:2] == ("0.0900", "1.0200") and rows["test loss"].best == 0
    assert rows["validation accuracy (last epoch)"].values[:2] == ("93.00%", "63.00%")
    # The failed run has no measured count: the one worked out from its config stands in.
    assert rows["parameters"].values == ("535,818", "535,818", f"{count_parameters(config):,}")
    assert rows["parameters"].best is None  # fewer parameters is no ranking
    assert rows["training time"].values == ("12.3 s", "4.0 s", "—")
    # The stopped run is quicker because it did less: it gets no ★ (nor does anyone here).
    assert rows["training time"].best is None
    assert rows["images a second"].values[:2] == ("20,345", "30,000")
    assert rows["images a second"].best is None
    assert rows["how far it got"].values == (
        "all 1 epoch",
        "2 of 3 epochs, stopped",
        "none of 5 epochs, failed",
    )
    assert rows["status"].values == ("finished", "stopped", "failed")
    assert list(rows)[0] == "test accuracy"


def test_a_tie_marks_no_best(run_log):
    config = get_preset("dense_fast").config
    runs = [
        finished_run(run_log, config, metrics={"test_accuracy": 0.5, "test_loss": 1.0})
        for _ in range(2)
    ]
    rows = {row.metric: row for row in compare.side_by_side_metrics(runs)}
    assert rows["test accuracy"].best is None


def test_per_class_accuracy_rows_use_the_class_names(run_log):
    digits = finished_run(
        run_log,
        get_preset("dense_fast").config,
        label="digits",
        metrics={"per_class_accuracy": [0.5 + index / 20 for index in range(10)]},
    )
    fashion = finished_run(
        run_log,
        get_preset("dense_fast").config.replace(dataset="fashion_mnist"),
        label="fashion",
        metrics={"per_class_accuracy": [0.8] * 10},
    )
    untested = finished_run(run_log, get_preset("dense_fast").config, label="untested")
    rows = compare.per_class_accuracy_rows([digits, fashion, untested])
    assert len(rows) == 20
    assert rows[3] == {
        "run": compare.run_label(digits), "class": "3", "class_index": 3, "accuracy": 0.65,
    }  # fmt: skip
    assert rows[10]["class"] == "T-shirt/top" and rows[19]["class"] == "Ankle boot"
    # As a table: a row a class, a column a run in the order compared (as the cards), percent.
    table = compare.per_class_accuracy_table(compare.per_class_accuracy_rows([fashion, digits]))
    assert list(table[0]) == ["class", compare.run_label(fashion), compare.run_label(digits)]
    assert len(table) == 20
    (three,) = [row for row in table if row["class"] == "3"]
    assert three == {
        "class": "3", compare.run_label(fashion): None, compare.run_label(digits): 65.0,
    }  # fmt: skip


def test_curve_rows_hold_epochs_and_the_batch_curve_as_fractional_epochs(run_log):
    config = get_preset("dense_fast").config.replace(epochs=2)
    batches = [
        {"epoch": 1, "batch": 50, "batches_per_epoch": 100, "loss": 1.5, "accuracy": 0.5},
        {"epoch": 2, "batch": 25, "batches_per_epoch": 100, "loss": 0.8, "accuracy": float("nan")},
    ]
    run = finished_run(
        run_log, config, label="adam", batches=batches,
        history=[epoch(1, 2, 1.0, 0.7, 0.9, 0.75), epoch(2, 2, 0.6, 0.8, math.nan, 0.82)],
    )  # fmt: skip
    rows = compare.curve_rows([run])
    label = compare.run_label(run)
    assert all(row["run"] == label for row in rows)
    training_loss = [
        (row["epoch"], row["value"], row["source"])
        for row in rows
        if row["metric"] == "loss" and row["split"] == "training"
    ]
    assert training_loss == [(0.5, 1.5, "batch"), (1.0, 1.0, "epoch"), (1.25, 0.8, "batch"),
                             (2.0, 0.6, "epoch")]  # fmt: skip
    validation_loss = [
        (row["epoch"], row["value"])
        for row in rows
        if row["metric"] == "loss" and row["split"] == "validation"
    ]
    assert validation_loss == [(1.0, 0.9)]  # the NaN of epoch 2 is left out
    training_accuracy = [
        row["epoch"] for row in rows if row["metric"] == "accuracy" and row["split"] == "training"
    ]
    assert training_accuracy == [0.5, 1.0, 2.0]  # nor the batch's NaN accuracy
    assert {row["split"] for row in rows if row["source"] == "batch"} == {"training"}


def test_a_run_stopped_early_is_named_first_and_never_best(run_log):
    from mnist_core.teaching.fairness import uneven_work_sentence, work_text

    config = get_preset("dense_fast").config.replace(epochs=3)
    plan = {"epochs": 3, "batches_per_epoch": 469, "training_images_used": 60000}
    full = finished_run(
        run_log, config, label="adam",
        history=[epoch(n, 3, 0.3, 0.9, 0.25, 0.93) for n in (1, 2, 3)],
        metrics={"test_accuracy": 0.97, "training_seconds": 30.0},
    )  # fmt: skip
    run_log.record_plan(full.id, plan)
    short = run_log.create_run(config.replace(optimizer="sgd"), user="ada", label="sgd",
                               status=RUNNING)  # fmt: skip
    run_log.record_plan(short.id, plan)
    run_log.record_epoch(short.id, epoch(1, 3, 0.5, 0.8, 0.45, 0.85), [])
    run_log.record_progress(
        short.id,
        {
            "epoch": 2,
            "epochs": 3,
            "batch": 48,
            "batches_per_epoch": 469,
            "loss": 0.4,
            "accuracy": 0.86,
        },
    )
    short = run_log.finish_run(
        short.id, STOPPED, metrics={"test_accuracy": 0.98, "training_seconds": 8.0}
    )
    full = run_log.get_run(full.id)
    assert work_text(short) == "1 of 3 epochs and 48 of 469 batches, stopped"
    assert work_text(full) == "all 3 epochs"
    sentence = uneven_work_sentence([full, short])
    assert sentence.startswith("Not a fair comparison: one run ended before its last epoch")
    assert "sgd: 1 of 3 epochs and 48 of 469 batches, stopped" in sentence
    assert uneven_work_sentence([full]) is None
    rows = {row.metric: row for row in compare.side_by_side_metrics([full, short])}
    # Better accuracy and quicker, after less training: no ★ for it.
    assert rows["test accuracy"].best is None and rows["training time"].best is None
    differences = {row.field: row.values for row in compare.differing_settings([full, short])}
    assert differences["work_done"] == (
        "all 3 epochs",
        "1 of 3 epochs and 48 of 469 batches, stopped",
    )
