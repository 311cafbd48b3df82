"""runs: the run log's lifecycle, concurrent writers, restart recovery, broken database files."""

import dataclasses
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from mnist_core.base.paths import default_runs_path
from mnist_core.modeling.config import ModelConfig
from mnist_core.modeling.presets import get_preset
from mnist_core.runs.database import (
    MAX_BATCH_CURVE_POINTS,
    RunLogError,
    UnknownRunError,
)
from mnist_core.runs.log import (
    RunLog,
    this_process_engine,
)
from mnist_core.runs.record import (
    FINISHED,
    INTERRUPTED,
    QUEUED,
    RUNNING,
    STOPPED,
)

CONFIG = get_preset("dense_fast").config.replace(epochs=2)


def progress(epoch: int, batch: int, batches: int = 10, loss: float = 1.0) -> dict:
    return {
        "epoch": epoch,
        "epochs": 2,
        "batch": batch,
        "batches_per_epoch": batches,
        "loss": loss,
        "accuracy": 0.5,
        "elapsed_seconds": 1.0,
        "samples_per_second": 100.0,
        "seconds_left": 3.0,
    }


def epoch_metrics(epoch: int) -> dict:
    return {
        "epoch": epoch,
        "epochs": 2,
        "loss": 1.0 / epoch,
        "accuracy": 0.5 + epoch / 10,
        "val_loss": 1.1 / epoch,
        "val_accuracy": 0.4 + epoch / 10,
        "elapsed_seconds": float(epoch),
        "samples_per_second": 100.0,
    }


def test_the_schema_is_created_on_first_use_with_its_folder(tmp_path):
    path = tmp_path / "new" / "folder" / "runs.sqlite3"
    log = RunLog(path)
    assert log.list_runs() == []
    assert path.is_file()
    with sqlite3.connect(path) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    assert {"runs", "epochs", "engines", "settings"} <= tables
    assert mode == "wal"


def test_mnist_runs_db_points_the_log_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_RUNS_DB", str(tmp_path / "elsewhere.sqlite3"))
    assert default_runs_path() == tmp_path / "elsewhere.sqlite3"


def test_a_run_goes_through_its_lifecycle_and_keeps_everything(tmp_path):
    log = RunLog(tmp_path / "runs.sqlite3")
    run = log.create_run(CONFIG, user="ada", preset="dense_fast", training_images=1000)
    assert run.status == QUEUED and run.started_at is None and run.request_id == run.id
    assert log.mark_running(run.id, worker="tcp://w1")
    assert not log.mark_running(run.id), "a run starts only once"
    log.record_plan(run.id, {"epochs": 2, "batches_per_epoch": 10})
    log.record_progress(run.id, progress(1, 3), progress(1, 6))
    log.record_epoch(run.id, epoch_metrics(1), [{"layer": "dense_1"}])
    live = log.get_run(run.id)
    assert live.status == RUNNING and live.worker == "tcp://w1"
    assert live.progress["batch"] == 6
    assert [point[0] for point in live.batch_curve] == [pytest.approx(0.3), pytest.approx(0.6)]
    assert [entry["epoch"] for entry in live.history] == [1]
    log.record_epoch(run.id, epoch_metrics(2), [{"layer": "dense_1"}])
    ended = log.finish_run(
        run.id, FINISHED, "done", metrics={"test_accuracy": 0.9, "parameter_count": 10}
    )
    assert ended.ended and ended.test_accuracy == 0.9 and ended.parameter_count == 10
    assert ended.finished_at >= ended.started_at
    assert ended.config == CONFIG
    assert [e.epoch for e in ended.epoch_metrics()] == [1, 2]
    assert log.weight_summaries(run.id) == [[{"layer": "dense_1"}], [{"layer": "dense_1"}]]
    as_json = ended.to_dict()
    for key in ("id", "status", "preset", "user", "config", "metrics", "parameter_count"):
        assert key in as_json


