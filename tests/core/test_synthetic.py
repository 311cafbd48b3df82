"""synthetic: canvas-like drawings of a digit, placed and sized as asked."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_core.data.synthetic import render_canvas_drawing


def _digit() -> np.ndarray:
    picture = Image.new("L", (28, 28), 0)
    ImageDraw.Draw(picture).line([(8, 5), (20, 5), (12, 24)], fill=255, width=3)
    return np.asarray(picture)


def _ink_box(drawing: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the pixels that differ from the paper."""
    ink = drawing[:, :, 3] > 0 if drawing[0, 0, 3] == 0 else drawing[:, :, 0] != drawing[0, 0, 0]
    rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return rows[0], rows[-1], columns[0], columns[-1]


def test_the_drawing_has_the_asked_height_and_place():
    drawing = render_canvas_drawing(
        _digit(), height_fraction=0.5, center_x=0.25, center_y=0.75, stroke_scale=1.0
    )
    assert drawing.shape == (280, 280, 4) and drawing.dtype == np.uint8
    top, bottom, left, right = _ink_box(drawing)
    assert bottom - top + 1 == pytest.approx(140, abs=2)
    assert (top + bottom) / 2 == pytest.approx(0.75 * 280, abs=2)
    assert (left + right) / 2 == pytest.approx(0.25 * 280, abs=2)


def test_a_drawing_at_the_edge_stays_on_the_canvas():
    drawing = render_canvas_drawing(
        _digit(), height_fraction=0.6, center_x=1.0, center_y=0.0, stroke_scale=2.0
    )
    top, bottom, left, right = _ink_box(drawing)
    assert top == 0 and right == 279 and bottom - top + 1 == pytest.approx(168, abs=2)


def test_thicker_strokes_hold_more_ink():
    ink = [
        (255 - render_canvas_drawing(_digit(), **dict(PLACE, stroke_scale=scale))[:, :, 0]).sum()
        for scale in (0.5, 1.0, 2.0)
    ]
    assert ink[0] < ink[1] < ink[2]


PLACE = dict(height_fraction=0.6, center_x=0.5, center_y=0.5)


def test_ink_and_background_colours():
    dark = render_canvas_drawing(_digit(), **PLACE, stroke_scale=1.0)
    assert dark[0, 0].tolist() == [255, 255, 255, 255] and dark[..., :3].min() == 0
    light = render_canvas_drawing(
        _digit(), **PLACE, stroke_scale=1.0, ink="light", background="black"
    )
    np.testing.assert_array_equal(light[..., :3], 255 - dark[..., :3])
    transparent = render_canvas_drawing(
        _digit(), **PLACE, stroke_scale=1.0, background="transparent"
    )
    assert transparent[0, 0].tolist() == [0, 0, 0, 0]
    np.testing.assert_array_equal(transparent[..., 3], 255 - dark[..., 0])


def test_random_parameters_are_reproducible_and_vary():
    first = render_canvas_drawing(_digit(), rng=np.random.default_rng(3))
    again = render_canvas_drawing(_digit(), rng=np.random.default_rng(3))
    other = render_canvas_drawing(_digit(), rng=np.random.default_rng(4))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(height_fraction=None), "rng is None"),
        (dict(height_fraction=1.5), "height_fraction is 1.5"),
        (dict(center_x=-0.1), "center_x is -0.1"),
        (dict(stroke_scale=0.0), "stroke_scale is 0.0"),
        (dict(ink="red"), "ink is 'red'"),
        (dict(background="white", ink="light"), "no contrast"),
        (dict(canvas_size=10), "canvas_size is 10"),
    ],
)
def test_bad_arguments_raise_value_error(changes, message):
    arguments = {**PLACE, "stroke_scale": 1.0, **changes}
    with pytest.raises(ValueError, match=message):
        render_canvas_drawing(_digit(), **arguments)


def test_a_blank_or_wrongly_typed_digit_raises_value_error():
    with pytest.raises(ValueError, match="blank"):
        render_canvas_drawing(np.zeros((28, 28), np.uint8), **PLACE, stroke_scale=1.0)
    with pytest.raises(ValueError, match="dtype float64"):
        render_canvas_drawing(np.ones((28, 28)), **PLACE, stroke_scale=1.0)
