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
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mnist_core.data.datasets import Dataset
from mnist_core.evaluation.evaluate import evaluate_model
from mnist_core.modeling.build import build_model
from mnist_core.modeling.config import (
    ModelConfig,
    uses_sparse_labels,
    validate_config,
)
from mnist_core.training.extra_digits import (
    build_training_set,
    describe_training_data,
)
from mnist_core.training.progress import (
    STOP_COMPLETED,
    EpochMetrics,
    ProgressCallback,
    TrainingObserver,
    TrainingPlan,
)


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
    training_images_used: int
    extra: dict[str, Any] = field(default_factory=dict)
    # From the same pass over the test set as test_loss and test_accuracy, when the run
    # made one after training (a run validated on the test set reuses its last epoch's).
    per_class_accuracy: list[float] | None = None
    confusion_matrix: list[list[int]] | None = None

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


def encode_labels(config: ModelConfig, labels: np.ndarray) -> np.ndarray:
    """Labels in the encoding the loss expects: integers for sparse loss, else one-hot."""
    if uses_sparse_labels(config):
        return labels.astype("int64")
    from mnist_core.data.datasets import one_hot_encode

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
    training_images: int | None = None,
    time_limit_seconds: float | None = None,
    progress_interval_seconds: float = 0.25,
    model: Any = None,
) -> TrainingResult:
    """Build the model that `config` describes and train it on `dataset`.

    Args:
        config: the model and training description (validated first).
        dataset: the images and labels to train and test on.
        observer: receives progress and may ask to stop; default: none.
        training_images: train on a seeded subset of this many training images (before the
            validation split); None: all. The test figures are always on the whole test set,
            so that any two runs compare.
        time_limit_seconds: stop after this much training (the model keeps what it learned);
            None: no limit.
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
    if training_images is not None and training_images < len(dataset.x_train):
        dataset = dataset.subset(training_images, None, seed=config.seed)
    x_train, y_train, x_val, y_val = split_validation(config, dataset)
    # Re-drawn and pen-drawn digits, when the config asks for them (training_data.py).
    training_set = build_training_set(config, x_train, y_train)
    x_train, y_train = training_set.images, training_set.labels
    if model is None:
        model = build_model(config, training_images=len(dataset.x_train))
    observer.on_model(model)
    keras.utils.set_random_seed(config.seed)
    training_images = _scale(x_train)
    train_labels = encode_labels(config, y_train)
    validation_data = (_scale(x_val), encode_labels(config, y_val))
    batches = math.ceil(len(training_images) / config.batch_size)
    plan = TrainingPlan(
        epochs=config.epochs,
        batches_per_epoch=batches,
        training_images_used=len(training_images),
        validation_images=len(x_val),
        validation=config.validation,
    )
    history: list[EpochMetrics] = []
    weight_summaries: list[list[dict[str, Any]]] = []
    progress = ProgressCallback(
        observer,
        plan,
        config.batch_size,
        progress_interval_seconds,
        history,
        weight_summaries,
        time_limit_seconds=time_limit_seconds,
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
            _augmented_batches(config, training_images, train_labels),
            shuffle=False,
            **fit_arguments,
        )
    else:
        model.fit(
            training_images,
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
        per_class_accuracy = confusion = None
    else:
        report = evaluate_model(model, dataset.x_test, dataset.y_test, loss=config.loss)
        test_loss, test_accuracy = report.loss, report.accuracy
        per_class_accuracy = [float(entry.recall) for entry in report.per_class]
        confusion = report.confusion_matrix.tolist()
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
        training_images_used=len(training_images),
        per_class_accuracy=per_class_accuracy,
        confusion_matrix=confusion,
        extra={
            "training_data": describe_training_data(config, len(training_images)),
            "redrawn_images": training_set.redrawn_count,
            "pen_digit_images": training_set.pen_digit_count,
        },
    )
