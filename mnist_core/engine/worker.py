"""What runs on a Dask worker: one run's task, its events sent back, its stop request watched.

`train_run_on_worker` trains with the same `train_model` the command line uses (or fine-tunes
with `training.finetune`), sends the plan, throttled batch progress and every epoch (with its
weight summary) through a Dask `Queue`, watches a Dask `Event` for a stop request (which sets
`model.stop_training`: no extra cost per batch), and returns the run's ending
(`runs.lifecycle.RunEnding`: status, reason, final figures, the model as `.keras` bytes).
"""

from __future__ import annotations

import contextlib
import logging
import queue as local_queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from mnist_core.modeling.config import ModelConfig
from mnist_core.runs.lifecycle import RunEnding, run_ending
from mnist_core.training.progress import (
    BatchProgress,
    EpochMetrics,
    TrainingObserver,
    TrainingPlan,
)

logger = logging.getLogger(__name__)
PROGRESS_INTERVAL_SECONDS = 0.25
# A run's time limit covers the whole task: training gets this share of it, the test pass,
# the per-class figures and the model's bytes the rest (the size limits keep those short).
TRAINING_SHARE_OF_TIME_LIMIT = 0.8
WORKER_LOST_REASON = (
    "The worker training this run stopped in the middle (killed, or out of memory). The run "
    "is lost; the next ones go on. Train it again, perhaps with fewer images or a smaller "
    "network."
)


class WorkerDataMissingError(RuntimeError):
    """The worker has no copy of the run's dataset; the message names it and says what to run
    there."""


def channel_names(run_id: str) -> tuple[str, str, str]:
    """The Dask names of a run's event queue, its stop event and its "started" event."""
    return f"mnist-run-{run_id}", f"mnist-stop-{run_id}", f"mnist-started-{run_id}"


class EventSender(TrainingObserver):
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

    def on_model(self, model: Any) -> None:
        self.model = model
        if self.stop.is_set():
            model.stop_training = True

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


def train_here(
    config: ModelConfig,
    dataset: Any,
    training_images: int | None,
    observer: TrainingObserver,
    *,
    time_limit_seconds: float | None = None,
    progress_interval_seconds: float = PROGRESS_INTERVAL_SECONDS,
    finetune: dict[str, Any] | None = None,
) -> RunEnding:
    """Train (or fine-tune) one run where we are, and say how it ends.

    Args:
        config: what to build and train.
        dataset: the dataset of the config.
        training_images: training images (a seeded subset; None: all); for a fine-tuning run,
            the MNIST images mixed with the drawings.
        observer: receives the training's progress and carries stop requests.
        time_limit_seconds: the whole task's time (training, the test pass, the model's
            bytes); training stops at TRAINING_SHARE_OF_TIME_LIMIT of it. None: no limit.
        progress_interval_seconds: least time between two progress reports.
        finetune: for a fine-tuning run, {"spec": the run's `finetune`, "base_model": the
            base model's `.keras` bytes}; None trains from scratch.
    """
    deadline = None
    training_limit = None
    if time_limit_seconds is not None:
        deadline = time.monotonic() + time_limit_seconds
        training_limit = time_limit_seconds * TRAINING_SHARE_OF_TIME_LIMIT
    if finetune is None:
        from mnist_core.training.train import train_model

        result = train_model(
            config,
            dataset,
            observer,
            training_images=training_images,
            time_limit_seconds=training_limit,
            progress_interval_seconds=progress_interval_seconds,
        )
        return run_ending(result, dataset, deadline=deadline)
    from mnist_core.training.finetune import FineTuneSpec, fine_tune

    outcome = fine_tune(
        config,
        FineTuneSpec.from_dict(finetune["spec"]),
        finetune["base_model"],
        dataset,
        observer,
        mnist_images=training_images,
        time_limit_seconds=training_limit,
        progress_interval_seconds=progress_interval_seconds,
    )
    ending = run_ending(outcome.result, dataset, note=outcome.summary, deadline=deadline)
    ending.metrics["finetune"] = outcome.figures
    return ending


def train_run_on_worker(
    run_id: str,
    config_json: str,
    training_images: int | None,
    time_limit_seconds: float | None,
    progress_interval_seconds: float = PROGRESS_INTERVAL_SECONDS,
    finetune: dict[str, Any] | None = None,
) -> RunEnding:
    """The Dask task of one run: train, report as it goes, and return how it ends.

    Args:
        run_id: the run (names its event queue and stop event).
        config_json: its `ModelConfig` as JSON.
        training_images, time_limit_seconds, progress_interval_seconds, finetune: as
            `train_here` takes them; the base model of a fine-tuning run travels with the
            task, so that a worker on another machine needs neither the drawings nor the file.
    """
    from distributed import Event, Queue, get_worker

    worker = get_worker()
    channel, stop_name, started_name = channel_names(run_id)
    started = Event(started_name)
    if started.is_set():
        # Dask started this task again after the worker running it died: that run is lost.
        raise RuntimeError(WORKER_LOST_REASON)
    started.set()
    from mnist_core.data.format import DATASET_TITLES
    from mnist_core.engine.warm_up import PLUGIN_NAME, import_single_threaded_keras

    config = ModelConfig.from_json(config_json)
    events = Queue(channel)
    observer = EventSender(events.put)
    observer.send({"kind": "worker", "worker": worker.address})
    # What it does before training begins, for a page that waits (a worker's first run loads
    # TensorFlow and the data: seconds).
    observer.send({"kind": "phase", "phase": "loading TensorFlow"})
    import_single_threaded_keras()
    observer.send({"kind": "phase", "phase": f"loading {DATASET_TITLES[config.dataset]}"})
    dataset = worker_dataset(worker, config.dataset, worker.plugins.get(PLUGIN_NAME))
    observer.send({"kind": "phase", "phase": "building the network"})
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
        return train_here(
            config,
            dataset,
            training_images,
            observer,
            time_limit_seconds=time_limit_seconds,
            progress_interval_seconds=progress_interval_seconds,
            finetune=finetune,
        )
    finally:
        finished.set()
        observer.close()


def worker_dataset(worker: Any, name: str, plugin: Any) -> Any:
    """The named dataset, from the warm-up plugin's copy when it has one.

    Raises:
        WorkerDataMissingError: this worker has no copy of it; the message names the worker.
    """
    from mnist_core.base.paths import data_directory
    from mnist_core.data.datasets import DatasetUnavailableError, load_dataset

    try:
        # The plugin travels by value, so its class is not this module's: duck typing.
        if callable(getattr(plugin, "dataset", None)):
            return plugin.dataset(name)
        return load_dataset(name)
    except DatasetUnavailableError:
        from mnist_core.engine.compatibility import missing_data_sentence

        raise WorkerDataMissingError(
            missing_data_sentence(f"Worker {worker.address}", name, str(data_directory()))
        ) from None
