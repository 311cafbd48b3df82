"""Canvas-like drawings made from MNIST digits, for tests and benchmarks.

A person draws on the app's canvas at any size, anywhere, with a pen whose width does not
follow the digit's size. `render_canvas_drawing` imitates that from a real MNIST digit:
it enlarges the digit to the requested height, turns it into a crisp pen shape, makes the
stroke thinner or thicker, anti-aliases the edges as a browser does, and places it on a
canvas-sized RGBA image like the one streamlit-drawable-canvas returns.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageFilter

# The parameter ranges used when a parameter is left to the random generator.
HEIGHT_FRACTION_RANGE = (0.3, 0.9)
STROKE_SCALE_RANGE = (0.6, 2.0)
INK_CHOICES = ("dark", "light")
BACKGROUND_CHOICES = ("white", "black", "transparent")

# Blurring a shape with a Gaussian of standard deviation d and keeping what lies above
# 1 - Phi(1) grows a straight edge by d pixels; above Phi(1) shrinks it by d pixels.
_GROW_LEVEL = 255 * (1 - 0.8413447)
_SHRINK_LEVEL = 255 * 0.8413447
# Standard deviation (pixels) of the blur that anti-aliases the pen's edges.
_ANTI_ALIAS_RADIUS = 0.7


def render_canvas_drawing(
    digit_image: np.ndarray,
    *,
    canvas_size: int = 280,
    height_fraction: float | None = None,
    center_x: float | None = None,
    center_y: float | None = None,
    stroke_scale: float | None = None,
    ink: str = "dark",
    background: str = "white",
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Draw an MNIST digit the way a person would on a square canvas.

    Args:
        digit_image: (H, W) uint8 digit, white ink on black (an MNIST image, (28, 28)).
        canvas_size: side of the square canvas in pixels (default 280).
        height_fraction: height of the drawn ink (stroke included) as a fraction of the
            canvas, in (0, 1]; a digit too wide for that height is made smaller to fit.
            None: drawn from `rng` in HEIGHT_FRACTION_RANGE (0.3 to 0.9).
        center_x: horizontal centre of the ink's bounding box as a fraction of the canvas
            width (0 = left edge, 1 = right edge); moved inwards as far as needed for the
            whole drawing to stay on the canvas. None: a random position where it fits.
        center_y: the same, vertically (0 = top).
        stroke_scale: pen width relative to the digit's own stroke width (1 keeps it,
            2 doubles it, 0.5 halves it), in [0.3, 4]. None: drawn from `rng` in
            STROKE_SCALE_RANGE (0.6 to 2.0).
        ink: "dark" (black pen) or "light" (white pen).
        background: "white", "black" (opaque paper) or "transparent" (alpha 0, like the
            canvas' default background: RGBA (0, 0, 0, 0)). Must contrast with `ink`.
        rng: random generator for the parameters left as None (required if any is None).

    Returns:
        uint8 RGBA array of shape (canvas_size, canvas_size, 4).
    """
    digit = _validate_digit(digit_image)
    canvas_size = _validate_canvas_size(canvas_size)
    if ink not in INK_CHOICES:
        raise ValueError(f"ink is {ink!r}; expected one of {INK_CHOICES}.")
    if background not in BACKGROUND_CHOICES:
        raise ValueError(f"background is {background!r}; expected one of {BACKGROUND_CHOICES}.")
    if (ink, background) in (("dark", "black"), ("light", "white")):
        raise ValueError(
            f"background is {background!r} with ink {ink!r}: no contrast; use "
            "ink 'dark' on 'white' or 'transparent', or ink 'light' on 'black' or 'transparent'."
        )
    needs_rng = None in (height_fraction, center_x, center_y, stroke_scale)
    if needs_rng and not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng is {rng!r}; expected a numpy Generator (np.random.default_rng(seed)) "
            "when height_fraction, center_x, center_y or stroke_scale is None."
        )
    if height_fraction is None:
        height_fraction = float(rng.uniform(*HEIGHT_FRACTION_RANGE))
    if stroke_scale is None:
        stroke_scale = float(rng.uniform(*STROKE_SCALE_RANGE))
    _check_range("height_fraction", height_fraction, 0.0, 1.0, low_inclusive=False)
    _check_range("stroke_scale", stroke_scale, 0.3, 4.0)
    for name, value in (("center_x", center_x), ("center_y", center_y)):
        if value is not None:
            _check_range(name, value, 0.0, 1.0)

    alpha = _pen_shape(digit, round(height_fraction * canvas_size), stroke_scale)
    alpha = _shrink_to_fit(alpha, round(height_fraction * canvas_size), canvas_size)
    height, width = alpha.shape
    top = _place(center_y, height, canvas_size, rng)
    left = _place(center_x, width, canvas_size, rng)
    canvas_alpha = np.zeros((canvas_size, canvas_size), dtype=np.float32)
    canvas_alpha[top : top + height, left : left + width] = alpha
    return _compose(canvas_alpha, ink, background)


def _validate_digit(digit_image: np.ndarray) -> np.ndarray:
    digit = np.asarray(digit_image)
    if digit.ndim != 2 or digit.dtype != np.uint8:
        raise ValueError(
            f"digit_image has shape {digit.shape} and dtype {digit.dtype}; expected a 2-D "
            "uint8 image such as an MNIST digit (28, 28)."
        )
    if not digit.any():
        raise ValueError("digit_image is blank (all zeros); expected a digit, white on black.")
    return digit


