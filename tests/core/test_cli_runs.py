"""Tests of the CLI's `runs` command and of `train` recording its run.

`runs` is checked in-process through `cli.main` on a temporary run log (MNIST_RUNS_DB) whose
runs are written through the log's own lifecycle functions; `train` trains for real on a few
hundred images (in-process, and once through a real Dask scheduler with `--scheduler`).
"""

import csv
import io
import json
import sqlite3

import pytest

from mnist_core import cli
from mnist_core.modeling.presets import get_preset
from mnist_core.modeling.summary import count_parameters
from mnist_core.runs import database as run_log_module
from mnist_core.runs.log import RunLog
from mnist_core.runs.record import (
    FINISHED,
    RUNNING,
)
from mnist_core.runs.users import CLI_USER

LIST_KEYS = {"id", "status", "preset", "user", "config", "metrics", "parameter_count"}


@pytest.fixture
def runs_db(tmp_path, monkeypatch):
    path = tmp_path / "log" / "runs.sqlite3"
    monkeypatch.setenv("MNIST_RUNS_DB", str(path))
    monkeypatch.setenv("MNIST_MODELS_DIR", str(tmp_path / "models"))
    return path


def run_main(capsys, *arguments):
    status = cli.main(list(arguments))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def epoch(number, epochs, loss, accuracy, val_loss, val_accuracy):
    return {
        "epoch": number, "epochs": epochs, "loss": loss, "accuracy": accuracy,
        "val_loss": val_loss, "val_accuracy": val_accuracy, "elapsed_seconds": 1.5 * number,
        "samples_per_second": 1000.0,
    }  # fmt: skip


@pytest.fixture
def two_runs(runs_db):
    """Two finished runs differing in their optimizer; the first keeps a model file."""
    run_log = RunLog(runs_db)
    config = get_preset("dense_fast").config.replace(epochs=2)
    made = []
    for optimizer, accuracy in (("adam", 0.9712), ("sgd", 0.614)):
        run = run_log.create_run(
            config.replace(optimizer=optimizer),
            user="ada",
            preset="dense_fast",
            label=optimizer,
            training_images=2000,
            status=RUNNING,
        )
        run_log.record_epoch(run.id, epoch(1, 2, 0.5, 0.8, 0.45, 0.85), [])
        run_log.record_epoch(run.id, epoch(2, 2, 0.3, 0.9, float("nan"), 0.9), [])
        model_path = None
        if optimizer == "adam":
            path = run_log.model_path_for(run.id)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"keras zip")
            model_path = str(path)
        made.append(
            run_log.finish_run(
                run.id,
                FINISHED,
                metrics={
                    "test_accuracy": accuracy,
                    "test_loss": 0.1,
                    "parameter_count": 535818,
                    "training_seconds": 3.0,
                    "samples_per_second": 1200.0,
                    "val_loss": float("nan"),
                },
                model_path=model_path,
            )  # fmt: skip
        )
    return made


def test_runs_without_a_log_is_one_error_line(runs_db, capsys):
    status, out, err = run_main(capsys, "runs")
    assert status == cli.ERROR_EXIT_STATUS and out == ""
    assert "no run log at" in one_error_line(err)
    assert not runs_db.exists()  # reading never creates a log
    status, _, err = run_main(capsys, "runs", "show", "abc")
    assert status == cli.ERROR_EXIT_STATUS and "no run log at" in one_error_line(err)


def test_runs_lists_and_json_has_the_fields(two_runs, capsys):
    status, out, _ = run_main(capsys, "runs")
    assert status == 0
    adam, sgd = two_runs
    lines = out.splitlines()
    assert lines[1].split()[:4] == ["id", "created", "user", "status"]
    assert lines[2].startswith(sgd.id) and lines[3].startswith(adam.id)  # newest first
    assert "97.12%" in lines[3] and "dense 512-256 relu" in lines[3]

    status, out, _ = run_main(capsys, "runs", "--json")
    assert status == 0
    listed = json.loads(out)  # strict JSON: the NaNs became null
    assert [entry["id"] for entry in listed] == [sgd.id, adam.id]
    assert set(listed[0]) >= LIST_KEYS
    assert listed[1]["config"]["optimizer"] == "adam"
    assert listed[1]["metrics"]["test_accuracy"] == 0.9712
    assert listed[1]["metrics"]["val_loss"] is None
    assert listed[1]["parameter_count"] == 535818
    assert listed[0]["history"][1]["val_loss"] is None

    status, out, _ = run_main(capsys, "runs", "--json", "--user", "nobody")
    assert status == 0 and json.loads(out) == []


