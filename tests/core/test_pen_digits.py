"""pen_digits: the committed real-handwriting files, and drawing pen digits like the dev set."""

import numpy as np
import pytest

from mnist_core.data.pen_digits import (
    PEN_DIGITS_DIRECTORY,
    catmull_rom_curve,
    draw_pen_path,
    load_pen_dev_set,
    load_pen_digits,
    pen_training_digits,
    random_pen_drawing,
    render_pen_digit,
)
from mnist_core.reading.preprocess import preprocess_drawing


@pytest.fixture(scope="module")
def raw_digits():
    return load_pen_digits()


@pytest.fixture(scope="module")
def dev_set():
    return load_pen_dev_set()


def test_the_raw_file_holds_the_data_sets_training_part(raw_digits):
    assert raw_digits.points.shape == (7494, 8, 2)
    assert raw_digits.points.min() == 0 and raw_digits.points.max() == 100
    assert set(np.unique(raw_digits.labels)) == set(range(10))
    first_line = (PEN_DIGITS_DIRECTORY / "pendigits.tra").read_text().splitlines()[0]
    assert first_line == "47,100,27,81,57,37,26,0,0,23,56,53,100,90,40,98,0000000010"
    assert raw_digits.labels[0] == 8
    assert raw_digits.points[0].tolist()[:2] == [[47, 100], [27, 81]]


def test_the_dev_set_has_200_drawings_of_each_digit_from_distinct_lines(dev_set, raw_digits):
    assert dev_set.images.shape == (2000, 280, 280)
    assert np.bincount(dev_set.labels).tolist() == [200] * 10
    assert len(np.unique(dev_set.source_lines)) == 2000
    # Each drawing is the digit of its line: same label, same path up to size and place.
    assert np.array_equal(raw_digits.labels[dev_set.source_lines], dev_set.labels)
    raw = raw_digits.points[dev_set.source_lines[0]].astype(float)
    canvas = dev_set.points[0].astype(float)
    raw[:, 1] = 100 - raw[:, 1]
    scale = np.ptp(canvas, axis=0) / np.ptp(raw, axis=0)
    assert scale[0] == pytest.approx(scale[1], rel=0.05)


def test_no_training_digit_comes_from_a_dev_set_line(raw_digits, dev_set):
    training = pen_training_digits(raw_digits, dev_set)
    assert len(training.labels) == 7494 - 2000
    assert not np.isin(training.source_lines, dev_set.source_lines).any()
    assert np.array_equal(raw_digits.points[training.source_lines], training.points)


def test_drawing_a_dev_digit_again_gives_its_image(dev_set):
    overlaps = []
    for index in range(20):
        drawn = draw_pen_path(dev_set.points[index], float(dev_set.pen_widths[index])) < 128
        stored = dev_set.images[index] < 128
        overlaps.append((drawn & stored).sum() / (drawn | stored).sum())
    assert min(overlaps) > 0.85 and np.mean(overlaps) > 0.92, overlaps


def test_the_curve_passes_through_every_point():
    points = np.array([[0, 0], [10, 5], [20, 0], [30, 10]], dtype=float)
    curve = catmull_rom_curve(points, steps=4)
    assert curve.shape == (13, 2)
    assert np.allclose(curve[::4], points)


def test_a_rendered_digit_has_the_asked_height_pen_and_place(raw_digits):
    image = render_pen_digit(
        raw_digits.points[0], height_fraction=0.5, pen_width=20, center_x=0.25, center_y=0.75
    )
    assert image.shape == (280, 280) and image.dtype == np.uint8
    assert set(np.unique(image)) == {0, 255}
    rows = np.flatnonzero((image == 0).any(axis=1))
    columns = np.flatnonzero((image == 0).any(axis=0))
    assert rows[-1] - rows[0] + 1 == pytest.approx(140, abs=3)
    assert (rows[0] + rows[-1]) / 2 == pytest.approx(210, abs=3)
    assert (columns[0] + columns[-1]) / 2 == pytest.approx(70, abs=3)


def test_random_drawings_differ_and_preprocess_to_digits(raw_digits):
    rng = np.random.default_rng(0)
    first = random_pen_drawing(raw_digits.points[0], rng)
    second = random_pen_drawing(raw_digits.points[0], rng)
    assert not np.array_equal(first, second)
    for drawing in (first, second):
        image = preprocess_drawing(drawing)
        assert image is not None and image.shape == (28, 28)


def test_bad_files_raise_value_error_naming_them(tmp_path):
    bad = tmp_path / "bad.tra"
    bad.write_text("1,2,3,0000000001\n")
    with pytest.raises(ValueError, match="bad.tra line 1"):
        load_pen_digits(bad)
    with pytest.raises(ValueError, match="missing"):
        load_pen_digits(tmp_path / "none.tra")
    with pytest.raises(ValueError, match="missing"):
        load_pen_dev_set(tmp_path / "none.npz")
