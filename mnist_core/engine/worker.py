"""What runs on a Dask worker: one run's task, its events sent back, its stop request watched.

`train_run_on_worker` trains with the same `train_model` the command line uses, sends the
plan, throttled batch progress and every epoch (with its weight summary) through a Dask
`Queue`, watches a Dask `Event` for a stop request (which sets `model.stop_training`: no
extra cost per batch), and returns the metrics and the trained model as `.keras` bytes."""

from __future__ import annotations

import contextlib
import logging
import math
import queue as local_queue
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mnist_core.modeling.config import (
    ModelConfig,
)
from mnist_core.runs.record import (
    DIVERGED,
    FINISHED,
    STOPPED,
)
from mnist_core.training.progress import (
    STOP_COMPLETED,
    STOP_NAN,
    BatchProgress,
    EpochMetrics,
    TrainingObserver,
    TrainingPlan,
)
from mnist_core.training.train import TrainingResult

logger = logging.getLogger(__name__)
PROGRESS_INTERVAL_SECONDS = 0.25


WORKER_LOST_REASON = (
    "The worker training this run stopped in the middle (killed, or out of memory). The run "
    "is lost; the next ones go on. Train it again, perhaps with fewer images or a smaller "
    "network."
)


CLASS_TIME_LIMIT_REASON = "Stopped at the class time limit of {seconds:.0f} s; the model keeps what it learned."


# --- What runs on a worker -----------------------------------------------------------------
def channel_names(run_id: str) -> tuple[str, str, str]:
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
    observer: EventSender,
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
    from mnist_core.modeling.build import build_model
    from mnist_core.training.train import train_model

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
    from mnist_core.evaluation.evaluate import evaluate_model

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
    channel, stop_name, started_name = channel_names(run_id)
    started = Event(started_name)
    if started.is_set():
        # Dask started this task again after the worker running it died: that run is lost.
        raise RuntimeError(WORKER_LOST_REASON)
    started.set()
    from mnist_core.engine.warm_up import (
        PLUGIN_NAME,
        WarmUp,
        import_single_threaded_keras,
    )

    import_single_threaded_keras()
    plugin = worker.plugins.get(PLUGIN_NAME)
    config = ModelConfig.from_json(config_json)
    if isinstance(plugin, WarmUp):
        dataset = plugin.dataset(config.dataset)
    else:
        from mnist_core.data.datasets import load_dataset

        dataset = load_dataset(config.dataset)
    events = Queue(channel)
    observer = EventSender(events.put)
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
            from mnist_core.training.finetune import (
                FineTuneSpec,
                fine_tune,
            )

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