def test_runs_show(two_runs, capsys):
    adam = two_runs[0]
    status, out, _ = run_main(capsys, "runs", "show", adam.id)
    assert status == 0
    assert out.startswith(f"run {adam.id}: finished")
    assert "layer_sizes                512 → 256" in out
    assert "test accuracy" in out and "97.12%" in out
    assert "epochs:" in out and "0.8500" in out
    status, out, _ = run_main(capsys, "runs", "show", adam.id, "--json")
    assert status == 0 and json.loads(out)["id"] == adam.id

    status, out, err = run_main(capsys, "runs", "show", "nope")
    assert status == cli.ERROR_EXIT_STATUS and out == ""
    assert one_error_line(err) == (
        "error: No run has the id 'nope'; `python -m mnist_core runs` lists them."
    )


def test_runs_compare_prints_the_differences_and_the_figures(two_runs, capsys):
    adam, sgd = two_runs
    status, out, _ = run_main(capsys, "runs", "compare", adam.id, sgd.id)
    assert status == 0
    settings, figures = out.split("figures (* best):")
    assert "settings that differ:" in settings
    assert "optimizer" in settings and "adam" in settings and "sgd" in settings
    assert "layer sizes" not in settings  # the same in both
    accuracy_line = next(line for line in figures.splitlines() if line.startswith("test accuracy"))
    assert accuracy_line.split()[-3:] == ["97.12%", "*", "61.40%"]

    status, out, _ = run_main(capsys, "runs", "compare", adam.id, sgd.id, "--json")
    document = json.loads(out)
    assert document["runs"] == [adam.id, sgd.id]
    assert [row["field"] for row in document["differing_settings"]] == ["optimizer", "momentum"]
    assert document["metrics"][0]["best"] == 0

    status, _, err = run_main(capsys, "runs", "compare", adam.id)
    assert status == cli.ERROR_EXIT_STATUS and "at least two run ids" in one_error_line(err)
    status, _, err = run_main(capsys, "runs", "compare", adam.id, "nope")
    assert status == cli.ERROR_EXIT_STATUS and "'nope'" in one_error_line(err)


def test_runs_export_writes_the_script_the_history_and_the_model(two_runs, tmp_path, capsys):
    adam, sgd = two_runs
    code, history, model = tmp_path / "adam.py", tmp_path / "adam.csv", tmp_path / "adam.keras"
    status, out, _ = run_main(
        capsys, "runs", "export", adam.id, "--code", str(code), "--csv", str(history),
        "--model", str(model),
    )  # fmt: skip
    assert status == 0, out
    compile(code.read_text(), str(code), "exec")
    assert f"run {adam.id}" in code.read_text() and "python adam.py --data" in code.read_text()
    rows = list(csv.DictReader(io.StringIO(history.read_text())))
    assert [row["loss"] for row in rows] == ["0.5", "0.3"]
    assert model.read_bytes() == b"keras zip"

    # Nothing is replaced without --overwrite, and a run without a model writes nothing.
    status, _, err = run_main(capsys, "runs", "export", adam.id, "--csv", str(history))
    assert status == cli.ERROR_EXIT_STATUS and "--overwrite" in one_error_line(err)
    other = tmp_path / "sgd.py"
    status, _, err = run_main(
        capsys, "runs", "export", sgd.id, "--code", str(other), "--model", str(tmp_path / "s.keras")
    )
    assert status == cli.ERROR_EXIT_STATUS and "no model file" in one_error_line(err)
    assert not other.exists()
    status, _, err = run_main(capsys, "runs", "export", sgd.id)
    assert status == cli.ERROR_EXIT_STATUS and "--code FILE" in one_error_line(err)


