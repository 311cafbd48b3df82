"""attribution: integrated gradients that add up, agree with finite differences, and mean something."""

import numpy as np
import pytest

from mnist_core.reading.attribution import (
    ATTRIBUTION_STEPS,
    attribute_image,
    attribution_on_drawing,
    attribution_picture,
    explain_drawing,
    smooth_attribution,
)
from mnist_core.reading.predict import predict_batch

# The sanity test of the issue: 100 MNIST test digits, the top 10% of the ink blanked.
SANITY_DIGITS = 100
BLANKED_FRACTION = 0.10
MIN_WINS = 90
# Random blankings per digit, averaged: the reference the map must beat.
RANDOM_BLANKINGS = 5


@pytest.fixture(scope="module")
def trained_models(mnist):
    """A dense and a convolutional model, one quick epoch each on 10,000 training images."""
    from mnist_core.modeling.presets import get_preset
    from mnist_core.training.train import train_model

    subset = mnist.subset(10_000, 1_000, seed=0)
    models = {}
    for name in ("dense_fast", "cnn_three_epochs"):
        config = get_preset(name).config.replace(epochs=1)
        result = train_model(config, subset)
        assert result.test_accuracy > 0.9, (name, result.test_accuracy)
        models[config.architecture] = result.model
    return models


@pytest.fixture(scope="module")
def tiny_dense_model():
    """A small untrained dense model: cheap enough for finite differences over every pixel."""
    import keras

    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="tanh"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def test_integrated_gradients_agree_with_finite_differences(tiny_dense_model, mnist):
    """The same path integral computed without TensorFlow's gradients, pixel by pixel."""
    image = mnist.x_test[0].astype(np.float32) / 255
    steps, epsilon, class_index = 4, 1e-2, 3
    fractions = (np.arange(steps) + 0.5) / steps
    pixels = np.flatnonzero(image.ravel())
    shifted = []
    for fraction in fractions:
        point = (fraction * image).ravel()
        for sign in (1, -1):
            batch = np.repeat(point[None], len(pixels), axis=0)
            batch[np.arange(len(pixels)), pixels] += sign * epsilon
            shifted.append(batch)
    # Straight to the model: a step below 0 leaves predict_batch's [0, 1] range.
    probabilities = (
        np.asarray(
            tiny_dense_model.predict_on_batch(
                np.concatenate(shifted).reshape(-1, 28, 28).astype(np.float32)
            )
        )[:, class_index]
        .reshape(steps, 2, len(pixels))
        .astype(np.float64)
    )
    gradients = (probabilities[:, 0] - probabilities[:, 1]) / (2 * epsilon)
    expected = np.zeros(784)
    expected[pixels] = image.ravel()[pixels] * gradients.mean(axis=0)

    attribution = attribute_image(tiny_dense_model, image, class_index, steps=steps)

    assert attribution.shape == (28, 28) and attribution.dtype == np.float32
    np.testing.assert_allclose(attribution.ravel(), expected, atol=2e-4)
    assert np.abs(expected).max() > 1e-3  # not a comparison of zeros


@pytest.mark.parametrize("architecture", ["dense", "cnn"])
def test_attributions_add_up_to_the_rise_from_a_blank_image(trained_models, mnist, architecture):
    model = trained_models[architecture]
    images = mnist.x_test[:5].astype(np.float32) / 255
    blank = predict_batch(model, np.zeros((1, 28, 28), np.float32))[0]
    for image, row in zip(images, predict_batch(model, images)):
        digit = int(row.argmax())
        attribution = attribute_image(model, image, digit, steps=256)
        assert attribution.sum() == pytest.approx(row[digit] - blank[digit], abs=0.02)
        assert np.all(attribution[image == 0] == 0)  # only ink can be credited


@pytest.mark.parametrize("architecture", ["dense", "cnn"])
def test_blanking_the_most_credited_ink_hurts_more_than_blanking_random_ink(
    trained_models, mnist, architecture
):
    """The issue's sanity test, on the map the Draw page shows."""
    model = trained_models[architecture]
    images = mnist.x_test[:SANITY_DIGITS].astype(np.float32) / 255
    before = predict_batch(model, images)
    rng = np.random.default_rng(0)
    wins = 0
    for image, row in zip(images, before):
        digit = int(row.argmax())
        shown = explain_drawing(model, image, digit).attribution.ravel()
        ink = np.flatnonzero(image.ravel() > 0)
        count = max(1, round(BLANKED_FRACTION * len(ink)))
        blanked = [ink[np.argsort(-shown[ink], kind="stable")[:count]]]
        blanked += [rng.choice(ink, count, replace=False) for _ in range(RANDOM_BLANKINGS)]
        variants = np.repeat(image.reshape(1, -1), len(blanked), axis=0)
        for variant, pixels in zip(variants, blanked):
            variant[pixels] = 0
        after = predict_batch(model, variants.reshape(-1, 28, 28))[:, digit]
        by_attribution, at_random = row[digit] - after[0], row[digit] - after[1:].mean()
        wins += by_attribution > at_random
    print(f"{architecture}: the map beat random ink on {wins} of {SANITY_DIGITS} digits")
    assert wins >= MIN_WINS


