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
across users, first come, first served. In class mode the caps of `classroom.ClassLimits`
are applied here, on the server, whatever the page sent.

What a worker runs is `train_run_on_worker`, a plain importable function: it trains with the
same `train_model` the command line uses, sends the plan, throttled batch progress and every
epoch (with its weight summary) through a Dask `Queue`, watches a Dask `Event` for a stop
request (which sets `model.stop_training`: no extra cost per batch), and returns the metrics
and the trained model as `.keras` bytes.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import queue as local_queue
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mnist_core.classroom import ClassLimits, apply_class_limits
from mnist_core.cluster import (
    ClusterUnavailableError,
    EmbeddedCluster,
    configured_scheduler_address,
    start_embedded_cluster,
)
from mnist_core.model import ModelConfig, validate_config
from mnist_core.runs import (
    DIVERGED,
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    STOPPED,
    Run,
    RunLog,
    RunLogError,
    this_process_owner,
)
from mnist_core.train import (
    STOP_COMPLETED,
    STOP_NAN,
    BatchProgress,
    EpochMetrics,
    TrainingObserver,
    TrainingPlan,
    TrainingResult,
)

PROGRESS_INTERVAL_SECONDS = 0.25
DISPATCH_INTERVAL_SECONDS = 0.2
HEARTBEAT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 5.0
WORKER_LOST_REASON = (
    "The worker training this run stopped in the middle (killed, or out of memory). The run "
    "is lost; the next ones go on. Train it again, perhaps with fewer images or a smaller "
    "network."
)
CLASS_TIME_LIMIT_REASON = "Stopped at the class time limit of {seconds:.0f} s; the model keeps what it learned."
# Before any run has finished, how many training images a second a worker gets through.
DEFAULT_SAMPLES_PER_SECOND = {"cnn": 2500.0, "dense": 20000.0}
# What a run costs besides its epochs: building the model, the test set, sending it back.
FIXED_SECONDS_PER_RUN = 3.0

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunRequest:
    """One run to train, as a page or the command line asks for it.

    Args:
        config: what to build and train.
        preset: the preset it came from, if any.
        lesson: the lesson it belongs to, if any.
        label: its name in a comparison (e.g. "sgd").
        parent_id: the run it varies ("change one thing").
        train_images: training images before the validation split (None: all); for a
            fine-tuning run, the MNIST training images mixed with the drawings.
        finetune: what a fine-tuning run fine-tunes (`finetune.FineTuneSpec.to_dict()`;
            made by `finetune.finetune_request`); None trains from scratch.
    """

    config: ModelConfig
    preset: str | None = None
    lesson: str | None = None
    label: str | None = None
    parent_id: str | None = None
    train_images: int | None = None
    finetune: dict[str, Any] | None = None


@dataclass(frozen=True)
class LinePlace:
    """Where a queued run stands: 1-based position, the users ahead, the expected wait."""

    position: int
    users_ahead: tuple[str, ...]
    expected_wait_seconds: float | None


def queue_runs(
    run_log: RunLog,
    requests: Sequence[RunRequest],
    *,
    user: str,
    owner: str | None = None,
    class_limits: ClassLimits | None = None,
) -> list[Run]:
    """Record runs asked for together (one request) as queued; returns them as recorded.

    `Engine.submit` calls this with its own owner. Another process that shares the run log
    (a script, a benchmark's simulated class) calls it with the default `owner=None`: the
    engine of a running server on that log dispatches such runs in the same fair line, as if
    they had been submitted there (within its dispatch interval, 0.2 s).

    Args:
        run_log: the run log the engine serves.
        requests: the runs (at least one); each config is validated first.
        user: who asks.
        owner: the engine that schedules them (default None: whichever engine serves the log).
        class_limits: the caps applied when class mode is on (default `ClassLimits()`).
    """
    if not requests:
        raise ValueError("requests must hold at least one run to train.")
    from mnist_core.classroom import class_mode_on

    limits = (class_limits or ClassLimits()) if class_mode_on(run_log) else None
    request_id = None
    runs = []
    for request in requests:
        validate_config(request.config)
        config, train_images, applied = request.config, request.train_images, {}
        if limits is not None:
            config, train_images, applied = apply_class_limits(config, train_images, limits)
        run = run_log.create_run(
            config,
            user=user,
            preset=request.preset,
            lesson=request.lesson,
            request_id=request_id,
            label=request.label,
            parent_id=request.parent_id,
            train_images=train_images,
            owner=owner,
            limits=applied,
            finetune=request.finetune,
        )
        request_id = run.request_id
        runs.append(run)
    return runs


