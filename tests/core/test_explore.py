"""explore: array statistics, random samples, label counts, histograms, enlarging images."""

import numpy as np
import pytest

from mnist_core.data.datasets import Dataset
from mnist_core.data.explore import (
    describe_arrays,
    describe_values,
    enlarge_image,
    flattened_strip,
    label_counts,
    pixel_histogram,
    sample_indices,
)
from mnist_core.data.format import MNIST_CLASS_NAMES


@pytest.fixture
def small_dataset():
    x_train = np.zeros((20, 28, 28), dtype=np.uint8)
    x_train[0, 5, 5] = 255
    x_train[1, 6, 6] = 7
    return Dataset(
        name="mnist",
        x_train=x_train,
        y_train=np.arange(20, dtype=np.uint8) % 10,
        x_test=np.full((5, 28, 28), 3, dtype=np.uint8),
        y_test=np.array([0, 0, 1, 2, 9], dtype=np.uint8),
        class_names=MNIST_CLASS_NAMES,
        source="test",
    )


def test_describe_arrays_gives_shape_dtype_min_and_max(small_dataset):
    rows = {row["array"]: row for row in describe_arrays(small_dataset)}
    assert list(rows) == ["x_train", "y_train", "x_test", "y_test"]
    assert rows["x_train"] == {
        "array": "x_train",
        "shape": (20, 28, 28),
        "dtype": "uint8",
        "min": 0,
        "max": 255,
    }
    assert rows["y_test"]["shape"] == (5,)
    assert (rows["x_test"]["min"], rows["x_test"]["max"]) == (3, 3)
    assert (rows["y_train"]["min"], rows["y_train"]["max"]) == (0, 9)


def test_sample_indices_are_distinct_reproducible_and_depend_on_the_seed():
    first = sample_indices(1000, 24, seed=0)
    assert len(set(first.tolist())) == 24
    assert first.min() >= 0 and first.max() < 1000
    assert np.array_equal(first, sample_indices(1000, 24, seed=0))
    assert not np.array_equal(first, sample_indices(1000, 24, seed=1))


def test_sample_indices_never_asks_for_more_than_there_are():
    assert sorted(sample_indices(5, 24, seed=3).tolist()) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("total, count", [(0, 3), (10, 0), (10.5, 3), (True, 3)])
def test_sample_indices_rejects_bad_sizes(total, count):
    with pytest.raises(ValueError, match="must be an integer"):
        sample_indices(total, count, seed=0)


def test_label_counts_count_every_class_even_empty_ones():
    rows = label_counts(np.array([0, 0, 3, 9], dtype=np.uint8), MNIST_CLASS_NAMES)
    assert [row["count"] for row in rows] == [2, 0, 0, 1, 0, 0, 0, 0, 0, 1]
    assert rows[3]["class_name"] == "3"
    assert rows[0]["share"] == pytest.approx(0.5)


def test_label_counts_rejects_labels_without_a_name():
    with pytest.raises(ValueError, match="class_names"):
        label_counts(np.array([0, 12]), MNIST_CLASS_NAMES)


def test_pixel_histogram_counts_every_pixel_and_keeps_its_shape_after_scaling():
    images = np.array([[0, 0, 0, 255], [128, 64, 0, 255]], dtype=np.uint8)
    before = pixel_histogram(images, bins=4)
    after = pixel_histogram(images.astype(np.float32) / 255, bins=4, value_range=(0.0, 1.0))
    assert sum(row["count"] for row in before) == images.size
    assert [row["count"] for row in before] == [row["count"] for row in after] == [4, 1, 1, 2]
    assert before[0]["start"] == 0.0 and before[-1]["end"] == 255.0
    assert after[-1]["end"] == 1.0


def test_pixel_histogram_rejects_an_empty_range():
    with pytest.raises(ValueError, match="value_range"):
        pixel_histogram(np.zeros(3), value_range=(1.0, 1.0))


def test_enlarge_image_repeats_each_pixel_and_converts_floats():
    image = np.array([[0, 255], [10, 20]], dtype=np.uint8)
    enlarged = enlarge_image(image, 3)
    assert enlarged.shape == (6, 6) and enlarged.dtype == np.uint8
    assert (enlarged[:3, 3:] == 255).all() and (enlarged[3:, :3] == 10).all()
    assert enlarge_image(np.array([[0.0, 1.0]]), 1).tolist() == [[0, 255]]


def test_enlarge_image_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        enlarge_image(np.zeros((2, 2, 2)), 2)
    with pytest.raises(ValueError, match="factor"):
        enlarge_image(np.zeros((2, 2)), 0)


def test_flattened_strip_is_the_flattened_image_repeated_in_height():
    image = np.arange(784, dtype=np.int64).reshape(28, 28) % 256
    strip = flattened_strip(image.astype(np.uint8), height=4)
    assert strip.shape == (4, 784)
    assert (strip == image.reshape(1, 784).astype(np.uint8)).all()


def test_describe_values_says_the_dtype_and_the_range():
    pixels = np.array([[0, 7], [255, 3]], dtype=np.uint8)
    assert describe_values(pixels) == "uint8, 0 to 255"
    assert describe_values((pixels / np.float32(255)).astype(np.float32)) == "float32, 0 to 1"
    with pytest.raises(ValueError, match="at least one number"):
        describe_values(np.zeros((0, 28)))
