"""The engine: runs from the run log, trained on Dask workers, in a fair line.

The web server never trains. `Engine.submit` records the asked-for runs in the run log as
`queued`; the engine's dispatcher thread hands them to Dask workers as places free up and
writes what the workers report back into the log, which the pages read. The interface:

    engine = Engine.connect(run_log)           # MNIST_DASK_SCHEDULER, or an embedded cluster
    runs = engine.submit([RunRequest(config)], user="ada")
    engine.stop(run_id)                        # within a batch; the model so far is kept
    engine.place_in_line(run_id)               # position, users ahead, expected wait
    engine.close()
    queue_runs(run_log, [RunRequest(config)], user="bo")  # from any other process: the
                                               # engine of a server on that log trains it

The line is fair: one running request per user (a lesson, whose runs were asked for together,
is one request and may use every free worker); a user's further requests wait behind it;
across users, first come, first served. The server's limits (`runs.limits.Limits`: the class
caps, a network's size, one waiting request a user) are applied here, whatever the page sent.

What a worker runs is `train_run_on_worker`, a plain importable function: it trains with the
same `train_model` the command line uses, sends the plan, throttled batch progress and every
epoch (with its weight summary) through a Dask `Queue`, watches a Dask `Event` for a stop
request (which sets `model.stop_training`: no extra cost per batch), and returns the metrics
and the trained model as `.keras` bytes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mnist_core.engine.cluster import (
    ClusterUnavailableError,
    EmbeddedCluster,
    client_security,
    configured_scheduler_address,
    connect_client,
    start_embedded_cluster,
)
from mnist_core.engine.compatibility import ClusterCheck
from mnist_core.engine.worker import (
    PROGRESS_INTERVAL_SECONDS,
    WORKER_LOST_REASON,
    WorkerDataMissingError,
    channel_names,
    train_run_on_worker,
)
from mnist_core.runs.database import RunLogError
from mnist_core.runs.lifecycle import RunEnding, end_run, fail_run
from mnist_core.runs.limits import Limits
from mnist_core.runs.line import (
    LinePlace,
    LineSnapshot,
    eligible_runs,
    line_places,
    training_rates,
)
from mnist_core.runs.log import (
    RunLog,
    this_process_engine,
)
from mnist_core.runs.record import (
    FAILED,
    FINISHED,
    INTERRUPTED,
    QUEUED,
    STOPPED,
    Run,
)
from mnist_core.runs.request import RunRequest, queue_runs
from mnist_core.runs.users import User

DISPATCH_INTERVAL_SECONDS = 0.2
STOPPED_BEFORE_TRAINING = "Stopped before its training began."
# How often the engine looks for workers that joined, to check them (`compatibility`).
WATCH_INTERVAL_SECONDS = 1.0
HEARTBEAT_SECONDS = 5.0
# The line's places are worked out at most this often, however many pages ask.
LINE_SNAPSHOT_SECONDS = 1.0

logger = logging.getLogger(__name__)


# --- The engine, on the server -------------------------------------------------------------
@dataclass
class _Running:
    run_id: str
    future: Any
    events: Any
    stop_sent: bool = False
    ended_early: bool = False  # stopped while starting: its run ended before its task did
    limit_seconds: float | None = None
    started: float = field(default_factory=time.monotonic)


class Engine:
    """Schedules the runs of a run log onto a Dask cluster (see the module's docstring).

    Args:
        run_log: where runs are kept.
        client: a connected `distributed.Client`.
        cluster: the embedded cluster the engine started, closed with it (if any).
        limits: what the server holds runs to (default: `Limits.from_environment()`).
        progress_interval_seconds: least time between two progress reports of a run.
    """

    def __init__(
        self,
        run_log: RunLog,
        client: Any,
        *,
        cluster: EmbeddedCluster | None = None,
        limits: Limits | None = None,
        progress_interval_seconds: float = PROGRESS_INTERVAL_SECONDS,
    ) -> None:
        self.run_log = run_log
        self.client = client
        self.cluster = cluster
        self.limits = limits or Limits.from_environment()
        self.progress_interval_seconds = progress_interval_seconds
        self.engine_id = this_process_engine()
        self.problem: str | None = None
        self._running: dict[str, _Running] = {}
        # Runs whose task ended but whose end the log could not take yet (locked, full disk).
        self._unrecorded_ends: dict[str, RunEnding] = {}
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._last_heartbeat = 0.0
        self._line_snapshot: LineSnapshot | None = None
        self.cluster_check = ClusterCheck(client)
        self.run_log.heartbeat(self.engine_id)
        self._recover()
        self._check_cluster()  # before the warm-up keeps the workers busy importing
        # Registering waits for every worker to import TensorFlow: not on the caller's time.
        threading.Thread(target=self._warm_up_workers, name="run-warm-up", daemon=True).start()
        threading.Thread(target=self._watch_cluster, name="run-cluster-watch", daemon=True).start()
        self._thread = threading.Thread(target=self._loop, name="run-engine", daemon=True)
        self._thread.start()

    def _warm_up_workers(self) -> None:
        """Register `WarmUp` on the cluster: every worker, and those that join later, imports
        TensorFlow and loads MNIST before its first run (a run still trains without it).

        The plugin travels by value: a worker without the project still starts with it (and
        is named by the cluster check) instead of failing to start where nobody sees it."""
        try:
            import cloudpickle

            from mnist_core.engine import warm_up

            cloudpickle.register_pickle_by_value(warm_up)
            self.client.register_plugin(warm_up.WarmUp(), name=warm_up.PLUGIN_NAME)
        except Exception as error:  # noqa: BLE001 - runs then load what they need themselves
            if not self._closed.is_set():
                logger.warning("the workers could not be warmed up: %s", one_line(error))

    def _check_cluster(self) -> None:
        """Check the scheduler and the workers that joined (`compatibility.ClusterCheck`)."""
        try:
            self.cluster_check.refresh()
        except Exception:  # noqa: BLE001 - the cluster went away: the next look says so
            logger.debug("could not check the cluster", exc_info=True)

    def _watch_cluster(self) -> None:
        while not self._closed.wait(WATCH_INTERVAL_SECONDS):
            self._check_cluster()
            self._wake.set()  # a worker that passed may take a waiting run

    @property
    def closed(self) -> bool:
        """Whether `close()` was called."""
        return self._closed.is_set()

    @property
    def cluster_problems(self) -> tuple[str, ...]:
        """One sentence per scheduler or worker that cannot take runs (or lacks MNIST): what
        is missing and how to fix it. Empty when the whole cluster can train."""
        return self.cluster_check.problems()

    @classmethod
    def connect(
        cls,
        run_log: RunLog | None = None,
        address: str | None = None,
        *,
        workers: int | None = None,
        limits: Limits | None = None,
    ) -> Engine:
        """Connect to `address`, to `MNIST_DASK_SCHEDULER`, or else start an embedded cluster.

        Raises:
            ClusterUnavailableError: the cluster cannot be reached or started (the message
                says how to fix it).
        """
        run_log = run_log or RunLog()
        address = address or configured_scheduler_address()
        cluster = None
        if address is None:
            cluster = start_embedded_cluster(workers)
            address = cluster.address
        security = cluster.security if cluster is not None else client_security(address)
        try:
            client = connect_client(address, security)
        except ClusterUnavailableError:
            if cluster is not None:
                cluster.close()
            raise
        if cluster is not None:
            client.wait_for_workers(1, timeout=60)
        return cls(run_log, client, cluster=cluster, limits=limits)

    # --- what pages and the command line call ---------------------------------------------
    def class_mode(self) -> bool:
        """Whether class mode is on for this server (kept in the run log's settings)."""
        from mnist_core.runs.classroom import class_mode_on

        return class_mode_on(self.run_log)

    def submit(self, requests: Sequence[RunRequest], *, user: User | str) -> list[Run]:
        """Queue runs asked for together (one request); returns them as recorded.

        In class mode every run is held to the class caps, whatever it asked for.
        """
        runs = queue_runs(
            self.run_log, requests, user=user, engine=self.engine_id, limits=self.limits
        )
        self._line_snapshot = None  # the asker sees their run in the line at once
        self._wake.set()
        return runs

    def stop(self, run_id: str, *, reason: str = "") -> Run:
        """Stop a run: a queued one leaves the line, a starting one ends at once, a training
        one after its batch. `reason` says who stopped it when it was not its user (the run's
        reason then starts with it)."""
        left = f"{reason} It had not begun." if reason else "Left the line before it began."
        if self.run_log.cancel_run(run_id, left):
            self._line_snapshot = None
            return self.run_log.get_run(run_id)
        run = self.run_log.request_stop(run_id, reason)
        self._wake.set()
        return run

    def worker_threads(self) -> int:
        """How many runs the cluster can train at once (the threads of the workers that
        passed the cluster check)."""
        return sum(self.cluster_check.usable().values())

    def line(self) -> LineSnapshot:
        """The line with every queued run's place and expected wait, worked out at most once
        every LINE_SNAPSHOT_SECONDS however many pages ask (3 runs waiting or 300)."""
        with self._lock:
            snapshot = self._line_snapshot
            if (
                snapshot is not None
                and time.monotonic() - snapshot.taken_at < LINE_SNAPSHOT_SECONDS
            ):
                return snapshot
            line = tuple(self.run_log.active_runs())
            workers = self.worker_threads()
            snapshot = LineSnapshot(
                line, line_places(line, max(1, workers), self._rates()), workers, time.monotonic()
            )
            self._line_snapshot = snapshot
            return snapshot

    def place_in_line(self, run_id: str) -> LinePlace | None:
        """Position, users ahead and expected wait of a queued run; None when not queued."""
        return self.line().places.get(run_id)

    def cancel_waiting(self, user_id: str | None = None, *, reason: str) -> int:
        """Take every waiting run out of the line (the teacher's), or every one of a user's;
        returns how many."""
        cancelled = 0
        for run in self.run_log.active_runs():
            if run.status == QUEUED and (user_id is None or run.owner_id == user_id):
                cancelled += bool(self.run_log.cancel_run(run.id, reason))
        self._line_snapshot = None
        return cancelled

    def close(self) -> None:
        """Stop the dispatcher, cancel what runs, and close the client (and our cluster)."""
        self._closed.set()
        self._wake.set()
        self._thread.join(timeout=10)
        with self._lock:
            for running in list(self._running.values()):
                with contextlib.suppress(Exception):
                    self._event(running.run_id).set()
                with contextlib.suppress(Exception):
                    self.run_log.finish_run(
                        running.run_id,
                        INTERRUPTED,
                        "The server stopped while this run trained. Resubmit it to train it again.",
                    )
            self._running.clear()
            with contextlib.suppress(RunLogError):
                self._record_ends()
        with contextlib.suppress(Exception):
            self.client.close(timeout=5)
        if self.cluster is not None:
            self.cluster.close()

    # --- the dispatcher -------------------------------------------------------------------
    def _event(self, run_id: str) -> Any:
        from distributed import Event

        return Event(channel_names(run_id)[1], client=self.client)

    def _recover(self) -> None:
        """Runs of engines that are gone become interrupted; their tasks, if a cluster still
        runs them, are told to stop (never left running unseen)."""
        for run in self.run_log.recover_interrupted(keep_engine=self.engine_id):
            if run.started_at is not None:
                with contextlib.suppress(Exception):
                    self._event(run.id).set()

    def _rates(self) -> dict[str, float]:
        try:
            recent = self.run_log.list_runs(statuses=(FINISHED,), include_hidden=True, limit=30)
        except RunLogError:
            recent = []
        return training_rates(recent)

    def _loop(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(DISPATCH_INTERVAL_SECONDS)
            self._wake.clear()
            try:
                self._tick()
                self.problem = None
            except RunLogError as error:
                self.problem = str(error)
            except Exception as error:  # noqa: BLE001 - the loop must go on; the page says why
                self.problem = f"The training engine hit a problem: {one_line(error)}"
                logger.debug("engine tick failed", exc_info=True)

    def _tick(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat > HEARTBEAT_SECONDS:
            self.run_log.heartbeat(self.engine_id)
            self._last_heartbeat = now
        with self._lock:
            self._record_ends()
            for running in list(self._running.values()):
                self._drain(running)
                self._forward_stop(running)
                if running.future.done():
                    self._collect(running)
            self._dispatch()

    def _drain(self, running: _Running) -> None:
        try:
            events = running.events.get(batch=True)
        except Exception:  # noqa: BLE001 - the queue is gone once the task ended
            return
        progress = []
        for event in events:
            kind = event.get("kind")
            if kind == "progress":
                progress.append(event["progress"])
                continue
            if progress:
                self.run_log.record_progress(running.run_id, *progress)
                progress = []
            if kind == "worker":
                self.run_log.record_worker(running.run_id, event["worker"])
            elif kind == "phase":
                self.run_log.record_phase(running.run_id, event["phase"])
            elif kind == "plan":
                self.run_log.record_plan(running.run_id, event["plan"])
            elif kind == "epoch":
                self.run_log.record_epoch(running.run_id, event["metrics"], event["weight_summary"])
        if progress:
            self.run_log.record_progress(running.run_id, *progress)

    def _forward_stop(self, running: _Running) -> None:
        if running.stop_sent:
            return
        over_time = (
            running.limit_seconds is not None
            and time.monotonic() - running.started > running.limit_seconds + 30
        )
        run = self.run_log.get_run(running.run_id)
        if run.stop_requested or over_time:
            self._event(running.run_id).set()
            running.stop_sent = True
        if run.stop_requested and run.plan is None:
            # Still starting (loading TensorFlow, the data): it ends now, not when its task
            # gets to training; the task stops there, and its slot frees when it returns.
            running.ended_early = True
            self._unrecorded_ends[run.id] = RunEnding(STOPPED, STOPPED_BEFORE_TRAINING)
            self._record_ends()

    def _collect(self, running: _Running) -> None:
        """A task ended: release it, then end its run (now, or as soon as the log allows)."""
        self._drain(running)
        run_id = running.run_id
        del self._running[run_id]
        try:
            ending = running.future.result()
        except Exception as error:  # noqa: BLE001 - recorded as the run's reason
            said = WORKER_LOST_REASON in str(error) or isinstance(error, WorkerDataMissingError)
            reason = str(error) if said else None
            if reason is None and type(error).__name__ == "KilledWorker":
                reason = WORKER_LOST_REASON
            ending = RunEnding(FAILED, reason or f"Training failed: {one_line(error)}")
        self._release(run_id, running)
        if not running.ended_early:
            self._unrecorded_ends[run_id] = ending
        self._record_ends()

    def _record_ends(self) -> None:
        """End the runs whose tasks ended; a log that cannot take it now is tried again at the
        next tick (the run stays "running" meanwhile, never for good)."""
        for run_id, ending in list(self._unrecorded_ends.items()):
            end_run(self.run_log, run_id, ending)  # RunLogError: the tick says why, and retries
            del self._unrecorded_ends[run_id]

    def _release(self, run_id: str, running: _Running) -> None:
        for name in channel_names(run_id):
            with contextlib.suppress(Exception):
                from distributed import Event

                if name.startswith("mnist-run-"):
                    running.events.close()
                else:
                    Event(name, client=self.client).clear()
        with contextlib.suppress(Exception):
            running.future.release()

    def _dispatch(self) -> None:
        line = self.run_log.active_runs()
        free = self.worker_threads() - len(self._running)
        if free <= 0:
            return
        for run in eligible_runs(line):
            if free <= 0:
                break
            if run.status != QUEUED or run.engine not in (self.engine_id, None):
                continue
            self._start(run)
            free -= 1

    def _start(self, run: Run) -> None:
        from distributed import Queue

        # A run queued without an engine (`queue_runs`) becomes ours as it starts.
        if not self.run_log.mark_running(run.id, engine=self.engine_id):
            return
        channel = channel_names(run.id)[0]
        limit = run.limits.get("max_seconds")
        finetune = None
        if run.finetune is not None:
            from mnist_core.runs.finetune import base_model_file

            try:
                base = base_model_file(run.finetune.get("base_model", ""), self.run_log)
                finetune = {"spec": run.finetune, "base_model": base.read_bytes()}
            except (ValueError, OSError, RunLogError) as error:
                fail_run(
                    self.run_log, run.id, f"The base model could not be read: {one_line(error)}"
                )
                return
        try:
            events = Queue(channel, client=self.client)
            # Only to workers that passed the cluster check (and have the run's dataset);
            # elsewhere only if every one of those left.
            workers = self.cluster_check.workers_for(run.config.dataset)
            placement = {"workers": workers, "allow_other_workers": True} if workers else {}
            future = self.client.submit(
                train_run_on_worker,
                run.id,
                run.config.to_json(),
                run.training_images,
                limit,
                self.progress_interval_seconds,
                finetune,
                key=f"train-run-{run.id}",
                pure=False,
                retries=0,
                **placement,
            )
        except Exception as error:
            fail_run(self.run_log, run.id, f"The cluster did not take the run: {one_line(error)}")
            raise
        self._running[run.id] = _Running(run.id, future, events, limit_seconds=limit)


def one_line(error: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    return text.splitlines()[-1] if text else type(error).__name__
