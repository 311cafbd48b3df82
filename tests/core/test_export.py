"""Tests of mnist_core.teaching.export: the standalone Keras script, the history CSV, the model copy.

The script is checked two ways: imported in-process, its `build_model` must give the very
model `mnist_core.modeling.build.build_model` gives (layers, output shapes, parameters, starting
weights, optimizer, schedule, loss and metric) for every preset and for variants that use
every option; run in a subprocess on a tiny `.npz` (no internet), it must train, print the
run's parameter count and a falling loss.
"""

import csv
import dataclasses
import importlib.util
import io
import re
import subprocess
import sys

import numpy as np
import pytest

from mnist_core.modeling.build import build_model
from mnist_core.modeling.config import (
    LEARNING_RATE_SCHEDULES,
    ModelConfig,
)
from mnist_core.modeling.presets import (
    PRESETS,
    get_preset,
)
from mnist_core.modeling.summary import (
    count_parameters,
    describe_model,
)
from mnist_core.runs.log import RunLog
from mnist_core.runs.record import (
    FINISHED,
    RUNNING,
    STOPPED,
)
from mnist_core.teaching import export

TINY_TRAIN_IMAGES = 600
TINY_TEST_IMAGES = 200

VARIANTS = {
    "cnn_every_option": get_preset("cnn_three_epochs").config.replace(
        layer_sizes=(8, 12, 16),
        layer_activations=("tanh", "relu", "elu"),
        layer_dropout_rates=(0.1, 0.0, 0.2),
        kernel_sizes=(3, 7, 1),
        dense_units=32,
        dense_dropout_rate=0.3,
        input_batch_normalization=True,
        optimizer="adamw",
        learning_rate_schedule="constant",
        seed=7,
    ),
    "cnn_without_dense_or_batch_norm": get_preset("cnn_three_epochs").config.replace(
        layer_sizes=(6,),
        layer_activations=("gelu",),
        layer_dropout_rates=(0.0,),
        kernel_sizes=(5,),
        dense_units=0,
        batch_normalization=False,
        loss="sparse_categorical_crossentropy",
        optimizer="adagrad",
    ),
    "dense_batch_norm_sgd_momentum": get_preset("dense_fast").config.replace(
        layer_sizes=(64, 32),
        layer_dropout_rates=(0.0, 0.25),
        batch_normalization=True,
        input_batch_normalization=True,
        optimizer="sgd",
        momentum=0.9,
        learning_rate=0.05,
        validation_split=0.25,
        batch_size=100,
    ),
}
if "one_cycle" in LEARNING_RATE_SCHEDULES:
    VARIANTS["cnn_one_cycle"] = get_preset("cnn_three_epochs").config.replace(
        learning_rate_schedule="one_cycle", learning_rate=0.01
    )
CONFIGS = {**{name: preset.config for name, preset in PRESETS.items()}, **VARIANTS}


def import_script(text: str, folder, name: str = "exported"):
    """Import an exported script as a module (its main() is not run)."""
    path = folder / f"{name}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train_size_after_split(config: ModelConfig, images: int = 60000) -> int:
    if config.validation == "test":
        return images
    return images - max(1, int(round(images * config.validation_split)))


def compile_config(model) -> dict:
    """Keras' compile config without the optimizer's automatic name (adam, adam_1...)."""
    config = model.get_compile_config()
    config["optimizer"]["config"].pop("name")
    return config


def test_the_exporter_knows_every_config_field():
    assert {field.name for field in dataclasses.fields(ModelConfig)} == export.EXPORTED_FIELDS
    assert set(LEARNING_RATE_SCHEDULES) <= set(export.SCRIPT_SCHEDULES)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_script_builds_the_same_model_as_build_model(name, tmp_path):
    config = CONFIGS[name]
    script = import_script(export.training_script(config), tmp_path, f"script_{name}")
    # The script trains on scanned MNIST alone (it says so when the run added pen-drawn
    # digits): its schedule counts MNIST's images only.
    reference = build_model(config.replace(pen_digit_copies=0), training_images=60000)
    rebuilt = script.build_model(train_size_after_split(config), config.epochs)

    assert rebuilt.count_params() == count_parameters(config) == reference.count_params()
    assert describe_model(rebuilt) == describe_model(reference)
    for ours, theirs in zip(rebuilt.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)  # the same seed, the same start
    # Optimizer with its schedule (decay steps included), loss and accuracy metric.
    assert compile_config(rebuilt) == compile_config(reference)
    assert rebuilt.name == reference.name


