"""engine: runs trained on real Dask clusters (an embedded LocalCluster of processes, and
`dask scheduler` / `dask worker` processes), the fair line, stopping, faults and class caps."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mnist_core.engine.cluster import ClusterUnavailableError
from mnist_core.engine.engine import Engine
from mnist_core.engine.worker import WORKER_LOST_REASON
from mnist_core.modeling.presets import get_preset
from mnist_core.runs.classroom import set_class_mode
from mnist_core.runs.limits import ClassLimits, Limits
from mnist_core.runs.line import (
    eligible_runs,
    expected_start_times,
)
from mnist_core.runs.log import RunLog
from mnist_core.runs.record import (
    FAILED,
    FINISHED,
    INTERRUPTED,
    QUEUED,
    RUNNING,
    STOPPED,
)
from mnist_core.runs.request import RunRequest

pytestmark = pytest.mark.cluster

REPOSITORY = Path(__file__).parents[2]
TINY = get_preset("dense_fast").config.replace(
    layer_sizes=(32,), layer_activations=("relu",), layer_dropout_rates=(0.0,), epochs=1
)
# A run long enough to stop or kill in the middle.
LONG = TINY.replace(epochs=200, batch_size=32)


def wait_for(condition, timeout=120.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not reached within {timeout} s")


def ended(log, run_id):
    run = log.get_run(run_id)
    return run if run.ended else None


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    log = RunLog(tmp_path_factory.mktemp("engine") / "runs.sqlite3")
    engine = Engine.connect(log, workers=2)
    yield engine
    engine.close()


def test_a_run_trains_on_a_worker_process_and_comes_back_with_its_model(engine):
    (run,) = engine.submit(
        [RunRequest(TINY, preset="dense_fast", training_images=2000)], user="ada"
    )
    assert run.status == QUEUED
    done = wait_for(lambda: ended(engine.run_log, run.id))
    assert done.status == FINISHED, done.reason
    assert done.worker in engine.client.scheduler_info()["workers"]
    assert done.plan["training_images_used"] == 1800  # 2,000 less the validation split
    # The test figures are on the whole test set, whatever the run trained on.
    assert sum(sum(row) for row in done.metrics["confusion_matrix"]) == 10000
    assert len(done.metrics["per_class_accuracy"]) == 10
    assert done.metrics["parameter_count"] == 32 * 784 + 32 + 330
    assert len(done.history) == 1 and done.batch_curve
    assert done.model_kept and Path(done.model_path).stat().st_size > 1000
    assert engine.run_log.weight_summaries(run.id)[0][0]["layer"] == "dense_1"


def test_every_worker_is_warmed_up_tensorflow_imported_and_mnist_loaded(engine):
    """Before a worker's first run: a run then starts training at once."""

    def _warmed_up(dask_worker):  # runs on each worker (defined here: sent by value)
        import sys

        from mnist_core.engine.warm_up import PLUGIN_NAME

        plugin = dask_worker.plugins.get(PLUGIN_NAME)
        return plugin is not None and "mnist" in plugin.datasets and "tensorflow" in sys.modules

    workers = wait_for(lambda: engine.client.run(_warmed_up) or None, timeout=120)
    assert len(workers) == 2
    wait_for(lambda: all(engine.client.run(_warmed_up).values()), timeout=120)


def test_an_idle_embedded_cluster_wakes_seldom_in_every_process(engine):
    """The quieter clocks of cluster.py reach the scheduler and every worker process (Dask's
    own defaults would check the event loop every 20 ms and each worker's memory every 100 ms)."""

    def clocks(dask_worker=None, dask_scheduler=None):  # sent by value to each process
        import dask

        return [
            dask.config.get(name)
            for name in (
                "distributed.admin.tick.interval",
                "distributed.admin.system-monitor.interval",
                "distributed.worker.memory.monitor-interval",
            )
        ]

    by_worker = engine.client.run(clocks)
    assert len(by_worker) == 2
    for seen in [*by_worker.values(), engine.client.run_on_scheduler(clocks)]:
        assert seen == ["1s", "5s", "500ms"]


