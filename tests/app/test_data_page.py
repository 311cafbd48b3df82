"""The Data page, through AppTest: arrays, the random grid, pixels, flattening, one-hot."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.data.datasets import dataset_available
from mnist_core.data.format import FASHION_MNIST_CLASS_NAMES


@pytest.fixture
def data_page(open_page):
    def data_page():
        return open_page("data")

    return data_page


def table_with(at: AppTest, column: str):
    """The rendered dataframe that has `column`."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with a {column!r} column")


def grid_captions(at: AppTest) -> list[str]:
    return at.image[0].captions


def test_arrays_show_shapes_dtypes_and_ranges_for_mnist(data_page):
    at = data_page()
    arrays = table_with(at, "array").set_index("array")
    assert arrays.loc["x_train", "shape"] == "(60000, 28, 28)"
    assert arrays.loc["y_train", "shape"] == "(60000,)"
    assert arrays.loc["x_test", "shape"] == "(10000, 28, 28)"
    assert arrays.loc["y_test", "shape"] == "(10000,)"
    assert set(arrays["dtype"]) == {"uint8"}
    assert (arrays.loc["x_train", "min"], arrays.loc["x_train", "max"]) == ("0", "255")
    assert (arrays.loc["y_test", "min"], arrays.loc["y_test", "max"]) == ("0", "9")


def test_reshuffle_shows_other_random_images_with_their_labels(data_page, mnist):
    at = data_page()
    before = grid_captions(at)
    assert len(before) == 24
    label, index = before[0].split(" · #")
    assert int(label) == mnist.y_train[int(index)]

    at.button(key="data_reshuffle").click().run()
    assert not at.exception
    after = grid_captions(at)
    assert len(after) == 24 and after != before


def test_one_image_is_shown_as_its_pixel_values_and_flattened(data_page, mnist):
    at = data_page()
    at.number_input(key="data_image_index").set_value(7).run()
    assert not at.exception
    pixels = table_with(at, 27)
    assert pixels.shape == (28, 28)
    assert np.array_equal(pixels.to_numpy(), mnist.x_train[7])
    assert any("(60000, 784)" in block.value for block in at.markdown)


def test_one_hot_encoding_puts_a_one_at_the_label(data_page):
    at = data_page()
    at.selectbox(key="data_one_hot_label").set_value(3)
    at.toggle(key="data_one_hot_show").set_value(True).run()
    assert not at.exception
    encoded = table_with(at, "3")
    assert encoded.iloc[0].tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert "[0. 0. 0. 1. 0. 0. 0. 0. 0. 0.]" in at.code[0].value


@pytest.mark.skipif(not dataset_available("fashion_mnist"), reason="Fashion-MNIST not installed")
def test_fashion_mnist_is_selectable_and_shows_class_names(data_page):
    at = data_page()
    at.selectbox(key="data_dataset").set_value("fashion_mnist").run()
    assert not at.exception
    names = {caption.split(" · #")[0] for caption in grid_captions(at)}
    assert names <= set(FASHION_MNIST_CLASS_NAMES)
    at.toggle(key="data_one_hot_show").set_value(True).run()
    assert list(table_with(at, "Ankle boot").columns) == list(FASHION_MNIST_CLASS_NAMES)


def test_the_charts_say_their_figures_in_words(data_page, mnist):
    at = data_page()
    captions = [caption.value for caption in at.caption]
    # The label counts: MNIST has most 1s and fewest 5s, in both sets.
    assert (
        sum(text.startswith("Most: 1 with ") and "fewest: 5 with " in text for text in captions)
        == 2
    )
    # The pixel histograms, before and after scaling.
    fullest = [text for text in captions if text.startswith("The fullest bin, ")]
    assert len(fullest) == 2
    assert fullest[0].endswith("values from 0 to 255.") and fullest[1].endswith("from 0 to 1.")
