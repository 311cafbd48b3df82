"""How a training reports as it goes: its plan, batch progress, epoch metrics, stop requests.

`TrainingObserver` is the one small interface the engine's worker, the run log's recorder and
the command line's progress bar share; `ProgressCallback` bridges Keras' callbacks to it."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# Why a training ended: `runs.lifecycle.ended_status` turns each into a run's status.
STOP_COMPLETED = "completed"
STOP_REQUESTED = "stopped"
STOP_TIME_LIMIT = "time_limit"
STOP_NAN = "nan"
STOP_REASONS = (STOP_COMPLETED, STOP_REQUESTED, STOP_TIME_LIMIT, STOP_NAN)
TIME_LIMIT_MESSAGE = (
    "Stopped at the run's time limit, during epoch {epoch} (after {seconds:.0f} s of "
    "training); the model keeps what it learned."
)
HISTOGRAM_BINS = 30
# The time left is estimated from the pace after the first batches (the very first ones also
# build the network's graph: counted in, a 13 s run first said "about 5 min"), once this many
# batches and seconds have passed since then; before that it is unknown (NaN).
ESTIMATE_WARM_UP_BATCHES = 5
ESTIMATE_MIN_BATCHES = 10
ESTIMATE_MIN_SECONDS = 1.0


@dataclass(frozen=True)
class TrainingPlan:
    """What a run is about to do."""

    epochs: int
    batches_per_epoch: int
    training_images_used: int
    validation_images: int
    validation: str


@dataclass(frozen=True)
class BatchProgress:
    """Progress within an epoch (throttled)."""

    epoch: int  # 1-based
    epochs: int
    batch: int  # 1-based, within the epoch
    batches_per_epoch: int
    loss: float
    accuracy: float
    elapsed_seconds: float
    samples_per_second: float
    seconds_left: float

    @property
    def fraction_done(self) -> float:
        """Fraction of the whole run done, from 0 to 1."""
        done = (self.epoch - 1) * self.batches_per_epoch + self.batch
        return min(1.0, done / (self.epochs * self.batches_per_epoch))


@dataclass(frozen=True)
class EpochMetrics:
    """Metrics at the end of one epoch."""

    epoch: int  # 1-based
    epochs: int
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    elapsed_seconds: float  # since training began
    samples_per_second: float  # over this epoch

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


class TrainingObserver:
    """Receives training progress. Subclass it and override what you need."""

    def on_model(self, model: Any) -> None:
        """Called once with the model about to be trained (to stop it from another thread)."""

    def on_train_begin(self, plan: TrainingPlan) -> None:
        """Called once before the first batch."""

    def on_batch(self, progress: BatchProgress) -> None:
        """Called within an epoch, at most every `progress_interval_seconds`."""

    def on_epoch(self, metrics: EpochMetrics, weight_summary: list[dict[str, Any]]) -> None:
        """Called after every epoch with its metrics and a summary of every layer's weights."""

    def should_stop(self) -> bool:
        """Polled after every batch; return True to end the run, keeping the model."""
        return False


