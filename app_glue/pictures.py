"""Pictures of images for the pages: enlarged so that their pixels stay sharp, scaled to fit a
box, framed on the white page."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageOps

# What the pages pass around as an image, (height, width), uint8 or floats in [0, 1], or as a
# layer's output: a numpy array.
ImageArray = np.ndarray


def enlarged_picture(image: ImageArray, pixels: int) -> Image.Image:
    """A 28x28 image (uint8, or floats in [0, 1]) enlarged so that its pixels stay sharp."""
    if image.dtype != np.uint8:
        image = (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)
    return Image.fromarray(image).resize((pixels, pixels), Image.Resampling.NEAREST)


def picture(image: ImageArray, box: int, frame: bool = False) -> Image.Image:
    """A float image in [0, 1] scaled to fit a `box`-pixel square; enlarged without smoothing.

    Args:
        image: (H, W) float image in [0, 1].
        box: side of the square the picture must fit, in pixels.
        frame: draw a thin grey frame (for white pictures on the white page).
    """
    height, width = image.shape
    scale = box / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.BOX
    pixels = Image.fromarray(np.rint(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8))
    resized = pixels.resize(size, resample)
    return framed(resized) if frame else resized


def framed(image: Image.Image) -> Image.Image:
    """A thin grey frame around a picture on white paper (the page is white too)."""
    return ImageOps.expand(image, border=1, fill=200 if image.mode == "L" else (200, 200, 200))


def shrunk_picture(pixels: Any, box: int) -> Image.Image:
    """An RGB or grey uint8 array as a picture that fits a `box`-pixel square, framed."""
    shown = Image.fromarray(pixels)
    shown.thumbnail((box, box), Image.Resampling.BOX)
    return framed(shown)


def mosaic(images: Any, columns: int, *, scale: int = 2, gap: int = 2) -> Image.Image:
    """Many 28x28 uint8 images (white ink on black) as one picture: a grid of `columns`, each
    enlarged `scale` times without smoothing, `gap` grey pixels apart (one picture, however
    many drawings: a page shows thousands without thousands of images).

    Args:
        images: (N, 28, 28) uint8, N >= 1.
        columns: tiles a row (fewer when N is smaller).
        scale: each pixel becomes scale x scale pixels.
        gap: grey pixels between tiles (before scaling).
    """
    images = np.asarray(images, dtype=np.uint8)
    count, side = len(images), images.shape[1]
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    step = side + gap
    sheet = np.full((rows * step - gap, columns * step - gap), 90, dtype=np.uint8)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        sheet[row * step : row * step + side, column * step : column * step + side] = image
    return Image.fromarray(sheet).resize(
        (sheet.shape[1] * scale, sheet.shape[0] * scale), Image.Resampling.NEAREST
    )
