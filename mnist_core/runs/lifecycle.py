"""A run's lifecycle, in one place: queued → running → ended → its model kept.

    queue_runs (runs.request)       ─► queued
    RunLog.mark_running             ─► running
    ended_status(result)            ─  the one mapping of why a training ended to a status
    end_run(log, id, ending)        ─► finished | stopped | diverged | failed, model kept
    fail_run(log, id, reason)       ─► failed
    RunLog.cancel_run / recover     ─► stopped | interrupted

Whoever trains (the engine's worker, the command line's `LocalRun`, fine-tuning) turns its
`TrainingResult` into a `RunEnding` with `run_ending`: status and reason, the final figures
(`run_metrics`) and the model's `.keras` bytes. `end_run` writes the model atomically beside
the log, then ends the run; a model that cannot be written, or a log that cannot take the
end, never leaves the run `running`: it ends `failed` with the reason as soon as the log can
be written (the engine retries), and no temporary file is left.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnist_core.runs.database import RunLogError
from mnist_core.runs.log import RunLog
from mnist_core.runs.record import DIVERGED, FAILED, FINISHED, STOPPED, Run
from mnist_core.training.progress import STOP_COMPLETED, STOP_NAN

MODEL_NOT_KEPT_REASON = "The trained model could not be written ({problem}); nothing was kept."


@dataclass(frozen=True)
class RunEnding:
    """How a trained run ends: what the log records and the model it keeps.

    Attributes:
        status: one of the ended statuses.
        reason: why, in a sentence for the user.
        metrics: the final figures (`run_metrics`).
        model: the trained model as the bytes of its `.keras` file; None when nothing is
            worth keeping (a diverged run).
    """

    status: str
    reason: str
    metrics: dict[str, Any] = field(default_factory=dict)
    model: bytes | None = None


def ended_status(result: Any) -> tuple[str, str]:
    """The status and reason a training ends its run with (a `TrainingResult`).

    A loss that became NaN is "diverged"; a completed training "finished"; a stop on
    request or at the time limit "stopped" (the model keeps what it learned).
    """
    if result.stop_reason == STOP_NAN:
        return DIVERGED, result.message
    if result.stop_reason == STOP_COMPLETED:
        return FINISHED, result.message
    return STOPPED, result.message


def run_metrics(result: Any, dataset: Any, *, deadline: float | None = None) -> dict[str, Any]:
    """The final figures of a run: test accuracy and loss on the whole test set, per-class
    accuracy and the confusion matrix, parameter count, time and speed.

    The per-class figures come from the training's own pass over the test set; a run validated
    on the test set needs one more pass, made unless the run's time is up (`deadline`, on
    `time.monotonic()`'s clock). If it fails, the run still ends with the training's figures.
    """
    metrics = dict(result.metrics())
    metrics["parameter_count"] = int(result.model.count_params())
    metrics["training_seconds"] = result.training_seconds
    samples = result.training_images_used * max(1, result.epochs_completed)
    metrics["samples_per_second"] = (
        samples / result.training_seconds if result.training_seconds > 0 else None
    )
    metrics["training_images_used"] = result.training_images_used
    if result.per_class_accuracy is not None:
        metrics["per_class_accuracy"] = result.per_class_accuracy
        metrics["confusion_matrix"] = result.confusion_matrix
    elif result.stop_reason != STOP_NAN and (deadline is None or time.monotonic() < deadline):
        from mnist_core.evaluation.evaluate import evaluate_model

        with contextlib.suppress(Exception):  # a missing figure must not lose the run
            report = evaluate_model(
                result.model, dataset.x_test, dataset.y_test, loss=result.config.loss
            )
            metrics["per_class_accuracy"] = [float(entry.recall) for entry in report.per_class]
            metrics["confusion_matrix"] = report.confusion_matrix.tolist()
    return {
        key: (None if isinstance(value, float) and not math.isfinite(value) else value)
        for key, value in metrics.items()
    }


def model_file_bytes(model: Any) -> bytes:
    """A Keras model as the bytes of its `.keras` file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        return path.read_bytes()


