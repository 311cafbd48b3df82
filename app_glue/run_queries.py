"""The runs the pages show, read from the server's run log: a user's list, a picked few, the
latest fine-tuning, the line; and what a user does to several at once (hide, delete).

Each raises `RunLogError` when the run log cannot be read; the pages show it with `st.error`.
"""

from __future__ import annotations

from collections.abc import Sequence

from app_glue.resources import run_log
from app_glue.user import current_user
from mnist_core.runs.database import RunLogError
from mnist_core.runs.record import Run

# Runs in the Compare page's table at most.
TABLE_RUNS = 500


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
