"""The committed default model, and the accuracy the fast presets promise."""

import json

import numpy as np
import pytest

from mnist_core.base.paths import models_directory
from mnist_core.modeling.build import build_model
from mnist_core.modeling.config import ModelConfig
from mnist_core.modeling.presets import (
    BEST_DENSE_PRESET_NAME,
    get_preset,
)
from mnist_core.modeling.store import (
    DEFAULT_MODEL_NAME,
    list_models,
    load_model,
)
from mnist_core.reading.predict import predict_batch
from mnist_core.training.progress import TrainingObserver
from mnist_core.training.train import train_model


def test_the_default_model_is_committed_small_and_trained_from_the_preset_it_names():
    # `python -m mnist_core train --preset <its preset> --name default --overwrite` rebuilds it.
    path = models_directory() / f"{DEFAULT_MODEL_NAME}.keras"
    assert path.stat().st_size < 5 * 1024 * 1024
    (entry,) = [e for e in list_models() if e.name == DEFAULT_MODEL_NAME]
    assert entry.is_valid, entry.error
    metadata = json.loads(entry.metadata_path.read_text())
    assert ModelConfig.from_dict(metadata["config"]) == get_preset(metadata["preset"]).config
    assert metadata["dataset"] == "mnist"
    assert metadata["training_data"].startswith("MNIST's training images")


def test_the_default_model_reaches_99_2_percent_on_the_mnist_test_set(mnist):
    model = load_model(DEFAULT_MODEL_NAME).model
    probabilities = predict_batch(model, mnist.x_test)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == mnist.y_test))
    assert accuracy >= 0.992, accuracy


def test_the_default_model_reads_95_percent_of_the_real_pen_drawn_digits():
    """All 2,000 digits of the pen dev set, real writers' strokes drawn as on the canvas."""
    from mnist_core.evaluation.pen_dev import read_pen_dev_set

    reading = read_pen_dev_set(load_model(DEFAULT_MODEL_NAME).model)
    assert len(reading.labels) == 2000
    assert reading.accuracy >= 0.95, (reading.accuracy, reading.accuracy_per_digit())


def test_the_default_model_learned_from_drawn_digits_and_says_so():
    metadata = load_model(DEFAULT_MODEL_NAME).metadata
    assert metadata["preset"] == "handwriting_cnn"
    assert "pendigits" in metadata["training_data"] and "re-drawn" in metadata["training_data"]


class _TestAccuracyPerEpoch(TrainingObserver):
    def __init__(self, dataset):
        self.dataset = dataset
        self.accuracies = []

    def on_epoch(self, metrics, weight_summary):
        del metrics, weight_summary
        predicted = predict_batch(self.model, self.dataset.x_test).argmax(axis=1)
        self.accuracies.append(float(np.mean(predicted == self.dataset.y_test)))


@pytest.mark.slow  # trains on all 60,000 images
def test_the_best_dense_preset_passes_98_percent_within_three_epochs(mnist):
    config = get_preset(BEST_DENSE_PRESET_NAME).config
    observer = _TestAccuracyPerEpoch(mnist)
    observer.model = build_model(config)
    result = train_model(config, mnist, observer, model=observer.model)
    assert result.test_accuracy >= 0.98, result.test_accuracy
    assert max(observer.accuracies[:3]) >= 0.98, observer.accuracies
