"""Drawings that are not digits: letters, scribbles, shapes, crosses, dots and stray strokes,
drawn as the Draw page's canvas sends a drawing (280x280, dark ink on white paper).

A network that has only seen digits calls everything a digit, and confidently so (an X an 8 at
99%). `mnist_core.reading.not_a_digit` says "that does not look like a digit" instead; these
drawings are what it is measured (and tuned) on:

- ``nondigits/non_digit_eval.npz`` (`load_non_digit_set`): the committed evaluation set, made
  once by `make_non_digits` with letters from the evaluation fonts (see its README);
- `make_non_digits` with other fonts and another seed: the tuning set, made when the detector is
  fitted (`bench/not_a_digit.py --fit`) and never committed, so that the two never meet.

Letters that a hand writes like a digit (O, I, Z, S, B, g, ...: `DIGIT_LIKE_LETTERS`) are left
out, as are closed round shapes (a 0) and upright strokes (a 1): these are digits to a reader.
Rendering fonts needs their files (Debian's handwriting fonts); reading the committed set does not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from mnist_core.base.paths import package_directory
from mnist_core.data.pen_digits import DEV_PEN_WIDTH_RANGE, catmull_rom_curve

NON_DIGITS_DIRECTORY = package_directory() / "data" / "nondigits"
EVAL_SET_FILE_NAME = "non_digit_eval.npz"
CANVAS_SIZE = 280
KINDS = ("letter", "scribble", "shape", "cross", "dot", "stroke")
# Letters that handwriting makes look like a digit (O 0, I l 1, Z 2, S 5, b G 6, B 8, g q 9,
# ...): left out, whatever a detector would make of them.
DIGIT_LIKE_LETTERS = "BDGIJOQSZbdgijloqsz"
LETTERS = "ACEFHKLMNPRTUVWXYacefhkmnrtuvwxy"
# How much of the canvas' height a drawing takes (as the pen dev set's digits do).
HEIGHT_FRACTION_RANGE = (0.35, 0.85)


@dataclass(frozen=True)
class NonDigitSet:
    """Drawings that are not digits.

    Attributes:
        images: uint8 (N, 280, 280), 0 is ink and 255 paper, as the Draw page sends a drawing.
        kinds: uint8 (N,), an index into `KINDS`.
        letters: (N,) str, the letter drawn ("" for the other kinds).
        fonts: (N,) str, the font's file name ("" for the other kinds).
        path: the file it was read from ("" when made in memory).
    """

    images: np.ndarray
    kinds: np.ndarray
    letters: np.ndarray
    fonts: np.ndarray
    path: str = ""

    def kind_names(self) -> list[str]:
        """The kind of each drawing, by name."""
        return [KINDS[int(kind)] for kind in self.kinds]


def load_non_digit_set(path: str | Path | None = None) -> NonDigitSet:
    """Read the committed evaluation set of non-digits.

    Args:
        path: the ``.npz`` file (default: ``mnist_core/data/nondigits/non_digit_eval.npz``).
    """
    path = Path(path) if path is not None else NON_DIGITS_DIRECTORY / EVAL_SET_FILE_NAME
    if not path.is_file():
        raise ValueError(f"{path} is missing; it is committed with the project.")
    with np.load(path, allow_pickle=False) as arrays:
        # Stored as one bit a pixel (1 is ink): back to dark ink on white paper.
        ink = np.unpackbits(arrays["ink"], axis=1, count=CANVAS_SIZE * CANVAS_SIZE)
        found = NonDigitSet(
            images=np.where(ink > 0, 0, 255).astype(np.uint8).reshape(-1, CANVAS_SIZE, CANVAS_SIZE),
            kinds=arrays["kinds"],
            letters=arrays["letters"],
            fonts=arrays["fonts"],
            path=str(path),
        )
    if not (len(found.kinds) == len(found.images) == len(found.letters) == len(found.fonts)):
        raise ValueError(f"{path} does not hold matching arrays (ink, kinds, letters, fonts).")
    return found


def save_non_digit_set(found: NonDigitSet, path: str | Path) -> None:
    """Write a set of non-digits compactly: ink as one bit a pixel, zip-compressed."""
    ink = np.packbits((found.images < 128).reshape(len(found.images), -1), axis=1)
    np.savez_compressed(
        path,
        ink=ink,
        kinds=found.kinds.astype(np.uint8),
        letters=found.letters.astype("U1"),
        fonts=found.fonts.astype("U64"),
    )


def draw_strokes(
    strokes: Sequence[np.ndarray],
    pen_width: float,
    *,
    smooth: bool = False,
    canvas_size: int = CANVAS_SIZE,
) -> np.ndarray:
    """Strokes of a round pen, dark ink on white paper.

    Args:
        strokes: each (K, 2) points in canvas pixels (x, y down), K >= 1 (one point: a dot).
        pen_width: the pen's width in pixels, > 0.
        smooth: a smooth curve through the points (Catmull-Rom) instead of straight lines.
        canvas_size: the square canvas' side in pixels (default 280).

    Returns:
        uint8 (canvas_size, canvas_size): 0 where there is ink, 255 elsewhere.
    """
    canvas = Image.new("L", (canvas_size, canvas_size), 255)
    draw = ImageDraw.Draw(canvas)
    width = max(1, round(float(pen_width)))
    radius = (width - 1) / 2
    for stroke in strokes:
        points = np.asarray(stroke, dtype=np.float64).reshape(-1, 2)
        if smooth and len(points) >= 3:
            points = catmull_rom_curve(points)
        if len(points) >= 2:
            draw.line(points.ravel().tolist(), fill=0, width=width)
        for x, y in points.tolist():
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=0)
    return np.asarray(canvas)


def _placed(
    strokes: Sequence[np.ndarray], rng: np.random.Generator, pen: float, height: float
) -> list[np.ndarray]:
    """Strokes drawn in a unit box, scaled so their ink is `height` of the canvas high (less if
    too wide), and put anywhere on the canvas where they fit."""
    every = np.concatenate(strokes)
    low, high = every.min(axis=0), every.max(axis=0)
    extent = np.maximum(high - low, 1e-3)
    scale = max(height * CANVAS_SIZE - pen, 1.0) / extent[1]
    scale = min(scale, max(CANVAS_SIZE * 0.95 - pen, 1.0) / extent[0])
    box = extent * scale + pen
    offset = (
        np.array([rng.uniform(0, max(CANVAS_SIZE - box[axis], 0.0)) for axis in (0, 1)]) + pen / 2
    )
    return [(stroke - low) * scale + offset for stroke in strokes]


def _turned(points: np.ndarray, degrees: float) -> np.ndarray:
    angle = math.radians(degrees)
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    middle = points.mean(axis=0)
    return (points - middle) @ turn.T + middle


def random_scribble(rng: np.random.Generator, pen: float) -> np.ndarray:
    """One to three strokes that wander and turn back on themselves."""
    strokes = []
    for _ in range(int(rng.integers(1, 4))):
        count = int(rng.integers(8, 22))
        heading, position, points = rng.uniform(0, 2 * math.pi), rng.uniform(0, 1, 2), []
        for _ in range(count):
            heading += rng.normal(0, 1.3)
            position = position + 0.25 * np.array([math.cos(heading), math.sin(heading)])
            points.append(position)
        strokes.append(np.array(points))
    height = rng.uniform(*HEIGHT_FRACTION_RANGE)
    return draw_strokes(_placed(strokes, rng, pen, height), pen, smooth=True)


def random_shape(rng: np.random.Generator, pen: float) -> np.ndarray:
    """A triangle, a rectangle, a star, a spiral, a zigzag, a wave, an arrow or a tick."""
    name = rng.choice(
        ["triangle", "rectangle", "star", "spiral", "zigzag", "wave", "arrow", "tick"]
    )
    smooth = False
    if name == "triangle":
        strokes = [np.array([[0.5, 0], [1, 1], [0, 1], [0.5, 0]])]
    elif name == "rectangle":
        width = rng.uniform(0.6, 1.6)
        strokes = [np.array([[0, 0], [width, 0], [width, 1], [0, 1], [0, 0]])]
    elif name == "star":
        angles = np.pi / 2 + np.arange(6) * 4 * np.pi / 5
        strokes = [np.stack([np.cos(angles), -np.sin(angles)], axis=1)]
    elif name == "spiral":
        turns = np.linspace(0, rng.uniform(2.2, 3.5) * 2 * np.pi, 60)
        strokes, smooth = [np.stack([turns * np.cos(turns), turns * np.sin(turns)], axis=1)], True
    elif name == "zigzag":
        count = int(rng.integers(5, 9))
        strokes = [np.array([[index, index % 2] for index in range(count)], dtype=float)]
        strokes[0][:, 1] *= rng.uniform(0.8, 2.5)
    elif name == "wave":
        x = np.linspace(0, rng.uniform(2.5, 4.5) * np.pi, 40)
        strokes, smooth = [np.stack([x, rng.uniform(0.6, 1.6) * np.sin(x)], axis=1)], True
    elif name == "arrow":
        strokes = [np.array([[0, 0.5], [1, 0.5]]), np.array([[0.7, 0.2], [1, 0.5], [0.7, 0.8]])]
    else:  # a tick, left to right
        strokes = [np.array([[0, 0.6], [0.3, 1], [1, 0]])]
    turn = rng.uniform(-25, 25)
    strokes = [_turned(stroke, turn) for stroke in strokes]
    return draw_strokes(
        _placed(strokes, rng, pen, rng.uniform(*HEIGHT_FRACTION_RANGE)), pen, smooth=smooth
    )


def random_cross(rng: np.random.Generator, pen: float) -> np.ndarray:
    """An x, a plus, an asterisk or a hash, at any slant."""
    name = rng.choice(["x", "plus", "asterisk", "hash"])
    if name == "x":
        strokes = [np.array([[0, 0], [1, 1]]), np.array([[1, 0], [0, 1]])]
    elif name == "plus":
        strokes = [np.array([[0.5, 0], [0.5, 1]]), np.array([[0, 0.5], [1, 0.5]])]
    elif name == "asterisk":
        strokes = [
            np.array(
                [
                    [0.5 + 0.5 * math.cos(a), 0.5 + 0.5 * math.sin(a)],
                    [0.5 - 0.5 * math.cos(a), 0.5 - 0.5 * math.sin(a)],
                ]
            )
            for a in np.pi / 2 + np.arange(3) * np.pi / 3
        ]
    else:
        strokes = [
            np.array([[0.33, 0], [0.33, 1]]), np.array([[0.67, 0], [0.67, 1]]),
            np.array([[0, 0.33], [1, 0.33]]), np.array([[0, 0.67], [1, 0.67]]),
        ]  # fmt: skip
    turn = rng.uniform(-20, 20)
    jitter = [stroke + rng.normal(0, 0.04, stroke.shape) for stroke in strokes]
    strokes = [_turned(stroke, turn) for stroke in jitter]
    return draw_strokes(_placed(strokes, rng, pen, rng.uniform(*HEIGHT_FRACTION_RANGE)), pen)


def random_dots(rng: np.random.Generator, pen: float) -> np.ndarray:
    """One to four taps of the pen, anywhere (a dot is the most common stray touch)."""
    count = int(rng.choice([1, 1, 1, 2, 3, 4]))
    points = rng.uniform(pen, CANVAS_SIZE - pen, size=(count, 2))
    if count > 1:  # close together, as a few taps are
        points = points[:1] + rng.normal(0, CANVAS_SIZE * 0.12, size=(count, 2))
        points = np.clip(points, pen, CANVAS_SIZE - pen)
    return draw_strokes([point[None] for point in points], pen * rng.uniform(0.8, 1.6))


def random_stray_stroke(rng: np.random.Generator, pen: float) -> np.ndarray:
    """A short mark: a dash at any slant but upright (upright it is a 1), a small arc or hook."""
    name = rng.choice(["dash", "arc", "hook"])
    length = rng.uniform(0.05, 0.3) * CANVAS_SIZE
    start = rng.uniform(0.2, 0.8, 2) * CANVAS_SIZE
    if name == "dash":
        angle = math.radians(rng.uniform(-55, 55) + rng.choice([0, 180]))
        stroke = np.array([start, start + length * np.array([math.cos(angle), math.sin(angle)])])
        return draw_strokes([stroke], pen)
    sweep = np.linspace(0, rng.uniform(0.6, 1.4) * math.pi, 12) + rng.uniform(0, 2 * math.pi)
    stroke = start + 0.5 * length * np.stack([np.cos(sweep), np.sin(sweep)], axis=1)
    if name == "hook":
        stroke = np.concatenate([stroke, stroke[-1:] + rng.normal(0, 0.3 * length, (1, 2))])
    return draw_strokes([np.clip(stroke, 0, CANVAS_SIZE - 1)], pen, smooth=True)


def font_has(font: ImageFont.FreeTypeFont, letter: str) -> bool:
    """Whether a font draws `letter` as a glyph of its own (not the missing-glyph box)."""
    mask = font.getmask(letter)
    if mask.getbbox() is None:
        return False
    missing = font.getmask("\uffff")
    return not (mask.size == missing.size and bytes(mask) == bytes(missing))


def vary_hand(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A canvas drawing as another hand would make it: a thicker or thinner pen, a slant."""
    picture = Image.fromarray(image)
    size = int(rng.choice([0, 3, 5, 7, -3, -5]))
    if size > 0:
        picture = picture.filter(ImageFilter.MinFilter(size))  # the dark ink spreads
    elif size < 0:
        picture = picture.filter(ImageFilter.MaxFilter(-size))  # the paper eats into it
    shear = rng.uniform(-0.3, 0.3)
    middle = CANVAS_SIZE / 2
    return np.asarray(
        picture.transform(
            picture.size,
            Image.Transform.AFFINE,
            (1, shear, -shear * middle, 0, 1, 0),
            fillcolor=255,
        )
    )


