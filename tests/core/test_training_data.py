"""training_data: the re-drawn and pen-drawn training digits a config asks for."""

import numpy as np
import pytest

from mnist_core.data.pen_digits import (
    PEN_TRAINING_DIGIT_COUNT,
    PenDigits,
    load_pen_dev_set,
    load_pen_digits,
)
from mnist_core.modeling.config import ModelConfig
from mnist_core.training.extra_digits import (
    build_training_set,
    describe_training_data,
)


@pytest.fixture(scope="module")
def few_pen_digits():
    digits = load_pen_digits()
    keep = np.arange(0, 7494, 750)
    return PenDigits(digits.points[keep], digits.labels[keep], digits.source_lines[keep])


def test_by_default_the_training_set_is_left_as_it_is(tiny_mnist):
    training = build_training_set(ModelConfig(), tiny_mnist.x_train, tiny_mnist.y_train)
    assert training.images is tiny_mnist.x_train and training.labels is tiny_mnist.y_train
    assert training.redrawn_count == 0 and training.pen_digit_count == 0


def test_redrawing_replaces_that_share_of_the_images_the_same_way_each_time(tiny_mnist):
    config = ModelConfig(redraw_fraction=0.25, seed=3)
    images, labels = tiny_mnist.x_train[:200], tiny_mnist.y_train[:200]
    first = build_training_set(config, images, labels)
    again = build_training_set(config, images, labels)
    other_seed = build_training_set(config.replace(seed=4), images, labels)
    assert first.redrawn_count == round(0.25 * len(images))
    changed = np.any(first.images != images, axis=(1, 2))
    assert 0.2 * len(images) <= changed.sum() <= 0.25 * len(images)
    assert np.array_equal(first.labels, labels) and first.images.dtype == np.uint8
    assert np.array_equal(first.images, again.images)
    assert not np.array_equal(first.images, other_seed.images)
    # A re-drawn digit keeps MNIST's convention: its centre of mass at (14, 14).
    for image in first.images[changed].astype(float):
        rows, columns = np.indices(image.shape)
        centre = (rows * image).sum() / image.sum(), (columns * image).sum() / image.sum()
        assert centre == pytest.approx((14, 14), abs=0.75)


def test_pen_digits_are_added_after_the_images_with_their_labels(tiny_mnist, few_pen_digits):
    config = ModelConfig(pen_digit_copies=2)
    images, labels = tiny_mnist.x_train, tiny_mnist.y_train
    training = build_training_set(config, images, labels, pen_digits=few_pen_digits)
    count = 2 * len(few_pen_digits.labels)
    assert training.pen_digit_count == count
    assert training.images.shape == (len(images) + count, 28, 28)
    assert np.array_equal(training.images[: len(images)], images)
    assert np.array_equal(training.labels[len(images) :], np.tile(few_pen_digits.labels, 2))
    added = training.images[len(images) :]
    assert added.dtype == np.uint8 and added.reshape(count, -1).max(axis=1).min() == 255
    # The two drawings of a digit differ (random size, place, pen and slant).
    assert not np.array_equal(added[: count // 2], added[count // 2 :])


def test_no_pen_training_digit_comes_from_the_dev_set(tiny_mnist):
    training = build_training_set(
        ModelConfig(pen_digit_copies=1), tiny_mnist.x_train[:10], tiny_mnist.y_train[:10]
    )
    dev_lines = load_pen_dev_set().source_lines
    assert training.pen_digit_count == 7494 - 2000 == PEN_TRAINING_DIGIT_COUNT
    assert not np.isin(training.pen_source_lines, dev_lines).any()
    raw = load_pen_digits()
    assert np.array_equal(raw.labels[training.pen_source_lines], training.labels[10:])


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"redraw_fraction": 1.5}, "redraw_fraction"),
        ({"pen_digit_copies": -1}, "pen_digit_copies"),
        ({"pen_digit_copies": 2.0}, "pen_digit_copies"),
        ({"pen_digit_copies": 1, "dataset": "fashion_mnist"}, "pen_digit_copies"),
        ({"redraw_fraction": 0.5, "dataset": "fashion_mnist"}, "redraw_fraction"),
    ],
)
def test_bad_training_data_fields_are_named(changes, field):
    from mnist_core.modeling.config import validate_config

    with pytest.raises(ValueError, match=field):
        validate_config(ModelConfig(**changes))


def test_the_description_says_what_the_model_learns_from():
    plain = describe_training_data(ModelConfig())
    assert plain == "MNIST's training images (10% held out for validation)."
    drawn = describe_training_data(
        ModelConfig(redraw_fraction=0.3, pen_digit_copies=4, augment_rotation=10.0), 70000
    )
    assert "30% of them re-drawn" in drawn and "4 random drawings" in drawn
    assert "pendigits" in drawn and "random rotation" in drawn and "70,000" in drawn


@pytest.mark.parametrize("validation", ["split", "test"])
def test_the_learning_rate_schedule_counts_the_pen_digits_it_trains_on(tiny_mnist, validation):
    """A one-cycle schedule must end with the last batch, not epochs before it."""
    import math

    from mnist_core.modeling.config import steps_per_epoch
    from mnist_core.training.train import split_validation

    config = ModelConfig(pen_digit_copies=1, validation=validation, batch_size=128)
    subset = tiny_mnist.subset(500, 100, seed=0)
    x_train, _, _, _ = split_validation(config, subset)
    # build_training_set adds PEN_TRAINING_DIGIT_COUNT drawings (checked above) after the split.
    trained_on = len(x_train) + PEN_TRAINING_DIGIT_COUNT
    assert steps_per_epoch(config, len(subset.x_train)) == math.ceil(trained_on / 128)
