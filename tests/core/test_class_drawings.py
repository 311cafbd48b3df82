"""The class's own digits as data: sharing, removals, the split by writer, readiness, and the
exports in MNIST's own format."""

import csv
import io
import zipfile

import numpy as np
import pytest

from mnist_core.data.class_drawings import ClassDrawings
from mnist_core.data.class_split import (
    MIN_TRAINING_PER_DIGIT,
    class_arrays,
    class_npz,
    class_readiness,
    class_zip,
    held_out_writers,
    pseudonyms,
    split_parts,
)
from mnist_core.data.drawings import DrawingStore, read_zip


@pytest.fixture
def database(tmp_path):
    return tmp_path / "runs.sqlite3"


@pytest.fixture
def class_drawings(database):
    return ClassDrawings(DrawingStore(database))


def test_sharing_is_off_by_default_and_unsharing_takes_every_drawing_out(
    database, class_drawings, share_class_drawings
):
    store = DrawingStore(database)
    store.add_drawing("ada", "d1", np.zeros((28, 28), dtype=np.uint8), 3)
    assert not class_drawings.is_sharing("ada")
    assert class_drawings.list_drawings() == []
    share_class_drawings(database, ["bo", "cy"], per_digit=1)
    assert {d.writer_id for d in class_drawings.list_drawings()} == {"bo", "cy"}
    class_drawings.set_sharing("bo", False)
    assert {d.writer_id for d in class_drawings.list_drawings()} == {"cy"}
    # Sharing covers the drawings to come too, and keeps who drew them.
    class_drawings.set_sharing("ada", True)
    store.add_drawing("ada", "d2", np.full((28, 28), 255, dtype=np.uint8), 4)
    mine = class_drawings.list_drawings(writer_id="ada")
    assert [(d.writer_id, d.id, d.label) for d in mine] == [("ada", "d1", 3), ("ada", "d2", 4)]
    assert mine[1].image.dtype == np.uint8 and mine[1].image.shape == (28, 28)


def test_a_removed_drawing_leaves_the_class_data_but_stays_its_writers(
    database, class_drawings, share_class_drawings
):
    made = share_class_drawings(database, ["ada", "bo"], per_digit=2)
    gone = made["ada"][0]
    assert class_drawings.remove("ada", gone, removed_by="teacher")
    assert ("ada", gone) not in {d.key for d in class_drawings.list_drawings()}
    assert [d.id for d in class_drawings.removed_drawings()] == [gone]
    assert class_drawings.counts().total == 39 and class_drawings.counts().removed == 1
    assert gone in {d.id for d in DrawingStore(database).list_drawings("ada")}
    assert not class_drawings.remove("ada", "no such drawing", removed_by="teacher")
    assert class_drawings.put_back("ada", gone)
    assert class_drawings.counts().total == 40


def test_counts_per_digit_and_per_writer(database, class_drawings, share_class_drawings):
    share_class_drawings(database, ["ada", "bo", "cy"], per_digit=2)
    counts = class_drawings.counts()
    assert counts.per_digit == dict.fromkeys(range(10), 6)
    assert counts.per_writer["bo"] == dict.fromkeys(range(10), 2)
    assert len(class_drawings.list_drawings(label=7, images=False)) == 6


def test_a_fifth_of_the_writers_is_held_out_and_a_writer_is_in_one_part_only(
    database, class_drawings, share_class_drawings
):
    writers = [f"writer-{number}" for number in range(12)]
    share_class_drawings(database, writers, per_digit=1)
    drawings = class_drawings.list_drawings(images=False)
    held = held_out_writers(d.writer_id for d in drawings)
    assert len(held) == 2  # a fifth of 12, rounded
    assert held == held_out_writers(reversed(writers))  # from the ids alone
    train, test = split_parts(drawings)
    assert {d.writer_id for d in test} == held
    assert not {d.writer_id for d in train} & held
    assert len(train) + len(test) == len(drawings)
    assert held_out_writers(["only one"]) == frozenset()
    assert len(held_out_writers(["a", "b"])) == 1 and len(held_out_writers(["a", "b", "c"])) == 1


def test_too_few_drawings_say_how_many_more_of_which_digits(
    database, class_drawings, share_class_drawings
):
    share_class_drawings(database, ["ada"], per_digit=1)
    readiness = class_readiness(class_drawings.list_drawings(images=False))
    assert not readiness.ready and "1 more must share" in readiness.reason
    share_class_drawings(database, ["bo", "cy"], per_digit=1, start=10)
    readiness = class_readiness(class_drawings.list_drawings(images=False))
    assert not readiness.ready
    # Two writers learn (one each of every digit): 1 more of every digit is needed.
    assert readiness.missing_per_digit == dict.fromkeys(range(10), MIN_TRAINING_PER_DIGIT - 2)
    assert "1 more 0, 1 more 1" in readiness.reason and "1 more 9 are needed" in readiness.reason
    share_class_drawings(database, ["dee", "eve"], per_digit=1, start=20)
    assert class_readiness(class_drawings.list_drawings(images=False)).ready


def test_the_npz_is_in_mnists_own_format(database, class_drawings, share_class_drawings, mnist):
    share_class_drawings(database, ["ada", "bo", "cy", "dee", "eve"], per_digit=2)
    drawings = class_drawings.list_drawings()
    with np.load(io.BytesIO(class_npz(drawings))) as data:
        arrays = {name: data[name] for name in data.files}
    assert sorted(arrays) == ["x_test", "x_train", "y_test", "y_train"]
    reference = {"x_train": mnist.x_train, "y_train": mnist.y_train}
    for part in ("train", "test"):
        images, labels = arrays[f"x_{part}"], arrays[f"y_{part}"]
        assert images.dtype == reference["x_train"].dtype == np.uint8
        assert labels.dtype == reference["y_train"].dtype == np.uint8
        assert images.shape[1:] == reference["x_train"].shape[1:] == (28, 28)
        assert labels.shape == (len(images),)
        assert images.min() == 0 and images.max() == 255  # light digits on a dark ground
        assert np.median(images) == 0 == np.median(reference["x_train"][:100])
        assert set(labels.tolist()) <= set(range(10))
    assert len(arrays["y_train"]) == 80 and len(arrays["y_test"]) == 20  # one writer of five
    assert np.array_equal(arrays["x_train"], class_arrays(drawings)["x_train"])


def test_the_zip_names_students_by_pseudonym_and_comes_back_on_the_teach_page(
    database, class_drawings, share_class_drawings
):
    share_class_drawings(database, ["ada-secret-id", "bo-secret-id"], per_digit=1)
    data = class_zip(class_drawings.list_drawings())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        table = list(csv.DictReader(io.StringIO(archive.read("labels.csv").decode())))
    assert len(table) == 20 and {row["part"] for row in table} == {"train", "test"}
    assert {row["writer"] for row in table} == set(
        pseudonyms(["ada-secret-id", "bo-secret-id"]).values()
    )
    assert not any("secret" in name for name in names)
    assert len(read_zip(data)) == 20