def render_letter(letter: str, font_path: str | Path, rng: np.random.Generator) -> np.ndarray:
    """A letter in a font, as a canvas drawing: any height of `HEIGHT_FRACTION_RANGE`, a slight
    turn, anywhere on the canvas."""
    font = ImageFont.truetype(str(font_path), 200)
    glyph = Image.new("L", (420, 420), 0)
    ImageDraw.Draw(glyph).text((210, 210), letter, font=font, fill=255, anchor="mm")
    glyph = glyph.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BILINEAR)
    box = glyph.getbbox()
    if box is None:
        raise ValueError(f"{Path(font_path).name} draws nothing for {letter!r}.")
    glyph = glyph.crop(box)
    height = rng.uniform(*HEIGHT_FRACTION_RANGE) * CANVAS_SIZE
    scale = min(height / glyph.height, CANVAS_SIZE * 0.95 / glyph.width)
    size = (max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale)))
    glyph = glyph.resize(size, Image.Resampling.LANCZOS)
    canvas = Image.new("L", (CANVAS_SIZE, CANVAS_SIZE), 0)
    left = int(rng.integers(0, CANVAS_SIZE - size[0] + 1))
    top = int(rng.integers(0, CANVAS_SIZE - size[1] + 1))
    canvas.paste(glyph, (left, top))
    return 255 - np.asarray(canvas)


