"""The pen dev set: 2,000 drawings of real handwriting, to measure how the app reads people.

E. Alpaydin and F. Alimoglu, "Pen-Based Recognition of Handwritten Digits", UCI Machine
Learning Repository (1998), doi:10.24432/C5MG6K, licence CC BY 4.0: digits written on a tablet,
each kept as 8 points along the pen's path. The dev set renders 200 digits a class of its
training part as 280x280 canvas drawings (a smooth curve through the points, a round pen of
12 to 30 pixels, random size and place), with the points and the pen width kept so that a
browser can replay them.

The file lives in the repository (datasets/pendigits/) once it has been copied there, and
until then beside the checkout (../shared/data/); `pen_dev_set_path` is the one place that
knows where to look.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_core.data import DatasetUnavailableError

PEN_DEV_SET_FILE = "pen_digits_dev.npz"
_REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
# Where to look, in order: the repository's own copy first.
PEN_DEV_SET_LOCATIONS = (
    _REPOSITORY_ROOT / "datasets" / "pendigits" / PEN_DEV_SET_FILE,
    _REPOSITORY_ROOT.parent / "shared" / "data" / PEN_DEV_SET_FILE,
)
CANVAS_SIZE = 280
POINTS_PER_DIGIT = 8


@dataclass(frozen=True)
class PenDigits:
    """The pen dev set's arrays (see the module docstring).

    Attributes:
        images: uint8 (N, 280, 280), 0 is ink and 255 white paper, as the canvas sends it.
        labels: uint8 (N,), the digit written.
        points: int16 (N, 8, 2), the pen's path as (x, y) canvas pixels, y down.
        pen: uint8 (N,), the pen width in pixels.
        source_line: int32 (N,), the 0-based line of pendigits.tra the digit comes from.
        path: the file they were read from.
    """

    images: np.ndarray
    labels: np.ndarray
    points: np.ndarray
    pen: np.ndarray
    source_line: np.ndarray
    path: Path


def pen_dev_set_path() -> Path:
    """The pen dev set's file: the repository's copy if there is one, else the shared one."""
    for path in PEN_DEV_SET_LOCATIONS:
        if path.is_file():
            return path
    looked = " or ".join(str(path) for path in PEN_DEV_SET_LOCATIONS)
    raise DatasetUnavailableError(f"the pen dev set is missing: no {looked}.")


def load_pen_dev_set() -> PenDigits:
    """Read and check the pen dev set (`pen_dev_set_path`)."""
    path = pen_dev_set_path()
    with np.load(path) as arrays:
        loaded = {name: arrays[name] for name in arrays.files}
    expected = {
        "images": ((CANVAS_SIZE, CANVAS_SIZE), np.uint8),
        "labels": ((), np.uint8),
        "points": ((POINTS_PER_DIGIT, 2), np.int16),
        "pen": ((), np.uint8),
        "source_line": ((), np.int32),
    }
    count = len(loaded.get("labels", ()))
    for name, (shape, dtype) in expected.items():
        array = loaded.get(name)
        if array is None or array.shape != (count, *shape) or array.dtype != dtype:
            found = "missing" if array is None else f"{array.dtype} {array.shape}"
            raise DatasetUnavailableError(
                f"{path} is not the pen dev set: {name} is {found}, expected "
                f"{np.dtype(dtype)} {(count, *shape)}."
            )
    return PenDigits(**{name: loaded[name] for name in expected}, path=path)
