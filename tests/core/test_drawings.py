"""drawings: a user's labelled drawings kept, corrected, listed, deleted, zipped and read back."""

import csv
import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from mnist_core.data.drawings import (
    DrawingImportError,
    DrawingStore,
    drawing_image,
    export_zip,
    image_id,
    read_zip,
)


def digit_image(seed: int) -> np.ndarray:
    """A (28, 28) float image in [0, 1], as preprocessing gives, different for every seed."""
    generator = np.random.default_rng(seed)
    image = np.zeros((28, 28), dtype=np.float32)
    image[4:24, 8 + seed % 6 : 12 + seed % 6] = generator.uniform(0.5, 1.0, (20, 4))
    return image


@pytest.fixture
def store(tmp_path):
    return DrawingStore(tmp_path / "runs.sqlite3")


def test_a_drawing_is_kept_as_the_28x28_the_model_saw_and_relabelling_corrects_it(store):
    kept = store.add_drawing("ada", "abc", digit_image(1), 3)
    assert kept.image.dtype == np.uint8 and kept.image.shape == (28, 28)
    np.testing.assert_array_equal(kept.image, drawing_image(digit_image(1)))
    store.add_drawing("ada", "abc", digit_image(1), 8)  # clicked again: the user meant 8
    (only,) = store.list_drawings("ada")
    assert only.label == 8 and only.created_at == kept.created_at
    np.testing.assert_array_equal(only.image, kept.image)


def test_drawings_are_per_user_and_counted_by_digit(store):
    for index in range(5):
        store.add_drawing("ada", f"a{index}", digit_image(index), index % 2)
    store.add_drawing("bo", "b0", digit_image(9), 7)
    assert store.label_counts("ada") == {0: 3, 1: 2}
    assert store.label_counts("bo") == {7: 1}
    assert [drawing.id for drawing in store.list_drawings("ada")] == [f"a{i}" for i in range(5)]
    assert store.delete_drawing("ada", "a0") and not store.delete_drawing("ada", "a0")
    assert store.delete_all("ada") == 4
    assert store.list_drawings("ada") == [] and len(store.list_drawings("bo")) == 1


@pytest.mark.parametrize(
    ("image", "label", "field"),
    [
        (np.zeros((28, 27)), 1, "image must be 28x28"),
        (np.zeros((28, 28)), 10, "label must be a digit from 0 to 9"),
        (np.zeros((28, 28)), True, "label must be a digit"),
    ],
)
def test_a_bad_drawing_is_refused_naming_the_field(store, image, label, field):
    with pytest.raises(ValueError, match=field):
        store.add_drawing("ada", "x", image, label)
    assert store.list_drawings("ada") == []


def test_the_zip_round_trip_keeps_every_picture_and_label(store):
    for index in range(12):
        store.add_drawing("ada", f"d{index}", digit_image(index), index % 10)
    drawings = store.list_drawings("ada")
    data = export_zip(drawings)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        rows = list(csv.reader(io.StringIO(archive.read("labels.csv").decode())))
        assert rows[0] == ["file", "label"] and len(rows) == 13
        with Image.open(io.BytesIO(archive.read(rows[1][0]))) as picture:
            assert picture.size == (28, 28) and picture.mode == "L"
    entries = read_zip(data)
    assert [label for _, _, label in entries] == [drawing.label for drawing in drawings]
    for (name, image, _), drawing in zip(entries, drawings):
        np.testing.assert_array_equal(image, drawing.image)
        assert name == image_id(drawing.image)
    # Brought back under another name; a second upload adds nothing new.
    assert store.add_drawings("ada at home", entries) == 12
    assert store.add_drawings("ada at home", entries) == 0
    assert store.label_counts("ada at home") == store.label_counts("ada")


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def png(side: int = 28) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (side, side)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a zip at all", "not a zip archive"),
        (zip_of({"a.png": png()}), "has no labels.csv"),
        (zip_of({"labels.csv": b"file,label\n", "a.png": png()}), "lists no drawings"),
        (zip_of({"labels.csv": b"file,label\na.png,x\n", "a.png": png()}), "label 'x'"),
        (zip_of({"labels.csv": b"a.png,12\n", "a.png": png()}), "label '12'"),
        (zip_of({"labels.csv": b"a.png,3\n"}), "names 'a.png', which is not in the zip"),
        (zip_of({"labels.csv": b"a.png,3\n", "a.png": png(30)}), "is 30x30 pixels"),
        (zip_of({"labels.csv": b"a.png,3\n", "a.png": b"garbage"}), "not a picture"),
        (zip_of({"labels.csv": b"a.png\n", "a.png": png()}), "expected 'file,label'"),
    ],
)
def test_a_bad_zip_gets_one_line_saying_why_and_nothing_is_kept(store, data, message):
    with pytest.raises(DrawingImportError, match=message) as raised:
        store.add_drawings("ada", read_zip(data))
    assert "\n" not in str(raised.value)
    assert store.list_drawings("ada") == []


def test_a_zip_with_its_files_in_a_folder_is_read(tmp_path):
    data = zip_of({"mine/labels.csv": b"file,label\nseven.png,7\n", "mine/seven.png": png()})
    ((_, image, label),) = read_zip(data)
    assert label == 7 and image.shape == (28, 28)
