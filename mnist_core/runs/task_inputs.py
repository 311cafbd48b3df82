"""What a run's task carries besides its config, read on the server as the run starts: the
base model of a fine-tuning run and the class's drawings of a run that uses them. A worker on
another machine then needs neither the server's models nor its drawings."""

from __future__ import annotations

from typing import Any

from mnist_core.runs.record import Run


class TaskInputError(ValueError):
    """What a run needs cannot be read; the message says what and what to do."""


def task_inputs(run: Run, run_log: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(finetune, class_digits) for `train_run_on_worker`: {"spec", "base_model" bytes} of a
    fine-tuning run, and the class's drawings a run recorded (`class_data.class_task_data`);
    None for what the run does not use.

    Raises:
        TaskInputError: the base model or a recorded drawing is gone (the run cannot start).
    """
    from mnist_core.data.drawings import DrawingStoreError
    from mnist_core.runs.class_data import class_task_data
    from mnist_core.runs.database import RunLogError
    from mnist_core.runs.finetune import base_model_file

    finetune = None
    if run.finetune is not None:
        try:
            base = base_model_file(run.finetune.get("base_model", ""), run_log)
            finetune = {"spec": run.finetune, "base_model": base.read_bytes()}
        except (ValueError, OSError, RunLogError) as error:
            raise TaskInputError(f"The base model could not be read: {error}") from None
    class_digits = None
    if run.class_data is not None:
        try:
            class_digits = class_task_data(run_log, run.id)
        except (ValueError, DrawingStoreError, RunLogError) as error:
            raise TaskInputError(str(error)) from None
    return finetune, class_digits