def make_non_digits(
    counts: dict[str, int], font_paths: Sequence[str | Path], seed: int, *, vary: bool = False
) -> NonDigitSet:
    """Make non-digits of each kind, letters from the given fonts.

    Args:
        counts: how many of each kind of `KINDS`.
        font_paths: the fonts letters are drawn in (each letter of `LETTERS` a font has).
        seed: the random seed (the same seed and fonts give the same drawings).
        vary: draw each letter as another hand would (`vary_hand`: pen width, slant), for
            tuning on many hands from few fonts; the evaluation set's letters are the fonts' own.
    """
    rng = np.random.default_rng(seed)
    makers = {
        "scribble": random_scribble,
        "shape": random_shape,
        "cross": random_cross,
        "dot": random_dots,
        "stroke": random_stray_stroke,
    }
    choices = [
        (letter, Path(path))
        for path in font_paths
        for letter in LETTERS
        if font_has(ImageFont.truetype(str(path), 200), letter)
    ]
    images, kinds, letters, fonts = [], [], [], []
    for kind, count in counts.items():
        if kind not in KINDS:
            raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}.")
        for _ in range(count):
            pen = float(rng.uniform(*DEV_PEN_WIDTH_RANGE))
            if kind == "letter":
                letter, path = choices[int(rng.integers(len(choices)))]
                drawn = render_letter(letter, path, rng)
                images.append(vary_hand(drawn, rng) if vary else drawn)
                letters.append(letter)
                fonts.append(path.name)
            else:
                images.append(makers[kind](rng, pen))
                letters.append("")
                fonts.append("")
            kinds.append(KINDS.index(kind))
    return NonDigitSet(
        images=np.stack(images),
        kinds=np.array(kinds, dtype=np.uint8),
        letters=np.array(letters, dtype="U1"),
        fonts=np.array(fonts, dtype="U64"),
    )
