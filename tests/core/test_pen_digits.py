"""The pen dev set: found in the repository first, else beside the checkout; checked on loading."""

import numpy as np
import pytest

from mnist_core import pen_digits
from mnist_core.data import DatasetUnavailableError
from mnist_core.pen_digits import load_pen_dev_set, pen_dev_set_path


def write_pen_file(path, count=3, **changes):
    arrays = {
        "images": np.full((count, 280, 280), 255, np.uint8),
        "labels": np.arange(count, dtype=np.uint8),
        "points": np.zeros((count, 8, 2), np.int16),
        "pen": np.full(count, 20, np.uint8),
        "source_line": np.arange(count, dtype=np.int32),
    }
    arrays.update(changes)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{name: value for name, value in arrays.items() if value is not None})
    return path


def test_the_pen_dev_set_loads_with_its_documented_arrays():
    pen = load_pen_dev_set()
    assert pen.images.shape == (2000, 280, 280) and pen.images.dtype == np.uint8
    assert np.bincount(pen.labels).tolist() == [200] * 10
    assert pen.points.shape == (2000, 8, 2)
    assert pen.pen.min() >= 12 and pen.pen.max() <= 30
    # Ink (0) on white paper (255), as the canvas sends it.
    assert pen.images[0].min() == 0 and pen.images[0].max() == 255
    assert len(np.unique(pen.source_line)) == 2000


def test_the_repository_copy_comes_first(tmp_path, monkeypatch):
    in_repository = write_pen_file(tmp_path / "repo" / "pen_digits_dev.npz")
    shared = write_pen_file(tmp_path / "shared" / "pen_digits_dev.npz")
    monkeypatch.setattr(pen_digits, "PEN_DEV_SET_LOCATIONS", (in_repository, shared))
    assert pen_dev_set_path() == in_repository
    in_repository.unlink()
    assert pen_dev_set_path() == shared
    assert load_pen_dev_set().path == shared


def test_a_missing_pen_dev_set_says_where_it_was_looked_for(tmp_path, monkeypatch):
    places = (tmp_path / "a.npz", tmp_path / "b.npz")
    monkeypatch.setattr(pen_digits, "PEN_DEV_SET_LOCATIONS", places)
    with pytest.raises(DatasetUnavailableError, match="pen dev set is missing") as raised:
        load_pen_dev_set()
    assert all(str(place) in str(raised.value) for place in places)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pen": None}, "pen is missing"),
        ({"points": np.zeros((3, 7, 2), np.int16)}, r"points is int16 \(3, 7, 2\), expected int16 \(3, 8, 2\)"),
        ({"images": np.zeros((3, 280, 280), np.float32)}, "images is float32"),
    ],
)  # fmt: skip
def test_a_damaged_file_is_refused(tmp_path, monkeypatch, changes, message):
    path = write_pen_file(tmp_path / "pen_digits_dev.npz", **changes)
    monkeypatch.setattr(pen_digits, "PEN_DEV_SET_LOCATIONS", (path,))
    with pytest.raises(DatasetUnavailableError, match=message):
        load_pen_dev_set()