def test_stop_takes_effect_within_a_batch_and_keeps_the_model(engine):
    # 200 epochs of 10,000 images: far longer than the stop may take.
    (run,) = engine.submit([RunRequest(LONG, training_images=10_000)], user="bob")
    wait_for(lambda: engine.run_log.get_run(run.id).progress is not None)
    asked = time.monotonic()
    engine.stop(run.id)
    done = wait_for(lambda: ended(engine.run_log, run.id))
    assert done.status == STOPPED, (done.status, done.reason, len(done.history))
    assert "Stopped on request" in done.reason
    assert len(done.history) < LONG.epochs
    assert done.model_kept
    assert time.monotonic() - asked < 20


def test_a_run_the_teacher_stops_tells_its_student(engine):
    from mnist_core.runs.classroom import TEACHER_STOPPED_REASON

    (run,) = engine.submit([RunRequest(LONG, training_images=10_000)], user="pupil")
    wait_for(lambda: engine.run_log.get_run(run.id).progress is not None)
    engine.stop(run.id, reason=TEACHER_STOPPED_REASON)
    done = wait_for(lambda: ended(engine.run_log, run.id))
    assert done.status == STOPPED and done.reason.startswith(TEACHER_STOPPED_REASON)
    assert "during epoch" in done.reason and done.model_kept


def test_a_run_stopped_while_starting_ends_at_once_and_says_so(engine):
    from mnist_core.engine.engine import STOPPED_BEFORE_TRAINING

    # Drawing 3 x 5,494 pen digits happens before training begins: seconds of "starting".
    slow_start = TINY.replace(pen_digit_copies=3)
    (run,) = engine.submit([RunRequest(slow_start, training_images=1000)], user="dora")
    started = wait_for(
        lambda: (lambda now: now if now.phase == "building the network" else None)(
            engine.run_log.get_run(run.id)
        ),
        interval=0.05,
    )
    assert started.plan is None
    asked = time.monotonic()
    engine.stop(run.id)
    done = wait_for(lambda: ended(engine.run_log, run.id), interval=0.05)
    assert time.monotonic() - asked < 2.0
    assert done.status == STOPPED and done.reason == STOPPED_BEFORE_TRAINING
    # Its task stops where training would begin; what it did later is not kept.
    (after,) = engine.submit([RunRequest(TINY, training_images=1000)], user="dora")
    assert wait_for(lambda: ended(engine.run_log, after.id)).status == FINISHED
    assert engine.run_log.get_run(run.id).reason == STOPPED_BEFORE_TRAINING


def test_a_queued_run_leaves_the_line_when_stopped(engine):
    first, second = (
        engine.submit([RunRequest(LONG, training_images=2000)], user="carl")[0],
        engine.submit([RunRequest(TINY, training_images=1000)], user="carl")[0],
    )
    wait_for(lambda: engine.run_log.get_run(first.id).status == RUNNING)
    assert engine.run_log.get_run(second.id).status == QUEUED
    place = engine.place_in_line(second.id)
    assert place is not None and place.position >= 1
    engine.stop(second.id)
    assert engine.run_log.get_run(second.id).status == STOPPED
    engine.stop(first.id)
    wait_for(lambda: ended(engine.run_log, first.id))


def test_one_running_request_per_user_first_come_first_served(engine):
    log = engine.run_log
    ada_first = engine.submit([RunRequest(LONG, training_images=2000)], user="dora")[0]
    ada_second = engine.submit([RunRequest(TINY, training_images=1000)], user="dora")[0]
    bob = engine.submit([RunRequest(TINY, training_images=1000)], user="emil")[0]
    # Two workers: dora's first run and emil's run train; dora's second waits behind hers.
    wait_for(lambda: ended(log, bob.id))
    assert log.get_run(ada_first.id).status == RUNNING
    assert log.get_run(ada_second.id).status == QUEUED
    place = engine.place_in_line(ada_second.id)
    assert place.position == 1
    engine.stop(ada_first.id)
    wait_for(lambda: ended(log, ada_first.id))
    assert wait_for(lambda: ended(log, ada_second.id)).status == FINISHED


