"""A user's labelled drawings: what they drew on the Draw page and said it was.

Every drawing a user labels with "Was it right?" is kept as that user's small data set: the
28x28 image the model saw (uint8, white ink on black, as MNIST) and the digit the user meant.
Labelling the same drawing again corrects its label. The drawings live in the run log's
SQLite file (`<data directory>/runs.sqlite3`, or `MNIST_RUNS_DB`), in a table of their own,
each stored as a small PNG: one write is one transaction, so a drawing is never half-kept and
two tabs of the same user may label at once.

The drawings can be taken home and brought back as a zip (`export_zip`, `read_zip`): one
28x28 greyscale PNG a drawing and a `labels.csv` (`file,label`). A zip that cannot be read
(not a zip, no labels file, an unknown label, a picture of the wrong size) raises
`DrawingImportError` with a one-line message, and nothing of it is kept.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import sqlite3
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_core.base.paths import default_runs_path

IMAGE_SIDE = 28
LABELS = tuple(range(10))
LABELS_FILE_NAME = "labels.csv"
# An uploaded zip is read only this far: a class's drawings are far fewer, a zip bomb more.
MAX_IMPORT_DRAWINGS = 5000
MAX_IMPORT_BYTES = 20 * 1024 * 1024
LOCK_TIMEOUT_SECONDS = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS drawings (
    user TEXT NOT NULL,
    id TEXT NOT NULL,
    label INTEGER NOT NULL,
    png BLOB NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (user, id)
);
"""


class DrawingStoreError(Exception):
    """The drawings cannot be read or kept; the message says what is wrong and what to do."""


class DrawingLimitError(ValueError):
    """A user keeps as many drawings as the server allows; the message says what to do."""


class DrawingImportError(ValueError):
    """An uploaded zip of drawings cannot be used; the message is one line."""


@dataclass(frozen=True)
class Drawing:
    """One labelled drawing.

    Attributes:
        id: its name, unique for its user (a digest of the canvas image on the Draw page).
        label: the digit the user meant, 0 to 9.
        image: uint8 (28, 28), white ink (255) on black (0), as the model saw it.
        created_at: when it was first kept (seconds since the epoch).
    """

    id: str
    label: int
    image: np.ndarray
    created_at: float


def drawing_image(image: np.ndarray) -> np.ndarray:
    """A 28x28 drawing as uint8: floats in [0, 1] (what preprocessing gives) are scaled.

    Args:
        image: (28, 28), uint8 0..255 or float 0..1.
    """
    array = np.asarray(image)
    if array.shape != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(
            f"image must be {IMAGE_SIDE}x{IMAGE_SIDE} (a preprocessed drawing), got shape "
            f"{array.shape}."
        )
    if array.dtype == np.uint8:
        return array.copy()
    if not np.issubdtype(array.dtype, np.floating) or not np.isfinite(array).all():
        raise ValueError(f"image must be uint8 or finite floats in [0, 1], got {array.dtype}.")
    return np.rint(np.clip(array, 0.0, 1.0) * 255).astype(np.uint8)


def check_label(label: object) -> int:
    """The label as an int, or ValueError saying what is allowed."""
    if isinstance(label, bool) or not isinstance(label, int | np.integer) or label not in LABELS:
        raise ValueError(f"label must be a digit from 0 to 9, got {label!r}.")
    return int(label)


def image_id(image: np.ndarray) -> str:
    """A name for a 28x28 image from its pixels: the same picture gets the same name."""
    return hashlib.sha1(drawing_image(image).tobytes()).hexdigest()[:16]


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def _from_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as picture:
        return np.asarray(picture.convert("L"), dtype=np.uint8)


