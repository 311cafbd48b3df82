"""The class at a glance: who is here, and each student's best run (the class board).

Both are a few aggregate SQL queries over the run log's file, whatever the size of the class:
one query for everybody seen lately with their runs (finished, running, waiting), their best
test accuracy and their drawings; one for each student's best run (a window function picks
it). The Class page, its projector view and the command line all read them here.

The board ranks finished runs trained from scratch (fine-tuning starts from a model that is
already good, which would tell nothing about the student's choices), hidden runs and the
command line's left out, by their test accuracy on MNIST's whole test set, which every run
is scored on, whatever it trained on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mnist_core.modeling.config import ModelConfig
from mnist_core.modeling.summary import architecture_summary
from mnist_core.runs.class_data import class_drawings_of
from mnist_core.runs.record import FINISHED, QUEUED, RUNNING
from mnist_core.runs.users import CLI_USER

# "Here": seen within the last hour.
PRESENT_SECONDS = 3600.0
# Runs whose curves the projector overlays.
CURVE_RUNS = 10


@dataclass(frozen=True)
class Present:
    """A student seen lately.

    Attributes:
        user_id, name: who.
        last_seen: their last visit (seconds since the epoch).
        finished, running, waiting: their runs in each state.
        best_test_accuracy: of their best finished run (None: none yet).
        drawings: labelled drawings they keep; sharing: shared with the class.
    """

    user_id: str
    name: str
    last_seen: float
    finished: int
    running: int
    waiting: int
    best_test_accuracy: float | None
    drawings: int
    sharing: bool


def present_students(
    run_log: Any, *, within_seconds: float = PRESENT_SECONDS, viewer_id: str | None = None
) -> list[Present]:
    """Everybody seen within `within_seconds` but the viewer (the teacher, whose own browser is
    no student), the most recently seen first (one query)."""
    class_drawings_of(run_log).ensure_tables()
    since = time.time() - within_seconds
    query = f"""
        SELECT u.id, u.name, u.last_seen, coalesce(r.finished, 0), coalesce(r.running, 0),
               coalesce(r.waiting, 0), r.best, coalesce(d.drawings, 0), s.user IS NOT NULL
        FROM users AS u
        LEFT JOIN (
            SELECT user_id, sum(status = '{FINISHED}') AS finished,
                   sum(status = '{RUNNING}') AS running, sum(status = '{QUEUED}') AS waiting,
                   max(CASE WHEN status = '{FINISHED}' AND finetune IS NULL
                       THEN json_extract(metrics, '$.test_accuracy') END) AS best
            FROM runs WHERE user_id IS NOT NULL GROUP BY user_id
        ) AS r ON r.user_id = u.id
        LEFT JOIN (SELECT user, count(*) AS drawings FROM drawings GROUP BY user) AS d
            ON d.user = u.id
        LEFT JOIN drawing_sharing AS s ON s.user = u.id
        WHERE u.last_seen >= ? AND u.id IS NOT ? ORDER BY u.last_seen DESC
    """
    with run_log.database.connect() as connection:
        rows = connection.execute(query, (since, viewer_id)).fetchall()
    return [
        Present(
            user_id=row[0],
            name=row[1],
            last_seen=row[2],
            finished=int(row[3]),
            running=int(row[4]),
            waiting=int(row[5]),
            best_test_accuracy=float(row[6]) if row[6] is not None else None,
            drawings=int(row[7]),
            sharing=bool(row[8]),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class BoardEntry:
    """A student's best run on the class board.

    Attributes:
        rank: 1 for the best.
        run_id, user_id, name: the run and its student (their name now, else the run's).
        test_accuracy: on MNIST's whole test set.
        class_test_accuracy: on the class's held-out writers, when measured.
        network: the network in a few words; parameter_count; training_seconds.
        dataset: what it trained on.
    """

    rank: int
    run_id: str
    user_id: str
    name: str
    test_accuracy: float
    class_test_accuracy: float | None
    network: str
    parameter_count: int | None
    training_seconds: float | None
    dataset: str


def class_board(run_log: Any) -> list[BoardEntry]:
    """Each student's best finished run, the best first (one query)."""
    query = f"""
        SELECT id, user_id, name, accuracy, class_accuracy, config, parameters, seconds, dataset
        FROM (
            SELECT r.id, coalesce(r.user_id, r.user) AS user_id, coalesce(u.name, r.user) AS name,
                   json_extract(r.metrics, '$.test_accuracy') AS accuracy,
                   json_extract(r.metrics, '$.class_digits.test_accuracy') AS class_accuracy,
                   r.config, json_extract(r.metrics, '$.parameter_count') AS parameters,
                   json_extract(r.metrics, '$.training_seconds') AS seconds, r.dataset,
                   row_number() OVER (
                       PARTITION BY coalesce(r.user_id, r.user)
                       ORDER BY json_extract(r.metrics, '$.test_accuracy') DESC, r.finished_at
                   ) AS place
            FROM runs AS r LEFT JOIN users AS u ON u.id = r.user_id
            WHERE r.status = '{FINISHED}' AND r.finetune IS NULL AND r.hidden = 0
              AND coalesce(r.user_id, r.user) != ?
              AND json_extract(r.metrics, '$.test_accuracy') IS NOT NULL
        )
        WHERE place = 1 ORDER BY accuracy DESC, id
    """
    with run_log.database.connect() as connection:
        rows = connection.execute(query, (CLI_USER.id,)).fetchall()
    return [
        BoardEntry(
            rank=rank,
            run_id=row[0],
            user_id=row[1],
            name=row[2],
            test_accuracy=float(row[3]),
            class_test_accuracy=float(row[4]) if row[4] is not None else None,
            network=architecture_summary(ModelConfig.from_json(row[5])),
            parameter_count=int(row[6]) if row[6] is not None else None,
            training_seconds=float(row[7]) if row[7] is not None else None,
            dataset=row[8],
        )
        for rank, row in enumerate(rows, start=1)
    ]


def board_names(
    entries: Sequence[BoardEntry], *, names: bool, viewer_id: str | None = None
) -> dict[str, str]:
    """How each board entry's student is shown: their name, or "student 1…n" in board order;
    the viewer's own row says so ("student 3 (you)")."""
    shown = {}
    for entry in entries:
        label = entry.name if names else f"student {entry.rank}"
        shown[entry.run_id] = f"{label} (you)" if entry.user_id == viewer_id else label
    return shown


def board_curves(run_log: Any, run_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Each run's validation accuracy at the end of every epoch: {"run_id", "epoch",
    "accuracy"} rows (the projector's overlaid curves)."""
    if not run_ids:
        return []
    marks = ",".join("?" * len(run_ids))
    with run_log.database.connect() as connection:
        rows = connection.execute(
            f"SELECT run_id, epoch, metrics FROM epochs WHERE run_id IN ({marks}) "
            "ORDER BY run_id, epoch",
            list(run_ids),
        ).fetchall()
    curves = []
    for run_id, epoch, text in rows:
        accuracy = json.loads(text).get("val_accuracy")
        if isinstance(accuracy, int | float) and accuracy == accuracy:
            curves.append({"run_id": run_id, "epoch": int(epoch), "accuracy": float(accuracy)})
    return curves
