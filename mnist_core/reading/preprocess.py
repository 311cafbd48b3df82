"""Turn a drawing or an image file into a 28x28 digit made the way MNIST's own digits were made.

MNIST's digits were fitted into a 20x20 box keeping their aspect ratio (anti-aliased by the
resize), then placed in a 28x28 field so that their centre of mass sits at the centre.
Resizing a whole canvas to 28x28 skips both steps: a digit drawn small or off-centre then
reaches the model small or off-centre, and the model (which never saw such digits) fails.

The steps, in order (each kept in `PreprocessingSteps` for the app's step-by-step view):

1. grey: RGBA is composited onto paper, colour is converted to grey (as the image looks).
2. inverted: ink made white (1) on black (0), as in MNIST. The paper colour is the median
   of the border pixels: on light paper the image is inverted. The paper level is then
   subtracted and the contrast stretched so that the strongest ink is 1.
3. cropped: cut to the bounding box of the ink.
4. fitted: resized into a 20x20 box, keeping the aspect ratio, averaging areas.
5. centred: placed in 28x28 with its centre of mass at pixel (14, 14).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

IMAGE_SIZE = 28
# MNIST fitted every digit into a 20x20 box inside the 28x28 field.
FIT_SIZE = 20
# MNIST's centres of mass lie at row 14, column 14 (in pixel indices, 0..27) after an
# integer shift: measured on the test set, mean 13.99 and 14.01, all within [13.5, 14.5].
CENTRE_OF_MASS = (14.0, 14.0)
# Contrast (0..1) between paper and the strongest ink that counts as a drawing. Below it
# (blank, uniform, faint noise, a JPEG's artefacts on white paper) there is no ink.
INK_THRESHOLD = 0.2
# A pixel belongs to the ink's bounding box from this ink level on (after stretching the
# contrast): low enough to keep anti-aliased edges, high enough to skip faint noise.
CROP_THRESHOLD = 0.1
# Fewer ink pixels than this fraction of the image (a speck of dust) is no drawing.
MIN_INK_AREA_FRACTION = 1e-4

# ITU-R 601-2 luma, the weights Pillow uses for convert("L").
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class PreprocessingSteps:
    """Every intermediate image of `preprocess_drawing_steps`, float32 in [0, 1].

    Attributes:
        grey: the input as grey, transparent parts composited onto paper; as it looks
            (dark ink stays dark), same height and width as the input.
        inverted: ink = 1 on background = 0, paper level removed, contrast stretched;
            same size as the input.
        cropped: `inverted` cut to the ink's bounding box.
        fitted: `cropped` resized to fit a 20x20 box, aspect ratio kept.
        centred: (28, 28), `fitted` placed with its centre of mass at (14, 14).
    """

    grey: np.ndarray
    inverted: np.ndarray
    cropped: np.ndarray
    fitted: np.ndarray
    centred: np.ndarray

    @property
    def result(self) -> np.ndarray:
        """The final (28, 28) image, the one a model takes."""
        return self.centred


def preprocess_drawing(image: np.ndarray) -> np.ndarray | None:
    """Turn a drawing or an image file into a (28, 28) MNIST-style digit.

    Args:
        image: what a canvas or a file gives: (H, W) grey, or (H, W, C) with C = 1 (grey),
            2 (grey + alpha), 3 (RGB) or 4 (RGBA); uint8 (0-255) or float (0-1); any size;
            dark ink on light paper or light ink on dark; transparent parts count as paper.

    Returns:
        float32 array of shape (28, 28) in [0, 1], white ink (1) on black (0), or None when
        the image holds no ink (blank, fully transparent, uniform, or only faint noise).
    """
    steps = preprocess_drawing_steps(image)
    return None if steps is None else steps.result


def preprocess_drawing_steps(image: np.ndarray) -> PreprocessingSteps | None:
    """Preprocess as `preprocess_drawing` does, keeping every intermediate image.

    Args:
        image: as for `preprocess_drawing`.

    Returns:
        The `PreprocessingSteps`, or None when the image holds no ink.
    """
    grey = _to_grey(_validate_image(image, "image"))
    inverted = _ink_on_black(grey)
    if inverted is None:
        return None
    ink_rows, ink_columns = _ink_extent(inverted)
    if ink_rows is None:
        return None
    cropped = inverted[ink_rows, ink_columns].copy()
    fitted = _fit_into_box(cropped, FIT_SIZE)
    centred = _centre_by_mass(fitted, IMAGE_SIZE)
    return PreprocessingSteps(
        grey=grey, inverted=inverted, cropped=cropped, fitted=fitted, centred=centred
    )


def add_gaussian_noise(image: np.ndarray, sigma: float, seed: int | None = None) -> np.ndarray:
    """Add N(0, sigma) noise to one image or a batch, clipped to [0, 1].

    Args:
        image: float image(s) in [0, 1], shape (H, W) or (N, H, W); uint8 (0-255) is
            scaled to [0, 1] first.
        sigma: standard deviation of the noise, in units of the [0, 1] pixel range;
            finite and >= 0. 0 returns an unchanged float32 copy.
        seed: seed of the random generator (same seed, same noise); None draws fresh noise.

    Returns:
        float32 array of the same shape as `image`, in [0, 1].
    """
    images = np.asarray(image)
    if images.ndim not in (2, 3) or images.size == 0:
        raise ValueError(
            f"image has shape {images.shape}; expected one image (H, W) or a batch (N, H, W)."
        )
    images = _as_unit_float(images, "image")
    if (
        isinstance(sigma, bool)
        or not isinstance(sigma, int | float | np.integer | np.floating)
        or not math.isfinite(sigma)
        or sigma < 0
    ):
        raise ValueError(f"sigma is {sigma!r}; expected a finite number >= 0.")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0
    ):
        raise ValueError(f"seed is {seed!r}; expected None or an integer >= 0.")
    if sigma == 0:
        return images.copy()
    noise = np.random.default_rng(seed).standard_normal(images.shape, dtype=np.float32)
    noisy = images + np.float32(sigma) * noise
    return np.clip(noisy, 0.0, 1.0, out=noisy)


def _validate_image(image: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(image)
    channels_ok = array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 2, 3, 4))
    if not channels_ok or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(
            f"{name} has shape {array.shape}; expected (H, W) grey or (H, W, C) with "
            "C = 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA), H and W >= 1."
        )
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    return _as_unit_float(array, name)


def _as_unit_float(array: np.ndarray, name: str) -> np.ndarray:
    """uint8 (0-255), bool or float (0-1) -> float32 in [0, 1]; anything else is an error."""
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255)
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"{name} has dtype {array.dtype}; expected uint8 (0-255) or float (0-1).")
    values = array.astype(np.float32)
    low, high = float(values.min()), float(values.max())
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{name} contains NaN or infinite values; expected floats in [0, 1].")
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"{name} has float values from {low:g} to {high:g}; expected floats in [0, 1] "
            "(or uint8 in 0-255)."
        )
    return values


def _to_grey(image: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 2|3|4) float in [0, 1] -> (H, W) grey, transparent parts as paper."""
    if image.ndim == 2:
        return image
    channels = image.shape[2]
    grey = image[:, :, :3] @ _LUMA_WEIGHTS if channels in (3, 4) else image[:, :, 0].copy()
    if channels in (2, 4):
        alpha = image[:, :, -1]
        # The canvas sends strokes on a fully transparent background: paper is white,
        # unless the strokes are light (white ink), which then go on black paper. When
        # most of the image is opaque, it carries its own paper: transparent margins go white.
        paper = np.float32(1.0)
        alpha_sum = float(alpha.sum())
        if 0 < alpha_sum < 0.5 * alpha.size and float((grey * alpha).sum()) > 0.5 * alpha_sum:
            paper = np.float32(0.0)
        grey = grey * alpha + paper * (1 - alpha)
    return np.clip(grey, 0.0, 1.0, out=grey).astype(np.float32, copy=False)


