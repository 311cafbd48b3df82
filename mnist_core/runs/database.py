"""The server's SQLite file: its schema, its migrations, one connection per transaction.

The run log (`runs.log`), the engines' heartbeats and the server-wide settings live in one
file (`<data directory>/runs.sqlite3`, or `MNIST_RUNS_DB`), in WAL mode so that readers never
wait for the writer. A file made by an older version is brought up to date on first use:
renamed columns and tables are renamed, added columns added, and every run keeps its data.

Problems with the file itself (missing folder, locked, damaged) raise `RunLogError`, whose
message says what is wrong and what to do; callers show it and carry on.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mnist_core.base.paths import RUNS_DB_ENVIRONMENT_VARIABLE
from mnist_core.modeling.config import ModelConfig
from mnist_core.runs.record import Run, upgraded_limits, upgraded_metrics, upgraded_plan

# How long a writer waits for another writer before the log counts as locked.
LOCK_TIMEOUT_SECONDS = 10.0
# An engine (a server's engine) that has not said it is alive for this long is gone.
ENGINE_SILENCE_SECONDS = 60.0
# The batch curve keeps at most this many points: when it is full, every other point goes,
# so a long run keeps its whole shape at half the resolution instead of losing its start.
MAX_BATCH_CURVE_POINTS = 400
SCHEMA_VERSION = 4
# Columns added after the first version, with their definitions: a log made by an older
# version gets them on first use (`ALTER TABLE ... ADD COLUMN`), its runs keep their data.
_ADDED_COLUMNS = {
    "finetune": "TEXT",
    "user_id": "TEXT",
    "stop_reason": "TEXT NOT NULL DEFAULT ''",
    "phase": "TEXT",
}
# Names an older version used (schema 2 and before), and what they are called now.
_RENAMED_TABLES = {"owners": "engines"}
_RENAMED_COLUMNS = {
    "runs": {"train_images": "training_images", "owner": "engine"},
    "engines": {"owner": "engine"},
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    preset TEXT,
    lesson TEXT,
    request_id TEXT NOT NULL,
    label TEXT,
    parent_id TEXT,
    dataset TEXT NOT NULL,
    training_images INTEGER,
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    engine TEXT,
    worker TEXT,
    plan TEXT,
    progress TEXT,
    batch_curve TEXT NOT NULL DEFAULT '[]',
    metrics TEXT NOT NULL DEFAULT '{}',
    model_path TEXT,
    model_name TEXT,
    hidden INTEGER NOT NULL DEFAULT 0,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    limits TEXT NOT NULL DEFAULT '{}',
    finetune TEXT,
    user_id TEXT,
    stop_reason TEXT NOT NULL DEFAULT '',
    phase TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_user ON runs (user, created_at);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, created_at);
CREATE TABLE IF NOT EXISTS epochs (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    weight_summary TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE IF NOT EXISTS engines (
    engine TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT UNIQUE,
    created_at REAL NOT NULL,
    last_seen REAL NOT NULL,
    released INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS device_codes (
    code TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    user_id TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class RunLogError(Exception):
    """The run log cannot be used; the message says what is wrong and what to do."""


class UnknownRunError(RunLogError, KeyError):
    """No run has that id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Database:
    """One SQLite file, its schema made (or brought up to date) on first use.

    Args:
        path: the database file; its folder is made when missing.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._ready = False

    def explain(self, error: sqlite3.Error) -> RunLogError:
        text = str(error)
        if "locked" in text or "busy" in text:
            return RunLogError(
                f"The run log {self.path} is locked by another program (waited "
                f"{LOCK_TIMEOUT_SECONDS:.0f} s). Close the program holding it, or set "
                f"{RUNS_DB_ENVIRONMENT_VARIABLE} to another file, and try again."
            )
        if isinstance(error, sqlite3.DatabaseError) and (
            "not a database" in text or "malformed" in text or "corrupt" in text
        ):
            return RunLogError(
                f"The run log {self.path} is damaged ({text}). Move it aside (or delete it) and "
                "a new, empty one is made on next use; saved models are not affected."
            )
        if "unable to open" in text or "readonly" in text or "read-only" in text:
            return RunLogError(
                f"The run log {self.path} cannot be opened for writing ({text}). Check that "
                f"its folder exists and is writable, or set {RUNS_DB_ENVIRONMENT_VARIABLE} "
                "to a file that can be written."
            )
        return RunLogError(f"The run log {self.path} failed: {text}.")

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """One connection for one transaction; committed on success, rolled back on error."""
        try:
            if not self._ready:
                self.create_schema()
            connection = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_SECONDS)
        except sqlite3.Error as error:
            raise self.explain(error) from None
        try:
            connection.execute("PRAGMA foreign_keys = ON")
            with connection:
                yield connection
        except sqlite3.IntegrityError:
            raise  # a rule of the schema (a name already taken): the caller says what to do
        except sqlite3.Error as error:
            raise self.explain(error) from None
        finally:
            connection.close()

    def create_schema(self) -> None:
        if not self.path.parent.exists():
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise RunLogError(
                    f"The run log's folder {self.path.parent} does not exist and cannot be "
                    f"made ({error.strerror}). Set {RUNS_DB_ENVIRONMENT_VARIABLE} to a "
                    "writable file, or make the folder."
                ) from None
        connection = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_SECONDS)
        try:
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            del mode  # "memory" or "delete" on file systems without WAL support: still safe
            with connection:
                _rename_old_names(connection)
                connection.executescript(_SCHEMA)
                present = {row[1] for row in connection.execute("PRAGMA table_info(runs)")}
                for column, definition in _ADDED_COLUMNS.items():
                    if column not in present:
                        connection.execute(f"ALTER TABLE runs ADD COLUMN {column} {definition}")
                connection.execute(
                    "CREATE INDEX IF NOT EXISTS runs_by_user_id ON runs (user_id, created_at)"
                )
                connection.execute(
                    "UPDATE settings SET value = ? WHERE name = 'schema_version' "
                    "AND CAST(value AS INTEGER) < ?",
                    (str(SCHEMA_VERSION), SCHEMA_VERSION),
                )
                connection.execute(
                    "INSERT OR IGNORE INTO settings (name, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
        finally:
            connection.close()
        self._ready = True

    def get_setting(self, name: str, default: str | None = None) -> str | None:
        """A server-wide setting (e.g. whether class mode is on)."""
        with self.connect() as connection:
            row = connection.execute(
                "SELECT value FROM settings WHERE name = ?", (name,)
            ).fetchone()
        return row[0] if row else default

    def set_setting(self, name: str, value: str) -> None:
        """Change a server-wide setting."""
        with self.connect() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)", (name, value)
            )


def _rename_old_names(connection: sqlite3.Connection) -> None:
    """Give the tables and columns of an older version's file their present names."""
    tables = {
        row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    for old, new in _RENAMED_TABLES.items():
        if old in tables and new not in tables:
            connection.execute(f"ALTER TABLE {old} RENAME TO {new}")
            tables = (tables - {old}) | {new}
    for table, renames in _RENAMED_COLUMNS.items():
        if table not in tables:
            continue
        present = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        for old, new in renames.items():
            if old in present and new not in present:
                connection.execute(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}")


def to_json(value: Any) -> str:
    return json.dumps(value, allow_nan=True, separators=(",", ":"))


def from_json(text: str | None, default: Any) -> Any:
    if text is None:
        return default
    return json.loads(text)


def thinned(points: list[Any]) -> list[Any]:
    while len(points) > MAX_BATCH_CURVE_POINTS:
        points = points[::2]
    return points


def run_from_row(row: sqlite3.Row, history: list[dict[str, Any]]) -> Run:
    """A run from its row of the runs table and its epochs' metrics."""
    return Run(
        id=row["id"],
        user=row["user"],
        config=ModelConfig.from_json(row["config"]),
        preset=row["preset"],
        lesson=row["lesson"],
        request_id=row["request_id"],
        label=row["label"],
        parent_id=row["parent_id"],
        dataset=row["dataset"],
        training_images=row["training_images"],
        status=row["status"],
        reason=row["reason"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        engine=row["engine"],
        worker=row["worker"],
        plan=upgraded_plan(from_json(row["plan"], None)),
        progress=from_json(row["progress"], None),
        batch_curve=tuple(
            tuple(point)
            for point in from_json(
                # `in row` would look at the values; a listing may leave the column out.
                row["batch_curve"] if "batch_curve" in row.keys() else None,  # noqa: SIM118
                [],
            )
        ),
        history=tuple(history),
        metrics=upgraded_metrics(from_json(row["metrics"], {})),
        model_path=row["model_path"],
        model_name=row["model_name"],
        hidden=bool(row["hidden"]),
        stop_requested=bool(row["stop_requested"]),
        limits=upgraded_limits(from_json(row["limits"], {})),
        finetune=from_json(row["finetune"] if "finetune" in row.keys() else None, None),  # noqa: SIM118
        user_id=row["user_id"] if "user_id" in row.keys() else None,  # noqa: SIM118
        stop_reason=row["stop_reason"] if "stop_reason" in row.keys() else "",  # noqa: SIM118
        phase=row["phase"] if "phase" in row.keys() else None,  # noqa: SIM118
    )


def epoch_histories(
    connection: sqlite3.Connection, run_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Every epoch's metrics of these runs, oldest first, by run id."""
    histories: dict[str, list[dict[str, Any]]] = {run_id: [] for run_id in run_ids}
    for start in range(0, len(run_ids), 500):
        chunk = list(run_ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        for run_id, metrics in connection.execute(
            f"SELECT run_id, metrics FROM epochs WHERE run_id IN ({marks}) ORDER BY run_id, epoch",
            chunk,
        ):
            histories[run_id].append(json.loads(metrics))
    return histories