class StopFlag(TrainingObserver):
    """An observer whose only job is to carry a thread-safe stop request."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def request_stop(self) -> None:
        """Ask the run to stop after the current batch."""
        self._event.set()

    def should_stop(self) -> bool:
        return self._event.is_set()


def summarize_weights(model: Any, bins: int = HISTOGRAM_BINS) -> list[dict[str, Any]]:
    """Summarise every layer's kernel and bias: shape, mean, std, min, max and a histogram.

    Args:
        model: a Keras model.
        bins: histogram bins (default 30).
    """
    summary = []
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        entry: dict[str, Any] = {"layer": layer.name, "type": type(layer).__name__}
        parts = {"kernel": kernel, "bias": getattr(layer, "bias", None)}
        for part, variable in parts.items():
            if variable is None:
                continue
            values = np.asarray(variable.numpy(), dtype=np.float64)
            counts, edges = np.histogram(values, bins=bins)
            entry[part] = {
                "shape": list(values.shape),
                "mean": float(values.mean()),
                "std": float(values.std()),
                "min": float(values.min()),
                "max": float(values.max()),
                "histogram": counts.tolist(),
                "bin_edges": edges.tolist(),
            }
        summary.append(entry)
    return summary


class ProgressCallback:
    """Bridges Keras callbacks to a TrainingObserver, keeping per-batch work tiny."""

    def __init__(
        self,
        observer: TrainingObserver,
        plan: TrainingPlan,
        batch_size: int,
        progress_interval_seconds: float,
        history: list[EpochMetrics],
        weight_summaries: list[list[dict[str, Any]]],
        time_limit_seconds: float | None = None,
    ) -> None:
        import keras

        outer = self

        class _Callback(keras.callbacks.Callback):
            # The batch hook only reads the clock, polls a flag and, four times a second,
            # hands progress on: safe to run in Keras' callback thread, so the training loop
            # never waits for it (a stop still lands within a batch or two: it sets
            # `model.stop_training`, which the fit loop checks after every batch).
            async_safe = True

            def on_train_begin(self, logs: dict | None = None) -> None:
                outer.start = time.perf_counter()
                outer.last_report = outer.start
                observer.on_train_begin(plan)

            def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
                outer.epoch = epoch + 1
                outer.batch = 0
                outer.epoch_start = time.perf_counter()

            def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
                outer.on_batch_end(self.model, batch + 1, logs)

            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                outer.on_epoch_end(self.model, epoch + 1, logs or {})

        self.keras_callback = _Callback()
        self.observer = observer
        self.plan = plan
        self.batch_size = batch_size
        self.interval = progress_interval_seconds
        self.history = history
        self.weight_summaries = weight_summaries
        self.start = self.last_report = self.epoch_start = time.perf_counter()
        self.pace_from: tuple[float, int] | None = None  # (time, batches done) after warm-up
        self.epoch = 1
        self.batch = 0  # the last batch of this epoch that the batch hook saw
        self.stop_reason = STOP_COMPLETED
        self.message = ""
        self.time_limit_seconds = time_limit_seconds

    def mark_stopped(self, batch: int) -> None:
        """Note that the training ends on request (during this epoch, after `batch`)."""
        self.stop_reason = STOP_REQUESTED
        self.message = f"Stopped on request during epoch {self.epoch}, after batch {batch}."

    def out_of_time(self, now: float) -> bool:
        """Whether the time limit (if any) has passed; notes it as the reason to stop."""
        if self.time_limit_seconds is None or now - self.start < self.time_limit_seconds:
            return False
        if self.stop_reason in (STOP_COMPLETED, STOP_REQUESTED):
            self.stop_reason = STOP_TIME_LIMIT
            self.message = TIME_LIMIT_MESSAGE.format(
                seconds=self.time_limit_seconds, epoch=self.epoch
            )
        return True

    def on_batch_end(self, model: Any, batch: int, logs: dict | None) -> None:
        self.batch = batch
        now = time.perf_counter()
        if self.out_of_time(now):
            model.stop_training = True
            return
        if self.observer.should_stop():
            self.mark_stopped(batch)
            model.stop_training = True
            return
        if now - self.last_report < self.interval:
            return
        self.last_report = now
        loss = float(logs.get("loss", math.nan)) if logs else math.nan
        if not math.isfinite(loss):
            self.stop_nan(model, batch, loss)
            return
        accuracy = float(logs.get("accuracy", math.nan)) if logs else math.nan
        elapsed = now - self.start
        epoch_elapsed = now - self.epoch_start
        rate = batch * self.batch_size / epoch_elapsed if epoch_elapsed > 0 else 0.0
        done = (self.epoch - 1) * self.plan.batches_per_epoch + batch
        total = self.plan.epochs * self.plan.batches_per_epoch
        seconds_left = self.seconds_left(now, done, total)
        self.observer.on_batch(
            BatchProgress(
                epoch=self.epoch,
                epochs=self.plan.epochs,
                batch=batch,
                batches_per_epoch=self.plan.batches_per_epoch,
                loss=loss,
                accuracy=accuracy,
                elapsed_seconds=elapsed,
                samples_per_second=rate,
                seconds_left=seconds_left,
            )
        )

    def seconds_left(self, now: float, done: int, total: int) -> float:
        """The time left at the pace since the first batches; NaN until it is measured."""
        if self.pace_from is None:
            if done >= ESTIMATE_WARM_UP_BATCHES:
                self.pace_from = (now, done)
            return math.nan
        since, done_then = self.pace_from
        if done - done_then < ESTIMATE_MIN_BATCHES or now - since < ESTIMATE_MIN_SECONDS:
            return math.nan
        return (now - since) / (done - done_then) * (total - done)

    def stop_nan(self, model: Any, batch: int, loss: float) -> None:
        self.stop_reason = STOP_NAN
        self.message = (
            f"Training diverged: the loss became {loss} in epoch {self.epoch}, batch {batch}. "
            "Lower the learning rate (or use a gentler optimizer) and train again."
        )
        model.stop_training = True

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, Any]) -> None:
        loss = float(logs.get("loss", math.nan))
        if not math.isfinite(loss):
            if self.stop_reason != STOP_NAN:
                self.stop_nan(model, self.plan.batches_per_epoch, loss)
            return
        if self.stop_reason == STOP_COMPLETED and self.observer.should_stop():
            # The stop ended the epoch before a batch hook saw it (Keras' fit loop reads
            # `model.stop_training` itself, and the hooks run in a thread of their own).
            self.mark_stopped(self.batch)
        if self.stop_reason in (STOP_REQUESTED, STOP_TIME_LIMIT):
            # A partial epoch is not an epoch: its metrics would mislead the curves.
            return
        now = time.perf_counter()
        epoch_seconds = now - self.epoch_start
        metrics = EpochMetrics(
            epoch=epoch,
            epochs=self.plan.epochs,
            loss=loss,
            accuracy=float(logs.get("accuracy", math.nan)),
            val_loss=float(logs.get("val_loss", math.nan)),
            val_accuracy=float(logs.get("val_accuracy", math.nan)),
            elapsed_seconds=now - self.start,
            samples_per_second=(
                self.plan.training_images_used / epoch_seconds if epoch_seconds > 0 else 0.0
            ),
        )
        summary = summarize_weights(model)
        self.history.append(metrics)
        self.weight_summaries.append(summary)
        self.observer.on_epoch(metrics, summary)
