"""train_model: the observer interface, stopping, NaN, determinism, weight summaries."""

import math

import numpy as np
import pytest

from mnist_core.modeling.config import ModelConfig
from mnist_core.modeling.presets import get_preset
from mnist_core.training.progress import (
    STOP_COMPLETED,
    STOP_NAN,
    STOP_REQUESTED,
    BatchProgress,
    EpochMetrics,
    StopFlag,
    TrainingObserver,
)
from mnist_core.training.train import (
    split_validation,
    train_model,
)

SMALL_DENSE = ModelConfig(
    architecture="dense",
    layer_sizes=(32,),
    layer_activations=("relu",),
    layer_dropout_rates=(0.0,),
    kernel_sizes=(),
    dense_units=0,
    epochs=2,
    batch_size=32,
    validation="split",
    validation_split=0.2,
)


class Recorder(TrainingObserver):
    def __init__(self, stop_after_batches=None):
        self.plans, self.batches, self.epochs, self.summaries = [], [], [], []
        self.stop_after_batches = stop_after_batches
        self.polls = 0

    def on_train_begin(self, plan):
        self.plans.append(plan)

    def on_batch(self, progress):
        self.batches.append(progress)

    def on_epoch(self, metrics, weight_summary):
        self.epochs.append(metrics)
        self.summaries.append(weight_summary)

    def should_stop(self):
        self.polls += 1
        return self.stop_after_batches is not None and self.polls > self.stop_after_batches


def test_observer_sees_plan_batches_and_epochs(tiny_mnist):
    recorder = Recorder()
    result = train_model(SMALL_DENSE, tiny_mnist, recorder, progress_interval_seconds=0.0)
    assert result.stop_reason == STOP_COMPLETED
    (plan,) = recorder.plans
    assert plan.training_images_used == 480 and plan.validation_images == 120
    assert plan.batches_per_epoch == 15
    assert len(recorder.epochs) == 2 == result.epochs_completed
    assert all(isinstance(m, EpochMetrics) for m in recorder.epochs)
    assert [m.epoch for m in recorder.epochs] == [1, 2]
    assert all(isinstance(p, BatchProgress) for p in recorder.batches)
    assert len(recorder.batches) == 30  # interval 0: every batch is reported
    last = recorder.batches[-1]
    assert last.fraction_done == 1.0 and last.samples_per_second > 0
    for metrics in recorder.epochs:
        for value in (metrics.loss, metrics.accuracy, metrics.val_loss, metrics.val_accuracy):
            assert math.isfinite(value)
        assert metrics.samples_per_second > 0
    assert result.history_as_dict()["val_accuracy"] == [m.val_accuracy for m in recorder.epochs]
    assert 0.0 <= result.test_accuracy <= 1.0 and math.isfinite(result.test_loss)
    assert result.metrics()["epochs_completed"] == 2


def test_in_epoch_updates_are_throttled(tiny_mnist):
    recorder = Recorder()
    train_model(SMALL_DENSE, tiny_mnist, recorder, progress_interval_seconds=3600)
    assert recorder.batches == []
    assert len(recorder.epochs) == 2


def test_weight_summaries_per_epoch_describe_each_layer(tiny_mnist):
    recorder = Recorder()
    result = train_model(SMALL_DENSE, tiny_mnist, recorder)
    assert len(result.weight_summaries) == 2
    first = result.weight_summaries[0]
    assert [layer["layer"] for layer in first] == ["dense_1", "probabilities"]
    kernel = first[0]["kernel"]
    assert kernel["shape"] == [784, 32]
    assert sum(kernel["histogram"]) == 784 * 32
    assert len(kernel["bin_edges"]) == len(kernel["histogram"]) + 1
    assert kernel["min"] <= kernel["mean"] <= kernel["max"]
    assert first[0]["bias"]["shape"] == [32]
    # Weights move between epochs.
    assert result.weight_summaries[1][0]["kernel"]["mean"] != kernel["mean"]


def test_stop_request_takes_effect_within_one_batch_and_keeps_the_model(tiny_mnist):
    recorder = Recorder(stop_after_batches=5)
    result = train_model(SMALL_DENSE, tiny_mnist, recorder, progress_interval_seconds=0.0)
    assert result.stop_reason == STOP_REQUESTED
    assert "Stopped" in result.message
    assert recorder.polls == 6  # the sixth poll asked to stop; no batch ran after it
    assert result.epochs_completed == 0
    assert result.model is not None and math.isfinite(result.test_accuracy)


def test_stop_flag_from_another_thread(tiny_mnist):
    flag = StopFlag()
    flag.request_stop()
    result = train_model(SMALL_DENSE, tiny_mnist, flag)
    assert result.stop_reason == STOP_REQUESTED


class _StopsBehindTheHooks(TrainingObserver):
    """Asks to stop the way the engine's stop watcher does: `model.stop_training` set from
    outside, after the batch hook already looked, so only Keras' own loop sees it at once."""

    def __init__(self) -> None:
        self.asked = False

    def on_batch(self, progress) -> None:
        if not self.asked:
            self.asked = True
            self.model.stop_training = True

    def should_stop(self) -> bool:
        return self.asked


