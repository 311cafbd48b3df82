"""The `train` command: a preset trained here (recorded in the run log) or on a Dask cluster."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from typing import Any

from mnist_core.base.keras_import import (
    import_keras,
)
from mnist_core.cli.common import (
    INTERRUPTED_EXIT_STATUS,
    CommandError,
    load_dataset_noting_problems,
    load_keras_file,
    one_line,
)
from mnist_core.cli.progress import ProgressPrinter, stop_on_interrupt
from mnist_core.runs.log import RunLogError
from mnist_core.training.progress import (
    BatchProgress,
    EpochMetrics,
    TrainingObserver,
    TrainingPlan,
)

# Both datasets have this many training images (`train --scheduler` checks --train-size
# without loading the data here).
TRAINING_IMAGES = 60000


# How often `train --scheduler` reads its run's progress from the run log.
FOLLOW_INTERVAL_SECONDS = 0.25



def register(subparsers: Any) -> None:
    """Add `train` to the command line."""
    train_parser = subparsers.add_parser(
        "train",
        help="train a preset and save the model",
        description=(
            "Train a preset, showing progress per epoch, and save the model to the model "
            "store ($MNIST_MODELS_DIR, default <repo>/models). Ctrl-C stops after the current "
            "batch and saves the model trained so far (when at least one epoch completed). "
            "The run is recorded in the run log, as the app's are (see `runs`)."
        ),
    )
    # No `choices`: an unknown preset is reported with the list of presets, in one line.
    train_parser.add_argument(
        "--preset", required=True, metavar="NAME", help="preset to train (see `presets`)"
    )
    train_parser.add_argument(
        "--epochs", type=int, metavar="N", help="number of epochs (default: the preset's)"
    )
    train_parser.add_argument(
        "--name", metavar="NAME", help="name to save the model under (default: the preset's)"
    )
    train_parser.add_argument(
        "--train-size",
        type=int,
        metavar="N",
        help="train on a random subset of N training images, for quick runs (default: all)",
    )
    train_parser.add_argument(
        "--overwrite", action="store_true", help="replace a stored model of the same name"
    )
    train_parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help=(
            "train on the Dask cluster of this scheduler (tcp://host:8786) instead of here, "
            "following its progress in the run log"
        ),
    )
    train_parser.set_defaults(handler=train)

def train(args: argparse.Namespace) -> int:
    """Train a preset with a progress bar, then save the model under `--name`.

    Args:
        args: Parsed arguments: `preset`, `epochs` (None: the preset's), `name` (None: the
            preset's name), `train_size` (None: all), `overwrite`, `scheduler` (None: train
            in this process).
    """
    from mnist_core.base.paths import models_directory
    from mnist_core.modeling.config import validate_config
    from mnist_core.modeling.presets import get_preset
    from mnist_core.modeling.store import (
        model_exists,
        validate_model_name,
    )

    # Everything a user can get wrong is checked before the data, TensorFlow and the training.
    preset = get_preset(args.preset)
    name = validate_model_name(args.name if args.name is not None else preset.name)
    config = preset.config if args.epochs is None else preset.config.replace(epochs=args.epochs)
    validate_config(config)
    if not args.overwrite and model_exists(name):
        raise ValueError(
            f"a model named {name!r} is already stored in {models_directory()}; "
            "choose another --name or pass --overwrite to replace it."
        )
    if args.scheduler is not None:
        return _train_on_cluster(args, preset.name, name, config)
    dataset = load_dataset_noting_problems(config.dataset)
    if args.train_size is not None:
        available = len(dataset.y_train)
        if not 1 <= args.train_size <= available:
            raise ValueError(
                f"--train-size must be an integer from 1 to {available}, got {args.train_size}."
            )
        dataset = dataset.subset(args.train_size, None, seed=config.seed)

    import_keras()
    from mnist_core.modeling.store import save_model
    from mnist_core.training.progress import (
        STOP_NAN,
        STOP_REQUESTED,
    )
    from mnist_core.training.train import train_model

    progress = ProgressPrinter(sys.stdout)
    recording = _RecordedTraining.start(config, preset.name, args.train_size, progress)
    print(f"training preset {preset.name} as model {name!r}")
    if config.redraw_fraction > 0 or config.pen_digit_copies > 0:
        print("drawing the extra training digits first (a minute or two)", flush=True)
    try:
        with stop_on_interrupt(progress):
            result = train_model(config, dataset, recording.observer if recording else progress)
    except BaseException as error:
        progress.finish()
        if recording is not None:
            recording.fail(error)
        raise
    progress.finish()
    if recording is not None:
        recording.finish(result, dataset)

    if result.stop_reason == STOP_NAN:
        raise CommandError(f"{result.message} Nothing was saved.")
    if result.epochs_completed == 0:  # only a stop request ends a run this early
        raise CommandError(
            "training stopped (Ctrl-C) before the first epoch ended; nothing was saved.",
            INTERRUPTED_EXIT_STATUS,
        )
    if result.stop_reason == STOP_REQUESTED:
        print(
            f"stopped on request (Ctrl-C) after {result.epochs_completed} of {config.epochs} "
            "epoch(s); saving the model trained so far"
        )
    print(
        f"test accuracy {result.test_accuracy:.2%} (test loss {result.test_loss:.4f}) after "
        f"{result.epochs_completed} epoch(s), {result.training_seconds:.1f} s of training"
    )
    stored = save_model(
        result.model,
        name,
        config=config,
        metrics=result.metrics(),
        history=[epoch.to_dict() for epoch in result.history],
        dataset=dataset.name,
        training_seconds=result.training_seconds,
        extras={"weight_summaries": result.weight_summaries},
        preset=preset.name,
        training_data=result.extra.get("training_data"),
        overwrite=args.overwrite,
    )
    print(f"saved {stored.model_path} and {stored.metadata_path}")
    if recording is not None:
        recording.saved_as(name)
    return 0


class _RecordedTraining:
    """A training of this process, recorded in the run log as the app's are.

    The run is created `running` (user "cli"), its progress and epochs written as it trains
    (`RunRecorder`), and it ends with the engine's final figures and the trained model kept
    beside the log. A log that cannot be used never stops the training: one warning line,
    and the training goes on unrecorded.
    """

    def __init__(self, run_log: Any, run_id: str, recorder: Any) -> None:
        self.run_log = run_log
        self.run_id = run_id
        self.recorder = recorder
        self.observer = recorder
        self._warned = False

    @classmethod
    def start(
        cls, config: Any, preset: str, train_images: int | None, progress: TrainingObserver
    ) -> _RecordedTraining | None:
        """Create the run; None (after a warning line) when the log cannot be used."""
        from mnist_core.runs.log import (
            RunLog,
            this_process_owner,
        )
        from mnist_core.runs.record import (
            CLI_USER,
            RUNNING,
        )
        from mnist_core.runs.recorder import RunRecorder

        owner = this_process_owner()
        try:
            run_log = RunLog()
            run_log.heartbeat(owner)
            run = run_log.create_run(
                config,
                user=CLI_USER,
                preset=preset,
                train_images=train_images,
                owner=owner,
                status=RUNNING,
            )
        except RunLogError as error:
            _warn_not_recorded(error)
            return None
        return cls(run_log, run.id, RunRecorder(run_log, run.id, progress, owner=owner))

    def finish(self, result: Any, dataset: Any) -> None:
        """End the run with its status, final figures and model file."""
        from mnist_core.runs.record import (
            DIVERGED,
            FINISHED,
            STOPPED,
        )
        from mnist_core.training.progress import (
            STOP_COMPLETED,
            STOP_NAN,
        )

        self.recorder.close()
        if result.stop_reason == STOP_NAN:
            status, reason = DIVERGED, result.message
        elif result.stop_reason == STOP_COMPLETED:
            status, reason = FINISHED, result.message
        else:
            status = STOPPED
            reason = (
                f"Stopped with Ctrl-C after {result.epochs_completed} of "
                f"{result.config.epochs} epoch(s)."
            )
        metrics = _final_metrics(result, dataset)
        model_path = None
        if status != DIVERGED and result.epochs_completed > 0:
            model_path = str(self.run_log.model_path_for(self.run_id))
            try:
                _save_keras_atomically(result.model, model_path)
            except Exception as error:  # noqa: BLE001 - the training's result matters more
                self._warn(f"its model could not be kept ({one_line(error)})")
                model_path = None
        self._write(
            lambda: self.run_log.finish_run(
                self.run_id, status, reason, metrics=metrics, model_path=model_path
            )
        )

    def fail(self, error: BaseException) -> None:
        """End the run after the training raised `error` (Ctrl-C twice, or a bug)."""
        from mnist_core.runs.record import (
            FAILED,
            INTERRUPTED,
        )

        self.recorder.close()
        if isinstance(error, KeyboardInterrupt):
            status, reason = INTERRUPTED, "Interrupted with Ctrl-C during training."
        else:
            status, reason = FAILED, f"Training failed: {one_line(error)}"
        self._write(lambda: self.run_log.finish_run(self.run_id, status, reason))

    def saved_as(self, name: str) -> None:
        """Note the store name the model was saved under, and say where the run is."""
        self._write(lambda: self.run_log.set_model_name(self.run_id, name))
        if self.recorder.problem is None and not self._warned:
            print(
                f"recorded as run {self.run_id}; see `python -m mnist_core runs show {self.run_id}`"
            )

    def _write(self, write: Callable[[], Any]) -> None:
        try:
            write()
        except RunLogError as error:
            self._warn(one_line(error))
        if self.recorder.problem is not None:
            self._warn(self.recorder.problem)

    def _warn(self, problem: str) -> None:
        if not self._warned:
            self._warned = True
            print(
                f"warning: run {self.run_id} is not fully recorded in the run log: "
                f"{one_line(problem)}",
                file=sys.stderr,
            )


def _final_metrics(result: Any, dataset: Any) -> dict[str, Any]:
    """The engine's final figures of a run (`run_metrics`); if they cannot be computed, the
    training's own, so that the run still ends recorded."""
    from mnist_core.engine.worker import run_metrics
    from mnist_core.modeling.summary import count_parameters
    from mnist_core.runs.record import finite_or_none

    try:
        return run_metrics(result, dataset)
    except Exception:  # noqa: BLE001 - a missing figure must not lose the run's record
        metrics = {
            key: finite_or_none(value) if isinstance(value, float) else value
            for key, value in result.metrics().items()
        }
        metrics["parameter_count"] = count_parameters(result.config)
        metrics["wall_seconds"] = result.training_seconds
        return metrics