def test_the_traced_function_is_made_once_per_model(tiny_dense_model, mnist):
    image = mnist.x_test[1].astype(np.float32) / 255
    first = attribute_image(tiny_dense_model, image, 0)
    function = tiny_dense_model._mnist_core_integrated_gradients[1]
    attribute_image(tiny_dense_model, image, 7)
    np.testing.assert_array_equal(attribute_image(tiny_dense_model, image, 0), first)
    assert tiny_dense_model._mnist_core_integrated_gradients[1] is function
    assert function.experimental_get_tracing_count() == 1
    assert tiny_dense_model._mnist_core_integrated_gradients[0] == ATTRIBUTION_STEPS


def test_a_map_carried_back_onto_the_drawing_lands_on_the_ink(mnist):
    from mnist_core.data.synthetic import render_canvas_drawing
    from mnist_core.reading.preprocess import preprocess_drawing_steps

    drawing = render_canvas_drawing(
        mnist.x_test[0], height_fraction=0.5, center_x=0.3, center_y=0.6, stroke_scale=1.0
    )
    steps = preprocess_drawing_steps(drawing)
    # The 28x28 image itself, carried back, is the drawing's ink where it was drawn.
    on_drawing = attribution_on_drawing(steps, steps.result)
    assert on_drawing.shape == steps.inverted.shape
    correlation = np.corrcoef(on_drawing.ravel(), steps.inverted.ravel())[0, 1]
    assert correlation > 0.9
    rows, columns = np.nonzero(steps.inverted >= 0.1)
    outside = np.ones_like(on_drawing, bool)
    outside[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1] = False
    assert np.all(on_drawing[outside] == 0)


def test_explaining_a_drawing_gives_both_pictures(tiny_dense_model, mnist):
    from mnist_core.data.synthetic import render_canvas_drawing
    from mnist_core.reading.preprocess import preprocess_drawing_steps

    steps = preprocess_drawing_steps(
        render_canvas_drawing(mnist.x_test[2], rng=np.random.default_rng(0))
    )
    explained = explain_drawing(tiny_dense_model, steps.result, 4, steps)
    assert explained.class_index == 4
    assert explained.picture28.shape == (28, 28, 3) and explained.picture28.dtype == np.uint8
    # The part of the drawing about the ink: all of the ink, with a margin, not the canvas.
    height, width, channels = explained.drawing_picture.shape
    ink_height, ink_width = steps.cropped.shape
    assert channels == 3
    assert ink_height < height < steps.inverted.shape[0] and ink_width < width
    assert abs(height - width) <= 1
    ink_pixels = np.count_nonzero(steps.inverted > 0)
    assert np.count_nonzero(explained.drawing_picture.min(axis=2) < 255) == ink_pixels
    np.testing.assert_allclose(
        explained.attribution,
        smooth_attribution(attribute_image(tiny_dense_model, steps.result, 4)),
        atol=1e-6,
    )
    assert explain_drawing(tiny_dense_model, steps.result, 4).drawing_picture is None


def test_smoothing_spreads_a_pixel_over_its_neighbours_and_keeps_the_sum_inside():
    single = np.zeros((28, 28), np.float32)
    single[14, 14] = 1.0
    smoothed = smooth_attribution(single)
    assert smoothed.sum() == pytest.approx(1.0)
    assert smoothed[14, 14] == pytest.approx((6 / 16) ** 2)
    assert smoothed[14, 14] > smoothed[14, 15] > smoothed[14, 16] > smoothed[14, 17] == 0
    np.testing.assert_allclose(smoothed, smoothed.T)


def test_pictures_are_red_towards_blue_away_grey_neutral_white_paper():
    ink = np.array([[1.0, 1.0, 1.0, 0.0]], np.float32)
    attribution = np.array([[0.5, -0.5, 0.0, 0.0]], np.float32)
    picture = attribution_picture(ink, attribution, scale=0.5).astype(int)
    towards, away, neutral, paper = picture[0]
    assert towards[0] > 200 and towards[2] < 60
    assert away[2] > 200 and away[0] < 60
    assert neutral[0] == neutral[1] == neutral[2] < 200
    assert paper.tolist() == [255, 255, 255]


@pytest.mark.parametrize(
    ("image", "class_index", "steps", "message"),
    [
        (np.zeros((28, 28, 1), np.float32), 0, 32, r"image28 is float32 \(28, 28, 1\)"),
        (np.zeros((28, 28), np.uint8), 0, 32, "image28 is uint8"),
        (np.zeros((28, 28), np.float32), 10, 32, "class_index is 10; expected 0 to 9"),
        (np.zeros((28, 28), np.float32), "3", 32, "class_index is '3'"),
        (np.zeros((28, 28), np.float32), 0, 0, "steps is 0"),
    ],
)
def test_bad_input_raises_value_error(tiny_dense_model, image, class_index, steps, message):
    with pytest.raises(ValueError, match=message):
        attribute_image(tiny_dense_model, image, class_index, steps=steps)


def test_importing_the_module_does_not_import_tensorflow():
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, mnist_core.reading.attribution, mnist_core.data.pen_digits; "
        "print(sorted({'keras', 'tensorflow'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.stdout.strip() == "[]"
