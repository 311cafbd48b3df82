"""predict: direct model calls that agree with Keras' own model.predict."""

import dataclasses
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from mnist_core.reading.predict import (
    CONFIDENT_WRONG_GOAL,
    UNSURE_CONFIDENCE_BELOW,
    UNSURE_GOAL,
    UNSURE_MARGIN_BELOW,
    Prediction,
    choose_unsure_thresholds,
    is_unsure,
    measure_unsure,
    predict_batch,
    predict_image,
    prediction_from_probabilities,
)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((300, 28, 28), dtype=np.float32)


def test_predict_image_returns_a_prediction(tiny_model, images):
    prediction = predict_image(tiny_model, images[0])
    assert isinstance(prediction, Prediction)
    assert isinstance(prediction.digit, int) and 0 <= prediction.digit <= 9
    assert isinstance(prediction.confidence, float)
    assert isinstance(prediction.probabilities, tuple) and len(prediction.probabilities) == 10
    assert all(isinstance(value, float) for value in prediction.probabilities)
    assert sum(prediction.probabilities) == pytest.approx(1.0, abs=1e-5)
    assert prediction.digit == int(np.argmax(prediction.probabilities))
    assert prediction.confidence == max(prediction.probabilities)
    with pytest.raises(dataclasses.FrozenInstanceError):
        prediction.digit = 3


def test_predict_image_matches_model_predict(tiny_model, images):
    expected = tiny_model.predict(images[:5], verbose=0)
    for image, row in zip(images[:5], expected, strict=True):
        np.testing.assert_allclose(
            predict_image(tiny_model, image).probabilities, row, rtol=1e-5, atol=1e-7
        )


@pytest.mark.parametrize("batch_size", [1, 64, 256, 1000])
def test_predict_batch_matches_model_predict(tiny_model, images, batch_size):
    expected = tiny_model.predict(images, verbose=0)
    result = predict_batch(tiny_model, images, batch_size=batch_size)
    assert result.shape == (300, 10) and result.dtype == np.float32
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(result.sum(axis=1), 1.0, atol=1e-5)


def test_uint8_images_are_scaled(tiny_model):
    pixels = np.random.default_rng(1).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    np.testing.assert_allclose(
        predict_batch(tiny_model, pixels), predict_batch(tiny_model, pixels / 255), atol=1e-6
    )
    np.testing.assert_allclose(
        predict_image(tiny_model, pixels[0]).probabilities,
        predict_image(tiny_model, pixels[0] / 255).probabilities,
        atol=1e-6,
    )


def test_an_empty_batch_gives_no_rows(tiny_model):
    result = predict_batch(tiny_model, np.zeros((0, 28, 28), np.float32))
    assert result.shape == (0, 10)


class _FastPathModel:
    """Stands in for a Keras model; fails if the slow paths (predict, eager call) are used."""

    def __init__(self, output_shape=None):
        self.batch_shapes = []
        self.output_shape = output_shape

    def predict_on_batch(self, batch):
        assert batch.dtype == np.float32
        self.batch_shapes.append(batch.shape)
        return np.full(self.output_shape or (len(batch), 10), 0.1, np.float32)

    def predict(self, *args, **kwargs):
        raise AssertionError("model.predict builds a data pipeline: ~70 ms a call")

    def __call__(self, *args, **kwargs):
        raise AssertionError("an eager call runs layer by layer: ~5 ms a call")


def test_the_model_runs_its_compiled_function_in_chunks():
    model = _FastPathModel()
    predict_image(model, np.zeros((28, 28), np.float32))
    predict_batch(model, np.zeros((600, 28, 28), np.float32), batch_size=256)
    assert model.batch_shapes == [(1, 28, 28), (256, 28, 28), (256, 28, 28), (88, 28, 28)]


def test_inference_mode_makes_dropout_inactive():
    import keras

    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.9),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    image = np.full((28, 28), 0.5, np.float32)
    first = predict_image(model, image)
    assert predict_image(model, image) == first
    np.testing.assert_allclose(
        first.probabilities, model(image[None], training=False)[0], rtol=1e-5, atol=1e-7
    )


