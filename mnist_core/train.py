"""Training with live progress.

`train_model(config, dataset, observer)` builds the model that `config` describes and fits it,
reporting through one small interface, `TrainingObserver`, that the app and the CLI share:

- `on_train_begin(plan)` once, with the number of epochs, batches and samples;
- `on_batch(progress)` within an epoch, at most every `progress_interval_seconds`;
- `on_epoch(metrics, weight_summary)` after every epoch;
- `should_stop()` polled after every batch (in Keras' callback thread, off the training loop):
  returning True ends the run within a batch and keeps the model trained so far.

A loss that becomes NaN or infinite stops the run with that reason. The same config (seed
included) on the same data gives the same run.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mnist_core.data import Dataset
from mnist_core.model import ModelConfig, build_model, uses_sparse_labels, validate_config
from mnist_core.training_data import build_training_set, describe_training_data

STOP_COMPLETED = "completed"
STOP_REQUESTED = "stopped"
STOP_NAN = "nan"
HISTOGRAM_BINS = 30


@dataclass(frozen=True)
class TrainingPlan:
    """What a run is about to do."""

    epochs: int
    batches_per_epoch: int
    train_samples: int
    validation_samples: int
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


@dataclass
class TrainingResult:
    """What a run produced."""

    model: Any
    config: ModelConfig
    history: list[EpochMetrics]
    weight_summaries: list[list[dict[str, Any]]]  # one list of layer summaries per epoch
    stop_reason: str  # STOP_COMPLETED, STOP_REQUESTED or STOP_NAN
    message: str
    training_seconds: float
    test_loss: float
    test_accuracy: float
    train_samples: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def epochs_completed(self) -> int:
        """Epochs fully trained."""
        return len(self.history)

    def history_as_dict(self) -> dict[str, list[float]]:
        """The history in Keras' layout: one list per metric."""
        keys = ("loss", "accuracy", "val_loss", "val_accuracy", "elapsed_seconds")
        return {key: [getattr(entry, key) for entry in self.history] for key in keys}

    def metrics(self) -> dict[str, Any]:
        """Final metrics, for the model store and the app."""
        last = self.history[-1] if self.history else None
        return {
            "test_loss": self.test_loss,
            "test_accuracy": self.test_accuracy,
            "loss": last.loss if last else math.nan,
            "accuracy": last.accuracy if last else math.nan,
            "val_loss": last.val_loss if last else math.nan,
            "val_accuracy": last.val_accuracy if last else math.nan,
            "epochs_completed": self.epochs_completed,
            "stop_reason": self.stop_reason,
        }


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


def encode_labels(config: ModelConfig, labels: np.ndarray) -> np.ndarray:
    """Labels in the encoding the loss expects: integers for sparse loss, else one-hot."""
    if uses_sparse_labels(config):
        return labels.astype("int64")
    from mnist_core.data import one_hot_encode

    return one_hot_encode(labels)


