"""Real handwriting: the pen-based digits of 44 writers, drawn as canvas images.

E. Alpaydin and F. Alimoglu, "Pen-Based Recognition of Handwritten Digits", UCI Machine
Learning Repository (1998), doi:10.24432/C5MG6K, CC BY 4.0. Each digit was written on a
tablet and kept as 8 (x, y) points spaced evenly along the pen's path, scaled to 0..100 with
y pointing up. Pen lifts were lost: a digit of two strokes arrives as one connected path.

The project holds two files of the data set's training part (30 writers) in
``mnist_core/data/pendigits/`` (see its README):

- ``pendigits.tra``: the raw part, 7,494 digits (`load_pen_digits`);
- ``pen_digits_dev.npz``: the dev set, 2,000 of those digits drawn as 280x280 canvas images,
  dark ink on white (`load_pen_dev_set`). It measures how well a model reads drawn digits.

A model may also learn from the other digits of the raw part (`pen_training_digits` leaves
the dev set's lines out), drawn by `render_pen_digit` the way the dev set was drawn: a smooth
(Catmull-Rom) curve through the 8 points, a round pen of uniform width, any size, anywhere.
The data set's test part (14 other writers) is not in the project: it measures the project
from outside and is never trained or tuned on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mnist_core.base.paths import package_directory

PEN_DIGITS_DIRECTORY = package_directory() / "data" / "pendigits"
RAW_FILE_NAME = "pendigits.tra"
DEV_SET_FILE_NAME = "pen_digits_dev.npz"
POINTS_PER_DIGIT = 8
# The raw coordinates run from 0 to this value.
RAW_COORDINATE_RANGE = 100
CANVAS_SIZE = 280
# Digits of the raw file a model may learn from (7,494 less the dev set's 2,000):
# `pen_training_digits()` holds this many (a test checks it).
PEN_TRAINING_DIGIT_COUNT = 5494
# How the dev set was drawn: the ink's height (pen included) as a fraction of the canvas,
# and the pen width in pixels.
DEV_HEIGHT_FRACTION_RANGE = (0.35, 0.85)
DEV_PEN_WIDTH_RANGE = (12, 30)
# Curve points drawn between two of the 8 path points: enough for a smooth curve.
CURVE_STEPS = 12


@dataclass(frozen=True)
class PenDigits:
    """Digits of the raw file: their 8 path points, labels and line numbers.

    Attributes:
        points: int16 (N, 8, 2), x and y in 0..100, y pointing up (as in the file).
        labels: uint8 (N,).
        source_lines: int32 (N,), the 0-based line of the raw file each digit is on.
    """

    points: np.ndarray
    labels: np.ndarray
    source_lines: np.ndarray


@dataclass(frozen=True)
class PenDevSet:
    """The dev set: 2,000 digits of the raw file drawn as canvas images.

    Attributes:
        images: uint8 (N, 280, 280), 0 is ink and 255 white paper, as the Draw page sends it.
        labels: uint8 (N,).
        points: int16 (N, 8, 2), the path points in canvas pixels (x, y down).
        pen_widths: uint8 (N,), the pen width in pixels.
        source_lines: int32 (N,), the line of the raw file each digit comes from.
        path: the file it was read from (benchmarks name it).
    """

    images: np.ndarray
    labels: np.ndarray
    points: np.ndarray
    pen_widths: np.ndarray
    source_lines: np.ndarray
    path: Path


def load_pen_digits(path: str | Path | None = None) -> PenDigits:
    """Read the raw pen digits: one digit a line, 16 coordinates then a ten-character label.

    Args:
        path: the raw file (default: ``mnist_core/data/pendigits/pendigits.tra``).
    """
    path = Path(path) if path is not None else PEN_DIGITS_DIRECTORY / RAW_FILE_NAME
    points, labels = [], []
    for number, line in enumerate(_read_text(path).splitlines()):
        fields = line.strip().split(",")
        label = fields[-1] if fields else ""
        valid = (
            len(fields) == 2 * POINTS_PER_DIGIT + 1
            and len(label) == 10
            and label.count("1") == 1
            and set(label) <= {"0", "1"}
            and all(field.isdigit() for field in fields[:-1])
        )
        if not valid:
            raise ValueError(
                f"{path} line {number + 1} is {line[:60]!r}; expected 16 integers from 0 to "
                "100 separated by commas, then a label of ten 0s and one 1."
            )
        points.append([int(field) for field in fields[:-1]])
        labels.append(label.index("1"))
    coordinates = np.array(points, dtype=np.int16).reshape(-1, POINTS_PER_DIGIT, 2)
    if coordinates.size and (coordinates.min() < 0 or coordinates.max() > RAW_COORDINATE_RANGE):
        raise ValueError(f"{path} has coordinates outside 0..{RAW_COORDINATE_RANGE}.")
    return PenDigits(
        points=coordinates,
        labels=np.array(labels, dtype=np.uint8),
        source_lines=np.arange(len(labels), dtype=np.int32),
    )


def load_pen_dev_set(path: str | Path | None = None) -> PenDevSet:
    """Read the dev set of drawn pen digits.

    Args:
        path: the ``.npz`` file (default: ``mnist_core/data/pendigits/pen_digits_dev.npz``).
    """
    path = Path(path) if path is not None else PEN_DIGITS_DIRECTORY / DEV_SET_FILE_NAME
    if not path.is_file():
        raise ValueError(f"{path} is missing; it is committed with the project.")
    with np.load(path, allow_pickle=False) as arrays:
        dev_set = PenDevSet(
            images=arrays["images"],
            labels=arrays["labels"],
            points=arrays["points"],
            pen_widths=arrays["pen"],
            source_lines=arrays["source_line"],
            path=path,
        )
    count = len(dev_set.labels)
    shapes_ok = (
        dev_set.images.shape == (count, CANVAS_SIZE, CANVAS_SIZE)
        and dev_set.images.dtype == np.uint8
        and dev_set.points.shape == (count, POINTS_PER_DIGIT, 2)
        and dev_set.pen_widths.shape == (count,)
        and dev_set.source_lines.shape == (count,)
    )
    if not shapes_ok:
        raise ValueError(
            f"{path} does not hold the dev set's arrays (images (N, 280, 280) uint8, labels, "
            "points (N, 8, 2), pen, source_line)."
        )
    return dev_set


def pen_training_digits(
    digits: PenDigits | None = None, dev_set: PenDevSet | None = None
) -> PenDigits:
    """The raw digits a model may learn from: every line the dev set does not come from.

    Args:
        digits: the raw digits (default: `load_pen_digits()`).
        dev_set: the dev set whose lines are left out (default: `load_pen_dev_set()`).
    """
    digits = digits if digits is not None else load_pen_digits()
    dev_set = dev_set if dev_set is not None else load_pen_dev_set()
    keep = ~np.isin(digits.source_lines, dev_set.source_lines)
    return PenDigits(digits.points[keep], digits.labels[keep], digits.source_lines[keep])


def catmull_rom_curve(points: np.ndarray, steps: int = CURVE_STEPS) -> np.ndarray:
    """A smooth curve through `points` (uniform Catmull-Rom), `steps` points per segment.

    Args:
        points: (K, 2) float, K >= 2, the points the curve passes through in order.
        steps: curve points per segment (default 12), >= 1.

    Returns:
        float64 (steps * (K - 1) + 1, 2): the curve, from the first point to the last.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 2:
        raise ValueError(f"points has shape {points.shape}; expected (K, 2) with K >= 2.")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps is {steps!r}; expected an integer >= 1.")
    # The end points are repeated so that the curve starts and ends on them.
    padded = np.concatenate((points[:1], points, points[-1:]))
    t = np.arange(steps, dtype=np.float64)[:, None] / steps
    t2, t3 = t * t, t * t * t
    pieces = []
    for index in range(len(points) - 1):
        p0, p1, p2, p3 = padded[index : index + 4]
        pieces.append(
            0.5
            * (
                2 * p1
                + (p2 - p0) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                + (3 * p1 - p0 - 3 * p2 + p3) * t3
            )
        )
    pieces.append(points[-1:])
    return np.concatenate(pieces)