def test_a_model_with_the_wrong_output_raises_value_error():
    with pytest.raises(ValueError, match=r"model returned shape \(10,\) for 1 images"):
        predict_image(_FastPathModel(output_shape=(10,)), np.zeros((28, 28), np.float32))


@pytest.mark.parametrize(
    ("image", "received"),
    [
        (np.zeros((784,), np.float32), "shape (784,)"),
        (np.zeros((28, 28, 1), np.float32), "shape (28, 28, 1)"),
        (np.zeros((1, 28, 28), np.float32), "shape (1, 28, 28)"),
        (np.zeros((280, 280, 4), np.uint8), "shape (280, 280, 4)"),
        (np.zeros((28, 28), np.int64), "dtype int64"),
        (np.full((28, 28), np.nan, np.float32), "NaN"),
        (np.full((28, 28), 255.0), "from 255 to 255"),
    ],
)
def test_bad_image_raises_value_error(image, received):
    with pytest.raises(ValueError, match="image28") as raised:
        predict_image(_FastPathModel(), image)
    assert received in str(raised.value) and "expected" in str(raised.value)


@pytest.mark.parametrize(
    ("images", "received"),
    [
        (np.zeros((28, 28), np.float32), "shape (28, 28)"),
        (np.zeros((5, 784), np.float32), "shape (5, 784)"),
        (np.zeros((5, 28, 28), np.object_), "dtype object"),
        (np.full((5, 28, 28), -1.0), "from -1 to -1"),
    ],
)
def test_bad_batch_raises_value_error(images, received):
    with pytest.raises(ValueError, match="images") as raised:
        predict_batch(_FastPathModel(), images)
    assert received in str(raised.value)


@pytest.mark.parametrize("batch_size", [0, -1, 1.5, "8", True])
def test_bad_batch_size_raises_value_error(batch_size):
    with pytest.raises(ValueError, match=r"batch_size is .*expected an integer >= 1"):
        predict_batch(_FastPathModel(), np.zeros((2, 28, 28), np.float32), batch_size=batch_size)


