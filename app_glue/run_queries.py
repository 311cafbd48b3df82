"""The runs the pages show, read from the server's run log: a user's list, a picked few, the
latest fine-tuning, the line; and what a user does to several at once (hide, delete).

Each raises `RunLogError` when the run log cannot be read; the pages show it with `st.error`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pandas as pd

from app_glue.resources import run_log
from app_glue.user import current_user
from mnist_core.runs.database import RunLogError
from mnist_core.runs.record import Run

# Runs in the Compare page's table at most.
TABLE_RUNS = 500
RUNS_TABLE_COLUMNS = (
    "compare", "run", "user", "status", "test accuracy", "network", "optimizer",
    "learning rate", "loss", "epochs", "images", "seconds", "started", "id",
)  # fmt: skip
NO_FIGURE = "—"
# Pixels of the table's tick column: its header and the editable mark beside it ("small"
# cut the header to "compar").
COMPARE_COLUMN_WIDTH = 104


def runs_for_table(*, everyone: bool, picked: Sequence[str]) -> list[Run]:
    """The runs of the Compare page's table, without their curves (reading them was most of the
    page's time with 200 runs): this user's (or everyone's), and the picked ones besides.

    Args:
        everyone: every user's runs, not only this user's.
        picked: ids of runs to list even when they are not among those (gone ones are left out).
    """
    log = run_log()
    user = None if everyone else current_user()
    listed = log.list_runs(user=user, limit=TABLE_RUNS, include_curves=False)
    return log.runs_with(listed, picked)


def runs_table(runs: Sequence[Run], selection: Sequence[str]) -> pd.DataFrame:
    """The Compare page's table of runs (RUNS_TABLE_COLUMNS): figures as text, "—" for one a
    run does not have (yet), its status in words ("training, 45%")."""
    from mnist_core.modeling.summary import architecture_summary

    table = pd.DataFrame(
        {
            "compare": [run.id in selection for run in runs],
            "run": [run.display_label for run in runs],
            "user": [run.user for run in runs],
            "status": [status_words(run) for run in runs],
            "test accuracy": [
                NO_FIGURE if run.test_accuracy is None else f"{run.test_accuracy:.2%}"
                for run in runs
            ],
            "network": [architecture_summary(run.config) for run in runs],
            "optimizer": [run.config.optimizer for run in runs],
            "learning rate": [f"{run.config.learning_rate:g}" for run in runs],
            "loss": [run.config.loss for run in runs],
            "epochs": [run.config.epochs for run in runs],
            "images": [f"{run.training_images or 60000:,}" for run in runs],
            "seconds": [_seconds(run.metrics.get("training_seconds")) for run in runs],
            "started": [pd.Timestamp(run.created_at, unit="s") for run in runs],
            "id": [run.id for run in runs],
        }
    )
    return table[list(RUNS_TABLE_COLUMNS)]


def status_words(run: Run) -> str:
    """A run's status for a table: "waiting", "training, 45%", or how it ended."""
    if run.status == "queued":
        return "waiting"
    if run.status == "running":
        progress = run.batch_progress()
        return f"training, {progress.fraction_done:.0%}" if progress else "starting"
    return run.status


def table_version(runs: Sequence[Run]) -> str:
    """A short fingerprint of what the table shows of the runs (their ids, statuses, figures):
    it changes when the table should be drawn anew."""
    shown = "|".join(f"{run.id}:{status_words(run)}:{run.test_accuracy}" for run in runs)
    return hashlib.sha256(shown.encode()).hexdigest()[:10]


def _seconds(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else NO_FIGURE


def runs_by_id(run_ids: Sequence[str]) -> list[Run]:
    """The runs of these ids, with their curves, in this order."""
    log = run_log()
    return [log.get_run(run_id) for run_id in run_ids]


def finetune_run_to_show(run_id: str | None) -> Run | None:
    """The fine-tuning run the Teach page shows: `run_id` (the one just started) if it is still
    there, else this user's latest fine-tuning run, else None."""
    log = run_log()
    if run_id:
        try:
            return log.get_run(run_id)
        except RunLogError:
            pass
    return log.latest_run(current_user(), fine_tuned=True)


def runs_in_line() -> list[Run]:
    """The runs training or waiting, first in line first."""
    return run_log().active_runs()


def hide_runs(runs: Sequence[Run]) -> None:
    """Hide runs from their user's list (they stay in the log)."""
    log = run_log()
    for run in runs:
        log.set_hidden(run.id, True)


def delete_runs(runs: Sequence[Run]) -> None:
    """Delete runs, their epochs and their kept models."""
    log = run_log()
    for run in runs:
        log.delete_run(run.id)