def draw_pen_path(
    canvas_points: np.ndarray, pen_width: float, canvas_size: int = CANVAS_SIZE
) -> np.ndarray:
    """Draw a smooth curve through path points with a round pen, dark ink on white paper.

    Args:
        canvas_points: (K, 2) path points in canvas pixels (x, y down).
        pen_width: the pen's width in pixels, > 0.
        canvas_size: the square canvas' side in pixels (default 280).

    Returns:
        uint8 (canvas_size, canvas_size): 0 where there is ink, 255 elsewhere.
    """
    if not (isinstance(pen_width, int | float | np.number) and pen_width > 0):
        raise ValueError(f"pen_width is {pen_width!r}; expected a number > 0.")
    curve = catmull_rom_curve(canvas_points)
    canvas = Image.new("L", (canvas_size, canvas_size), 255)
    draw = ImageDraw.Draw(canvas)
    width = max(1, round(float(pen_width)))
    draw.line(curve.ravel().tolist(), fill=0, width=width)
    # A round pen: a disc at every curve point closes the joints and rounds the ends
    # (quicker than Pillow's joint="curve", which draws its joints in Python).
    radius = (width - 1) / 2
    for box in np.concatenate((curve - radius, curve + radius), axis=1).tolist():
        draw.ellipse(box, fill=0)
    return np.asarray(canvas)