# --- What runs on a worker -----------------------------------------------------------------
def _channel_names(run_id: str) -> tuple[str, str, str]:
    return f"mnist-run-{run_id}", f"mnist-stop-{run_id}", f"mnist-started-{run_id}"


class _EventSender(TrainingObserver):
    """Forwards training events to a sink from a thread of its own (the training never waits
    for the network), and carries the stop request."""

    def __init__(self, sink: Callable[[dict[str, Any]], None]) -> None:
        self.sink = sink
        self.stop = threading.Event()
        self.model: Any = None
        self._outbox: local_queue.Queue[dict[str, Any] | None] = local_queue.Queue()
        self._thread = threading.Thread(target=self._send, name="run-events", daemon=True)
        self._thread.start()

    def _send(self) -> None:
        while True:
            event = self._outbox.get()
            if event is None:
                return
            try:
                self.sink(event)
            except Exception:  # noqa: BLE001 - a lost progress report must not end the run
                logger.debug("could not send a training event", exc_info=True)

    def send(self, event: dict[str, Any]) -> None:
        """Queue one event for sending."""
        self._outbox.put(event)

    def close(self) -> None:
        """Send what is left, then end the sender thread."""
        self._outbox.put(None)
        self._thread.join(timeout=30)

    def request_stop(self) -> None:
        """End the training after the current batch."""
        self.stop.set()
        if self.model is not None:
            self.model.stop_training = True

    def on_train_begin(self, plan: TrainingPlan) -> None:
        self._outbox.put({"kind": "plan", "plan": asdict(plan)})

    def on_batch(self, progress: BatchProgress) -> None:
        self._outbox.put({"kind": "progress", "progress": asdict(progress)})

    def on_epoch(self, metrics: EpochMetrics, weight_summary: list[dict[str, Any]]) -> None:
        self._outbox.put(
            {"kind": "epoch", "metrics": metrics.to_dict(), "weight_summary": weight_summary}
        )

    def should_stop(self) -> bool:
        return self.stop.is_set()


def execute_run(
    config: ModelConfig,
    dataset: Any,
    train_images: int | None,
    observer: _EventSender,
    *,
    wall_seconds_limit: float | None = None,
    progress_interval_seconds: float = PROGRESS_INTERVAL_SECONDS,
    model: Any = None,
) -> tuple[TrainingResult, str, str]:
    """Train one run where we are (worker or command line): the status and reason it ends with.

    The training images are a seeded subset when `train_images` is given; the test figures
    are always on the whole test set, so that any two runs compare. `model`, when given, is
    an already built model for `config` to train further (fine-tuning); else one is built.
    """
    from mnist_core.model import build_model
    from mnist_core.train import train_model

    if train_images is not None and train_images < len(dataset.x_train):
        dataset = dataset.subset(train_images, None, seed=config.seed)
    if model is None:
        model = build_model(config, train_size=len(dataset.x_train))
    observer.model = model
    timer = None
    timed_out = threading.Event()
    if wall_seconds_limit:

        def out_of_time() -> None:
            timed_out.set()
            observer.request_stop()

        timer = threading.Timer(wall_seconds_limit, out_of_time)
        timer.daemon = True
        timer.start()
    try:
        result = train_model(
            config,
            dataset,
            observer,
            progress_interval_seconds=progress_interval_seconds,
            model=model,
        )
    finally:
        if timer is not None:
            timer.cancel()
    if result.stop_reason == STOP_NAN:
        return result, DIVERGED, result.message
    if result.stop_reason == STOP_COMPLETED:
        return result, FINISHED, result.message
    if timed_out.is_set():
        return result, STOPPED, CLASS_TIME_LIMIT_REASON.format(seconds=wall_seconds_limit)
    return result, STOPPED, result.message