def test_runs_queued_by_another_process_are_trained_by_the_servers_engine(engine):
    # Another process (a script, a benchmark's class) queues runs in the server's log.
    script = textwrap.dedent(
        f"""
        from mnist_core.runs.request import RunRequest, queue_runs
        from mnist_core.modeling.presets import get_preset
        from mnist_core.runs.log import RunLog
        config = get_preset("dense_fast").config.replace(
            layer_sizes=(32,), layer_activations=("relu",), layer_dropout_rates=(0.0,),
            epochs=1,
        )
        runs = queue_runs(
            RunLog({str(engine.run_log.path)!r}), [RunRequest(config, training_images=1000)],
            user="gus",
        )
        print(runs[0].id, runs[0].engine)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPOSITORY,
        timeout=120,
    )
    run_id, queued_for = result.stdout.split()
    assert queued_for == "None"
    done = wait_for(lambda: ended(engine.run_log, run_id))
    assert done.status == FINISHED, done.reason
    assert done.engine == engine.engine_id and done.model_kept


def test_a_lesson_is_one_request_whose_runs_use_every_free_worker(engine):
    log = engine.run_log
    runs = engine.submit(
        [
            RunRequest(LONG, label="a", training_images=2000),
            RunRequest(LONG, label="b", training_images=2000),
        ],
        user="fay",
    )
    assert len({run.request_id for run in runs}) == 1
    wait_for(lambda: all(log.get_run(run.id).status == RUNNING for run in runs))
    for run in runs:
        engine.stop(run.id)
    for run in runs:
        wait_for(lambda run=run: ended(log, run.id))


def test_class_caps_hold_whatever_the_page_asked_for(engine):
    log = engine.run_log
    set_class_mode(log, True)
    try:
        (run,) = engine.submit(
            [RunRequest(TINY.replace(epochs=50), training_images=None)], user="gus"
        )
    finally:
        set_class_mode(log, False)
    limits = ClassLimits()
    assert run.config.epochs == limits.max_epochs
    assert run.training_images == limits.max_training_images
    assert run.limits["asked_epochs"] == 50
    engine.stop(run.id)
    wait_for(lambda: ended(log, run.id))


def test_a_run_over_the_class_time_limit_is_stopped_and_keeps_its_model(tmp_path):
    log = RunLog(tmp_path / "runs.sqlite3")
    set_class_mode(log, True)
    caps = ClassLimits(max_epochs=200, max_seconds=4)
    engine = Engine.connect(log, workers=1, limits=Limits(class_limits=caps))
    try:
        # 200 epochs of 10,000 images: a minute or more, far past the 4 s, however fast.
        (run,) = engine.submit([RunRequest(LONG, training_images=10_000)], user="hal")
        done = wait_for(lambda: ended(log, run.id))
        assert done.status == STOPPED
        assert "time limit" in done.reason
        assert done.model_kept
    finally:
        engine.close()


def test_a_worker_killed_mid_run_fails_that_run_and_the_next_one_trains(engine):
    log = engine.run_log
    (victim,) = engine.submit([RunRequest(LONG, training_images=2000)], user="ivy")
    wait_for(lambda: log.get_run(victim.id).progress is not None)
    worker = log.get_run(victim.id).worker
    pid = engine.client.run(os.getpid, workers=[worker])[worker]
    os.kill(pid, signal.SIGKILL)
    failed = wait_for(lambda: ended(log, victim.id))
    assert failed.status == FAILED
    assert failed.reason == WORKER_LOST_REASON
    (after,) = engine.submit([RunRequest(TINY, training_images=1000)], user="ivy")
    assert wait_for(lambda: ended(log, after.id)).status == FINISHED
    # The cluster replaces the worker.
    wait_for(lambda: engine.worker_threads() == 2, timeout=60)


def test_an_unreachable_scheduler_says_what_to_do(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ClusterUnavailableError, match="does not answer.*dask scheduler"):
        Engine.connect(RunLog(tmp_path / "runs.sqlite3"), address=f"tcp://127.0.0.1:{port}")


def test_the_line_rules_and_the_expected_wait(tmp_path):
    log = RunLog(tmp_path / "runs.sqlite3")
    a1 = log.create_run(TINY, user="ada")
    log.mark_running(a1.id)
    a2 = log.create_run(TINY, user="ada")
    b1 = log.create_run(TINY, user="bob")
    lesson = log.create_run(TINY, user="cy")
    lesson_two = log.create_run(TINY, user="cy", request_id=lesson.request_id)
    line = log.active_runs()
    assert [run.id for run in eligible_runs(line)] == [b1.id, lesson.id, lesson_two.id]
    rates = {"dense": 1000.0, "cnn": 100.0}
    waits = expected_start_times(line, places=2, rates=rates)
    # ada's second run waits for her first to end, even with a place free.
    assert waits[a2.id] > 0
    assert waits[b1.id] == 0.0
    assert waits[lesson_two.id] >= waits[lesson.id]


@pytest.fixture(scope="module")
def dask_cluster_address(recipe_cluster):
    """A real multi-process cluster from Dask's own commands, started as the README says
    (tests/core/conftest.py: outside the repository, without PYTHONPATH)."""
    return recipe_cluster[0]


def test_the_app_engine_trains_on_a_cluster_started_with_dask_commands(
    dask_cluster_address, tmp_path
):
    log = RunLog(tmp_path / "runs.sqlite3")
    engine = wait_for(lambda: _connect(log, dask_cluster_address), timeout=60, interval=1)
    try:
        assert engine.cluster is None
        wait_for(lambda: engine.worker_threads() == 1, timeout=60)
        assert engine.cluster_problems == ()
        (run,) = engine.submit([RunRequest(TINY, training_images=1000)], user="jo")
        done = wait_for(lambda: ended(log, run.id))
        assert done.status == FINISHED and done.model_kept
    finally:
        engine.close()


def _connect(log, address):
    try:
        return Engine.connect(log, address=address)
    except ClusterUnavailableError:
        return None


def test_a_server_that_dies_leaves_no_run_unseen_on_an_external_cluster(
    dask_cluster_address, tmp_path
):
    path = tmp_path / "runs.sqlite3"
    script = textwrap.dedent(
        f"""
        import time
        from mnist_core.engine.engine import Engine
        from mnist_core.runs.request import RunRequest
        from mnist_core.modeling.presets import get_preset
        from mnist_core.runs.log import RunLog
        log = RunLog({str(path)!r})
        engine = Engine.connect(log, address={dask_cluster_address!r})
        config = get_preset("dense_fast").config.replace(
            layer_sizes=(32,), layer_activations=("relu",), layer_dropout_rates=(0.0,),
            epochs=200, batch_size=32)
        (run,) = engine.submit([RunRequest(config, training_images=2000)], user="kim")
        while log.get_run(run.id).progress is None:
            time.sleep(0.2)
        print(run.id, flush=True)
        time.sleep(600)
        """
    )
    server = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        cwd=str(REPOSITORY),
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    run_id = server.stdout.readline().strip()
    assert run_id, "the server process did not start its run"
    server.kill()  # the web server dies; its run still trains on the cluster's worker
    server.wait(10)
    log = RunLog(path)
    assert log.get_run(run_id).status == RUNNING
    engine = Engine.connect(log, address=dask_cluster_address)
    try:
        run = log.get_run(run_id)
        assert run.status == INTERRUPTED and "Resubmit" in run.reason

        # The orphaned task was told to stop: the worker is free again.
        def busy_threads(dask_worker):
            return len(dask_worker.active_threads)

        wait_for(lambda: not any(engine.client.run(busy_threads).values()), timeout=60)
    finally:
        engine.close()


def test_a_model_that_cannot_be_written_ends_its_run_failed_and_frees_its_user(engine, monkeypatch):
    """Disk full when the model is kept: the run ends failed with why, nothing half-written is
    left, the task is released, and its user trains again at once."""
    import errno

    from mnist_core.runs import lifecycle

    def disk_full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(lifecycle, "write_atomically", disk_full)
    (run,) = engine.submit([RunRequest(TINY, training_images=1000)], user="dora")
    done = wait_for(lambda: ended(engine.run_log, run.id))
    assert done.status == FAILED and "No space left on device" in done.reason
    assert not done.model_kept
    folder = engine.run_log.model_path_for(run.id).parent
    assert not any(name.endswith(".tmp") for name in (p.name for p in folder.glob("*")))
    assert run.id not in engine._running  # the Dask future is released
    monkeypatch.undo()
    (again,) = engine.submit([RunRequest(TINY, training_images=1000)], user="dora")
    assert wait_for(lambda: ended(engine.run_log, again.id)).status == FINISHED


def test_a_run_whose_end_meets_a_locked_log_ends_as_soon_as_the_log_is_free(engine, monkeypatch):
    """The log locked beyond its timeout when a run ends: the engine says so and tries again
    at every tick; the run never stays "running" for good."""
    import sqlite3

    from mnist_core.runs import database

    monkeypatch.setattr(database, "LOCK_TIMEOUT_SECONDS", 0.2)
    # Three epochs, and the log is locked as soon as the run is running (on a busy machine a
    # one-epoch run went from its first progress to its end, which clears the progress,
    # between two looks: waiting for progress never ended).
    (run,) = engine.submit([RunRequest(TINY.replace(epochs=3), training_images=1000)], user="eve")

    def running_or_ended():
        current = engine.run_log.get_run(run.id)
        return current if current.status == RUNNING or current.ended else None

    assert not wait_for(running_or_ended, interval=0.05).ended, "it ended before the lock"
    blocker = sqlite3.connect(engine.run_log.path, timeout=5)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        wait_for(lambda: engine.problem is not None and "locked" in engine.problem, timeout=60)

        def task_ended():
            task = engine._running.get(run.id)
            return task is None or task.future.done()

        wait_for(task_ended, timeout=60)  # its end waits for the log
        time.sleep(1.0)  # the engine tries to record its end meanwhile: the log is locked
        (status,) = blocker.execute("SELECT status FROM runs WHERE id = ?", (run.id,)).fetchone()
        assert status == RUNNING  # its end is not written yet
    finally:
        blocker.rollback()
        blocker.close()
    done = wait_for(lambda: ended(engine.run_log, run.id))
    assert done.status == FINISHED and done.model_kept
    wait_for(lambda: engine.problem is None, timeout=10)


def test_a_run_on_the_class_digits_carries_them_to_its_worker(engine, share_class_drawings):
    from mnist_core.data.drawings import DrawingStore
    from mnist_core.runs.class_data import ClassDataSpec, DrawingRef, recorded_drawings

    log = engine.run_log
    made = share_class_drawings(log.path, ["w1", "w2", "w3", "w4", "w5"], per_digit=2)
    (run,) = engine.submit(
        [RunRequest(TINY.replace(dataset="mnist_and_class"), training_images=1000)], user="hal"
    )
    done = wait_for(lambda: ended(log, run.id))
    assert done.status == FINISHED, done.reason
    spec = recorded_drawings(log, run.id)
    figures = done.metrics["class_digits"]
    assert figures["test_count"] == len(spec.part("test")) == 20
    assert figures["training_drawings"] == len(spec.part("train")) == 80
    # A run whose drawings went before it began fails, saying so; the next one trains.
    DrawingStore(log.path).delete_drawing("w1", made["w1"][0])
    gone = ClassDataSpec((DrawingRef("w1", made["w1"][0], 0, "train"), *spec.drawings[1:]))
    (failing,) = engine.submit(
        [RunRequest(TINY.replace(dataset="class_digits"), class_data=gone)], user="hal"
    )
    failed = wait_for(lambda: ended(log, failing.id))
    assert failed.status == FAILED and "are no longer kept" in failed.reason