def test_a_queued_run_can_be_cancelled_but_not_a_running_one(tmp_path):
    log = RunLog(tmp_path / "runs.sqlite3")
    first = log.create_run(CONFIG, user="ada")
    assert log.cancel_run(first.id, "left")
    assert log.get_run(first.id).status == STOPPED
    second = log.create_run(CONFIG, user="ada")
    log.mark_running(second.id)
    assert not log.cancel_run(second.id, "left")
    assert log.request_stop(second.id).stop_requested


def test_list_runs_filters_by_user_status_and_hidden_newest_first(tmp_path):
    log = RunLog(tmp_path / "runs.sqlite3")
    ada_one = log.create_run(CONFIG, user="ada")
    bob = log.create_run(CONFIG, user="bob")
    ada_two = log.create_run(CONFIG, user="ada")
    assert [run.id for run in log.list_runs(user="ada")] == [ada_two.id, ada_one.id]
    log.set_hidden(ada_one.id)
    assert [run.id for run in log.list_runs(user="ada")] == [ada_two.id]
    assert len(log.list_runs(user="ada", include_hidden=True)) == 2
    assert [run.id for run in log.active_runs()] == [ada_one.id, bob.id, ada_two.id]
    with pytest.raises(ValueError, match="statuses must be among"):
        log.list_runs(statuses=("sleeping",))


def test_a_listing_without_curves_has_everything_else(tmp_path):
    log = RunLog(tmp_path / "runs.sqlite3")
    run = log.create_run(CONFIG, user="ada", preset="dense_fast")
    log.mark_running(run.id)
    log.record_progress(run.id, progress(1, 5), progress(1, 10))
    log.record_epoch(run.id, epoch_metrics(1), [])
    log.finish_run(run.id, FINISHED, "done", metrics={"test_accuracy": 0.9})
    (full,) = log.list_runs()
    (light,) = log.list_runs(include_curves=False)
    assert len(full.batch_curve) == 2 and len(full.history) == 1
    assert light.batch_curve == () and light.history == ()
    assert dataclasses.replace(light, batch_curve=full.batch_curve, history=full.history) == full


def test_deleting_a_run_removes_its_epochs_and_model_file(tmp_path):
    log = RunLog(tmp_path / "runs.sqlite3")
    run = log.create_run(CONFIG, user="ada")
    log.mark_running(run.id)
    log.record_epoch(run.id, epoch_metrics(1), [])
    model = log.model_path_for(run.id)
    model.parent.mkdir(parents=True)
    model.write_bytes(b"model")
    log.finish_run(run.id, FINISHED, metrics={}, model_path=str(model))
    assert log.get_run(run.id).model_kept
    log.delete_run(run.id)
    assert not model.exists()
    with pytest.raises(UnknownRunError, match="No run has the id"):
        log.get_run(run.id)


def test_the_batch_curve_is_thinned_but_keeps_its_start(tmp_path):
    log = RunLog(tmp_path / "runs.sqlite3")
    run = log.create_run(CONFIG, user="ada")
    for batch in range(1, 1001):
        log.record_progress(run.id, progress(1, batch, batches=1000, loss=1000.0 / batch))
    curve = log.get_run(run.id).batch_curve
    assert len(curve) <= MAX_BATCH_CURVE_POINTS
    assert curve[0][0] == pytest.approx(0.001)
    assert curve[-1][0] > 0.9