def _warn_not_recorded(error: BaseException) -> None:
    print(
        f"warning: this training is not recorded in the run log ({one_line(error)}); "
        "training anyway",
        file=sys.stderr,
    )


def _save_keras_atomically(model: Any, path: str) -> None:
    """Save a Keras model to `path` through a temporary file, so a reader never sees half."""
    from pathlib import Path

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.stem}.{os.getpid()}.tmp.keras")
    try:
        model.save(temporary)
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()


def _train_on_cluster(args: argparse.Namespace, preset: str, name: str, config: Any) -> int:
    """`train --scheduler`: queue the run on a Dask cluster, follow it in the log, save it."""
    from mnist_core.engine.cluster import ClusterUnavailableError
    from mnist_core.engine.engine import Engine
    from mnist_core.runs.log import RunLog
    from mnist_core.runs.record import (
        CLI_USER,
        DIVERGED,
        STOPPED,
    )
    from mnist_core.runs.request import RunRequest

    if args.train_size is not None and not 1 <= args.train_size <= TRAINING_IMAGES:
        raise ValueError(
            f"--train-size must be an integer from 1 to {TRAINING_IMAGES}, got {args.train_size}."
        )
    run_log = RunLog()
    run_log.check()  # the cluster's runs live in the log: without it, nothing can train
    try:
        engine = Engine.connect(run_log, address=args.scheduler)
    except ClusterUnavailableError as error:
        raise CommandError(one_line(error)) from None
    try:
        (run,) = engine.submit(
            [RunRequest(config, preset=preset, train_images=args.train_size)], user=CLI_USER
        )
        print(f"training preset {preset} as model {name!r} on {args.scheduler} (run {run.id})")
        progress = ProgressPrinter(sys.stdout)
        run = _follow_run(engine, run.id, progress)
    finally:
        engine.close()
    if run.status == DIVERGED:
        raise CommandError(f"{run.reason} Nothing was saved.")
    if run.status not in (STOPPED, "finished"):
        raise CommandError(f"run {run.id} {run.status}: {run.reason or 'no reason given'}")
    if not run.history:
        raise CommandError(
            f"run {run.id} stopped before the first epoch ended; nothing was saved.",
            INTERRUPTED_EXIT_STATUS,
        )
    if run.status == STOPPED:
        print(
            f"stopped on request after {len(run.history)} of {config.epochs} epoch(s); saving "
            "the model trained so far"
        )
    metrics = run.metrics
    print(
        f"test accuracy {metrics['test_accuracy']:.2%} (test loss {metrics['test_loss']:.4f}) "
        f"after {len(run.history)} epoch(s), {metrics['wall_seconds']:.1f} s of training"
    )
    if not run.model_kept:
        raise CommandError(f"run {run.id} ended, but its model file is missing; nothing was saved.")
    from mnist_core.modeling.store import save_model

    stored = save_model(
        load_keras_file(run.model_path),
        name,
        config=run.config,
        metrics=metrics,
        history=list(run.history),
        dataset=run.dataset,
        training_seconds=metrics.get("wall_seconds") or 0.0,
        extras={"weight_summaries": run_log.weight_summaries(run.id), "run_id": run.id},
        overwrite=args.overwrite,
    )
    run_log.set_model_name(run.id, name)
    print(f"saved {stored.model_path} and {stored.metadata_path}")
    print(f"recorded as run {run.id}; see `python -m mnist_core runs show {run.id}`")
    return 0


