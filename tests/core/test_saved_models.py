"""runs.saved_models: a saved model's sidecar is its run's record plus its name; one loader
reads it back, and the older sidecars too; who may save over or delete which model."""

from __future__ import annotations

import json

import pytest

from mnist_core.base.paths import checkout_directory
from mnist_core.modeling.store import ModelExistsError, list_models, save_model
from mnist_core.runs.classroom import ModelProtectedError
from mnist_core.runs.limits import Limits, RunRefused
from mnist_core.runs.log import RunLog
from mnist_core.runs.record import RUNNING, Run
from mnist_core.runs.saved_models import (
    SIDECAR_FORMAT_VERSION,
    ModelRecord,
    delete_saved_model,
    keep_run_model,
    save_run_model,
    saved_model_records,
)
from mnist_core.runs.users import User

ADA = User("a" * 32, "ada")
BO = User("b" * 32, "bo")


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    directory = tmp_path / "models"
    monkeypatch.setenv("MNIST_MODELS_DIR", str(directory))
    return directory


@pytest.fixture
def ended_run(tmp_path, tiny_config, tiny_mnist, record_trained_run):
    from mnist_core.training.train import train_model

    log = RunLog(tmp_path / "runs.sqlite3")
    result = train_model(tiny_config, tiny_mnist, training_images=400)
    run = record_trained_run(
        log, result, user=ADA, preset="softmax_regression", dataset=tiny_mnist,
        training_images=400,
    )  # fmt: skip
    return log, run


def test_the_sidecar_is_the_runs_record_plus_its_name(models_dir, ended_run, tiny_model):
    log, run = ended_run
    stored = save_run_model(
        tiny_model, run, "mine", saved_by=ADA, weight_summaries=log.weight_summaries(run.id)
    )
    sidecar = json.loads(stored.metadata_path.read_text())
    assert sidecar["format_version"] == SIDECAR_FORMAT_VERSION
    assert sidecar["name"] == "mine" and sidecar["saved_by"] == "ada"
    assert sidecar["saved_by_id"] == ADA.id
    assert sidecar["run"] == json.loads(json.dumps(run.to_dict()))  # the same record, as JSON
    assert len(sidecar["weight_summaries"]) == run.config.epochs

    record = saved_model_records()["mine"]
    from_run = ModelRecord.from_run(run)
    assert record.config == from_run.config == run.config
    assert record.test_accuracy == from_run.test_accuracy == run.test_accuracy
    assert record.run_id == run.id and record.preset == "softmax_regression"
    assert record.training_images == 400 and record.saved_by_id == ADA.id
    assert record.history == run.history and record.dataset == "mnist"
    assert "training images" in record.training_data


def test_an_older_sidecar_still_loads(models_dir, tiny_model, tiny_config):
    save_model(
        tiny_model,
        "old",
        {
            "format_version": 1,
            "config": tiny_config.to_dict(),
            "metrics": {"test_accuracy": 0.91, "wall_seconds": 3.5},
            "history": [{"epoch": 1, "loss": 0.4}],
            "dataset": "mnist",
            "training_seconds": 3.5,
            "created_at": "2026-11-30T10:00:00+00:00",
            "extras": {"user": "bo", "run_id": "abc", "preset": "x", "weight_summaries": [[]]},
            "training_data": "MNIST's training images.",
        },
    )
    record = saved_model_records()["old"]
    assert record.config == tiny_config and record.test_accuracy == 0.91
    assert record.metrics["training_seconds"] == 3.5  # the older key, under today's name
    assert (record.saved_by, record.run_id, record.preset) == ("bo", "abc", "x")
    assert record.training_data == "MNIST's training images." and record.weight_summaries == [[]]


def test_the_committed_default_models_sidecar_loads():
    sidecar = checkout_directory() / "models" / "default.json"
    record = ModelRecord.from_sidecar(json.loads(sidecar.read_text()))
    assert record.config is not None and record.preset == "handwriting_cnn"
    assert record.test_accuracy > 0.99 and record.weight_summaries


def test_keeping_a_run_model_checks_name_owner_and_overwrite(models_dir, ended_run):
    log, run = ended_run
    keep_run_model(log, run, "adas", user=ADA, teacher=False, overwrite=False)
    assert log.get_run(run.id).model_name == "adas"
    assert saved_model_records()["adas"].saved_by_id == ADA.id
    with pytest.raises(ModelExistsError):
        keep_run_model(log, run, "adas", user=ADA, teacher=False, overwrite=False)
    keep_run_model(log, run, "adas", user=ADA, teacher=False, overwrite=True)
    with pytest.raises(ModelProtectedError, match="saved by ada"):
        keep_run_model(log, run, "adas", user=BO, teacher=False, overwrite=True)
    impostor = User("f" * 32, "ada")  # another browser under the same name
    with pytest.raises(ModelProtectedError):
        keep_run_model(log, run, "adas", user=impostor, teacher=False, overwrite=True)
    keep_run_model(log, run, "adas", user=BO, teacher=True, overwrite=True)  # the teacher
    with pytest.raises(ModelProtectedError, match="every Draw page uses"):
        keep_run_model(log, run, "default", user=BO, teacher=True, overwrite=True)
    with pytest.raises(ValueError, match="Type a name"):
        keep_run_model(log, run, "", user=ADA, teacher=False, overwrite=False)
    with pytest.raises(ValueError, match="name must be .*Choose another name"):
        keep_run_model(log, run, "a b", user=ADA, teacher=False, overwrite=False)


def test_a_person_keeps_at_most_so_many_saved_models(models_dir, ended_run):
    log, run = ended_run
    limits = Limits(saved_models_per_user=2)
    for name in ("one", "two"):
        keep_run_model(log, run, name, user=ADA, teacher=False, overwrite=False, limits=limits)
    with pytest.raises(RunRefused, match="You keep 2 saved models, the most"):
        keep_run_model(log, run, "three", user=ADA, teacher=False, overwrite=False, limits=limits)
    keep_run_model(log, run, "two", user=ADA, teacher=False, overwrite=True, limits=limits)


def test_a_run_without_its_model_cannot_be_kept(models_dir, tmp_path, tiny_config):
    log = RunLog(tmp_path / "runs.sqlite3")
    run = log.create_run(tiny_config, user="ada", status=RUNNING)
    with pytest.raises(ValueError, match="no longer kept"):
        keep_run_model(log, run, "nothing", user=ADA, teacher=False, overwrite=False)
    assert list_models() == []


def test_only_the_owner_or_the_teacher_deletes_a_saved_model(models_dir, tiny_model, tiny_config):
    run = Run.unrecorded("r1", tiny_config, user="ada")
    save_run_model(tiny_model, run, "adas", saved_by=ADA)
    with pytest.raises(ModelProtectedError):
        delete_saved_model("adas", user=BO, teacher=False)
    delete_saved_model("adas", user=ADA, teacher=False)
    assert "adas" not in saved_model_records()