def split_validation(
    config: ModelConfig, dataset: Dataset
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training and validation arrays (uint8 images, integer labels).

    "split" holds out the last `validation_split` of the training set, exactly like Keras'
    `validation_split`; "test" validates on the test set, as the notebooks do.
    """
    if config.validation == "test":
        return dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test
    held_out = max(1, int(round(len(dataset.x_train) * config.validation_split)))
    if held_out >= len(dataset.x_train):
        raise ValueError(
            f"validation_split {config.validation_split} leaves no training images out of "
            f"{len(dataset.x_train)}; use a larger training set or a smaller split."
        )
    cut = len(dataset.x_train) - held_out
    return (
        dataset.x_train[:cut],
        dataset.y_train[:cut],
        dataset.x_train[cut:],
        dataset.y_train[cut:],
    )


def _scale(images: np.ndarray) -> np.ndarray:
    return images.astype("float32") / np.float32(255.0)


class _ProgressCallback:
    """Bridges Keras callbacks to a TrainingObserver, keeping per-batch work tiny."""

    def __init__(
        self,
        observer: TrainingObserver,
        plan: TrainingPlan,
        batch_size: int,
        progress_interval_seconds: float,
        history: list[EpochMetrics],
        weight_summaries: list[list[dict[str, Any]]],
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
        self.epoch = 1
        self.batch = 0  # the last batch of this epoch that the batch hook saw
        self.stop_reason = STOP_COMPLETED
        self.message = ""

    def mark_stopped(self, batch: int) -> None:
        """Note that the training ends on request (during this epoch, after `batch`)."""
        self.stop_reason = STOP_REQUESTED
        self.message = f"Stopped on request during epoch {self.epoch}, after batch {batch}."

    def on_batch_end(self, model: Any, batch: int, logs: dict | None) -> None:
        self.batch = batch
        if self.observer.should_stop():
            self.mark_stopped(batch)
            model.stop_training = True
            return
        now = time.perf_counter()
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
        seconds_left = elapsed / done * (total - done) if done else math.nan
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
        if self.stop_reason == STOP_REQUESTED:
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
                self.plan.train_samples / epoch_seconds if epoch_seconds > 0 else 0.0
            ),
        )
        summary = summarize_weights(model)
        self.history.append(metrics)
        self.weight_summaries.append(summary)
        self.observer.on_epoch(metrics, summary)


def _augmented_batches(config: ModelConfig, images: np.ndarray, labels: np.ndarray) -> Any:
    """A tf.data pipeline that shuffles, batches and randomly augments the training images."""
    import tensorflow as tf
    from keras import layers

    transforms = []
    if config.augment_shift > 0:
        transforms.append(
            layers.RandomTranslation(
                config.augment_shift, config.augment_shift, fill_mode="constant", seed=config.seed
            )
        )
    if config.augment_rotation > 0:
        transforms.append(
            layers.RandomRotation(
                config.augment_rotation / 360.0, fill_mode="constant", seed=config.seed + 1
            )
        )
    if config.augment_zoom > 0:
        transforms.append(
            layers.RandomZoom(config.augment_zoom, fill_mode="constant", seed=config.seed + 2)
        )
    generator = tf.random.Generator.from_seed(config.seed + 3)
    stroke_probability = config.augment_stroke

    def augment(batch_images: Any, batch_labels: Any) -> tuple[Any, Any]:
        x = tf.expand_dims(batch_images, -1)
        for transform in transforms:
            x = transform(x, training=True)
        if stroke_probability > 0:
            # Thicker strokes by a 3x3 max filter (dilation), thinner by a min filter.
            thicker = tf.nn.max_pool2d(x, 3, 1, "SAME")
            thinner = -tf.nn.max_pool2d(-x, 3, 1, "SAME")
            draw = generator.uniform((tf.shape(x)[0], 1, 1, 1))
            x = tf.where(draw < stroke_probability / 2, thicker, x)
            x = tf.where((draw >= stroke_probability / 2) & (draw < stroke_probability), thinner, x)
        return tf.squeeze(x, -1), batch_labels

    data = tf.data.Dataset.from_tensor_slices((images, labels))
    if config.shuffle:
        data = data.shuffle(len(images), seed=config.seed, reshuffle_each_iteration=True)
    data = data.batch(config.batch_size).map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


def train_model(
    config: ModelConfig,
    dataset: Dataset,
    observer: TrainingObserver | None = None,
    *,
    progress_interval_seconds: float = 0.25,
    model: Any = None,
) -> TrainingResult:
    """Build the model that `config` describes and train it on `dataset`.

    Args:
        config: the model and training description (validated first).
        dataset: the images and labels to train and test on (see `Dataset.subset` for small
            runs).
        observer: receives progress and may ask to stop; default: none.
        progress_interval_seconds: least time between two in-epoch progress reports
            (default 0.25 s).
        model: an already built model for this config, to train further; default: build one.

    Returns:
        The trained model (also when stopped or diverged) with its history, per-epoch weight
        summaries, why it ended, and its loss and accuracy on the test set.
    """
    validate_config(config)
    if config.dataset != dataset.name:
        raise ValueError(
            f"dataset must match the config's dataset {config.dataset!r}, got {dataset.name!r}."
        )
    import keras

    observer = observer or TrainingObserver()
    x_train, y_train, x_val, y_val = split_validation(config, dataset)
    # Re-drawn and pen-drawn digits, when the config asks for them (training_data.py).
    training_set = build_training_set(config, x_train, y_train)
    x_train, y_train = training_set.images, training_set.labels
    if model is None:
        model = build_model(config, train_size=len(dataset.x_train))
    keras.utils.set_random_seed(config.seed)
    train_images = _scale(x_train)
    train_labels = encode_labels(config, y_train)
    validation_data = (_scale(x_val), encode_labels(config, y_val))
    batches = math.ceil(len(train_images) / config.batch_size)
    plan = TrainingPlan(
        epochs=config.epochs,
        batches_per_epoch=batches,
        train_samples=len(train_images),
        validation_samples=len(x_val),
        validation=config.validation,
    )
    history: list[EpochMetrics] = []
    weight_summaries: list[list[dict[str, Any]]] = []
    progress = _ProgressCallback(
        observer, plan, config.batch_size, progress_interval_seconds, history, weight_summaries
    )
    fit_arguments: dict[str, Any] = {
        "epochs": config.epochs,
        "validation_data": validation_data,
        "callbacks": [progress.keras_callback],
        "verbose": 0,
    }
    started = time.perf_counter()
    if config.augments:
        # The pipeline shuffles by itself.
        model.fit(
            _augmented_batches(config, train_images, train_labels),
            shuffle=False,
            **fit_arguments,
        )
    else:
        model.fit(
            train_images,
            train_labels,
            batch_size=config.batch_size,
            shuffle=config.shuffle,
            **fit_arguments,
        )
    training_seconds = time.perf_counter() - started
    if progress.stop_reason == STOP_COMPLETED and len(history) < config.epochs:
        # Stopped between two epochs: Keras ended the fit after an epoch's end, before any
        # later hook of ours ran.
        progress.mark_stopped(progress.batch)
    if (
        config.validation == "test"
        and progress.stop_reason == STOP_COMPLETED
        and len(history) == config.epochs
    ):
        # The last epoch's validation pass was this very evaluation (the whole test set, the
        # final weights): a second pass would only cost time.
        test_loss, test_accuracy = history[-1].val_loss, history[-1].val_accuracy
    else:
        test_loss, test_accuracy = _evaluate(model, config, dataset)
    message = progress.message or (
        f"Trained {len(history)} epoch(s) in {training_seconds:.1f} s: "
        f"test accuracy {test_accuracy:.2%}."
    )
    return TrainingResult(
        model=model,
        config=config,
        history=history,
        weight_summaries=weight_summaries,
        stop_reason=progress.stop_reason,
        message=message,
        training_seconds=training_seconds,
        test_loss=test_loss,
        test_accuracy=test_accuracy,
        train_samples=len(train_images),
        extra={
            "training_data": describe_training_data(config, len(train_images)),
            "redrawn_images": training_set.redrawn_count,
            "pen_digit_images": training_set.pen_digit_count,
        },
    )


def _evaluate(model: Any, config: ModelConfig, dataset: Dataset) -> tuple[float, float]:
    loss, accuracy = model.evaluate(
        _scale(dataset.x_test),
        encode_labels(config, dataset.y_test),
        batch_size=1000,
        verbose=0,
    )
    return float(loss), float(accuracy)
