"""The lesson's record: the class's runs as a CSV to keep, and clearing the class's data when
the lesson is over.

The CSV has one row a run (the command line's left out): the student, the run's state, what it
trained on, its figures, then every setting of its `ModelConfig` in a column of its own (the
config's own field names), so that any run can be rebuilt from its row.

Clearing (`clear_class_data`) deletes what the server keeps about the students: every run but
the command line's (waiting runs are taken out of the line first; a run still training is
asked to stop, and stays until it has), every labelled drawing (shared or not) with the
sharing and the removals, every name, and the teacher's suggestion and board setting. Saved
models stay (a teacher deletes those one by one).
"""

from __future__ import annotations

import csv
import datetime
import io
from dataclasses import dataclass, fields
from typing import Any

from mnist_core.data.format import dataset_title
from mnist_core.modeling.config import ModelConfig
from mnist_core.runs.class_data import class_drawings_of
from mnist_core.runs.class_settings import (
    BoardVisibility,
    set_board_visibility,
    withdraw_suggestion,
)
from mnist_core.runs.record import QUEUED, RUNNING, finite_or_none
from mnist_core.runs.users import CLI_USER, UserDirectory

CANCELLED_AT_CLEARING = "Your teacher cleared the class's data before this run began."
FIGURE_COLUMNS = (
    "student",
    "run",
    "status",
    "created",
    "preset",
    "lesson",
    "label",
    "trained_on",
    "training_images",
    "test_accuracy",
    "class_test_accuracy",
    "test_loss",
    "parameter_count",
    "training_seconds",
    "epochs_completed",
)
SETTING_COLUMNS = tuple(field.name for field in fields(ModelConfig))


def class_runs_csv(run_log: Any) -> str:
    """Every run of the class (not the command line's), newest first, as CSV text: one row a
    run, its figures, then each of its settings (see the module's docstring)."""
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow([*FIGURE_COLUMNS, *SETTING_COLUMNS])
    for run in run_log.list_runs(include_hidden=True, include_curves=False):
        if run.owner_id == CLI_USER.id:
            continue
        config = run.config.to_dict()
        writer.writerow(
            [
                run.user,
                run.id,
                run.status,
                datetime.datetime.fromtimestamp(run.created_at).isoformat(timespec="seconds"),
                run.preset or "",
                run.lesson or "",
                run.label or "",
                dataset_title(run.config.dataset),
                run.training_images if run.training_images is not None else "all",
                _number(run.test_accuracy),
                _number(run.class_test_accuracy),
                _number(run.metrics.get("test_loss")),
                run.parameter_count if run.parameter_count is not None else "",
                _number(run.training_seconds),
                run.metrics.get("epochs_completed", len(run.history) or ""),
                *[_setting(config[name]) for name in SETTING_COLUMNS],
            ]
        )
    return table.getvalue()


def _number(value: Any) -> str:
    number = finite_or_none(value)
    return "" if number is None else f"{number:.6g}"


def _setting(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class ClearedData:
    """What clearing the class's data removed.

    Attributes:
        runs: runs deleted; still_training: runs asked to stop, deleted by the next clearing.
        drawings: labelled drawings deleted; names: users forgotten.
    """

    runs: int
    still_training: int
    drawings: int
    names: int

    def sentence(self) -> str:
        """What went, in one or two sentences."""
        text = f"Deleted {self.runs} run(s), {self.drawings} drawing(s) and {self.names} name(s)."
        if self.still_training:
            text += (
                f" {self.still_training} run(s) still training were asked to stop: clear again "
                "in a minute to delete them too."
            )
        return text


def clear_class_data(run_log: Any) -> ClearedData:
    """Delete the class's runs, drawings and names (see the module's docstring)."""
    still_training = 0
    for run in run_log.active_runs():
        if run.owner_id == CLI_USER.id:
            continue
        if run.status == QUEUED and run_log.cancel_run(run.id, CANCELLED_AT_CLEARING):
            continue
        if run.status in (QUEUED, RUNNING):
            run_log.request_stop(run.id)
            still_training += 1
    runs = run_log.delete_runs()
    drawings = class_drawings_of(run_log).forget_everything()
    users = UserDirectory(run_log.database)
    everyone = [user.id for user in users.list_users()]
    users.forget(everyone)
    withdraw_suggestion(run_log)
    set_board_visibility(run_log, BoardVisibility())
    return ClearedData(runs, still_training, drawings, len(everyone))
