"""Tests of the CLI's presets, train, models, evaluate and predict commands.

End to end through `python -m mnist_core` in a subprocess, with a temporary model store
(MNIST_MODELS_DIR) holding a copy of the committed default model; main() in-process where a
test must count calls or fake a training run. The subprocesses that import TensorFlow cost a
few seconds each, so each such command runs once or twice.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_core import cli
from mnist_core.cli import model_commands
from mnist_core.cli.progress import ProgressPrinter
from mnist_core.modeling.presets import PRESETS
from mnist_core.runs.saved_models import ModelRecord
from mnist_core.training.progress import (
    STOP_NAN,
    STOP_REQUESTED,
    BatchProgress,
    EpochMetrics,
    TrainingPlan,
)
from mnist_core.training.train import TrainingResult

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPO / "models" / "default.keras"
# MNIST test images rendered as canvas drawings in `digit_images`, with their labels.
KNOWN_DIGIT_INDICES = (0, 1, 2, 3, 4)


def run_cli(*arguments: str, models_dir: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mnist_core", *arguments],
        cwd=REPO,
        env=_environment(models_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _environment(models_dir: Path) -> dict[str, str]:
    return {**os.environ, "MNIST_MODELS_DIR": str(models_dir), "TF_CPP_MIN_LOG_LEVEL": "3"}


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    """A model store holding a copy of the real default model."""
    if not DEFAULT_MODEL.is_file():
        pytest.fail(f"{DEFAULT_MODEL} is missing: train it with `python -m mnist_core train`")
    directory = tmp_path_factory.mktemp("models")
    for suffix in (".keras", ".json"):
        shutil.copy(DEFAULT_MODEL.with_suffix(suffix), directory)
    return directory


@pytest.fixture(scope="module")
def tiny_training(models_dir):
    """One quick real training run through the CLI, saved as 'tiny'."""
    return run_cli(
        "train", "--preset", "dense_fast", "--epochs", "1", "--training-images", "1000",
        "--name", "tiny", models_dir=models_dir,
    )  # fmt: skip


@pytest.fixture(scope="module")
def digit_images(mnist, tmp_path_factory):
    """Canvas-like PNGs of known MNIST test digits, a blank PNG and a file that is no image."""
    from mnist_core.data.synthetic import render_canvas_drawing

    directory = tmp_path_factory.mktemp("images")
    digits = {}
    for index in KNOWN_DIGIT_INDICES:
        drawing = render_canvas_drawing(
            mnist.x_test[index], height_fraction=0.6, center_x=0.5, center_y=0.5, stroke_scale=1.3
        )
        path = directory / f"test_digit_{index}.png"
        Image.fromarray(drawing).save(path)
        digits[str(path)] = int(mnist.y_test[index])
    blank = directory / "blank.png"
    Image.new("RGB", (280, 280), "white").save(blank)
    not_an_image = directory / "notes.png"
    not_an_image.write_text("not an image")
    return {"digits": digits, "blank": str(blank), "not_an_image": str(not_an_image)}


# --- presets and models ----------------------------------------------------------------------


def test_a_reader_that_stops_early_ends_the_command_quietly(models_dir):
    # As `mnist-playground presets | head -1`: the reader is gone before the table is written.
    process = subprocess.Popen(
        [sys.executable, "-m", "mnist_core", "presets"],
        cwd=REPO,
        env=_environment(models_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()
    stderr = process.communicate(timeout=120)[1].decode()
    assert stderr == ""
    assert process.returncode == 141


def test_presets_lists_every_preset_with_its_parameter_count(models_dir):
    from mnist_core.modeling.summary import count_parameters

    completed = run_cli("presets", models_dir=models_dir)

    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    lines = completed.stdout.splitlines()
    assert lines[0].split() == ["preset", "title", "parameters", "description"]
    assert len(lines) == 1 + len(PRESETS)
    for line, (name, preset) in zip(lines[1:], PRESETS.items(), strict=True):
        assert line.startswith(name) and preset.title in line
        assert f"{count_parameters(preset.config):,}" in line
        assert line.endswith(preset.description)


def test_presets_and_models_do_not_import_tensorflow(models_dir):
    script = (
        "import sys; from mnist_core import cli; "
        "assert cli.main(['presets']) == 0 and cli.main(['models']) == 0; "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules, file=sys.stderr)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=_environment(models_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == "False False\n"


def test_models_lists_stored_models_and_broken_entries(models_dir, tiny_training):
    assert tiny_training.returncode == 0, tiny_training.stderr
    broken = models_dir / "half_saved.json"
    broken.write_text("{}")
    try:
        completed = run_cli("models", models_dir=models_dir)
    finally:
        broken.unlink()

    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0] == f"models in {models_dir}:"
    assert lines[1].split() == ["name", "dataset", "test", "accuracy", "parameters", "saved"]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert set(rows) == {"default", "half_saved", "tiny"}
    record = ModelRecord.from_sidecar(json.loads((models_dir / "tiny.json").read_text()))
    accuracy = f"{record.test_accuracy:.2%}"
    assert re.fullmatch(
        rf"tiny +mnist +{re.escape(accuracy)} +535,818 +\d{{4}}-\d\d-\d\d \d\d:\d\d UTC",
        rows["tiny"],
    )
    assert rows["half_saved"].split(None, 1)[1] == (
        "broken: half_saved.keras is missing (only half_saved.json was found)"
    )


# --- train -----------------------------------------------------------------------------------


def test_train_saves_the_model_and_prints_progress_per_epoch(models_dir, tiny_training):
    assert tiny_training.returncode == 0, tiny_training.stderr
    assert tiny_training.stderr == ""
    lines = tiny_training.stdout.splitlines()
    assert lines[0] == "training preset dense_fast as model 'tiny'"
    assert lines[1] == "1 epoch(s) of 4 batches: 900 training images, 100 held out for validation"
    assert re.fullmatch(
        r"epoch 1/1 \[#{30}\] 100% loss \d\.\d{4} accuracy \d\.\d{4} "
        r"val_loss \d\.\d{4} val_accuracy \d\.\d{4} \| \d+ samples/s",
        lines[2],
    )
    assert re.fullmatch(
        r"test accuracy \d+\.\d\d% \(test loss \d\.\d{4}\) after 1 epoch\(s\), .*", lines[3]
    )
    assert lines[4] == f"saved {models_dir / 'tiny.keras'} and {models_dir / 'tiny.json'}"
    assert (models_dir / "tiny.keras").is_file()

    record = ModelRecord.from_sidecar(json.loads((models_dir / "tiny.json").read_text()))
    assert record.dataset == "mnist" and record.training_images == 1000
    assert record.config.epochs == 1 and record.config.layer_sizes == (512, 256)
    assert record.metrics["epochs_completed"] == 1
    assert record.metrics["stop_reason"] == "completed"
    assert [epoch["epoch"] for epoch in record.history] == [1]
    assert len(record.weight_summaries) == 1
    # The sidecar names its preset and says what the model learned from.
    assert record.preset == "dense_fast" and record.saved_by is None
    assert record.training_data == (
        "MNIST's training images (10% held out for validation) (900 training images)."
    )
    accuracy = float(re.search(r"test accuracy (\d+\.\d\d)%", lines[3]).group(1))
    assert accuracy == pytest.approx(100 * record.test_accuracy, abs=0.006)


def test_ctrl_c_stops_training_and_saves_the_epochs_done(models_dir):
    process = subprocess.Popen(
        [sys.executable, "-m", "mnist_core", "train", "--preset", "dense_fast",
         "--epochs", "200", "--training-images", "2000", "--name", "interrupted"],
        cwd=REPO,
        env=_environment(models_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        output = []
        for line in process.stdout:
            output.append(line)
            if line.startswith("epoch 1/200 "):
                process.send_signal(signal.SIGINT)
                break
        rest, errors = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stdout = "".join(output) + rest

    assert process.returncode == 0, errors
    assert errors == ""
    assert "Ctrl-C: stopping after this batch (press it again to abort)\n" in stdout
    assert re.search(r"stopped on request \(Ctrl-C\) after \d+ of 200 epoch\(s\)", stdout)
    metrics = ModelRecord.from_sidecar(
        json.loads((models_dir / "interrupted.json").read_text())
    ).metrics
    assert metrics["stop_reason"] == "stopped"
    assert 1 <= metrics["epochs_completed"] < 200


def fake_result(stop_reason: str, message: str, model) -> TrainingResult:
    return TrainingResult(
        model=model,
        config=PRESETS["dense_fast"].config,
        history=[],
        weight_summaries=[],
        stop_reason=stop_reason,
        message=message,
        training_seconds=0.1,
        test_loss=float("nan"),
        test_accuracy=0.1,
        training_images_used=90,
    )


@pytest.mark.parametrize(
    ("stop_reason", "message", "status", "expected_error"),
    [
        (
            STOP_NAN,
            "Training diverged: the loss became nan in epoch 1, batch 3. Lower the learning rate.",
            2,
            "error: Training diverged: the loss became nan in epoch 1, batch 3. Lower the "
            "learning rate. Nothing was saved.\n",
        ),
        (
            STOP_REQUESTED,
            "Stopped on request during epoch 1, after batch 2.",
            130,
            "error: training stopped (Ctrl-C) before the first epoch ended; nothing was saved.\n",
        ),
    ],
)
def test_a_run_without_a_usable_model_saves_nothing(
    monkeypatch, tmp_path, capsys, tiny_model, stop_reason, message, status, expected_error
):
    import mnist_core.training.train

    monkeypatch.setenv("MNIST_MODELS_DIR", str(tmp_path))
    monkeypatch.setattr(
        mnist_core.training.train,
        "train_model",
        lambda *args, **kwargs: fake_result(stop_reason, message, tiny_model),
    )

    arguments = ["train", "--preset", "dense_fast", "--training-images", "100", "--name", "lost"]
    assert cli.main(arguments) == status

    assert capsys.readouterr().err == expected_error
    assert list(tmp_path.iterdir()) == []


def batch_progress(batch: int) -> BatchProgress:
    return BatchProgress(
        epoch=2, epochs=3, batch=batch, batches_per_epoch=10, loss=0.25, accuracy=0.9,
        elapsed_seconds=1.0, samples_per_second=7900.0, seconds_left=4.0,
    )  # fmt: skip


EPOCH = EpochMetrics(
    epoch=2, epochs=3, loss=0.0812, accuracy=0.9751, val_loss=0.09, val_accuracy=0.97,
    elapsed_seconds=2.0, samples_per_second=8000.0,
)  # fmt: skip
BAR_LINE = (
    "epoch 2/3 [###############---------------]  50% loss 0.2500 accuracy 0.9000 | "
    "7900 samples/s | 4 s left"
)
EPOCH_LINE = (
    "epoch 2/3 [##############################] 100% loss 0.0812 accuracy 0.9751 "
    "val_loss 0.0900 val_accuracy 0.9700 | 8000 samples/s"
)


def test_progress_on_a_terminal_is_redrawn_in_place(capsys):
    printer = ProgressPrinter(sys.stdout, interactive=True)
    printer.on_batch(batch_progress(5))
    printer.on_epoch(EPOCH, [])

    padding = " " * (len(BAR_LINE) - len(EPOCH_LINE))
    assert capsys.readouterr().out == f"\r{BAR_LINE}\r{EPOCH_LINE}{padding}\n"


def test_progress_elsewhere_is_one_line_per_epoch(capsys):
    printer = ProgressPrinter(sys.stdout, interactive=False)
    printer.on_train_begin(TrainingPlan(3, 10, 900, 100, "split"))
    printer.on_batch(batch_progress(5))
    printer.on_epoch(EPOCH, [])
    printer.finish()

    assert capsys.readouterr().out == (
        "3 epoch(s) of 10 batches: 900 training images, 100 held out for validation\n"
        f"{EPOCH_LINE}\n"
    )


def test_a_stop_request_is_announced_once_and_ends_the_bar(capsys):
    printer = ProgressPrinter(sys.stdout, interactive=True)
    printer.on_batch(batch_progress(5))
    assert not printer.should_stop()
    printer.request_stop()
    assert printer.should_stop() and printer.should_stop()

    announcement = "Ctrl-C: stopping after this batch (press it again to abort)"
    padding = " " * (len(BAR_LINE) - len(announcement))
    assert capsys.readouterr().out == f"\r{BAR_LINE}\r{announcement}{padding}\n"


# --- evaluate --------------------------------------------------------------------------------


def test_evaluate_prints_the_report_and_the_confusion_matrix(models_dir, tiny_training):
    assert tiny_training.returncode == 0, tiny_training.stderr

    completed = run_cli("evaluate", "--model", "tiny", models_dir=models_dir)

    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    lines = completed.stdout.splitlines()
    assert lines[0] == "model 'tiny' on the mnist test set (10000 images)"
    assert re.fullmatch(
        r"accuracy \d+\.\d\d%  loss \d\.\d{4} \(categorical_crossentropy\)", lines[1]
    )
    assert lines[3].split() == ["precision", "recall", "f1-score", "support"]
    assert [line.split()[0] for line in lines[5:15]] == [str(digit) for digit in range(10)]
    start = lines.index("confusion matrix (rows: true class, columns: predicted class)")
    assert lines[start + 1].split() == [str(digit) for digit in range(10)]
    matrix = [[int(value) for value in line.split()[1:]] for line in lines[start + 2 : start + 12]]
    assert np.sum(matrix) == 10000
    assert [line.split()[0] for line in lines[start + 2 : start + 12]] == list("0123456789")


def test_evaluate_json_is_the_report_as_a_dict(models_dir, tiny_training, monkeypatch, capsys):
    assert tiny_training.returncode == 0, tiny_training.stderr
    monkeypatch.setenv("MNIST_MODELS_DIR", str(models_dir))

    assert cli.main(["evaluate", "--model", "tiny", "--json"]) == 0

    report = json.loads(capsys.readouterr().out)
    assert report["num_examples"] == 10000
    assert np.sum(report["confusion_matrix"]) == 10000
    assert len(report["per_class"]) == 10
    record = ModelRecord.from_sidecar(json.loads((models_dir / "tiny.json").read_text()))
    assert report["accuracy"] == pytest.approx(record.test_accuracy, abs=1e-6)


# --- predict ---------------------------------------------------------------------------------


def test_predict_reads_the_right_digits_and_reports_blank_images(models_dir, digit_images):
    paths = [*digit_images["digits"], digit_images["blank"]]

    completed = run_cli("predict", *paths, models_dir=models_dir)

    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    lines = completed.stdout.splitlines()
    assert len(lines) == len(paths)
    for line, (path, digit) in zip(lines, digit_images["digits"].items()):
        assert re.fullmatch(rf"{re.escape(path)}: {digit} \(\d+\.\d%\)", line)
    assert lines[-1] == (
        f"{digit_images['blank']}: no digit (blank image: no ink found, nothing to classify)"
    )


def test_predict_json_has_the_documented_keys(models_dir, digit_images, monkeypatch, capsys):
    from mnist_core.reading.predict import is_unsure

    monkeypatch.setenv("MNIST_MODELS_DIR", str(models_dir))
    paths = [*digit_images["digits"], digit_images["blank"]]

    assert cli.main(["predict", "--json", *paths]) == 0

    results = json.loads(capsys.readouterr().out)
    keys = {
        "file", "digit", "class_name", "confidence", "probabilities", "runner_up",
        "runner_up_probability", "unsure", "not_a_digit", "note",
    }  # fmt: skip
    assert [set(result) for result in results] == [keys] * len(paths)
    assert [result["file"] for result in results] == paths
    for result, digit in zip(results, digit_images["digits"].values()):
        assert result["digit"] == digit and result["class_name"] == str(digit)
        assert result["note"] is None
        assert result["not_a_digit"] is False
        assert len(result["probabilities"]) == 10
        assert sum(result["probabilities"]) == pytest.approx(1.0, abs=1e-4)
        assert result["confidence"] == max(result["probabilities"]) > 0.5
        second = sorted(result["probabilities"])[-2]
        assert result["runner_up"] != digit
        assert result["runner_up_probability"] == result["probabilities"][result["runner_up"]]
        assert result["runner_up_probability"] == second
        assert result["unsure"] is is_unsure(result["confidence"], second)
    assert results[-1] == {
        "file": digit_images["blank"],
        "digit": None,
        "class_name": None,
        "confidence": None,
        "probabilities": None,
        "runner_up": None,
        "runner_up_probability": None,
        "unsure": None,
        "not_a_digit": None,
        "note": "blank image: no ink found, nothing to classify",
    }


def test_predict_says_when_a_drawing_does_not_look_like_a_digit(
    models_dir, tmp_path, monkeypatch, capsys
):
    """A cross from the committed non-digit set: still read as a digit, and flagged."""
    from PIL import Image

    from mnist_core.data.non_digits import KINDS, load_non_digit_set

    monkeypatch.setenv("MNIST_MODELS_DIR", str(models_dir))
    others = load_non_digit_set()
    cross = others.images[list(others.kinds).index(KINDS.index("cross"))]
    path = str(tmp_path / "cross.png")
    Image.fromarray(cross).save(path)

    assert cli.main(["predict", "--json", path]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["not_a_digit"] is True and result["digit"] in range(10)
    assert cli.main(["predict", path]) == 0
    assert "does not look like a digit" in capsys.readouterr().out


class CountingModel:
    """Wraps a model and records the size of every batch it is asked to classify."""

    def __init__(self, model):
        self.model = model
        self.batch_sizes = []

    def __call__(self, images, training=False):
        self.batch_sizes.append(len(images))
        return self.model(images, training=training)

    def predict_on_batch(self, images):
        self.batch_sizes.append(len(images))
        return self.model.predict_on_batch(images)

    def predict(self, images, **kwargs):
        self.batch_sizes.append(len(images))
        return self.model.predict(images, **kwargs)

    def __getattr__(self, name):
        return getattr(self.model, name)


def test_predict_classifies_300_files_with_one_batched_call(
    models_dir, mnist, tmp_path, monkeypatch, capsys
):
    import mnist_core.reading.predict

    monkeypatch.setenv("MNIST_MODELS_DIR", str(models_dir))
    paths = []
    for index in range(300):
        path = tmp_path / f"{index:03d}.png"
        Image.fromarray(mnist.x_test[index]).save(path)
        paths.append(str(path))
    batch_calls = []
    real_predict_batch = mnist_core.reading.predict.predict_batch

    def counting_predict_batch(model, images, **kwargs):
        batch_calls.append(images.shape)
        return real_predict_batch(model, images, **kwargs)

    models = []
    real_load = model_commands.load_stored_model

    def counting_load(name):
        models.append(CountingModel(real_load(name)))
        return models[-1]

    monkeypatch.setattr(mnist_core.reading.predict, "predict_batch", counting_predict_batch)
    monkeypatch.setattr(model_commands, "load_stored_model", counting_load)

    assert cli.main(["predict", "--json", *paths]) == 0

    assert batch_calls == [(300, 28, 28)]
    assert len(models) == 1 and models[0].batch_sizes == [300]
    digits = [result["digit"] for result in json.loads(capsys.readouterr().out)]
    assert np.mean(np.array(digits) == mnist.y_test[:300]) >= 0.97


def test_one_bad_file_does_not_spoil_a_batch(models_dir, digit_images, tmp_path):
    missing = str(tmp_path / "missing.png")
    not_an_image = digit_images["not_an_image"]
    digits = list(digit_images["digits"])
    paths = [digits[0], missing, *digits[1:], not_an_image]

    completed = run_cli("predict", "--json", *paths, models_dir=models_dir)

    assert completed.returncode == 2
    assert completed.stderr.splitlines() == [
        f"error: Cannot read image {missing!r}: no such file. Expected "
        "PNG, JPEG, BMP, GIF, TIFF or WebP image files.",
        f"error: Cannot read image {not_an_image!r}: not an image Pillow can read. Expected "
        "PNG, JPEG, BMP, GIF, TIFF or WebP image files.",
    ]
    results = json.loads(completed.stdout)
    assert [result["file"] for result in results] == paths
    assert results[1] == {"file": missing, "error": completed.stderr.splitlines()[0][7:]}
    assert results[-1] == {"file": not_an_image, "error": completed.stderr.splitlines()[1][7:]}
    readable = [results[0], *results[2:-1]]
    assert [result["digit"] for result in readable] == list(digit_images["digits"].values())

    # The same in text: the readable files on stdout, the bad ones on stderr.
    completed = run_cli("predict", *paths, models_dir=models_dir)
    assert completed.returncode == 2
    assert len(completed.stderr.splitlines()) == 2
    assert [line.split(": ")[0] for line in completed.stdout.splitlines()] == digits


def test_predict_loads_no_model_when_no_file_can_be_read(
    models_dir, digit_images, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("MNIST_MODELS_DIR", str(models_dir))

    def must_not_load(name):
        raise AssertionError("a model was loaded with nothing to classify")

    monkeypatch.setattr(model_commands, "load_stored_model", must_not_load)
    bad = [str(tmp_path / "missing.png"), digit_images["not_an_image"]]
    assert cli.main(["predict", *bad]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 2


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["train", "--preset", "resnet"], "error: preset must be one of cnn_fast, dense_fast, "),
        (["evaluate", "--model", "nope"], "error: no model named 'nope' in "),
        (["predict", "--model", "nope", "{blank}"], "error: no model named 'nope' in "),
        (["predict", "missing.png"], "error: Cannot read image 'missing.png': no such file."),
        (["predict", "{not_an_image}"], "error: Cannot read image '{not_an_image}': not an image"),
        (["train", "--preset", "dense_fast", "--name", "no spaces"], "error: name must be 1 to 64 characters"),
        (["train", "--preset", "dense_fast", "--name", "default"], "error: a model named 'default' is already stored in "),
        (["train", "--preset", "dense_fast", "--epochs", "0"], "error: epochs must be an integer from 1 to 200, got 0."),
        (["predict", "--noise", "-1", "{digit}"], "error: --noise must be a number from 0 to 1"),
        (["train", "--epochs", "3"], "error: the following arguments are required: --preset; see "),
    ],
)  # fmt: skip
def test_errors_are_one_line_without_traceback(models_dir, digit_images, arguments, expected):
    names = {
        "digit": next(iter(digit_images["digits"])),
        "blank": digit_images["blank"],
        "not_an_image": digit_images["not_an_image"],
    }
    arguments = [argument.format(**names) for argument in arguments]

    completed = run_cli(*arguments, models_dir=models_dir)

    assert completed.returncode == 2
    assert completed.stdout == ""
    assert "Traceback" not in completed.stderr
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith(expected.format(**names))