class DrawingStore:
    """Every user's labelled drawings, in one SQLite file, by user id (`runs.users`).

    Args:
        path: the database file (default: the run log's, `runs.default_runs_path()`); the
            table is made on first use.
        max_per_user: the most drawings a user keeps (None: no limit); a new drawing past it
            is refused with a message (`DrawingLimitError`).
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, max_per_user: int | None = None
    ) -> None:
        if path is None:
            path = default_runs_path()
        self.path = Path(path)
        self.max_per_user = max_per_user
        self._ready = False

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            if not self._ready:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_SECONDS)
        except (OSError, sqlite3.Error) as error:
            raise DrawingStoreError(
                f"The drawings in {self.path} cannot be opened ({error}). Check that the "
                "folder exists and is writable."
            ) from None
        try:
            with connection:
                if not self._ready:
                    connection.executescript(_SCHEMA)
                    self._ready = True
                yield connection
        except sqlite3.Error as error:
            raise DrawingStoreError(f"The drawings in {self.path} failed: {error}.") from None
        finally:
            connection.close()

    def add_drawing(self, user_id: str, drawing_id: str, image: np.ndarray, label: int) -> Drawing:
        """Keep a labelled drawing; the same `drawing_id` again changes its label.

        Args:
            user_id: whose drawing it is (the user's id).
            drawing_id: its name (1 to 64 characters).
            image: the (28, 28) image the model saw (floats in [0, 1] or uint8).
            label: the digit the user meant.
        """
        label = check_label(label)
        pixels = drawing_image(image)
        if not isinstance(drawing_id, str) or not 0 < len(drawing_id) <= 64:
            raise ValueError(f"drawing_id must be 1 to 64 characters, got {drawing_id!r}.")
        _check_user(user_id)
        now = time.time()
        with self._connect() as connection:
            known = connection.execute(
                "SELECT 1 FROM drawings WHERE user = ? AND id = ?", (user_id, drawing_id)
            ).fetchone()
            if known is None:
                self._check_room(connection, user_id, 1)
            connection.execute(
                "INSERT INTO drawings (user, id, label, png, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (user, id) DO UPDATE SET label = excluded.label",
                (user_id, drawing_id, label, _png(pixels), now),
            )
            (created_at,) = connection.execute(
                "SELECT created_at FROM drawings WHERE user = ? AND id = ?", (user_id, drawing_id)
            ).fetchone()
        return Drawing(drawing_id, label, pixels, created_at)

    def add_drawings(self, user_id: str, drawings: Sequence[tuple[str, np.ndarray, int]]) -> int:
        """Keep many drawings at once (an imported zip), all or none; returns how many were new.

        Args:
            user_id: whose drawings they are (the user's id).
            drawings: (drawing_id, image, label) each; a known id gets the new label.
        """
        _check_user(user_id)
        rows = [
            (user_id, drawing_id, check_label(label), _png(drawing_image(image)), time.time())
            for drawing_id, image, label in drawings
        ]
        with self._connect() as connection:
            known = {
                row[0]
                for row in connection.execute("SELECT id FROM drawings WHERE user = ?", (user_id,))
            }
            self._check_room(connection, user_id, len({row[1] for row in rows} - known))
            connection.executemany(
                "INSERT INTO drawings (user, id, label, png, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (user, id) DO UPDATE SET label = excluded.label",
                rows,
            )
        return len({row[1] for row in rows} - known)

    def list_drawings(self, user_id: str) -> list[Drawing]:
        """A user's drawings, oldest first."""
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT id, label, png, created_at FROM drawings WHERE user = ? "
                "ORDER BY created_at, id",
                (user_id,),
            ).fetchall()
        return [Drawing(row[0], int(row[1]), _from_png(row[2]), row[3]) for row in rows]

    def label_counts(self, user_id: str) -> dict[int, int]:
        """How many drawings the user has of each digit (digits without any are left out)."""
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT label, count(*) FROM drawings WHERE user = ? GROUP BY label ORDER BY label",
                (user_id,),
            ).fetchall()
        return {int(label): int(count) for label, count in rows}

    def delete_drawing(self, user_id: str, drawing_id: str) -> bool:
        """Forget one drawing; False if there was none of that id."""
        with self._connect() as connection:
            cursor = connection.execute(
                "DELETE FROM drawings WHERE user = ? AND id = ?", (user_id, drawing_id)
            )
            return cursor.rowcount == 1

    def delete_all(self, user_id: str) -> int:
        """Forget every drawing of a user; returns how many went."""
        with self._connect() as connection:
            return connection.execute("DELETE FROM drawings WHERE user = ?", (user_id,)).rowcount

    def _check_room(self, connection: sqlite3.Connection, user_id: str, new: int) -> None:
        if self.max_per_user is None or new <= 0:
            return
        (count,) = connection.execute(
            "SELECT count(*) FROM drawings WHERE user = ?", (user_id,)
        ).fetchone()
        if count + new > self.max_per_user:
            raise DrawingLimitError(
                f"You keep {count:,} drawings, and a person keeps at most "
                f"{self.max_per_user:,} on this server; {new:,} more do not fit. Delete some on "
                "the Teach page (or download them first), then label new ones."
            )


def _check_user(user: object) -> None:
    if not isinstance(user, str) or not user.strip():
        raise ValueError(f"user must be a non-empty name, got {user!r}.")


