"""Pictures from outside (an upload, the canvas' image data, a drawings zip, `predict`'s files),
checked from their header before anything is decoded.

A picture is opened lazily (Pillow reads only its header), its format must be one this page
lists (`ACCEPTED_FORMATS`), and its decoded size must fit `MAX_DECODED_BYTES`. A JPEG larger
than that, such as a 12 to 48 megapixel photo straight from a phone, is decoded at a fraction
of its size (Pillow's `draft`: the JPEG decoder scales by 1/2, 1/4 or 1/8 as it reads); any
other picture that large (a PNG of 13,000 x 13,000 pixels) is refused before decoding, with a
sentence saying what was received and what is allowed. Pillow's decompression-bomb warning is
an error here.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow's format names, and how the pages name them.
ACCEPTED_FORMATS = {
    "PNG": "PNG",
    "JPEG": "JPEG",
    "MPO": "JPEG",  # phone cameras' JPEGs with a second picture inside
    "BMP": "BMP",
    "GIF": "GIF",
    "TIFF": "TIFF",
    "WEBP": "WebP",
}
ACCEPTED_IMAGE_FILES = "PNG, JPEG, BMP, GIF, TIFF or WebP image files"
# File name endings an upload field takes (the same formats).
ACCEPTED_FILE_TYPES = ("png", "jpg", "jpeg", "bmp", "gif", "tif", "tiff", "webp")
# The memory a picture may take once decoded: 64 MiB, a 4,096 x 4,096 picture in colour with
# transparency (a phone's 12-megapixel photo fits; a 48-megapixel one is drafted down).
MAX_DECODED_BYTES = 64 * 1024 * 1024
BYTES_PER_PIXEL = 4
# A picture with a side over this is reduced after decoding (the digit becomes 20 pixels high
# anyway), so that preprocessing a photo takes milliseconds, not seconds.
MAX_IMAGE_SIDE = 2048


class ImageRefused(ValueError):  # noqa: N818 - a refusal, said to the user as it is
    """A picture that is not read; the message says what was received and what is allowed."""


def load_image_file(path: str | os.PathLike[str] | BinaryIO) -> np.ndarray:
    """Read a picture, checked from its header first, into an array `preprocess_drawing` takes.

    Args:
        path: a file path, or an open binary file (such as Streamlit's uploaded file).

    Returns:
        uint8 array: (H, W) for grey pictures without transparency, (H, W, 4) RGBA
        otherwise. A JPEG's EXIF orientation is applied; of an animated picture, the first
        frame is read; a side over MAX_IMAGE_SIDE is reduced to fit, keeping the proportions.

    Raises:
        ImageRefused: not a file, not a picture, a format not listed, or too large to decode.
    """
    is_file_object = hasattr(path, "read")
    name = getattr(path, "name", "<uploaded file>") if is_file_object else os.fspath(path)
    if not is_file_object:
        file_path = Path(name)
        if not file_path.exists():
            raise ImageRefused(
                f"Cannot read image {name!r}: no such file. Expected {ACCEPTED_IMAGE_FILES}."
            )
        if not file_path.is_file():
            raise ImageRefused(
                f"Cannot read image {name!r}: not a file. Expected {ACCEPTED_IMAGE_FILES}."
            )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:  # reads the header only
                _check_header(opened, name)
                picture = _decode(opened)
    except ImageRefused:
        raise
    except UnidentifiedImageError:
        problem = "not an image Pillow can read"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused(_too_large(name, _header_size(path))) from None
    except (OSError, SyntaxError, ValueError) as error:
        # Truncated or corrupt files raise OSError (and SyntaxError for some formats).
        problem = f"unreadable image ({error})"
    else:
        return np.array(picture)
    raise ImageRefused(f"Cannot read image {name!r}: {problem}. Expected {ACCEPTED_IMAGE_FILES}.")


def decoded_bytes(width: int, height: int) -> int:
    """What a picture of this size takes once decoded, at most (colour with transparency)."""
    return width * height * BYTES_PER_PIXEL


def _check_header(opened: Image.Image, name: str) -> None:
    shown = ACCEPTED_FORMATS.get(opened.format or "")
    if shown is None:
        raise ImageRefused(
            f"{name!r} is a {opened.format or 'unknown'} picture; this page reads "
            f"{ACCEPTED_IMAGE_FILES}. Save it as PNG or JPEG and upload it again."
        )
    width, height = opened.size
    if decoded_bytes(width, height) <= MAX_DECODED_BYTES or shown == "JPEG":
        return  # a large JPEG is drafted down as it is decoded
    raise ImageRefused(_too_large(name, (width, height), shown))


def _too_large(name: str, size: tuple[int, int] | None, shown: str = "picture") -> str:
    megapixels = MAX_DECODED_BYTES // BYTES_PER_PIXEL / 1_000_000
    if size is None:
        received = f"{name!r} is a picture of hundreds of megapixels"
    else:
        width, height = size
        received = (
            f"{name!r} is a {shown} of {width:,} x {height:,} pixels: it would take "
            f"{decoded_bytes(width, height) / 1024**2:,.0f} MB to read"
        )
    return (
        f"{received}, and pictures of up to {megapixels:.0f} megapixels are read (a JPEG photo "
        "of any size is fine). Crop it or save it smaller, then upload it again."
    )


def _header_size(path: str | os.PathLike[str] | BinaryIO) -> tuple[int, int] | None:
    """A picture's size from its header alone, when Pillow tells it (None above twice its
    decompression-bomb limit)."""
    try:
        if hasattr(path, "seek"):
            path.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                return opened.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _decode(opened: Image.Image) -> Image.Image:
    """Decode the (first frame of the) picture, a large JPEG scaled down as it is read."""
    width, height = opened.size
    if decoded_bytes(width, height) > MAX_DECODED_BYTES:
        # The JPEG decoder reads at 1/2, 1/4 or 1/8 of the size: the least reduction that fits.
        scale = next(
            (scale for scale in (2, 4, 8) if decoded_bytes(width // scale, height // scale)
             <= MAX_DECODED_BYTES),
            None,
        )  # fmt: skip
        if scale is None:
            raise ImageRefused(
                f"The JPEG of {width:,} x {height:,} pixels is too large even read at an "
                "eighth of its size. Save it smaller, then upload it again."
            )
        mode = opened.mode if opened.mode in ("L", "RGB") else "RGB"
        opened.draft(mode, (width // scale, height // scale))
    opened.load()
    picture = _to_grey_or_rgba(ImageOps.exif_transpose(opened))
    if max(picture.size) > MAX_IMAGE_SIDE:
        picture.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE), Image.Resampling.BOX)
    return picture


def _to_grey_or_rgba(picture: Image.Image) -> Image.Image:
    """Grey pictures without transparency become "L", everything else "RGBA"."""
    has_alpha = picture.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        "transparency" in picture.info
    )
    if has_alpha:
        return picture.convert("RGBA")
    if picture.mode.startswith("I;16"):
        # 16-bit grey: scale to 8 bits (convert("L") would clip instead).
        sixteen_bit = np.asarray(picture, dtype=np.uint16).astype(np.float32)
        return Image.fromarray(np.round(sixteen_bit / 257.0).astype(np.uint8))
    if picture.mode in ("1", "L", "I", "F"):
        return picture.convert("L")
    return picture.convert("RGBA")