def _follow_run(engine: Any, run_id: str, progress: ProgressPrinter) -> Any:
    """Print a run's progress from the log until it ends; Ctrl-C asks the engine to stop it."""
    import time

    from mnist_core.runs.record import (
        QUEUED,
        RUNNING,
    )

    shown_plan, shown_epochs, shown_progress, stop_sent, said_queued = False, 0, None, False, False
    with stop_on_interrupt(progress):
        while True:
            run = engine.run_log.get_run(run_id)
            if run.status == QUEUED and not said_queued:
                said_queued = True
                progress._print_line("queued: waiting for a free worker")
            if run.plan and not shown_plan:
                shown_plan = True
                progress.on_train_begin(TrainingPlan(**run.plan))
            for entry in run.history[shown_epochs:]:
                progress.on_epoch(EpochMetrics(**entry), [])
            shown_epochs = len(run.history)
            if run.status == RUNNING and run.progress and run.progress != shown_progress:
                shown_progress = run.progress
                if run.progress.get("epoch", 0) > shown_epochs:
                    progress.on_batch(BatchProgress(**run.progress))
            if progress.should_stop() and not stop_sent:
                stop_sent = True
                engine.stop(run_id)
            if run.ended:
                progress.finish()
                return run
            time.sleep(FOLLOW_INTERVAL_SECONDS)
