"""reading.images: pictures are checked from their header before they are decoded."""

from __future__ import annotations

import io
import resource
import struct
import time
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from mnist_core.data.drawings import DrawingImportError, export_zip, read_zip
from mnist_core.reading.images import (
    MAX_DECODED_BYTES,
    MAX_IMAGE_SIDE,
    ImageRefused,
    load_image_file,
)


def png_of_side(side: int) -> bytes:
    """A real black-and-white PNG of side x side pixels, a few hundred kB however large."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_a_huge_png_is_refused_before_it_is_decoded():
    data = png_of_side(13_000)
    assert len(data) < 2_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with pytest.raises(ImageRefused) as refused:
        load_image_file(io.BytesIO(data))
    assert time.perf_counter() - started < 1.0
    growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert growth_kib < 100 * 1024  # decoded, it would take 645 MB
    message = str(refused.value)
    assert "13,000 x 13,000 pixels" in message and "megapixels" in message
    assert "Crop it or save it smaller" in message


def test_a_large_phone_photo_is_read_at_a_fraction_of_its_size():
    width, height = 6000, 4000  # 24 megapixels: 96 MB decoded in full
    photo = Image.new("RGB", (width, height), "white")
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=70)
    image = load_image_file(io.BytesIO(buffer.getvalue()))
    assert max(image.shape[:2]) <= MAX_IMAGE_SIDE
    assert image.nbytes < MAX_DECODED_BYTES


def test_a_format_the_page_does_not_list_is_refused_with_what_is_allowed():
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buffer, format="PPM")
    with pytest.raises(ImageRefused, match="PPM picture; this page reads PNG, JPEG"):
        load_image_file(io.BytesIO(buffer.getvalue()))


def test_a_small_picture_is_read_as_before():
    buffer = io.BytesIO()
    Image.new("L", (280, 280), 255).save(buffer, format="PNG")
    image = load_image_file(io.BytesIO(buffer.getvalue()))
    assert image.shape == (280, 280) and image.dtype == np.uint8


def zip_of(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def drawing_png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_zip_naming_a_picture_twice_is_refused():
    data = zip_of({"a.png": drawing_png(), "labels.csv": b"file,label\na.png,3\na.png,5\n"})
    with pytest.raises(DrawingImportError, match="lists 'a.png' twice \\(lines 1 and 2\\)"):
        read_zip(data)


def test_a_zip_packed_another_way_is_refused():
    data = zip_of(
        {"a.png": drawing_png(), "labels.csv": b"file,label\na.png,3\n"}, zipfile.ZIP_BZIP2
    )
    with pytest.raises(DrawingImportError, match="packed in a way this page does not read"):
        read_zip(data)


def test_a_zip_with_a_password_is_refused():
    data = bytearray(zip_of({"a.png": drawing_png(), "labels.csv": b"file,label\na.png,3\n"}))
    # Mark every member encrypted, in its local header and in the central directory.
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            data[start + flag_offset] |= 0x01
            start += 4
    with pytest.raises(DrawingImportError, match="protected with a password"):
        read_zip(bytes(data))


def test_a_drawing_of_the_wrong_size_is_refused_from_its_header():
    data = zip_of({"big.png": png_of_side(5000), "labels.csv": b"file,label\nbig.png,1\n"})
    with pytest.raises(DrawingImportError, match="5000x5000 pixels; drawings must be 28x28"):
        read_zip(data)


def test_an_exported_zip_still_reads_back():
    from mnist_core.data.drawings import Drawing

    drawing = Drawing("x", 4, np.full((28, 28), 9, dtype=np.uint8), 0.0)
    ((_, image, label),) = read_zip(export_zip([drawing]))
    assert label == 4 and (image == 9).all()