def run_metrics(result: TrainingResult, dataset: Any) -> dict[str, Any]:
    """The final figures of a run: test accuracy and loss on the whole test set, per-class
    accuracy and the confusion matrix, parameter count, time and speed."""
    from mnist_core.evaluate import evaluate_model

    metrics = result.metrics()
    metrics["parameter_count"] = int(result.model.count_params())
    metrics["wall_seconds"] = result.training_seconds
    samples = result.train_samples * max(1, result.epochs_completed)
    metrics["samples_per_second"] = (
        samples / result.training_seconds if result.training_seconds > 0 else None
    )
    metrics["train_samples"] = result.train_samples
    if result.stop_reason != STOP_NAN:
        report = evaluate_model(
            result.model, dataset.x_test, dataset.y_test, loss=result.config.loss
        )
        metrics["per_class_accuracy"] = [float(entry.recall) for entry in report.per_class]
        metrics["confusion_matrix"] = report.confusion_matrix.tolist()
    return {
        key: (None if isinstance(value, float) and not math.isfinite(value) else value)
        for key, value in metrics.items()
    }


def model_bytes(model: Any) -> bytes:
    """A Keras model as the bytes of its `.keras` file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        return path.read_bytes()


def train_run_on_worker(
    run_id: str,
    config_json: str,
    train_images: int | None,
    wall_seconds_limit: float | None,
    progress_interval_seconds: float = PROGRESS_INTERVAL_SECONDS,
    finetune: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The Dask task of one run: train, report, and return the outcome and the model.

    Args:
        finetune: for a fine-tuning run, {"spec": the run's `finetune`, "base_model": the
            base model's `.keras` bytes}: sent with the task, so that a worker on another
            machine needs neither the drawings nor the model file.

    Returns:
        {"status", "reason", "metrics", "model": .keras bytes or None, "worker"}.
    """
    from distributed import Event, Queue, get_worker

    worker = get_worker()
    channel, stop_name, started_name = _channel_names(run_id)
    started = Event(started_name)
    if started.is_set():
        # Dask started this task again after the worker running it died: that run is lost.
        raise RuntimeError(WORKER_LOST_REASON)
    started.set()
    from mnist_core.warm_up import PLUGIN_NAME, WarmUp, import_single_threaded_keras

    import_single_threaded_keras()
    plugin = worker.plugins.get(PLUGIN_NAME)
    config = ModelConfig.from_json(config_json)
    if isinstance(plugin, WarmUp):
        dataset = plugin.dataset(config.dataset)
    else:
        from mnist_core.data import load_dataset

        dataset = load_dataset(config.dataset)
    events = Queue(channel)
    observer = _EventSender(events.put)
    observer.send({"kind": "worker", "worker": worker.address})
    stop_event = Event(stop_name)
    finished = threading.Event()

    def watch_for_stop() -> None:
        while not finished.is_set():
            with contextlib.suppress(Exception):
                if stop_event.wait(timeout=1.0):
                    observer.request_stop()
                    return

    watcher = threading.Thread(target=watch_for_stop, name="run-stop-watch", daemon=True)
    watcher.start()
    try:
        if finetune is not None:
            from mnist_core.finetune import FineTuneSpec, fine_tune

            result, status, reason, figures = fine_tune(
                config,
                FineTuneSpec.from_dict(finetune["spec"]),
                finetune["base_model"],
                dataset,
                observer,
                mnist_images=train_images,
                wall_seconds_limit=wall_seconds_limit,
                progress_interval_seconds=progress_interval_seconds,
            )
        else:
            result, status, reason = execute_run(
                config,
                dataset,
                train_images,
                observer,
                wall_seconds_limit=wall_seconds_limit,
                progress_interval_seconds=progress_interval_seconds,
            )
        metrics = run_metrics(result, dataset)
        if finetune is not None:
            metrics["finetune"] = figures
        trained = model_bytes(result.model) if status != DIVERGED else None
    finally:
        finished.set()
        observer.close()
    return {
        "status": status,
        "reason": reason,
        "metrics": metrics,
        "model": trained,
        "worker": worker.address,
    }


# --- The engine, on the server -------------------------------------------------------------
@dataclass
class _Running:
    run_id: str
    future: Any
    events: Any
    stop_sent: bool = False
    limit_seconds: float | None = None
    started: float = field(default_factory=time.monotonic)