def test_concurrent_writers_in_threads_lose_nothing(tmp_path):
    log = RunLog(tmp_path / "runs.sqlite3")
    runs = [log.create_run(CONFIG, user=f"user{index}") for index in range(6)]
    errors = []

    def write(run_id: str) -> None:
        try:
            for epoch in range(1, 21):
                log.record_progress(run_id, progress(epoch, 5))
                log.record_epoch(run_id, epoch_metrics(epoch), [])
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=write, args=(run.id,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for run in runs:
        stored = log.get_run(run.id)
        assert len(stored.history) == 20 and len(stored.batch_curve) == 20


def _write_epochs_in_a_process(path: str, run_id: str, count: int) -> None:
    log = RunLog(path)
    for epoch in range(1, count + 1):
        log.record_epoch(run_id, epoch_metrics(epoch), [])
        log.record_progress(run_id, progress(epoch, 5))


def test_concurrent_writers_in_processes_lose_nothing(tmp_path):
    path = str(tmp_path / "runs.sqlite3")
    log = RunLog(path)
    runs = [log.create_run(CONFIG, user=f"user{index}") for index in range(4)]
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_write_epochs_in_a_process, args=(path, run.id, 25)) for run in runs
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    for run in runs:
        stored = log.get_run(run.id)
        assert len(stored.history) == 25 and len(stored.batch_curve) == 25


