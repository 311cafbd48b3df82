"""predict: direct model calls that agree with Keras' own model.predict."""

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

from mnist_core.predict import Prediction, predict_batch, predict_image


@pytest.fixture(scope="module")
def tiny_model():
    """A small untrained model of the project's shape: (28, 28) in, 10 probabilities out."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Reshape((28, 28, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    return model


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
        "import sys, mnist_core.predict, mnist_core.preprocess, mnist_core.synthetic; "
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