def _border_median(image: np.ndarray) -> float:
    border = np.concatenate((image[0], image[-1], image[1:-1, 0], image[1:-1, -1]))
    return float(np.median(border))


def _ink_on_black(grey: np.ndarray) -> np.ndarray | None:
    """Make ink 1 on black 0, paper level removed and contrast stretched; None if no ink."""
    ink = 1.0 - grey if _border_median(grey) > 0.5 else grey
    paper = _border_median(ink)
    strongest = float(ink.max())
    if strongest - paper < INK_THRESHOLD:
        return None
    stretched = (ink - np.float32(paper)) * np.float32(1.0 / (strongest - paper))
    return np.clip(stretched, 0.0, 1.0, out=stretched)


def _ink_extent(ink: np.ndarray) -> tuple[slice, slice] | tuple[None, None]:
    """The bounding box of the ink as (rows, columns) slices, or (None, None) if too little ink."""
    is_ink = ink >= CROP_THRESHOLD
    minimum_pixels = max(1, math.ceil(MIN_INK_AREA_FRACTION * ink.size))
    if np.count_nonzero(is_ink) < minimum_pixels:
        return None, None
    rows = np.flatnonzero(is_ink.any(axis=1))
    columns = np.flatnonzero(is_ink.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1)


def _fit_into_box(image: np.ndarray, box_size: int) -> np.ndarray:
    """Resize so the longer side is `box_size`, keeping the aspect ratio."""
    height, width = image.shape
    scale = box_size / max(height, width)
    new_height = min(box_size, max(1, round(height * scale)))
    new_width = min(box_size, max(1, round(width * scale)))
    if (new_height, new_width) == (height, width):
        return image.copy()
    # Shrinking averages areas, as MNIST's anti-aliasing did; enlarging (a digit smaller
    # than the box, as in a 28x28 file) interpolates instead of repeating pixels.
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    resized = Image.fromarray(image).resize((new_width, new_height), resample)
    fitted = np.asarray(resized, dtype=np.float32).copy()
    return np.clip(fitted, 0.0, 1.0, out=fitted)


def _centre_by_mass(image: np.ndarray, field_size: int) -> np.ndarray:
    """Place `image` in a square field with its centre of mass as near the centre as fits."""
    height, width = image.shape
    total = float(image.sum())
    row_of_mass = float(image.sum(axis=1) @ np.arange(height, dtype=np.float32)) / total
    column_of_mass = float(image.sum(axis=0) @ np.arange(width, dtype=np.float32)) / total
    # Clamped so that no ink is cut off (only possible for very lopsided shapes).
    top = min(max(round(CENTRE_OF_MASS[0] - row_of_mass), 0), field_size - height)
    left = min(max(round(CENTRE_OF_MASS[1] - column_of_mass), 0), field_size - width)
    field = np.zeros((field_size, field_size), dtype=np.float32)
    field[top : top + height, left : left + width] = image
    return field
