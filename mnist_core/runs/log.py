"""The run log: every training is a `Run` (`runs.record`), kept in SQLite, compared, shared.

The queries and the single-row writes the lifecycle (`runs.lifecycle`) is made of:

    create_run ──► queued ──mark_running──► running ──finish_run──► finished | stopped
                     │                        │                      | failed | diverged
                     └──── cancel_run ────────┴── recover_interrupted ──► interrupted

While a run trains, `record_progress` (at most four times a second) and `record_epoch` (each
epoch) write what the live view draws, so a reload or another tab reads the same run. Every
write is one transaction: a run is never half-written. The file, its schema and its errors
(`RunLogError`) are `runs.database`'s.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mnist_core.base.paths import default_runs_path
from mnist_core.modeling.config import ModelConfig
from mnist_core.runs.database import (
    ENGINE_SILENCE_SECONDS,
    Database,
    UnknownRunError,
    epoch_histories,
    insert_run_drawings,
    run_from_row,
    thinned,
    to_json,
)
from mnist_core.runs.record import (
    ACTIVE_STATUSES,
    ENDED_STATUSES,
    INTERRUPTED,
    QUEUED,
    RUNNING,
    STATUSES,
    STOPPED,
    Run,
    new_id,
)
from mnist_core.runs.users import CLI_USER, NAME_ONLY_PREFIX, User, as_user


def this_process_engine() -> str:
    """An engine name for this process: host, process id and a random part (ids get reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class RunLog:
    """The run log in one SQLite file.

    Args:
        path: the database file (default: `default_runs_path()`); created with its schema on
            first use, its folder too.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_runs_path()
        self.database = Database(self.path)

    def _connect(self) -> Any:
        """One connection for one transaction (see `Database.connect`)."""
        return self.database.connect()

    def check(self) -> None:
        """Open the log (creating it if needed); raise RunLogError if it cannot be used."""
        with self._connect() as connection:
            connection.execute("SELECT count(*) FROM runs").fetchone()

    # --- reading ----------------------------------------------------------------------------
    def get_run(self, run_id: str) -> Run:
        """The run with this id; UnknownRunError if there is none."""
        with self._connect() as connection:
            connection.row_factory = sqlite3.Row
            row = connection.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise UnknownRunError(
                    f"No run has the id {run_id!r}; `python -m mnist_core runs` lists them."
                )
            return run_from_row(row, epoch_histories(connection, [run_id])[run_id])

    def list_runs(
        self,
        *,
        user: User | str | None = None,
        user_name: str | None = None,
        statuses: Sequence[str] | None = None,
        include_hidden: bool = False,
        request_id: str | None = None,
        limit: int | None = None,
        include_curves: bool = True,
    ) -> list[Run]:
        """Runs, newest first.

        Args:
            user: only the runs this user owns (a `User`; a plain name: the user known by it
                alone); default: everyone's.
            user_name: only runs started under this name (whoever owns them).
            statuses: only runs in these statuses (default: all).
            include_hidden: also the runs their users hid (default False).
            request_id: only the runs of this request (a lesson's runs).
            limit: at most this many (default: all).
            include_curves: read each run's batch curve and history (default True). False
                leaves them empty, for a table of runs: the curves are most of what a run
                holds, and reading them made a listing of 200 runs five times slower.
        """
        clauses, values = [], []
        if user is not None:
            owner = as_user(user)
            if owner.id.startswith(NAME_ONLY_PREFIX) or owner.id == CLI_USER.id:
                # Runs recorded before user ids were kept belong to their name alone.
                clauses.append("(user_id = ? OR (user_id IS NULL AND user = ?))")
                values.extend([owner.id, owner.name])
            else:
                clauses.append("user_id = ?")
                values.append(owner.id)
        if user_name is not None:
            clauses.append("user = ?")
            values.append(user_name)
        if statuses is not None:
            unknown = sorted(set(statuses) - set(STATUSES))
            if unknown:
                raise ValueError(
                    f"statuses must be among {', '.join(STATUSES)}, got {', '.join(unknown)}."
                )
            clauses.append(f"status IN ({','.join('?' * len(statuses))})")
            values.extend(statuses)
        if not include_hidden:
            clauses.append("hidden = 0")
        if request_id is not None:
            clauses.append("request_id = ?")
            values.append(request_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._connect() as connection:
            columns = "*"
            if not include_curves:
                columns = ", ".join(
                    name
                    for _, name, *_ in connection.execute("PRAGMA table_info(runs)")
                    if name != "batch_curve"
                )
            query = f"SELECT {columns} FROM runs {where} ORDER BY created_at DESC, rowid DESC"
            if limit is not None:
                query += f" LIMIT {int(limit)}"
            connection.row_factory = sqlite3.Row
            rows = connection.execute(query, values).fetchall()
            ids = [row["id"] for row in rows]
            histories = (
                epoch_histories(connection, ids) if include_curves else {key: [] for key in ids}
            )
        return [run_from_row(row, histories[row["id"]]) for row in rows]

    def weight_summaries(self, run_id: str) -> list[list[dict[str, Any]]]:
        """Every epoch's summary of the layers' weights (for the Inside page)."""
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT weight_summary FROM epochs WHERE run_id = ? ORDER BY epoch", (run_id,)
            ).fetchall()
        return [json.loads(text) for (text,) in rows]

    def active_runs(self) -> list[Run]:
        """Queued and running runs, oldest first: the line."""
        return list(reversed(self.list_runs(statuses=ACTIVE_STATUSES, include_hidden=True)))

    def latest_run(self, user: User | str, *, fine_tuned: bool | None = None) -> Run | None:
        """A user's newest run (with its curves), or None; only fine-tuning runs (True), only
        runs trained from scratch (False), or either (None)."""
        candidates = self.list_runs(user=user, limit=50, include_curves=False)
        newest = next(
            (run for run in candidates if fine_tuned is None or run.fine_tuned == fine_tuned),
            None,
        )
        return self.get_run(newest.id) if newest is not None else None

    def runs_with(self, runs: list[Run], run_ids: Sequence[str]) -> list[Run]:
        """`runs` followed by those of `run_ids` it lacks; ids of runs gone are left out."""
        known = {run.id for run in runs}
        added = []
        for run_id in run_ids:
            if run_id in known:
                continue
            try:
                added.append(self.get_run(run_id))
            except UnknownRunError:
                continue
            known.add(run_id)
        return [*runs, *added]

    # --- the lifecycle ----------------------------------------------------------------------
    def create_run(
        self,
        config: ModelConfig,
        *,
        user: User | str,
        preset: str | None = None,
        lesson: str | None = None,
        request_id: str | None = None,
        label: str | None = None,
        parent_id: str | None = None,
        training_images: int | None = None,
        engine: str | None = None,
        limits: dict[str, Any] | None = None,
        status: str = QUEUED,
        finetune: dict[str, Any] | None = None,
        class_data: Any = None,
    ) -> Run:
        """Record a new run, queued (or, for a run trained right here, already running).

        Args:
            config: what to build and train (validated before).
            user: who asks (a `User`; a plain name stands for a user known by it alone).
            preset, lesson, label, parent_id: tags (see `Run`).
            request_id: shared by runs asked for together (default: a new id).
            training_images: training images before the validation split (None: all).
            engine: the engine that will schedule it.
            limits: the class-mode caps applied to it.
            status: QUEUED (default) or RUNNING.
            finetune: what a fine-tuning run fine-tunes (see `Run.finetune`); default None.
            class_data: the class's drawings it uses (a `class_data.ClassDataSpec`), recorded
                in the same transaction; default None.
        """
        user = as_user(user)
        if status not in (QUEUED, RUNNING):
            raise ValueError(f"status of a new run must be 'queued' or 'running', got {status!r}.")
        run_id = new_id()
        now = time.time()
        with self._connect() as connection:
            row = {
                "id": run_id, "user": user.name, "user_id": user.id, "preset": preset,
                "lesson": lesson, "request_id": request_id or run_id, "label": label,
                "parent_id": parent_id, "dataset": config.dataset,
                "training_images": training_images, "config": config.to_json(),
                "status": status, "created_at": now,
                "started_at": now if status == RUNNING else None, "engine": engine,
                "limits": to_json(limits or {}),
                "finetune": to_json(finetune) if finetune is not None else None,
                "class_data": to_json(class_data.summary()) if class_data is not None else None,
            }  # fmt: skip
            connection.execute(
                f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                tuple(row.values()),
            )
            if class_data is not None:
                insert_run_drawings(connection, run_id, class_data.rows())
        return self.get_run(run_id)

    def mark_running(
        self, run_id: str, *, worker: str | None = None, engine: str | None = None
    ) -> bool:
        """A queued run begins; False if it is no longer queued (cancelled meanwhile).

        Args:
            run_id: the run.
            worker: the worker that trains it, if known.
            engine: the engine that starts it, which becomes its engine (default: keep the engine).
        """
        with self._connect() as connection:
            cursor = connection.execute(
                "UPDATE runs SET status = ?, started_at = ?, worker = ?, reason = '', "
                "engine = coalesce(?, engine) WHERE id = ? AND status = ?",
                (RUNNING, time.time(), worker, engine, run_id, QUEUED),
            )
            return cursor.rowcount == 1

    def record_worker(self, run_id: str, worker: str) -> None:
        """The worker that trains the run."""
        self._update(run_id, "worker = ?", (worker,))

    def record_plan(self, run_id: str, plan: dict[str, Any]) -> None:
        """What the running run is about to do (epochs, batches, samples)."""
        self._update(run_id, "plan = ?", (to_json(plan),))

    def record_progress(self, run_id: str, *progress: dict[str, Any]) -> None:
        """Batch progress, oldest first: the last is the latest; each is a batch-curve point."""
        if not progress:
            return
        points = [
            [
                entry["epoch"] - 1 + entry["batch"] / (entry.get("batches_per_epoch") or 1),
                entry["loss"],
                entry["accuracy"],
            ]
            for entry in progress
        ]
        with self._connect() as connection:
            row = connection.execute(
                "SELECT batch_curve FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            if row is None:
                return
            curve = thinned([*json.loads(row[0]), *points])
            connection.execute(
                "UPDATE runs SET progress = ?, batch_curve = ? WHERE id = ?",
                (to_json(progress[-1]), to_json(curve), run_id),
            )

    def record_epoch(
        self, run_id: str, metrics: dict[str, Any], weight_summary: list[dict[str, Any]]
    ) -> None:
        """One finished epoch: its metrics and the summary of every layer's weights."""
        with self._connect() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO epochs (run_id, epoch, metrics, weight_summary) "
                "VALUES (?, ?, ?, ?)",
                (run_id, int(metrics["epoch"]), to_json(metrics), to_json(weight_summary)),
            )

    def finish_run(
        self,
        run_id: str,
        status: str,
        reason: str = "",
        *,
        metrics: dict[str, Any] | None = None,
        model_path: str | None = None,
    ) -> Run:
        """End a run with its status, why, its final metrics and the kept model's file."""
        if status not in ENDED_STATUSES:
            raise ValueError(
                f"status of an ended run must be one of {', '.join(ENDED_STATUSES)}, "
                f"got {status!r}."
            )
        with self._connect() as connection:
            connection.execute(
                "UPDATE runs SET status = ?, reason = ?, finished_at = ?, "
                "metrics = coalesce(?, metrics), model_path = coalesce(?, model_path), "
                "progress = CASE WHEN ? IN ('finished') THEN NULL ELSE progress END "
                "WHERE id = ?",
                (
                    status,
                    reason,
                    time.time(),
                    to_json(metrics) if metrics is not None else None,
                    model_path,
                    status,
                    run_id,
                ),
            )
        return self.get_run(run_id)

    def request_stop(self, run_id: str, reason: str = "") -> Run:
        """Ask a run to stop (the engine sees it and tells the worker); `reason` says who
        asked, when it was not the run's own user (it leads the reason the run ends with)."""
        self._update(run_id, "stop_requested = 1, stop_reason = ?", (reason,))
        return self.get_run(run_id)

    def record_phase(self, run_id: str, phase: str) -> None:
        """What the run's worker is doing before training begins (e.g. "loading MNIST")."""
        self._update(run_id, "phase = ?", (phase,))

    def cancel_run(self, run_id: str, reason: str) -> bool:
        """End a queued run before it starts (status "stopped"); False if it already started."""
        with self._connect() as connection:
            cursor = connection.execute(
                "UPDATE runs SET status = ?, reason = ?, finished_at = ?, stop_requested = 1 "
                "WHERE id = ? AND status = ?",
                (STOPPED, reason, time.time(), run_id, QUEUED),
            )
            return cursor.rowcount == 1

    def set_model_name(self, run_id: str, model_name: str | None) -> None:
        """The store name the run's model was saved as."""
        self._update(run_id, "model_name = ?", (model_name,))

    def set_hidden(self, run_id: str, hidden: bool = True) -> None:
        """Hide a run from its user's list (or show it again)."""
        self._update(run_id, "hidden = ?", (1 if hidden else 0,))

    def delete_run(self, run_id: str) -> None:
        """Delete a run, its epochs and its kept model file."""
        run = self.get_run(run_id)
        with self._connect() as connection:
            for table in ("epochs", "run_drawings"):
                connection.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
            connection.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        if run.model_path:
            with contextlib.suppress(OSError):
                Path(run.model_path).unlink()

    def _update(self, run_id: str, assignment: str, values: tuple[Any, ...]) -> None:
        with self._connect() as connection:
            cursor = connection.execute(
                f"UPDATE runs SET {assignment} WHERE id = ?", (*values, run_id)
            )
            if cursor.rowcount == 0:
                raise UnknownRunError(f"No run has the id {run_id!r}.")

    # --- engines and recovery ----------------------------------------------------------------
    def heartbeat(self, engine: str) -> None:
        """Say that `engine` (an engine) is alive."""
        with self._connect() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO engines (engine, seen_at) VALUES (?, ?)",
                (engine, time.time()),
            )

    def engine_alive(self, engine: str | None, *, now: float | None = None) -> bool:
        """Whether the engine `engine` still runs: its process exists here and it spoke lately."""
        if not engine:
            return False
        host, _, rest = engine.partition(":")
        pid_text = rest.partition(":")[0]
        if host == socket.gethostname() and pid_text.isdigit():
            try:
                os.kill(int(pid_text), 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                pass
        with self._connect() as connection:
            row = connection.execute(
                "SELECT seen_at FROM engines WHERE engine = ?", (engine,)
            ).fetchone()
        if row is None:
            return False
        return (now or time.time()) - row[0] <= ENGINE_SILENCE_SECONDS

    def recover_interrupted(self, *, keep_engine: str | None = None) -> list[Run]:
        """Mark runs left queued or running by an engine that is gone as interrupted.

        Queued runs without an engine (queued from another process for whichever engine serves
        this log) keep waiting.

        Args:
            keep_engine: an engine known to be alive (the caller itself).

        Returns:
            The runs that became interrupted.
        """
        changed = []
        for run in self.active_runs():
            if run.engine == keep_engine or self.engine_alive(run.engine):
                continue
            if run.engine is None and run.status == QUEUED:
                continue  # queued for whichever engine serves this log (`engine.queue_runs`)
            with self._connect() as connection:
                cursor = connection.execute(
                    "UPDATE runs SET status = ?, reason = ?, finished_at = ? "
                    "WHERE id = ? AND status IN (?, ?)",
                    (
                        INTERRUPTED,
                        "The server that scheduled this run stopped before it ended. "
                        "Resubmit it to train it again.",
                        time.time(),
                        run.id,
                        QUEUED,
                        RUNNING,
                    ),
                )
            if cursor.rowcount:
                changed.append(self.get_run(run.id))
        return changed

    def model_path_for(self, run_id: str) -> Path:
        """Where a run's trained model is kept: `run_models/<id>.keras` beside the log."""
        return self.path.parent / "run_models" / f"{run_id}.keras"

    def delete_runs(self, *, keep_user_ids: Sequence[str] = (CLI_USER.id,)) -> int:
        """Delete every ended run except those of the users `keep_user_ids` (the teacher's
        "clear the class's runs"); returns how many went. Queued and running runs stay."""
        marks = ",".join("?" * len(keep_user_ids)) or "''"
        with self._connect() as connection:
            ids = [
                row[0]
                for row in connection.execute(
                    f"SELECT id FROM runs WHERE coalesce(user_id, user) NOT IN ({marks}) "
                    f"AND status IN ({','.join('?' * len(ENDED_STATUSES))})",
                    (*keep_user_ids, *ENDED_STATUSES),
                )
            ]
        for run_id in ids:
            self.delete_run(run_id)
        return len(ids)

    # --- server-wide settings ---------------------------------------------------------------
    def get_setting(self, name: str, default: str | None = None) -> str | None:
        """A server-wide setting (e.g. whether class mode is on)."""
        return self.database.get_setting(name, default)

    def set_setting(self, name: str, value: str) -> None:
        """Change a server-wide setting."""
        self.database.set_setting(name, value)
