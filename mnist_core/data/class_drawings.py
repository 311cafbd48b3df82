"""The class's own digits: the labelled drawings students share with their class.

A student's labelled drawings (`data.drawings`: the Draw page's "Was it right?" labels, the
Teach page's uploads) are theirs alone until they share them. Sharing is a switch per student
(off by default) that covers all their drawings, those to come included; switching it off
takes every one of them out of the class's data for future runs (runs already trained keep
the list of what they used). A shared drawing keeps who drew it (the writer's user id).

The teacher can take any drawing out of the class's data (mislabelled, a scribble), a student
their own: a *removal*, kept beside the drawing, which stays the student's own (for their own
fine-tuning) and can be put back.

Everything lives in the run log's SQLite file, beside the drawings: a table of who shares
(`drawing_sharing`) and one of removals (`class_removals`). The class's data is one query:
the drawings of the students who share, less the removals. Counts are aggregate queries, so a
page of counts costs the same with 30 drawings or 3,000.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mnist_core.data.drawings import DrawingStore, png_image

_SCHEMA = """
CREATE TABLE IF NOT EXISTS drawing_sharing (
    user TEXT PRIMARY KEY,
    shared_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS class_removals (
    user TEXT NOT NULL,
    id TEXT NOT NULL,
    removed_by TEXT NOT NULL,
    removed_at REAL NOT NULL,
    PRIMARY KEY (user, id)
);
"""
# The class's data: shared drawings not removed. `{columns}` and `{where}` are filled in.
_SHARED = (
    "SELECT {columns} FROM drawings AS d JOIN drawing_sharing AS s ON s.user = d.user "
    "LEFT JOIN class_removals AS r ON r.user = d.user AND r.id = d.id "
    "WHERE r.user IS NULL {where}"
)


@dataclass(frozen=True)
class ClassDrawing:
    """One drawing of the class's data.

    Attributes:
        writer_id: the user id of the student who drew it.
        id: its id among that student's drawings.
        label: the digit it shows, 0 to 9.
        image: uint8 (28, 28), white ink on black; None when not asked for.
        created_at: when it was first kept (seconds since the epoch).
    """

    writer_id: str
    id: str
    label: int
    image: np.ndarray | None = field(default=None, compare=False, repr=False)
    created_at: float = 0.0

    @property
    def key(self) -> tuple[str, str]:
        """(writer_id, id): what names a drawing across the class."""
        return (self.writer_id, self.id)


@dataclass(frozen=True)
class ClassCounts:
    """The class's data in numbers.

    Attributes:
        per_digit: drawings of each digit 0 to 9.
        per_writer: for each writer id, their drawings of each digit (digits they drew).
        removed: drawings taken out of the class's data.
    """

    per_digit: dict[int, int]
    per_writer: dict[str, dict[int, int]]
    removed: int

    @property
    def total(self) -> int:
        """All drawings of the class's data."""
        return sum(self.per_digit.values())


class ClassDrawings:
    """The class's shared drawings, in the drawings' SQLite file.

    Args:
        store: the server's `DrawingStore` (its file holds the class's tables too).
    """

    def __init__(self, store: DrawingStore) -> None:
        self.store = store
        self._ready = False

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self.store.connect() as connection:
            if not self._ready:
                connection.executescript(_SCHEMA)
                self._ready = True
            yield connection

    def ensure_tables(self) -> None:
        """Make the drawings' tables if they are not there yet (for queries that join them)."""
        with self._connect():
            pass

    # --- sharing ----------------------------------------------------------------------------
    def is_sharing(self, user_id: str) -> bool:
        """Whether this student shares their drawings with the class."""
        with self._connect() as connection:
            row = connection.execute(
                "SELECT 1 FROM drawing_sharing WHERE user = ?", (user_id,)
            ).fetchone()
        return row is not None

    def set_sharing(self, user_id: str, shared: bool) -> None:
        """Share this student's drawings with the class (all of them, those to come too), or
        take them all out of the class's data for future runs."""
        if not isinstance(user_id, str) or not user_id.strip():
            raise ValueError(f"user_id must be a user's id, got {user_id!r}.")
        with self._connect() as connection:
            if shared:
                connection.execute(
                    "INSERT OR IGNORE INTO drawing_sharing (user, shared_at) VALUES (?, ?)",
                    (user_id, time.time()),
                )
            else:
                connection.execute("DELETE FROM drawing_sharing WHERE user = ?", (user_id,))

    def sharing_users(self) -> list[str]:
        """The ids of the students who share, the first to share first."""
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT user FROM drawing_sharing ORDER BY shared_at, user"
            ).fetchall()
        return [row[0] for row in rows]

    # --- reading ----------------------------------------------------------------------------
    def list_drawings(
        self,
        *,
        writer_id: str | None = None,
        label: int | None = None,
        images: bool = True,
        limit: int | None = None,
    ) -> list[ClassDrawing]:
        """The class's data (shared drawings not removed), by writer then age.

        Args:
            writer_id: only this student's.
            label: only drawings of this digit.
            images: decode the images (default True); False leaves `image` None.
            limit: at most this many (default: all).
        """
        where, values = _filters(writer_id, label)
        columns = "d.user, d.id, d.label, d.created_at" + (", d.png" if images else "")
        query = (
            _SHARED.format(columns=columns, where=where) + " ORDER BY d.user, d.created_at, d.id"
        )
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        with self._connect() as connection:
            rows = connection.execute(query, values).fetchall()
        return [
            ClassDrawing(row[0], row[1], int(row[2]), png_image(row[4]) if images else None, row[3])
            for row in rows
        ]

    def counts(self) -> ClassCounts:
        """Drawings of each digit, of each writer by digit, and how many were removed (three
        aggregate queries, whatever the number of drawings)."""
        query = _SHARED.format(columns="d.user, d.label, count(*)", where="") + (
            " GROUP BY d.user, d.label"
        )
        with self._connect() as connection:
            rows = connection.execute(query).fetchall()
            (removed,) = connection.execute(
                "SELECT count(*) FROM class_removals AS r JOIN drawings AS d "
                "ON d.user = r.user AND d.id = r.id JOIN drawing_sharing AS s ON s.user = r.user"
            ).fetchone()
        per_digit = dict.fromkeys(range(10), 0)
        per_writer: dict[str, dict[int, int]] = {}
        for writer, label, count in rows:
            per_digit[int(label)] += int(count)
            per_writer.setdefault(writer, {})[int(label)] = int(count)
        return ClassCounts(per_digit, per_writer, int(removed))

    def images_of(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], np.ndarray]:
        """The images of these drawings, by (writer_id, id), shared or not (a run's recorded
        drawings); a drawing no longer kept is left out."""
        found: dict[tuple[str, str], np.ndarray] = {}
        wanted = set(keys)
        by_writer: dict[str, list[str]] = {}
        for writer, drawing_id in wanted:
            by_writer.setdefault(writer, []).append(drawing_id)
        with self._connect() as connection:
            for writer, ids in by_writer.items():
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    for drawing_id, png in connection.execute(
                        f"SELECT id, png FROM drawings WHERE user = ? AND id IN ({marks})",
                        (writer, *chunk),
                    ):
                        found[(writer, drawing_id)] = png_image(png)
        return found

    # --- removing ---------------------------------------------------------------------------
    def remove(self, writer_id: str, drawing_id: str, *, removed_by: str) -> bool:
        """Take one drawing out of the class's data (it stays its writer's own); False if the
        class's data has no such drawing.

        Args:
            writer_id, drawing_id: the drawing.
            removed_by: the user id of who removes it (the teacher's, or the writer's own).
        """
        with self._connect() as connection:
            shared = connection.execute(
                _SHARED.format(columns="1", where="AND d.user = ? AND d.id = ?"),
                (writer_id, drawing_id),
            ).fetchone()
            if shared is None:
                return False
            connection.execute(
                "INSERT OR REPLACE INTO class_removals (user, id, removed_by, removed_at) "
                "VALUES (?, ?, ?, ?)",
                (writer_id, drawing_id, removed_by, time.time()),
            )
        return True

    def put_back(self, writer_id: str, drawing_id: str) -> bool:
        """Undo a removal; False if the drawing was not removed."""
        with self._connect() as connection:
            cursor = connection.execute(
                "DELETE FROM class_removals WHERE user = ? AND id = ?", (writer_id, drawing_id)
            )
            return cursor.rowcount == 1

    def removed_drawings(self, *, writer_id: str | None = None) -> list[ClassDrawing]:
        """Drawings taken out of the class's data (of sharing students), newest removal first."""
        where, values = ("AND r.user = ?", [writer_id]) if writer_id is not None else ("", [])
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT d.user, d.id, d.label, d.created_at, d.png FROM class_removals AS r "
                "JOIN drawings AS d ON d.user = r.user AND d.id = r.id "
                f"JOIN drawing_sharing AS s ON s.user = r.user WHERE 1 {where} "
                "ORDER BY r.removed_at DESC",
                values,
            ).fetchall()
        return [
            ClassDrawing(row[0], row[1], int(row[2]), png_image(row[4]), row[3]) for row in rows
        ]

    # --- forgetting -------------------------------------------------------------------------
    def forget_everything(self) -> int:
        """Delete every drawing, all sharing and every removal; returns how many drawings went
        (the teacher clears the class's data at the end of a lesson)."""
        with self._connect() as connection:
            gone = connection.execute("DELETE FROM drawings").rowcount
            connection.execute("DELETE FROM drawing_sharing")
            connection.execute("DELETE FROM class_removals")
        return gone

    def move(self, source_id: str, target_id: str) -> None:
        """Give what `source_id` shares and removed to `target_id` (two users merged into one;
        the drawings themselves move with `people.merge_users`)."""
        with self._connect() as connection:
            shared = connection.execute(
                "SELECT 1 FROM drawing_sharing WHERE user = ?", (source_id,)
            ).fetchone()
            if shared is not None:
                connection.execute(
                    "INSERT OR IGNORE INTO drawing_sharing (user, shared_at) VALUES (?, ?)",
                    (target_id, time.time()),
                )
            connection.execute(
                "UPDATE OR IGNORE class_removals SET user = ? WHERE user = ?",
                (target_id, source_id),
            )
            connection.execute("DELETE FROM drawing_sharing WHERE user = ?", (source_id,))
            connection.execute("DELETE FROM class_removals WHERE user = ?", (source_id,))


def _filters(writer_id: str | None, label: int | None) -> tuple[str, list[Any]]:
    clauses, values = [], []
    if writer_id is not None:
        clauses.append("AND d.user = ?")
        values.append(writer_id)
    if label is not None:
        clauses.append("AND d.label = ?")
        values.append(int(label))
    return " ".join(clauses), values