class Engine:
    """Schedules the runs of a run log onto a Dask cluster (see the module's docstring).

    Args:
        run_log: where runs are kept.
        client: a connected `distributed.Client`.
        cluster: the embedded cluster the engine started, closed with it (if any).
        class_limits: the caps applied while class mode is on (default `ClassLimits()`).
        progress_interval_seconds: least time between two progress reports of a run.
    """

    def __init__(
        self,
        run_log: RunLog,
        client: Any,
        *,
        cluster: EmbeddedCluster | None = None,
        class_limits: ClassLimits | None = None,
        progress_interval_seconds: float = PROGRESS_INTERVAL_SECONDS,
    ) -> None:
        self.run_log = run_log
        self.client = client
        self.cluster = cluster
        self.class_limits = class_limits or ClassLimits()
        self.progress_interval_seconds = progress_interval_seconds
        self.owner = this_process_owner()
        self.problem: str | None = None
        self._running: dict[str, _Running] = {}
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._last_heartbeat = 0.0
        self._threads_cache: tuple[float, int] = (0.0, 0)
        self.run_log.heartbeat(self.owner)
        self._recover()
        # Registering waits for every worker to import TensorFlow: not on the caller's time.
        threading.Thread(target=self._warm_up_workers, name="run-warm-up", daemon=True).start()
        self._thread = threading.Thread(target=self._loop, name="run-engine", daemon=True)
        self._thread.start()

    def _warm_up_workers(self) -> None:
        """Register `WarmUp` on the cluster: every worker, and those that join later, imports
        TensorFlow and loads MNIST before its first run (a run still trains without it)."""
        try:
            from mnist_core.warm_up import PLUGIN_NAME, WarmUp

            self.client.register_plugin(WarmUp(), name=PLUGIN_NAME)
        except Exception as error:  # noqa: BLE001 - runs then load what they need themselves
            if not self._closed.is_set():
                logger.warning("the workers could not be warmed up: %s", _one_line(error))

    @classmethod
    def connect(
        cls,
        run_log: RunLog | None = None,
        address: str | None = None,
        *,
        workers: int | None = None,
        class_limits: ClassLimits | None = None,
    ) -> Engine:
        """Connect to `address`, to `MNIST_DASK_SCHEDULER`, or else start an embedded cluster.

        Raises:
            ClusterUnavailableError: the cluster cannot be reached or started (the message
                says how to fix it).
        """
        from distributed import Client

        run_log = run_log or RunLog()
        address = address or configured_scheduler_address()
        cluster = None
        if address is None:
            cluster = start_embedded_cluster(workers)
            address = cluster.address
        try:
            client = Client(address, timeout=CONNECT_TIMEOUT_SECONDS, set_as_default=False)
        except (OSError, TimeoutError) as error:
            if cluster is not None:
                cluster.close()
            raise ClusterUnavailableError(
                f"The Dask scheduler at {address} does not answer ({type(error).__name__}). "
                "Start it (`dask scheduler`, then `dask worker <address>`), or fix "
                "MNIST_DASK_SCHEDULER (or --scheduler); unset it to use the embedded cluster."
            ) from None
        if cluster is not None:
            client.wait_for_workers(1, timeout=60)
        return cls(run_log, client, cluster=cluster, class_limits=class_limits)

    # --- what pages and the command line call ---------------------------------------------
    def class_mode(self) -> bool:
        """Whether class mode is on for this server (kept in the run log's settings)."""
        from mnist_core.classroom import class_mode_on

        return class_mode_on(self.run_log)

    def submit(self, requests: Sequence[RunRequest], *, user: str) -> list[Run]:
        """Queue runs asked for together (one request); returns them as recorded.

        In class mode every run is held to the class caps, whatever it asked for.
        """
        runs = queue_runs(
            self.run_log, requests, user=user, owner=self.owner, class_limits=self.class_limits
        )
        self._wake.set()
        return runs

    def stop(self, run_id: str) -> Run:
        """Stop a run: a queued one leaves the line, a running one ends after its batch."""
        if self.run_log.cancel_run(run_id, "Left the line before it began."):
            return self.run_log.get_run(run_id)
        run = self.run_log.request_stop(run_id)
        self._wake.set()
        return run

    def worker_threads(self) -> int:
        """How many runs the cluster can train at once (its worker threads)."""
        checked, threads = self._threads_cache
        if time.monotonic() - checked < 2.0:
            return threads
        try:
            info = self.client.scheduler_info(n_workers=-1)
            threads = sum(worker.get("nthreads", 1) for worker in info["workers"].values())
        except Exception:  # noqa: BLE001 - reported through `problem`
            threads = 0
        self._threads_cache = (time.monotonic(), threads)
        return threads

    def place_in_line(self, run_id: str) -> LinePlace | None:
        """Position, users ahead and expected wait of a queued run; None when not queued."""
        line = self.run_log.active_runs()
        queued = [run for run in line if run.status == QUEUED]
        index = next((i for i, run in enumerate(queued) if run.id == run_id), None)
        if index is None:
            return None
        ahead = queued[:index]
        users = tuple(dict.fromkeys(run.user for run in ahead))
        waits = expected_start_times(line, max(1, self.worker_threads()), self._rates())
        return LinePlace(index + 1, users, waits.get(run_id))

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
                        "interrupted",
                        "The server stopped while this run trained. Resubmit it to train it again.",
                    )
            self._running.clear()
        with contextlib.suppress(Exception):
            self.client.close(timeout=5)
        if self.cluster is not None:
            self.cluster.close()

    # --- the dispatcher -------------------------------------------------------------------
    def _event(self, run_id: str) -> Any:
        from distributed import Event

        return Event(_channel_names(run_id)[1], client=self.client)

    def _recover(self) -> None:
        """Runs of engines that are gone become interrupted; their tasks, if a cluster still
        runs them, are told to stop (never left running unseen)."""
        for run in self.run_log.recover_interrupted(keep_owner=self.owner):
            if run.started_at is not None:
                with contextlib.suppress(Exception):
                    self._event(run.id).set()

    def _rates(self) -> dict[str, float]:
        rates = dict(DEFAULT_SAMPLES_PER_SECOND)
        try:
            recent = self.run_log.list_runs(statuses=(FINISHED,), include_hidden=True, limit=30)
        except RunLogError:
            return rates
        for architecture in rates:
            seen = sorted(
                run.metrics["samples_per_second"]
                for run in recent
                if run.config.architecture == architecture
                and isinstance(run.metrics.get("samples_per_second"), int | float)
            )
            if seen:
                rates[architecture] = seen[len(seen) // 2]
        return rates

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
                self.problem = f"The training engine hit a problem: {_one_line(error)}"
                logger.debug("engine tick failed", exc_info=True)

    def _tick(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat > HEARTBEAT_SECONDS:
            self.run_log.heartbeat(self.owner)
            self._last_heartbeat = now
        with self._lock:
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
            elif kind == "plan":
                self.run_log.record_plan(running.run_id, event["plan"])
            elif kind == "epoch":
                self.run_log.record_epoch(
                    running.run_id, event["metrics"], event["weight_summary"]
                )
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

    def _collect(self, running: _Running) -> None:
        self._drain(running)
        run_id = running.run_id
        del self._running[run_id]
        try:
            outcome = running.future.result()
        except Exception as error:  # noqa: BLE001 - recorded as the run's reason
            reason = str(error) if WORKER_LOST_REASON in str(error) else None
            if reason is None and type(error).__name__ == "KilledWorker":
                reason = WORKER_LOST_REASON
            self.run_log.finish_run(
                run_id, FAILED, reason or f"Training failed: {_one_line(error)}"
            )
        else:
            model_path = None
            if outcome.get("model"):
                path = self.run_log.model_path_for(run_id)
                _write_atomically(path, outcome["model"])
                model_path = str(path)
            self.run_log.finish_run(
                run_id,
                outcome["status"],
                outcome["reason"],
                metrics=outcome["metrics"],
                model_path=model_path,
            )
        self._release(run_id, running)

    def _release(self, run_id: str, running: _Running) -> None:
        for name in _channel_names(run_id):
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
            if run.status != QUEUED or run.owner not in (self.owner, None):
                continue
            self._start(run)
            free -= 1

    def _start(self, run: Run) -> None:
        from distributed import Queue

        # A run queued without an owner (`queue_runs`) becomes ours as it starts.
        if not self.run_log.mark_running(run.id, owner=self.owner):
            return
        channel = _channel_names(run.id)[0]
        limit = run.limits.get("max_wall_seconds")
        finetune = None
        if run.finetune is not None:
            from mnist_core.finetune import base_model_file

            try:
                base = base_model_file(run.finetune.get("base_model", ""), self.run_log)
                finetune = {"spec": run.finetune, "base_model": base.read_bytes()}
            except (ValueError, OSError, RunLogError) as error:
                self.run_log.finish_run(
                    run.id, FAILED, f"The base model could not be read: {_one_line(error)}"
                )
                return
        try:
            events = Queue(channel, client=self.client)
            future = self.client.submit(
                train_run_on_worker,
                run.id,
                run.config.to_json(),
                run.train_images,
                limit,
                self.progress_interval_seconds,
                finetune,
                key=f"train-run-{run.id}",
                pure=False,
                retries=0,
            )
        except Exception as error:
            self.run_log.finish_run(
                run.id, FAILED, f"The cluster did not take the run: {_one_line(error)}"
            )
            raise
        self._running[run.id] = _Running(run.id, future, events, limit_seconds=limit)


def eligible_runs(line: Sequence[Run]) -> list[Run]:
    """The queued runs that may start now, in order: each user's oldest request only.

    Args:
        line: the active runs (queued and running), oldest first.
    """
    current_request: dict[str, str] = {}
    for run in line:
        current_request.setdefault(run.user, run.request_id)
    return [
        run
        for run in line
        if run.status == QUEUED and current_request[run.user] == run.request_id
    ]


def estimate_run_seconds(run: Run, rates: dict[str, float]) -> float:
    """How long a run should train, from the speed of recent runs of its architecture."""
    images = run.train_images or 60000
    if run.config.validation == "split":
        images = images - int(round(images * run.config.validation_split))
    rate = rates.get(run.config.architecture) or DEFAULT_SAMPLES_PER_SECOND["dense"]
    return FIXED_SECONDS_PER_RUN + images * run.config.epochs / rate


def expected_start_times(
    line: Sequence[Run], places: int, rates: dict[str, float], now: float | None = None
) -> dict[str, float]:
    """Seconds until each queued run should start, by playing the line forward.

    Args:
        line: the active runs, oldest first.
        places: runs trained at once (the workers).
        rates: training images a second by architecture.
        now: the current time (default: time.time()).
    """
    now = time.time() if now is None else now
    # Each place is free at some time from now; running runs hold theirs until they end, and
    # hold their user's turn as long.
    free_at = []
    user_free_at: dict[str, float] = {}
    request_of_user: dict[str, str] = {}
    for run in line:
        if run.status != RUNNING:
            continue
        left = None
        if run.progress and isinstance(run.progress.get("seconds_left"), int | float):
            left = float(run.progress["seconds_left"])
        if left is None or not math.isfinite(left):
            elapsed = now - (run.started_at or now)
            left = max(1.0, estimate_run_seconds(run, rates) - elapsed)
        free_at.append(left)
        request_of_user.setdefault(run.user, run.request_id)
        user_free_at[run.user] = max(user_free_at.get(run.user, 0.0), left)
    free_at = sorted(free_at)[:places]
    free_at += [0.0] * (places - len(free_at))
    waits: dict[str, float] = {}
    queued = [run for run in line if run.status == QUEUED]

    def ready_at(run: Run) -> float:
        held = request_of_user.get(run.user)
        return 0.0 if held in (None, run.request_id) else user_free_at.get(run.user, 0.0)

    while queued:
        free_at.sort()
        soonest = free_at[0]
        # The dispatcher takes the first run in line whose user may start at that moment;
        # when none may, the place waits for the first user whose turn comes.
        startable = [run for run in queued if ready_at(run) <= soonest]
        if startable:
            run, start = startable[0], soonest
        else:
            run = min(queued, key=ready_at)
            start = ready_at(run)
        queued.remove(run)
        end = start + estimate_run_seconds(run, rates)
        free_at[0] = end
        if request_of_user.get(run.user) != run.request_id:
            user_free_at[run.user] = 0.0
        request_of_user[run.user] = run.request_id
        user_free_at[run.user] = max(user_free_at.get(run.user, 0.0), end)
        waits[run.id] = start
    return waits


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _one_line(error: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    return text.splitlines()[-1] if text else type(error).__name__