def test_a_damaged_or_locked_log_is_one_error_line(two_runs, runs_db, capsys, monkeypatch):
    monkeypatch.setattr(run_log_module, "LOCK_TIMEOUT_SECONDS", 0.2)
    holder = sqlite3.connect(runs_db)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        status, _, err = run_main(capsys, "runs")
    finally:
        holder.rollback()
        holder.close()
    assert status == cli.ERROR_EXIT_STATUS and "is locked" in one_error_line(err)

    runs_db.write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        runs_db.with_name(runs_db.name + suffix).unlink(missing_ok=True)
    status, _, err = run_main(capsys, "runs")
    assert status == cli.ERROR_EXIT_STATUS and "damaged" in one_error_line(err)


# --- train records its run ----------------------------------------------------------------------
def test_train_records_its_run_like_the_app(runs_db, capsys):
    status, out, err = run_main(
        capsys, "train", "--preset", "dense_fast", "--epochs", "2", "--training-images", "600",
        "--name", "tiny",
    )  # fmt: skip
    assert status == 0, err
    assert "epoch 2/2" in out  # the progress printer still prints
    run_id = out.strip().splitlines()[-1].split()[3].rstrip(";")
    run = RunLog(runs_db).get_run(run_id)
    assert run.status == FINISHED and run.owned_by(CLI_USER) and run.preset == "dense_fast"
    assert run.training_images == 600 and run.model_name == "tiny"
    assert run.plan["epochs"] == 2 and run.plan["training_images_used"] == 540
    assert [entry["epoch"] for entry in run.history] == [1, 2]
    assert run.parameter_count == count_parameters(get_preset("dense_fast").config)
    assert 0 < run.test_accuracy <= 1 and len(run.metrics["per_class_accuracy"]) == 10
    assert run.model_kept and run.model_path == str(RunLog(runs_db).model_path_for(run.id))
    assert len(RunLog(runs_db).weight_summaries(run.id)) == 2
    assert run.engine and run.engine.split(":")[1] == str(__import__("os").getpid())
    assert "saved " in out  # and the model store has it, as before


def test_train_trains_anyway_when_the_log_cannot_be_used(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MNIST_RUNS_DB", str(blocker / "runs.sqlite3"))
    monkeypatch.setenv("MNIST_MODELS_DIR", str(tmp_path / "models"))
    status, out, err = run_main(
        capsys, "train", "--preset", "softmax_regression", "--epochs", "1", "--training-images", "300",
        "--name", "unrecorded",
    )  # fmt: skip
    assert status == 0, err
    warning = err.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("warning: this training is not recorded")
    assert "training anyway" in warning[0]
    assert (tmp_path / "models" / "unrecorded.keras").is_file()
    assert "recorded as run" not in out


@pytest.mark.cluster
def test_train_on_a_dask_scheduler(runs_db, capsys, recipe_cluster):
    """`train --scheduler` on a scheduler and worker started as the README says."""
    address = recipe_cluster[0]
    status, out, err = run_main(
        capsys, "train", "--preset", "dense_fast", "--epochs", "1", "--training-images", "400",
        "--name", "remote", "--scheduler", address,
    )  # fmt: skip
    assert status == 0, err
    assert err == ""  # no warning: the worker has the project and MNIST
    assert f"on {address}" in out and "epoch 1/1" in out
    (run,) = RunLog(runs_db).list_runs()
    assert run.status == FINISHED and run.owned_by(CLI_USER) and run.model_name == "remote"
    assert run.worker == recipe_cluster[1]
    assert (runs_db.parent.parent / "models" / "remote.keras").is_file()


def test_train_on_an_unreachable_scheduler_is_one_error_line(runs_db, capsys):
    status, _, err = run_main(
        capsys, "train", "--preset", "dense_fast", "--epochs", "1",
        "--scheduler", "tcp://127.0.0.1:9",
    )  # fmt: skip
    assert status == cli.ERROR_EXIT_STATUS
    assert "does not answer" in one_error_line(err)
