"""runs.lifecycle: one mapping of how a training ended, one atomic model write, one end."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from mnist_core.runs.database import RunLogError
from mnist_core.runs.lifecycle import (
    LocalRun,
    RunEnding,
    end_run,
    ended_status,
    run_ending,
)
from mnist_core.runs.log import RunLog
from mnist_core.runs.record import DIVERGED, FAILED, FINISHED, RUNNING, STOPPED
from mnist_core.training.progress import (
    STOP_COMPLETED,
    STOP_NAN,
    STOP_REQUESTED,
    STOP_TIME_LIMIT,
    TrainingObserver,
)


@dataclasses.dataclass
class Ended:
    stop_reason: str
    message: str = "why"


@pytest.mark.parametrize(
    ("stop_reason", "status"),
    [
        (STOP_COMPLETED, FINISHED),
        (STOP_REQUESTED, STOPPED),
        (STOP_TIME_LIMIT, STOPPED),
        (STOP_NAN, DIVERGED),
    ],
)
def test_every_way_a_training_ends_has_one_status(stop_reason, status):
    assert ended_status(Ended(stop_reason, "the reason")) == (status, "the reason")


@pytest.fixture
def log(tmp_path):
    return RunLog(tmp_path / "runs.sqlite3")


@pytest.fixture
def running(log, tiny_config):
    return log.create_run(tiny_config, user="ada", status=RUNNING)


def test_a_run_ends_with_its_model_kept_beside_the_log(log, running):
    run = end_run(log, running.id, RunEnding(FINISHED, "done", {"test_accuracy": 0.9}, b"model"))
    assert run.status == FINISHED and run.reason == "done" and run.test_accuracy == 0.9
    assert run.model_kept and Path(run.model_path).read_bytes() == b"model"
    assert [name for name in os.listdir(log.model_path_for(run.id).parent)] == [
        f"{run.id}.keras"
    ]  # no temporary left


def test_a_model_that_cannot_be_written_ends_the_run_failed_with_why(log, running, tmp_path):
    blocker = tmp_path / "run_models"
    blocker.write_text("a file where the folder should be")
    run = end_run(log, running.id, RunEnding(FINISHED, "done", {}, b"model"))
    assert run.status == FAILED and "could not be written" in run.reason
    assert not run.model_kept


def test_a_log_that_cannot_take_the_end_keeps_no_model_file(log, running, monkeypatch):
    def locked(*args, **kwargs):
        raise RunLogError("The run log is locked by another program.")

    monkeypatch.setattr(log, "finish_run", locked)
    with pytest.raises(RunLogError, match="locked"):
        end_run(log, running.id, RunEnding(FINISHED, "done", {}, b"model"))
    assert not log.model_path_for(running.id).exists()
    assert log.get_run(running.id).status == RUNNING  # to be ended when the log allows


def test_a_local_run_ends_through_the_same_path(log, tiny_config, tiny_mnist):
    from mnist_core.training.train import train_model

    local = LocalRun.start(
        tiny_config, preset=None, training_images=300, observer=TrainingObserver(), run_log=log
    )
    assert local.recorded and local.problem is None
    result = train_model(tiny_config, tiny_mnist, local.observer, training_images=300)
    local.end(result, tiny_mnist)
    run = log.get_run(local.run.id)
    assert run.status == FINISHED and run.model_kept and run.training_images == 300
    assert run.metrics["training_images_used"] == result.training_images_used
    assert len(run.history) == tiny_config.epochs
    assert run == local.run


def test_a_local_run_without_a_usable_log_trains_unrecorded(tmp_path, tiny_config, tiny_mnist):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    local = LocalRun.start(
        tiny_config,
        preset="p",
        training_images=None,
        observer=TrainingObserver(),
        run_log=RunLog(blocker / "runs.sqlite3"),
    )
    assert not local.recorded and "cannot be opened" in local.problem
    from mnist_core.training.train import train_model

    result = train_model(tiny_config, tiny_mnist, local.observer)
    local.end(result, tiny_mnist)
    assert local.run.status == FINISHED and local.run.preset == "p"
    assert len(local.run.history) == tiny_config.epochs


def test_the_ending_of_a_diverged_run_keeps_no_model(tiny_config, tiny_mnist):
    from mnist_core.training.train import train_model

    result = train_model(tiny_config, tiny_mnist)
    finished = run_ending(result, tiny_mnist)
    assert finished.status == FINISHED and finished.model and finished.metrics["parameter_count"]
    diverged = run_ending(dataclasses.replace(result, stop_reason=STOP_NAN), tiny_mnist)
    assert diverged.status == DIVERGED and diverged.model is None