def _train_with_the_observers_model(observer, dataset):
    """Train SMALL_DENSE on a model the observer holds, as the engine's stop watcher does."""
    from mnist_core.modeling.build import build_model

    observer.model = build_model(SMALL_DENSE, training_images=len(dataset.x_train))
    return train_model(
        SMALL_DENSE, dataset, observer, progress_interval_seconds=0.0, model=observer.model
    )


def test_a_stop_that_keras_sees_before_the_batch_hook_still_counts_as_a_stop(tiny_mnist):
    observer = _StopsBehindTheHooks()
    result = _train_with_the_observers_model(observer, tiny_mnist)
    assert observer.asked
    assert result.stop_reason == STOP_REQUESTED and "Stopped on request" in result.message
    assert result.epochs_completed == 0  # the cut epoch is not an epoch


class _StopsBetweenEpochs(TrainingObserver):
    """Asks to stop the way the engine's watcher does, right as epoch 1 ends: Keras ends the
    fit before any later hook runs."""

    model = None
    asked = False

    def on_epoch(self, metrics, weight_summary):
        self.asked = True
        self.model.stop_training = True

    def should_stop(self):
        return self.asked


def test_a_stop_between_two_epochs_still_counts_as_a_stop(tiny_mnist):
    result = _train_with_the_observers_model(_StopsBetweenEpochs(), tiny_mnist)
    assert result.epochs_completed == 1
    assert result.stop_reason == STOP_REQUESTED and "Stopped on request" in result.message


def test_nan_loss_stops_with_that_reason(tiny_mnist):
    config = SMALL_DENSE.replace(
        layer_activations=("linear",),
        optimizer="sgd",
        learning_rate=10.0,
        momentum=0.99,
        epochs=3,
    )
    result = train_model(config, tiny_mnist, Recorder(), progress_interval_seconds=0.0)
    assert result.stop_reason == STOP_NAN
    assert "diverged" in result.message and "Lower the learning rate" in result.message
    assert result.epochs_completed < 3


def test_same_seed_gives_the_same_run(tiny_mnist):
    first = train_model(SMALL_DENSE, tiny_mnist)
    second = train_model(SMALL_DENSE, tiny_mnist)
    assert [m.loss for m in first.history] == [m.loss for m in second.history]
    for a, b in zip(first.model.get_weights(), second.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    other = train_model(SMALL_DENSE.replace(seed=1), tiny_mnist)
    assert [m.loss for m in other.history] != [m.loss for m in first.history]


def test_validation_split_takes_the_last_fraction_like_keras(tiny_mnist):
    x_train, _, x_val, y_val = split_validation(SMALL_DENSE, tiny_mnist)
    assert len(x_val) == 120
    np.testing.assert_array_equal(x_val, tiny_mnist.x_train[-120:])
    np.testing.assert_array_equal(y_val, tiny_mnist.y_train[-120:])
    _, _, x_test_val, _ = split_validation(SMALL_DENSE.replace(validation="test"), tiny_mnist)
    assert x_test_val is tiny_mnist.x_test


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "mse", "binary_crossentropy"])
def test_every_loss_trains(tiny_mnist, loss):
    result = train_model(SMALL_DENSE.replace(loss=loss, epochs=1), tiny_mnist)
    assert result.stop_reason == STOP_COMPLETED and result.epochs_completed == 1


def test_augmented_cnn_trains(tiny_mnist):
    config = get_preset("cnn_fast").config.replace(
        layer_sizes=(4, 4, 8),
        epochs=1,
        batch_size=64,
        augment_shift=0.1,
        augment_rotation=10.0,
        augment_zoom=0.1,
        augment_stroke=0.5,
    )
    result = train_model(config, tiny_mnist, Recorder())
    assert result.stop_reason == STOP_COMPLETED
    assert result.epochs_completed == 1


def test_dataset_must_match_the_config(tiny_mnist):
    with pytest.raises(ValueError, match="dataset must match"):
        train_model(SMALL_DENSE.replace(dataset="fashion_mnist"), tiny_mnist)


def test_a_batch_normalized_cnn_trained_briefly_still_reads_the_test_set(mnist):
    # With Keras' default momentum (0.99) the running statistics used at test time have not
    # settled after a hundred steps, and such a model read about 15% of the test set.
    small = mnist.subset(training_images=3000, test_images=1000, seed=0)
    # About 140 steps (cnn_fast's one epoch of batch 128 would be 24 here).
    result = train_model(get_preset("cnn_fast").config.replace(epochs=3, batch_size=64), small)
    assert result.test_accuracy > 0.8, result.test_accuracy


@pytest.mark.parametrize("validation", ["test", "split"])
def test_the_test_figures_are_the_test_set_read_by_the_final_model(tiny_mnist, validation):
    """With validation on the test set, the last epoch's pass is reused: same figures."""
    from mnist_core.training.train import (
        _scale,
        encode_labels,
    )

    config = SMALL_DENSE.replace(validation=validation)
    result = train_model(config, tiny_mnist)
    loss, accuracy = result.model.evaluate(
        _scale(tiny_mnist.x_test), encode_labels(config, tiny_mnist.y_test), verbose=0
    )
    assert result.test_accuracy == pytest.approx(accuracy, abs=1e-6)
    assert result.test_loss == pytest.approx(loss, rel=1e-4)