def render_pen_digit(
    points: np.ndarray,
    *,
    height_fraction: float,
    pen_width: float,
    center_x: float = 0.5,
    center_y: float = 0.5,
    rotation_degrees: float = 0.0,
    shear: float = 0.0,
    width_scale: float = 1.0,
    canvas_size: int = CANVAS_SIZE,
) -> np.ndarray:
    """Draw raw pen-digit points on a canvas, as the dev set was drawn (and slanted, if asked).

    The points (0..100, y up) are slanted and turned about their middle, then scaled
    uniformly so that the ink, pen included, is `height_fraction` of the canvas high (less if
    it would be wider than the canvas), and placed with the ink's box centred at
    (`center_x`, `center_y`), moved inwards where it would leave the canvas.

    Args:
        points: (8, 2) raw points, x and y in 0..100, y pointing up.
        height_fraction: the ink's height as a fraction of the canvas, in (0, 1].
        pen_width: the pen width in pixels.
        center_x: the ink box's centre, as a fraction of the canvas width (default 0.5).
        center_y: the same, of its height, 0 at the top (default 0.5).
        rotation_degrees: anticlockwise turn (default 0).
        shear: horizontal slant, x moved by `shear` times the height above the middle
            (default 0).
        width_scale: horizontal stretch before the turn (default 1).
        canvas_size: the canvas side in pixels (default 280).

    Returns:
        uint8 (canvas_size, canvas_size): 0 is ink, 255 white paper.
    """
    if not 0 < height_fraction <= 1:
        raise ValueError(f"height_fraction is {height_fraction!r}; expected a number in (0, 1].")
    xy = np.asarray(points, dtype=np.float64).copy()
    xy[:, 1] = RAW_COORDINATE_RANGE - xy[:, 1]  # y down, as on a canvas
    xy -= xy.mean(axis=0)
    xy[:, 0] = xy[:, 0] * width_scale - shear * xy[:, 1]
    angle = math.radians(rotation_degrees)
    # Anticlockwise on screen, where y points down.
    turn = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    xy = xy @ turn.T
    low, high = xy.min(axis=0), xy.max(axis=0)
    extent = np.maximum(high - low, 1.0)
    ink_height = height_fraction * canvas_size
    scale = max(ink_height - pen_width, 1.0) / extent[1]
    if extent[0] * scale + pen_width > canvas_size:
        scale = max(canvas_size - pen_width, 1.0) / extent[0]
    xy = (xy - low) * scale
    box = (high - low) * scale + pen_width
    offsets = []
    for axis, center in ((0, center_x), (1, center_y)):
        free = canvas_size - box[axis]
        offsets.append(min(max(center * canvas_size - box[axis] / 2, 0.0), max(free, 0.0)))
    canvas_points = xy + np.array(offsets) + pen_width / 2
    return draw_pen_path(canvas_points, pen_width, canvas_size)


def random_pen_drawing(
    points: np.ndarray,
    rng: np.random.Generator,
    *,
    max_rotation_degrees: float = 10.0,
    max_shear: float = 0.2,
    max_width_change: float = 0.15,
    jitter: float = 2.0,
    canvas_size: int = CANVAS_SIZE,
) -> np.ndarray:
    """Draw raw pen-digit points with random size, place, pen and slant, for training.

    Size, place and pen are drawn from the dev set's ranges (the pen scaled with the canvas
    when it is not the dev set's 280 pixels); the turn, slant, width and a small random move
    of every point (in raw units, 0..100) vary the writer's hand.

    Args:
        points: (8, 2) raw points, 0..100, y up.
        rng: the random generator.
        max_rotation_degrees: turns from -this to +this (default 10).
        max_shear: slants from -this to +this (default 0.2).
        max_width_change: widths from 1 - this to 1 + this times the writer's (default 0.15).
        jitter: standard deviation of each point's random move, raw units (default 2).
        canvas_size: the canvas side in pixels (default 280, the dev set's).

    Returns:
        uint8 (canvas_size, canvas_size): 0 is ink, 255 white paper.
    """
    moved = np.asarray(points, dtype=np.float64) + rng.normal(0.0, jitter, size=(8, 2))
    return render_pen_digit(
        moved,
        height_fraction=float(rng.uniform(*DEV_HEIGHT_FRACTION_RANGE)),
        pen_width=float(rng.uniform(*DEV_PEN_WIDTH_RANGE)) * canvas_size / CANVAS_SIZE,
        center_x=float(rng.uniform(0.0, 1.0)),
        center_y=float(rng.uniform(0.0, 1.0)),
        rotation_degrees=float(rng.uniform(-max_rotation_degrees, max_rotation_degrees)),
        shear=float(rng.uniform(-max_shear, max_shear)),
        width_scale=float(1.0 + rng.uniform(-max_width_change, max_width_change)),
        canvas_size=canvas_size,
    )


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise ValueError(f"{path} is missing; it is committed with the project.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} cannot be read: {error}") from None