def test_a_schedule_the_exporter_does_not_know_is_refused_by_name():
    config = get_preset("dense_fast").config.replace(learning_rate_schedule="warm_restarts")
    with pytest.raises(ValueError, match=r"learning_rate_schedule 'warm_restarts'.*knows"):
        export.training_script(config)


def test_an_invalid_config_is_refused_with_the_field_named():
    with pytest.raises(ValueError, match="learning_rate"):
        export.training_script(get_preset("dense_fast").config.replace(learning_rate=-1.0))


@pytest.fixture(scope="module")
def tiny_npz(mnist, tmp_path_factory):
    """A tiny MNIST as an .npz in Keras' layout, for the script's --data."""
    small = mnist.subset(TINY_TRAIN_IMAGES, TINY_TEST_IMAGES, seed=1)
    path = tmp_path_factory.mktemp("data") / "tiny_mnist.npz"
    np.savez(
        path, x_train=small.x_train, y_train=small.y_train, x_test=small.x_test, y_test=small.y_test
    )
    return path


def train_and_record(
    record_trained_run, run_log: RunLog, config: ModelConfig, dataset, training_images: int
):
    """Train `config` for real on a subset, as a worker does, and record it as finished."""
    from mnist_core.training.train import train_model

    result = train_model(config, dataset, training_images=training_images)
    return record_trained_run(
        run_log, result, user="ada", preset="test", dataset=dataset, training_images=training_images
    )


def run_script(path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(path), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=path.parent,  # nothing of the project's on its path: keras and numpy only
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin", "HOME": str(path.parent)},
    )


def epoch_losses(output: str) -> list[float]:
    return [float(value) for value in re.findall(r"^epoch \d+: loss ([\d.]+)", output, re.M)]


@pytest.mark.slow  # runs the exported script: a Python of its own imports TensorFlow and trains
@pytest.mark.parametrize(
    ("preset", "changes"),
    [
        ("dense_fast", {}),
        ("cnn_three_epochs", {}),
        # Integer labels, dropout, validation on the test set and every augmentation.
        (
            "relu_512_sparse_rmsprop",
            {
                "layer_dropout_rates": (0.2,),
                "augment_shift": 0.1,
                "augment_rotation": 10.0,
                "augment_zoom": 0.1,
                "augment_stroke": 0.3,
            },
        ),
    ],
)
def test_the_exported_script_trains_offline_like_the_run(
    preset, changes, tiny_mnist, tiny_npz, tmp_path, record_trained_run
):
    config = get_preset(preset).config.replace(epochs=1, **changes)
    run_log = RunLog(tmp_path / "runs.sqlite3")
    run = train_and_record(
        record_trained_run, run_log, config, tiny_mnist, training_images=TINY_TRAIN_IMAGES
    )
    assert run.status == FINISHED and run.parameter_count

    text = export.script_for_run(run)
    assert (
        "600 training images chosen by the MNIST Playground" in text
    )  # the subset is not reproduced
    script = tmp_path / export.script_file_name(run)
    script.write_text(text)
    completed = run_script(script, "--data", str(tiny_npz), "--epochs", "2")

    assert completed.returncode == 0, completed.stderr[-3000:]
    output = completed.stdout
    assert f"parameters: {run.parameter_count}\n" in output
    assert "Total params" in output  # Keras' own model summary
    losses = epoch_losses(output)
    assert len(losses) == 2 and losses[1] < losses[0], output[-2000:]
    accuracy = re.search(r"^test accuracy: ([\d.]+)%", output, re.M)
    assert accuracy and 0.0 < float(accuracy.group(1)) <= 100.0


