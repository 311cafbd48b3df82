"""The class's digits as a data set: a test part of held-out writers, enough to learn from,
and the arrays to take home.

**Held out by writer.** A fifth of the class's writers (at least one once two share), never a
fifth of their drawings: a writer's drawings are all in the training part or all in the test
part, so the test part measures how well a network reads classmates it has never seen, as
MNIST's test set was written by other people than its training set. Which writers is
deterministic from their ids (ordered by a hash of the id), so the same class gives the same
split on every server and every run; a writer who joins moves at most one other.

**Enough to learn from** (`class_readiness`): at least two writers, at least
`MIN_TRAINING_PER_DIGIT` drawings of every digit among the writers who are not held out, and
at least `MIN_TEST_DRAWINGS` drawings held out. Too few says how many more of which digits.

**To take home**: MNIST's own format (`class_arrays`, `class_npz`): uint8 images of shape
(N, 28, 28), light digits on a dark background, uint8 labels, as `keras.datasets.mnist.
load_data()` gives them, the held-out writers as the test part; and a zip of PNGs with a
`labels.csv` (`class_zip`), the writers as pseudonyms.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from mnist_core.data.class_drawings import ClassDrawing
from mnist_core.data.drawings import LABELS_FILE_NAME, drawing_image, png_bytes

TEST_WRITER_FRACTION = 0.2
MIN_WRITERS = 2
MIN_TRAINING_PER_DIGIT = 3
MIN_TEST_DRAWINGS = 10
TRAIN = "train"
TEST = "test"
DIGITS = tuple(range(10))


def _writer_order(writer_id: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{writer_id}".encode()).hexdigest()


def held_out_writers(writer_ids: Iterable[str]) -> frozenset[str]:
    """The writers whose drawings are the class's test part: a fifth of them (rounded, at least
    one once there are two), the first in the order of a hash of their ids.

    Args:
        writer_ids: the ids of the writers who share (repeats are fine).
    """
    writers = sorted(set(writer_ids), key=lambda writer: _writer_order(writer, "held-out"))
    if len(writers) < MIN_WRITERS:
        return frozenset()
    count = max(1, math.floor(len(writers) * TEST_WRITER_FRACTION + 0.5))
    return frozenset(writers[:count])


def split_parts(drawings: Sequence[ClassDrawing]) -> tuple[list[ClassDrawing], list[ClassDrawing]]:
    """(training part, test part) of the class's drawings, split by writer."""
    held = held_out_writers(drawing.writer_id for drawing in drawings)
    train = [drawing for drawing in drawings if drawing.writer_id not in held]
    test = [drawing for drawing in drawings if drawing.writer_id in held]
    return train, test


def pseudonyms(writer_ids: Iterable[str], word: str = "student") -> dict[str, str]:
    """A name for each writer that says nothing about them ("student 01"), numbered in the
    order of a hash of their ids (not of their names, nor of when they joined)."""
    writers = sorted(set(writer_ids), key=lambda writer: _writer_order(writer, "pseudonym"))
    width = max(2, len(str(len(writers))))
    return {writer: f"{word} {number:0{width}d}" for number, writer in enumerate(writers, 1)}


@dataclass(frozen=True)
class ClassReadiness:
    """Whether the class's digits are enough to train on, and what is missing.

    Attributes:
        ready: enough writers, digits and held-out drawings.
        reason: what is missing, or (when ready) what a run will use, in one or two sentences.
        writers: writers who share; test_writers: those held out.
        training_per_digit: drawings of each digit among the writers not held out.
        test_count: drawings held out.
        missing_per_digit: drawings still needed of each digit (digits short of the minimum).
    """

    ready: bool
    reason: str
    writers: int
    test_writers: int
    training_per_digit: dict[int, int]
    test_count: int
    missing_per_digit: dict[int, int]