def _validate_canvas_size(canvas_size: int) -> int:
    if isinstance(canvas_size, bool) or not isinstance(canvas_size, int | np.integer):
        raise ValueError(f"canvas_size is {canvas_size!r}; expected an integer from 28 to 4096.")
    if not 28 <= canvas_size <= 4096:
        raise ValueError(f"canvas_size is {canvas_size}; expected an integer from 28 to 4096.")
    return int(canvas_size)


def _check_range(
    name: str, value: float, low: float, high: float, *, low_inclusive: bool = True
) -> None:
    ok_type = not isinstance(value, bool) and isinstance(value, int | float | np.number)
    above_low = ok_type and (value >= low if low_inclusive else value > low)
    if not (ok_type and math.isfinite(value) and above_low and value <= high):
        bracket = "[" if low_inclusive else "("
        raise ValueError(f"{name} is {value!r}; expected a number in {bracket}{low}, {high}].")


def _pen_shape(digit: np.ndarray, target_height: int, stroke_scale: float) -> np.ndarray:
    """The digit enlarged to about `target_height`, as anti-aliased pen ink (alpha in [0, 1])."""
    rows = np.flatnonzero(digit.any(axis=1))
    columns = np.flatnonzero(digit.any(axis=0))
    cropped = digit[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    scale = max(target_height, 1) / cropped.shape[0]
    new_size = (max(1, round(cropped.shape[1] * scale)), max(1, round(cropped.shape[0] * scale)))
    enlarged = Image.fromarray(cropped).resize(new_size, Image.Resampling.BICUBIC)
    # Smooth away the enlarged pixel steps; the half-intensity outline is then a pen shape.
    enlarged = enlarged.filter(ImageFilter.GaussianBlur(0.4 * scale))
    shape = np.asarray(enlarged) >= 128
    if not shape.any():
        shape = np.asarray(enlarged) >= np.asarray(enlarged).max()
    stroke_width = _stroke_width(shape)
    change = (stroke_scale - 1.0) * stroke_width / 2  # pixels added (or removed) on each side
    margin = math.ceil(max(change, 0.0)) + 4
    padded = np.pad(shape, margin).astype(np.uint8) * 255
    if abs(change) >= 0.5:
        blurred = np.asarray(
            Image.fromarray(padded).filter(ImageFilter.GaussianBlur(float(abs(change))))
        )
        level = _GROW_LEVEL if change > 0 else _SHRINK_LEVEL
        changed = np.where(blurred > level, np.uint8(255), np.uint8(0))
        # Thinning must not erase the digit: keep the original pen if most of it would go.
        if change > 0 or np.count_nonzero(changed) >= 0.25 * np.count_nonzero(padded):
            padded = changed
    alpha = np.asarray(
        Image.fromarray(padded).filter(ImageFilter.GaussianBlur(_ANTI_ALIAS_RADIUS)),
        dtype=np.float32,
    ) * np.float32(1 / 255)
    alpha[alpha < 0.02] = 0.0
    ink_rows = np.flatnonzero(alpha.any(axis=1))
    ink_columns = np.flatnonzero(alpha.any(axis=0))
    return alpha[ink_rows[0] : ink_rows[-1] + 1, ink_columns[0] : ink_columns[-1] + 1]


def _stroke_width(shape: np.ndarray) -> float:
    """Mean stroke width of a binary shape: for a long stroke, 2 * area / outline length."""
    area = np.count_nonzero(shape)
    eroded = np.asarray(
        Image.fromarray(np.pad(shape, 1).astype(np.uint8) * 255).filter(ImageFilter.MinFilter(3))
    )[1:-1, 1:-1]
    outline = np.count_nonzero(shape & (eroded == 0))
    return float(2.0 * area / max(outline, 1))


def _shrink_to_fit(alpha: np.ndarray, target_height: int, canvas_size: int) -> np.ndarray:
    """Resize the ink to `target_height` (stroke included), but never larger than the canvas."""
    height, width = alpha.shape
    scale = min(target_height / height, canvas_size / height, canvas_size / width)
    new_height = min(canvas_size, max(1, round(height * scale)))
    new_width = min(canvas_size, max(1, round(width * scale)))
    if (new_height, new_width) == (height, width):
        return alpha
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    resized = Image.fromarray(alpha).resize((new_width, new_height), resample)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def _place(
    center: float | None, size: int, canvas_size: int, rng: np.random.Generator | None
) -> int:
    """Offset of a drawing of `size` pixels so that it lies on the canvas."""
    free = canvas_size - size
    if center is None:
        return int(rng.integers(0, free + 1))
    return min(max(round(center * canvas_size - size / 2), 0), free)


def _compose(alpha: np.ndarray, ink: str, background: str) -> np.ndarray:
    coverage = np.round(alpha * 255).astype(np.uint8)
    rgba = np.empty(alpha.shape + (4,), dtype=np.uint8)
    if background == "transparent":
        # Like the browser canvas: the pen's colour where there is ink, (0, 0, 0, 0) elsewhere.
        ink_level = np.uint8(0 if ink == "dark" else 255)
        rgba[..., :3] = np.where(coverage > 0, ink_level, np.uint8(0))[..., None]
        rgba[..., 3] = coverage
        return rgba
    # Opaque paper: dark ink on white paper, or light ink on black paper.
    rgba[..., :3] = (255 - coverage if ink == "dark" else coverage)[..., None]
    rgba[..., 3] = 255
    return rgba