def run_ending(
    result: Any, dataset: Any, *, note: str = "", deadline: float | None = None
) -> RunEnding:
    """How a training's run ends: status, reason (with `note` added), figures and model.

    Args:
        result: the `TrainingResult`.
        dataset: the dataset it was tested on (for the per-class figures).
        note: a sentence the trainer adds to the reason (fine-tuning's summary); a finished
            run's reason is the note alone when there is one.
        deadline: when the run's time is up (`time.monotonic()`); the optional test pass is
            skipped after it.
    """
    status, reason = ended_status(result)
    if note:
        reason = note if status == FINISHED else f"{reason} {note}"
    metrics = run_metrics(result, dataset, deadline=deadline)
    model = model_file_bytes(result.model) if status != DIVERGED else None
    return RunEnding(status, reason, metrics, model)


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file through a temporary beside it: a reader sees all of it or nothing, and a
    failed write leaves no temporary behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def end_run(run_log: RunLog, run_id: str, ending: RunEnding) -> Run:
    """Keep the run's model (atomically, beside the log), then end the run.

    A model that cannot be written ends the run "failed" with the reason. A log that cannot
    take the end raises `RunLogError` (the caller retries `fail_run` or `end_run` later);
    the model file is then removed again, so that nothing is left of a run that did not end.

    A run that already ended (stopped before its training began) stays as it ended: what its
    task did afterwards is not kept. A run somebody else stopped (its user's teacher) says so
    first.
    """
    current = run_log.get_run(run_id)
    if current.ended:
        return current
    model_path = None
    status, reason = ending.status, ending.reason
    if status == STOPPED and current.stop_reason:
        reason = f"{current.stop_reason} {reason}".strip()
    if ending.model is not None:
        path = run_log.model_path_for(run_id)
        try:
            write_atomically(path, ending.model)
            model_path = str(path)
        except OSError as error:
            status = FAILED
            reason = MODEL_NOT_KEPT_REASON.format(problem=error.strerror or error)
    try:
        return run_log.finish_run(
            run_id, status, reason, metrics=ending.metrics, model_path=model_path
        )
    except RunLogError:
        if model_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(model_path)
        raise


def fail_run(run_log: RunLog, run_id: str, reason: str) -> Run:
    """End a run "failed" with the reason (the training raised, or its end was lost)."""
    return run_log.finish_run(run_id, FAILED, reason)


class LocalRun:
    """A training of this process (the command line's), recorded in the run log as the app's.

    The run is created "running" (user "cli"), its progress and epochs written as it trains
    (`RunRecorder`), and it ends through `end_run` like the engine's. A log that cannot be
    used never stops the training: `problem` says why, and the training goes on unrecorded
    (`run` is then a record of this process only, so that a saved model has the same shape).

    Use `LocalRun.start(...)`, train with `observer`, then `end(result, dataset)` or
    `fail(error)`.
    """

    def __init__(self, run: Run, run_log: RunLog | None, recorder: Any, problem: str | None):
        self.run = run
        self.run_log = run_log
        self.recorder = recorder
        self.problem = problem

    @classmethod
    def start(
        cls,
        config: Any,
        *,
        preset: str | None,
        training_images: int | None,
        observer: Any,
        run_log: RunLog | None = None,
    ) -> LocalRun:
        """Create the run in the log (or, when the log cannot be used, in memory only).

        Args:
            config: what is trained.
            preset: the preset it comes from.
            training_images: training images asked for (None: all).
            observer: the progress bar, passed every training event (it decides the stops).
            run_log: the log (default: the server's).
        """
        from mnist_core.runs.log import this_process_engine
        from mnist_core.runs.record import RUNNING, new_id
        from mnist_core.runs.recorder import RunRecorder
        from mnist_core.runs.users import CLI_USER

        engine = this_process_engine()
        try:
            run_log = run_log or RunLog()
            run_log.heartbeat(engine)
            run = run_log.create_run(
                config,
                user=CLI_USER,
                preset=preset,
                training_images=training_images,
                engine=engine,
                status=RUNNING,
            )
        except RunLogError as error:
            run = Run.unrecorded(
                new_id(), config, user=CLI_USER, preset=preset, training_images=training_images
            )
            return cls(run, None, observer, problem=str(error))
        return cls(run, run_log, RunRecorder(run_log, run.id, observer, engine=engine), None)

    @property
    def observer(self) -> Any:
        """What the training reports to."""
        return self.recorder

    @property
    def recorded(self) -> bool:
        """Whether the run is in the run log."""
        return self.run_log is not None

    def end(self, result: Any, dataset: Any) -> None:
        """End the run with its status, final figures and kept model."""
        import dataclasses
        import time

        ending = run_ending(result, dataset)
        self.run = dataclasses.replace(
            self.run,
            status=ending.status,
            reason=ending.reason,
            metrics=ending.metrics,
            history=tuple(entry.to_dict() for entry in result.history),
            finished_at=time.time(),
        )
        if self.run_log is None:
            return
        self.recorder.close()
        self._write(lambda: end_run(self.run_log, self.run.id, ending))

    def fail(self, error: BaseException) -> None:
        """End the run after the training raised `error` (Ctrl-C twice, or a bug)."""
        if self.run_log is None:
            return
        from mnist_core.runs.record import INTERRUPTED

        self.recorder.close()
        if isinstance(error, KeyboardInterrupt):
            reason = "Interrupted with Ctrl-C during training."
            self._write(lambda: self.run_log.finish_run(self.run.id, INTERRUPTED, reason))
        else:
            reason = f"Training failed: {' '.join(str(error).split()) or type(error).__name__}"
            self._write(lambda: fail_run(self.run_log, self.run.id, reason))

    def saved_as(self, name: str) -> None:
        """Note the store name the model was saved under."""
        if self.run_log is not None:
            self._write(lambda: self.run_log.set_model_name(self.run.id, name))

    def _write(self, write: Any) -> None:
        try:
            self.run = write() or self.run
        except RunLogError as error:
            self.problem = self.problem or str(error)
        if getattr(self.recorder, "problem", None) and not self.problem:
            self.problem = self.recorder.problem