def class_readiness(drawings: Sequence[ClassDrawing]) -> ClassReadiness:
    """Say whether the class's drawings are enough to train and test on, and what is missing.

    Args:
        drawings: the class's data (`ClassDrawings.list_drawings`; images not needed).
    """
    train, test = split_parts(drawings)
    writers = len({drawing.writer_id for drawing in drawings})
    test_writers = len({drawing.writer_id for drawing in test})
    counts = Counter(drawing.label for drawing in train)
    per_digit = {digit: counts.get(digit, 0) for digit in DIGITS}
    missing = {
        digit: MIN_TRAINING_PER_DIGIT - count
        for digit, count in per_digit.items()
        if count < MIN_TRAINING_PER_DIGIT
    }
    problems = []
    if writers < MIN_WRITERS:
        more = MIN_WRITERS - writers
        problems.append(
            f"{writers} classmate{'s' if writers != 1 else ''} share{'s' if writers == 1 else ''}"
            f" drawings; {more} more must share (Teach page, “Share with my class”) so that one "
            "can be held out to test on"
        )
    if missing and writers >= MIN_WRITERS:
        wanted = _join(
            [f"{count} more {digit}{'s' if count > 1 else ''}" for digit, count in missing.items()]
        )
        problems.append(
            f"{wanted} {'is' if sum(missing.values()) == 1 else 'are'} needed (at least "
            f"{MIN_TRAINING_PER_DIGIT} of every digit from the classmates who are not held out)"
        )
    if writers >= MIN_WRITERS and len(test) < MIN_TEST_DRAWINGS:
        problems.append(
            f"the held-out classmates drew {len(test)} drawing(s): at least {MIN_TEST_DRAWINGS} "
            "are needed to test on"
        )
    if problems:
        reason = "Our class's digits are too few to train on yet: " + "; ".join(problems) + "."
        return ClassReadiness(False, reason, writers, test_writers, per_digit, len(test), missing)
    reason = (
        f"Ready: {len(train)} drawings of {writers - test_writers} classmates to learn from, "
        f"{len(test)} of {test_writers} other classmate{'s' if test_writers != 1 else ''} held "
        "out to test on."
    )
    return ClassReadiness(True, reason, writers, test_writers, per_digit, len(test), {})


def _join(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


# --- To take home ---------------------------------------------------------------------------
def class_arrays(drawings: Sequence[ClassDrawing]) -> dict[str, np.ndarray]:
    """The class's data in MNIST's format: x_train, y_train (the writers not held out) and
    x_test, y_test (the held-out writers); uint8 images (N, 28, 28), light digits on dark,
    uint8 labels.

    Args:
        drawings: the class's data, with images.
    """
    train, test = split_parts(drawings)
    arrays = {}
    for part, chosen in (("train", train), ("test", test)):
        images = [drawing_image(_image(drawing)) for drawing in chosen]
        arrays[f"x_{part}"] = (
            np.stack(images) if images else np.zeros((0, 28, 28), dtype=np.uint8)
        ).astype(np.uint8)
        arrays[f"y_{part}"] = np.array([drawing.label for drawing in chosen], dtype=np.uint8)
    return arrays


def class_npz(drawings: Sequence[ClassDrawing]) -> bytes:
    """The class's data as the bytes of an `.npz` file like `mnist.npz` (`np.load(file)` gives
    x_train, y_train, x_test, y_test)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **class_arrays(drawings))
    return buffer.getvalue()


def class_zip(drawings: Sequence[ClassDrawing]) -> bytes:
    """The class's data as a zip: `train/` and `test/` folders of 28x28 PNGs (light on dark)
    and `labels.csv` (`file,label,writer,part`), each writer a pseudonym ("student 07")."""
    train, test = split_parts(drawings)
    names = pseudonyms(drawing.writer_id for drawing in drawings)
    buffer, table = io.BytesIO(), io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["file", "label", "writer", "part"])
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for part, chosen in ((TRAIN, train), (TEST, test)):
            numbers: Counter[str] = Counter()
            for drawing in chosen:
                pseudonym = names[drawing.writer_id]
                numbers[pseudonym] += 1
                file_name = (
                    f"{part}/{drawing.label}_{pseudonym.replace(' ', '_')}_"
                    f"{numbers[pseudonym]:03d}.png"
                )
                archive.writestr(file_name, png_bytes(drawing_image(_image(drawing))))
                writer.writerow([file_name, drawing.label, pseudonym, part])
        archive.writestr(LABELS_FILE_NAME, table.getvalue())
    return buffer.getvalue()


def _image(drawing: ClassDrawing) -> np.ndarray:
    if drawing.image is None:
        raise ValueError(
            f"drawing {drawing.id!r} was read without its image; list the drawings with images."
        )
    return drawing.image