def test_importing_the_modules_does_not_import_keras():
    """The app imports these early; TensorFlow takes seconds to import."""
    code = (
        "import sys, mnist_core.reading.predict, mnist_core.reading.preprocess, mnist_core.data.synthetic; "
        "print(sorted({'keras', 'tensorflow'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    assert result.stdout.strip() == "[]"


# --- the runner-up and "not sure" -----------------------------------------------------------


def test_a_prediction_names_the_runner_up(tiny_model, images):
    for image in images[:20]:
        prediction = predict_image(tiny_model, image)
        ranked = np.argsort(prediction.probabilities)[::-1]
        assert prediction.runner_up == int(ranked[1]) != prediction.digit
        assert prediction.runner_up_probability == prediction.probabilities[prediction.runner_up]
        assert prediction.runner_up_probability <= prediction.confidence
        assert prediction.unsure == is_unsure(
            prediction.confidence, prediction.runner_up_probability
        )


@pytest.mark.parametrize(
    ("probabilities", "digit", "runner_up", "unsure"),
    [
        ([0.0, 0.97, 0.03], 1, 2, False),  # clear
        ([0.2, 0.0, 0.8], 2, 0, False),
        ([0.5, 0.0, 0.5], 0, 2, True),  # a tie: the lower class first, as argmax
        ([0.1, 0.45, 0.45], 1, 2, True),
        ([0.0, 0.6, 0.4], 1, 2, True),  # low top probability
    ],
)
def test_prediction_from_probabilities(probabilities, digit, runner_up, unsure):
    """With fixed thresholds (confidence below 0.69 or margin below 0.4): the committed ones
    follow the default model (`bench/unsure.py --tune`)."""
    prediction = prediction_from_probabilities(
        np.array(probabilities, np.float32), confidence_below=0.69, margin_below=0.4
    )
    assert (prediction.digit, prediction.runner_up, prediction.unsure) == (digit, runner_up, unsure)
    assert prediction.confidence == pytest.approx(probabilities[digit])
    assert prediction.runner_up_probability == pytest.approx(probabilities[runner_up])


def test_unsure_when_the_top_is_low_or_the_runner_up_close():
    assert not is_unsure(0.9, 0.05, confidence_below=0.8, margin_below=0.3)
    assert is_unsure(0.79, 0.0, confidence_below=0.8, margin_below=0.3)  # top too low
    assert is_unsure(0.85, 0.6, confidence_below=0.8, margin_below=0.3)  # too close
    assert not is_unsure(0.8, 0.5, confidence_below=0.8, margin_below=0.3)  # on both edges
    assert is_unsure(UNSURE_CONFIDENCE_BELOW - 0.01, 0.0)  # the committed thresholds
    assert not is_unsure(1.0, 0.0)


@pytest.mark.parametrize("probabilities", [[1.0], [[0.5, 0.5]], []])
def test_prediction_from_bad_probabilities_raises_value_error(probabilities):
    with pytest.raises(ValueError, match="probabilities has shape"):
        prediction_from_probabilities(np.array(probabilities))


def readings(rows: list[tuple[list[float], int]]) -> tuple[np.ndarray, np.ndarray]:
    probabilities = np.array([row for row, _ in rows], np.float64)
    return probabilities, np.array([label for _, label in rows])


def test_measure_unsure_counts_each_kind_of_reading():
    probabilities, labels = readings(
        [
            ([0.9, 0.1, 0.0], 0),  # confident and right
            ([0.9, 0.1, 0.0], 1),  # confident and wrong
            ([0.5, 0.4, 0.1], 1),  # not sure, the runner-up is right
            ([0.5, 0.4, 0.1], 2),  # not sure, neither candidate is right
        ]
    )
    figures = measure_unsure(probabilities, labels, confidence_below=0.8, margin_below=0.3)
    assert figures.count == 4
    assert figures.accuracy == 0.25
    assert figures.unsure_rate == 0.5
    assert figures.confident_wrong_rate == 0.25
    assert figures.unsure_candidates_right == 0.5
    assert not figures.meets_goals
    never_unsure = measure_unsure(probabilities, labels, confidence_below=0, margin_below=0)
    assert never_unsure.unsure_rate == 0 and never_unsure.confident_wrong_rate == 0.75
    assert math.isnan(never_unsure.unsure_candidates_right)


def synthetic_readings(seed: int, wrong_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Right readings mostly confident; wrong ones mostly hesitant, a few confident."""
    rng = np.random.default_rng(seed)
    count = 2000
    labels = rng.integers(0, 10, count)
    wrong = rng.random(count) < wrong_fraction
    top = np.where(wrong, rng.uniform(0.3, 0.75, count), rng.uniform(0.7, 1.0, count))
    second = (1 - top) * rng.uniform(0.5, 1.0, count)
    predicted = np.where(wrong, (labels + 1) % 10, labels)
    probabilities = np.zeros((count, 10))
    rows = np.arange(count)
    probabilities[rows, predicted] = top
    probabilities[rows, (predicted + 3) % 10] = second
    probabilities[rows, (predicted + 5) % 10] = 1 - top - second
    return probabilities, labels


def test_chosen_thresholds_meet_both_goals_when_they_can():
    probabilities, labels = synthetic_readings(0, wrong_fraction=0.05)
    chosen = choose_unsure_thresholds(probabilities, labels)
    assert chosen.meets_goals
    assert chosen == measure_unsure(
        probabilities, labels, chosen.confidence_below, chosen.margin_below
    )


def test_otherwise_the_fewest_confident_mistakes_within_the_unsure_goal():
    probabilities, labels = synthetic_readings(1, wrong_fraction=0.3)
    chosen = choose_unsure_thresholds(probabilities, labels)
    assert not chosen.meets_goals
    assert chosen.unsure_rate <= UNSURE_GOAL
    # No pair of a coarser grid, measured independently, does better within the goal.
    for confidence_below in np.arange(0.0, 1.0, 0.05):
        for margin_below in np.arange(0.0, 1.0, 0.1):
            other = measure_unsure(probabilities, labels, confidence_below, margin_below)
            if other.unsure_rate <= UNSURE_GOAL:
                assert other.confident_wrong_rate >= chosen.confident_wrong_rate


def test_thresholds_of_the_module_are_within_the_grid():
    assert 0 <= UNSURE_CONFIDENCE_BELOW < 1 and 0 <= UNSURE_MARGIN_BELOW < 1
    assert 0 < CONFIDENT_WRONG_GOAL < UNSURE_GOAL < 1
