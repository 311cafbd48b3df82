"""A run and the class's digits: exactly which drawings it trains and is tested on.

When a run is queued on "mnist_and_class" or "class_digits" (or asks to be scored on the
class's held-out writers, as the lesson "Our own digits" does for its MNIST run), the class's
data as it is at that moment is taken once for the whole request (`current_class_data`): the
shared drawings not removed, split by writer (`data.class_split`). The run records it in the
transaction that records the run: a summary on the run (`Run.class_data`) and every drawing,
in order, in the log's `run_drawings` (`recorded_drawings`). A run on MNIST records only the
test part: it never learns from the class's drawings.

When the run starts, the engine reads those very drawings from the server's file and sends
them with the task (`class_task_data`); a drawing deleted meanwhile (its student deleted it,
or the class's data was cleared) fails the run with a sentence, never trains it on something
else. A run trained again with its own record (`ClassDataSpec` of `recorded_drawings`) uses
the same drawings, whatever was shared or removed since.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mnist_core.data.class_drawings import ClassDrawing, ClassDrawings
from mnist_core.data.class_split import TEST, TRAIN, class_readiness, split_parts
from mnist_core.data.drawings import DrawingStore
from mnist_core.runs.limits import RunRefused


@dataclass(frozen=True)
class DrawingRef:
    """One drawing a run uses: whose, which, its label then, and its part ("train"/"test")."""

    writer_id: str
    drawing_id: str
    label: int
    part: str


@dataclass(frozen=True)
class ClassDataSpec:
    """The class's drawings a run uses, in order.

    Attributes:
        drawings: every drawing, the training part first.
    """

    drawings: tuple[DrawingRef, ...]

    @classmethod
    def from_drawings(cls, drawings: Sequence[ClassDrawing]) -> ClassDataSpec:
        """The spec of the class's data: split by writer, the training part first."""
        train, test = split_parts(drawings)
        return cls(
            tuple(
                DrawingRef(drawing.writer_id, drawing.id, drawing.label, part)
                for part, chosen in ((TRAIN, train), (TEST, test))
                for drawing in chosen
            )
        )

    def part(self, name: str) -> tuple[DrawingRef, ...]:
        """The drawings of one part, "train" or "test"."""
        return tuple(drawing for drawing in self.drawings if drawing.part == name)

    def test_only(self) -> ClassDataSpec:
        """The test part alone (what a run on MNIST is scored on)."""
        return ClassDataSpec(self.part(TEST))

    def rows(self) -> list[tuple[str, str, int, str]]:
        """(writer_id, drawing_id, label, part) each, for the run log."""
        return [
            (drawing.writer_id, drawing.drawing_id, drawing.label, drawing.part)
            for drawing in self.drawings
        ]

    def summary(self) -> dict[str, Any]:
        """What the run shows of it: how many drawings and writers in each part, and a digest
        of the whole list (two runs with the same digest used the same drawings)."""
        train, test = self.part(TRAIN), self.part(TEST)
        digest = hashlib.sha256(
            "\n".join(",".join(map(str, row)) for row in self.rows()).encode()
        ).hexdigest()[:16]
        return {
            "training_drawings": len(train),
            "training_writers": len({drawing.writer_id for drawing in train}),
            "test_drawings": len(test),
            "test_writers": len({drawing.writer_id for drawing in test}),
            "digest": digest,
        }


def class_drawings_of(run_log: Any) -> ClassDrawings:
    """The class's shared drawings in the run log's file (where the app keeps them)."""
    return ClassDrawings(DrawingStore(run_log.path))


def current_class_data(run_log: Any) -> ClassDataSpec:
    """The class's data as it is now, split by writer; `RunRefused` (saying how many more of
    which digits are needed) when it is too little to train and test on."""
    drawings = class_drawings_of(run_log).list_drawings(images=False)
    readiness = class_readiness(drawings)
    if not readiness.ready:
        raise RunRefused(readiness.reason)
    return ClassDataSpec.from_drawings(drawings)


def recorded_drawings(run_log: Any, run_id: str) -> ClassDataSpec | None:
    """The class's drawings a run recorded, in order; None for a run that used none."""
    with run_log.database.connect() as connection:
        rows = connection.execute(
            "SELECT writer_id, drawing_id, label, part FROM run_drawings WHERE run_id = ? "
            "ORDER BY position",
            (run_id,),
        ).fetchall()
    if not rows:
        return None
    return ClassDataSpec(tuple(DrawingRef(row[0], row[1], int(row[2]), row[3]) for row in rows))


def class_task_data(run_log: Any, run_id: str) -> dict[str, Any] | None:
    """What travels with a run's task: its recorded drawings with their images
    (`training.class_digits.ClassDigits.to_dict()`); None for a run that uses none.

    Raises:
        ValueError: a recorded drawing is no longer kept (the message says what to do).
    """
    from mnist_core.training.class_digits import ClassDigits

    spec = recorded_drawings(run_log, run_id)
    if spec is None:
        return None
    keys = [(drawing.writer_id, drawing.drawing_id) for drawing in spec.drawings]
    images = class_drawings_of(run_log).images_of(keys)
    gone = len([key for key in keys if key not in images])
    if gone:
        raise ValueError(
            f"{gone} of the {len(keys)} class drawings this run was to use are no longer kept "
            "(deleted by their student, or the class's data was cleared). Train it again on "
            "the class's digits as they are now."
        )
    arrays: dict[str, Any] = {}
    for part in (TRAIN, TEST):
        chosen = spec.part(part)
        arrays[part] = (
            np.stack([images[(d.writer_id, d.drawing_id)] for d in chosen]).astype(np.uint8)
            if chosen
            else np.zeros((0, 28, 28), dtype=np.uint8),
            np.array([drawing.label for drawing in chosen], dtype=np.uint8),
        )
    return ClassDigits(
        train_images=arrays[TRAIN][0],
        train_labels=arrays[TRAIN][1],
        test_images=arrays[TEST][0],
        test_labels=arrays[TEST][1],
        test_writers=len({drawing.writer_id for drawing in spec.part(TEST)}),
    ).to_dict()