def test_runs_of_a_server_that_is_gone_become_interrupted_on_restart(tmp_path):
    path = tmp_path / "runs.sqlite3"
    # A "server" process records a queued and a running run, then dies without a word.
    script = textwrap.dedent(
        f"""
        from mnist_core.modeling.presets import get_preset
        from mnist_core.runs.log import RunLog, this_process_engine
        log = RunLog({str(path)!r})
        engine = this_process_engine()
        log.heartbeat(engine)
        config = get_preset("dense_fast").config
        running = log.create_run(config, user="ada", engine=engine)
        log.mark_running(running.id)
        queued = log.create_run(config, user="bob", engine=engine)
        print(running.id, queued.id)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.getcwd(),
    )
    running_id, queued_id = result.stdout.split()
    log = RunLog(path)
    me = this_process_engine()
    log.heartbeat(me)
    alive = log.create_run(CONFIG, user="carl", engine=me)
    changed = log.recover_interrupted(keep_engine=me)
    assert {run.id for run in changed} == {running_id, queued_id}
    for run_id in (running_id, queued_id):
        run = log.get_run(run_id)
        assert run.status == INTERRUPTED
        assert "Resubmit" in run.reason
    assert log.get_run(alive.id).status == QUEUED


def test_a_run_queued_without_an_owner_waits_for_an_engine_and_becomes_its_run(tmp_path):
    log = RunLog(tmp_path / "runs.sqlite3")
    waiting = log.create_run(CONFIG, user="ada")  # queued from another process, no engine
    me = this_process_engine()
    log.heartbeat(me)
    assert log.recover_interrupted(keep_engine=me) == []
    assert log.get_run(waiting.id).status == QUEUED
    assert log.mark_running(waiting.id, engine=me)
    assert log.get_run(waiting.id).engine == me
    # Once started it is that engine's run: another engine leaves it alone while we live
    # (were it still without an engine, a running run would count as abandoned).
    assert log.recover_interrupted(keep_engine="another") == []
    assert log.get_run(waiting.id).status == RUNNING


def test_a_silent_owner_counts_as_gone(tmp_path):
    log = RunLog(tmp_path / "runs.sqlite3")
    me = this_process_engine()
    log.heartbeat(me)
    assert log.engine_alive(me)
    assert not log.engine_alive(me, now=time.time() + 3600)
    assert not log.engine_alive("otherhost:1:abc")


def test_a_corrupt_database_gives_a_clear_message(tmp_path):
    path = tmp_path / "runs.sqlite3"
    path.write_bytes(b"this is not a database at all" * 100)
    log = RunLog(path)
    with pytest.raises(RunLogError, match="is damaged .* Move it aside"):
        log.list_runs()


def test_a_locked_database_gives_a_clear_message(tmp_path, monkeypatch):
    import mnist_core.runs.database as runs

    monkeypatch.setattr(runs, "LOCK_TIMEOUT_SECONDS", 0.2)
    path = tmp_path / "runs.sqlite3"
    log = RunLog(path)
    log.check()
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(RunLogError, match="is locked by another program"):
            log.create_run(CONFIG, user="ada")
    finally:
        holder.rollback()
        holder.close()
    assert log.create_run(CONFIG, user="ada").status == QUEUED


def test_a_folder_that_cannot_be_made_gives_a_clear_message(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RunLogError, match="cannot be made"):
        RunLog(blocker / "sub" / "runs.sqlite3").list_runs()
    with pytest.raises(RunLogError, match="cannot be opened for writing"):
        RunLog(blocker / "runs.sqlite3").list_runs()


def test_a_new_run_needs_a_user_and_the_config_round_trips(tmp_path):
    log = RunLog(tmp_path / "runs.sqlite3")
    with pytest.raises(ValueError, match="user must be a User or a non-empty name"):
        log.create_run(CONFIG, user="  ")
    config = ModelConfig()
    assert log.create_run(config, user="ada").config == config


def test_settings_are_kept_server_wide(tmp_path):
    log = RunLog(tmp_path / "runs.sqlite3")
    assert log.get_setting("class_mode") is None
    log.set_setting("class_mode", "on")
    assert RunLog(tmp_path / "runs.sqlite3").get_setting("class_mode") == "on"


def test_a_log_of_an_older_version_is_brought_up_to_date_and_keeps_its_runs(tmp_path):
    """Schema 2 (before 2026-12-03): `train_images` and `owner` columns, an `owners` table,
    metrics with `wall_seconds` and `train_samples`, a plan with `train_samples`."""
    path = tmp_path / "runs.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE runs (id TEXT PRIMARY KEY, user TEXT NOT NULL, preset TEXT, lesson TEXT,
            request_id TEXT NOT NULL, label TEXT, parent_id TEXT, dataset TEXT NOT NULL,
            train_images INTEGER, config TEXT NOT NULL, status TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, started_at REAL,
            finished_at REAL, owner TEXT, worker TEXT, plan TEXT, progress TEXT,
            batch_curve TEXT NOT NULL DEFAULT '[]', metrics TEXT NOT NULL DEFAULT '{}',
            model_path TEXT, model_name TEXT, hidden INTEGER NOT NULL DEFAULT 0,
            stop_requested INTEGER NOT NULL DEFAULT 0, limits TEXT NOT NULL DEFAULT '{}',
            finetune TEXT);
        CREATE TABLE owners (owner TEXT PRIMARY KEY, seen_at REAL NOT NULL);
        CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO settings VALUES ('schema_version', '2'), ('class_mode', 'on');
        INSERT INTO owners VALUES ('host:1:abc', 5.0);
        """
    )
    old.execute(
        "INSERT INTO runs (id, user, request_id, dataset, train_images, config, status, "
        "created_at, owner, plan, metrics) VALUES ('old', 'ada', 'old', 'mnist', 5000, ?, "
        "'finished', 1.0, 'host:1:abc', ?, ?)",
        (
            CONFIG.to_json(),
            '{"epochs": 1, "batches_per_epoch": 4, "train_samples": 4500, '
            '"validation_samples": 500, "validation": "split"}',
            '{"test_accuracy": 0.9, "wall_seconds": 2.5, "train_samples": 4500}',
        ),
    )
    old.commit()
    old.close()

    log = RunLog(path)
    run = log.get_run("old")
    assert run.training_images == 5000 and run.engine == "host:1:abc"
    assert run.training_seconds == 2.5 and run.metrics["training_images_used"] == 4500
    assert run.plan["training_images_used"] == 4500 and run.plan["validation_images"] == 500
    assert log.get_setting("class_mode") == "on"
    with sqlite3.connect(path) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        version = connection.execute(
            "SELECT value FROM settings WHERE name = 'schema_version'"
        ).fetchone()[0]
    assert "engines" in tables and "owners" not in tables and version == "3"
    assert not log.engine_alive("host:1:abc")  # known, but silent for long
    again = log.create_run(CONFIG, user="bo", training_images=100)
    assert log.get_run(again.id).training_images == 100