# --- The zip: PNGs and a labels file --------------------------------------------------------
def export_zip(drawings: Sequence[Drawing]) -> bytes:
    """The drawings as a zip: `<label>_<id>.png` (28x28 greyscale) and `labels.csv`.

    Args:
        drawings: the drawings to put in, in order.
    """
    buffer = io.BytesIO()
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["file", "label"])
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for drawing in drawings:
            name = f"{drawing.label}_{drawing.id}.png"
            archive.writestr(name, _png(drawing_image(drawing.image)))
            writer.writerow([name, drawing.label])
        archive.writestr(LABELS_FILE_NAME, table.getvalue())
    return buffer.getvalue()


def read_zip(data: bytes) -> list[tuple[str, np.ndarray, int]]:
    """Read a zip made by `export_zip` (or by hand, the same way) into (id, image, label).

    Each image's id is the digest of its pixels, so a drawing brought back twice is kept once.

    Raises:
        DrawingImportError: the zip cannot be used; the message says why in one line.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError):
        raise DrawingImportError(
            "The file is not a zip archive; upload the zip the Download button gave."
        ) from None
    with archive:
        names = {info.filename: info for info in archive.infolist() if not info.is_dir()}
        labels_name = next(
            (name for name in names if name.rsplit("/", 1)[-1] == LABELS_FILE_NAME), None
        )
        if labels_name is None:
            raise DrawingImportError(
                f"The zip has no {LABELS_FILE_NAME}; it needs one line 'file,label' per picture."
            )
        for info in names.values():
            if info.flag_bits & 0x1:
                raise DrawingImportError(
                    f"{info.filename!r} in the zip is protected with a password; zip the "
                    "drawings again without one and upload that."
                )
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise DrawingImportError(
                    f"{info.filename!r} in the zip is packed in a way this page does not read "
                    "(only stored or deflated, the usual); zip the drawings again."
                )
        if sum(info.file_size for info in names.values()) > MAX_IMPORT_BYTES:
            raise DrawingImportError(
                f"The zip holds more than {MAX_IMPORT_BYTES // (1024 * 1024)} MB once unpacked; "
                "drawings of 28x28 pixels take far less."
            )
        folder = labels_name[: -len(LABELS_FILE_NAME)]
        try:
            text = archive.read(labels_name).decode("utf-8-sig")
        except (UnicodeDecodeError, zipfile.BadZipFile, OSError) as error:
            raise DrawingImportError(
                f"{LABELS_FILE_NAME} cannot be read ({type(error).__name__}); it must be UTF-8 text."
            ) from None
        rows = list(csv.reader(io.StringIO(text)))
        if rows and [cell.strip().lower() for cell in rows[0]] == ["file", "label"]:
            rows = rows[1:]
        rows = [row for row in rows if any(cell.strip() for cell in row)]
        if not rows:
            raise DrawingImportError(f"{LABELS_FILE_NAME} lists no drawings.")
        if len(rows) > MAX_IMPORT_DRAWINGS:
            raise DrawingImportError(
                f"{LABELS_FILE_NAME} lists {len(rows)} drawings; at most "
                f"{MAX_IMPORT_DRAWINGS} are taken at once."
            )
        drawings = []
        seen: dict[str, int] = {}
        for number, row in enumerate(rows, start=1):
            if len(row) != 2:
                raise DrawingImportError(
                    f"{LABELS_FILE_NAME} line {number} is {','.join(row)!r}; expected 'file,label'."
                )
            file_name, label_text = row[0].strip(), row[1].strip()
            if label_text not in {str(label) for label in LABELS}:
                raise DrawingImportError(
                    f"{LABELS_FILE_NAME} line {number}: label {label_text!r} of {file_name!r} "
                    "is not a digit from 0 to 9."
                )
            if file_name in seen:
                raise DrawingImportError(
                    f"{LABELS_FILE_NAME} lists {file_name!r} twice (lines {seen[file_name]} and "
                    f"{number}); keep one line for each picture."
                )
            seen[file_name] = number
            member = folder + file_name
            if member not in names:
                raise DrawingImportError(
                    f"{LABELS_FILE_NAME} line {number} names {file_name!r}, which is not in the zip."
                )
            try:
                with Image.open(io.BytesIO(archive.read(member))) as picture:  # the header
                    size = picture.size
                    if size != (IMAGE_SIDE, IMAGE_SIDE):
                        raise DrawingImportError(
                            f"{file_name!r} is {size[0]}x{size[1]} pixels; drawings must be "
                            f"{IMAGE_SIDE}x{IMAGE_SIDE}, as the Download button gives them."
                        )
                    picture.load()
                    image = np.asarray(picture.convert("L"), dtype=np.uint8)
            except (OSError, zipfile.BadZipFile, Image.DecompressionBombError, SyntaxError):
                raise DrawingImportError(f"{file_name!r} is not a picture PIL can read.") from None
            drawings.append((image_id(image), image, int(label_text)))
    return drawings