def test_without_the_internet_the_script_says_to_use_data(tmp_path):
    script = tmp_path / "softmax.py"
    script.write_text(export.training_script(get_preset("softmax_regression").config))
    # No network here: Keras' download fails, and the script says what to do in one line.
    completed = run_script(script, "--epochs", "1")
    assert completed.returncode != 0
    assert "--data FILE" in completed.stderr and "Traceback" not in completed.stderr


def test_caveats_name_what_the_script_does_not_reproduce(tmp_path):
    run_log = RunLog(tmp_path / "runs.sqlite3")
    config = get_preset("dense_fast").config
    subset = run_log.create_run(config, user="ada", training_images=2000, status=RUNNING)
    run_log.record_epoch(subset.id, {"epoch": 1, "loss": 0.5}, [])
    subset = run_log.finish_run(subset.id, STOPPED, "Stopped on request during epoch 2.")
    whole = run_log.finish_run(run_log.create_run(config, user="ada", status=RUNNING).id, FINISHED)

    caveats = export.script_caveats(subset)
    assert any("2,000 training images chosen by the MNIST Playground" in line for line in caveats)
    assert any("stopped after 1 of 5 epoch(s)" in line for line in caveats)
    assert export.script_caveats(whole) == []
    text = export.script_for_run(subset, extra_caveats=["The run fine-tuned on drawings."])
    top = text.split("import argparse")[0]
    assert "# What this script does not reproduce:" in top
    assert "# - The run fine-tuned on drawings." in top
    assert "does not reproduce" not in export.script_for_run(whole)
    compile(text, "exported.py", "exec")  # the comments keep it valid Python


def test_history_csv_has_one_row_per_epoch(tmp_path):
    run_log = RunLog(tmp_path / "runs.sqlite3")
    run = run_log.create_run(get_preset("dense_fast").config, user="ada", status=RUNNING)
    epochs = [
        {"epoch": 1, "epochs": 2, "loss": 0.5, "accuracy": 0.8, "val_loss": 0.4,
         "val_accuracy": 0.85, "elapsed_seconds": 1.5, "samples_per_second": 1000.0},
        {"epoch": 2, "epochs": 2, "loss": 0.25, "accuracy": 0.9, "val_loss": float("nan"),
         "val_accuracy": 0.9, "elapsed_seconds": 3.0, "samples_per_second": 1100.0},
    ]  # fmt: skip
    for entry in epochs:
        run_log.record_epoch(run.id, entry, [])
    rows = list(csv.DictReader(io.StringIO(export.history_csv(run_log.get_run(run.id)))))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert float(rows[1]["loss"]) == 0.25 and float(rows[0]["val_accuracy"]) == 0.85
    assert rows[1]["val_loss"] == "nan"
    assert list(rows[0]) == list(export.HISTORY_COLUMNS)


def test_copy_model_copies_the_kept_file_and_refuses_without_one(tmp_path):
    run_log = RunLog(tmp_path / "runs.sqlite3")
    config = get_preset("dense_fast").config
    kept = run_log.create_run(config, user="ada", status=RUNNING)
    path = run_log.model_path_for(kept.id)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"model bytes")
    kept = run_log.finish_run(kept.id, FINISHED, model_path=str(path))
    copied = export.copy_model(kept, tmp_path / "mine.keras")
    assert copied.read_bytes() == b"model bytes"
    with pytest.raises(ValueError, match=r"\.keras"):
        export.copy_model(kept, tmp_path / "mine.h5")

    running = run_log.create_run(config, user="ada", status=RUNNING)
    with pytest.raises(ValueError, match="still training"):
        export.copy_model(running, tmp_path / "other.keras")


def test_exported_files_are_named_as_people_read_the_run():
    from mnist_core.teaching.export import file_stem

    assert file_stem("Optimizer: adam → sgd") == "optimizer_adam_to_sgd"
    assert file_stem("Quick dense network: past 98%") == "quick_dense_network_past_98"
    assert file_stem("Notebook: relu + binary cross-entropy + adam").startswith(
        "notebook_relu_and_binary_cross_entropy"
    )
    assert file_stem("Müller's CNN ✓") == "muller_s_cnn"
    assert file_stem("✓✓") == "run"
