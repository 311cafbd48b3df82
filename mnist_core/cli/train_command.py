"""The `train` command: a preset trained here (recorded in the run log) or on a Dask cluster."""

from __future__ import annotations

import argparse
import sys
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
from mnist_core.data.format import TRAINING_IMAGES
from mnist_core.training.progress import (
    BatchProgress,
    EpochMetrics,
    TrainingPlan,
)

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
        "--training-images",
        type=int,
        metavar="N",
        help="train on a random subset of N training images, for quick runs (default: all)",
    )
    # The name before 2026-12: still taken, with a note.
    train_parser.add_argument(
        "--train-size", type=int, dest="old_train_size", help=argparse.SUPPRESS
    )
    train_parser.add_argument(
        "--overwrite", action="store_true", help="replace a stored model of the same name"
    )
    train_parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help=(
            "train on the Dask cluster of this scheduler (tls://host:8786 or tcp://host:8786; "
            "for tls://, the MNIST_DASK_TLS_* variables name the certificate) instead of here, "
            "following its progress in the run log"
        ),
    )
    train_parser.set_defaults(handler=train)


def train(args: argparse.Namespace) -> int:
    """Train a preset with a progress bar, then save the model under `--name`.

    Args:
        args: Parsed arguments: `preset`, `epochs` (None: the preset's), `name` (None: the
            preset's name), `training_images` (None: all), `overwrite`, `scheduler` (None:
            train in this process).
    """
    from mnist_core.base.paths import models_directory
    from mnist_core.modeling.config import validate_config
    from mnist_core.modeling.presets import get_preset
    from mnist_core.modeling.store import model_exists, validate_model_name

    # Everything a user can get wrong is checked before the data, TensorFlow and the training.
    training_images = _training_images_asked(args)
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
        return _train_on_cluster(args, preset.name, name, config, training_images)
    dataset = load_dataset_noting_problems(config.dataset)

    import_keras()
    from mnist_core.runs.lifecycle import LocalRun
    from mnist_core.training.train import train_model

    progress = ProgressPrinter(sys.stdout)
    local = LocalRun.start(
        config, preset=preset.name, training_images=training_images, observer=progress
    )
    if local.problem:
        print(
            f"warning: this training is not recorded in the run log ({one_line(local.problem)}); "
            "training anyway",
            file=sys.stderr,
        )
    print(f"training preset {preset.name} as model {name!r}")
    if config.redraw_fraction > 0 or config.pen_digit_copies > 0:
        print("drawing the extra training digits first (a minute or two)", flush=True)
    try:
        with stop_on_interrupt(progress):
            result = train_model(config, dataset, local.observer, training_images=training_images)
    except BaseException as error:
        progress.finish()
        local.fail(error)
        raise
    progress.finish()
    local.end(result, dataset)
    _say_how_it_ended(local.run, config.epochs)
    _save(result.model, local.run, name, args.overwrite, weight_summaries=result.weight_summaries)
    local.saved_as(name)
    _warn_if_not_fully_recorded(local)
    if local.recorded and not local.problem:
        print(
            f"recorded as run {local.run.id}; see `python -m mnist_core runs show {local.run.id}`"
        )
    return 0


def _training_images_asked(args: argparse.Namespace) -> int | None:
    """`--training-images` (or the older `--train-size`, with a note), checked."""
    asked = args.training_images
    if args.old_train_size is not None:
        print("note: --train-size is now called --training-images.", file=sys.stderr)
        asked = args.old_train_size if asked is None else asked
    if asked is not None and not 1 <= asked <= TRAINING_IMAGES:
        raise ValueError(
            f"--training-images must be an integer from 1 to {TRAINING_IMAGES}, got {asked}."
        )
    return asked


def _say_how_it_ended(run: Any, epochs: int) -> None:
    """Print the run's figures, or raise the CommandError that says why nothing is saved."""
    from mnist_core.runs.record import DIVERGED, FINISHED, STOPPED

    if run.status == DIVERGED:
        raise CommandError(f"{run.reason} Nothing was saved.")
    if run.status not in (STOPPED, FINISHED):
        raise CommandError(f"run {run.id} {run.status}: {run.reason or 'no reason given'}")
    if not run.history:  # only a stop request ends a run this early
        raise CommandError(
            "training stopped (Ctrl-C) before the first epoch ended; nothing was saved.",
            INTERRUPTED_EXIT_STATUS,
        )
    if run.status == STOPPED:
        print(
            f"stopped on request (Ctrl-C) after {len(run.history)} of {epochs} epoch(s); "
            "saving the model trained so far"
        )
    metrics = run.metrics
    print(
        f"test accuracy {metrics['test_accuracy']:.2%} (test loss {metrics['test_loss']:.4f}) "
        f"after {len(run.history)} epoch(s), {metrics['training_seconds']:.1f} s of training"
    )


def _save(model: Any, run: Any, name: str, overwrite: bool, *, weight_summaries: Any) -> None:
    from mnist_core.runs.saved_models import save_run_model

    stored = save_run_model(
        model, run, name, saved_by=None, weight_summaries=weight_summaries, overwrite=overwrite
    )
    print(f"saved {stored.model_path} and {stored.metadata_path}")


def _warn_if_not_fully_recorded(local: Any) -> None:
    if local.recorded and local.problem:
        print(
            f"warning: run {local.run.id} is not fully recorded in the run log: "
            f"{one_line(local.problem)}",
            file=sys.stderr,
        )


def _train_on_cluster(
    args: argparse.Namespace, preset: str, name: str, config: Any, training_images: int | None
) -> int:
    """`train --scheduler`: queue the run on a Dask cluster, follow it in the log, save it."""
    from mnist_core.engine.cluster import ClusterUnavailableError
    from mnist_core.engine.engine import Engine
    from mnist_core.runs.log import RunLog
    from mnist_core.runs.request import RunRequest
    from mnist_core.runs.users import CLI_USER

    run_log = RunLog()
    run_log.check()  # the cluster's runs live in the log: without it, nothing can train
    try:
        engine = Engine.connect(run_log, address=args.scheduler)
    except ClusterUnavailableError as error:
        raise CommandError(one_line(error)) from None
    try:
        said = _refuse_a_cluster_that_cannot_train(engine, args.scheduler)
        (run,) = engine.submit(
            [RunRequest(config, preset=preset, training_images=training_images)], user=CLI_USER
        )
        print(f"training preset {preset} as model {name!r} on {args.scheduler} (run {run.id})")
        progress = ProgressPrinter(sys.stdout)
        run = _follow_run(engine, run.id, progress, said)
    finally:
        engine.close()
    _say_how_it_ended(run, config.epochs)
    if not run.model_kept:
        raise CommandError(f"run {run.id} ended, but its model file is missing; nothing was saved.")
    _save(
        load_keras_file(run.model_path),
        run,
        name,
        args.overwrite,
        weight_summaries=run_log.weight_summaries(run.id),
    )
    run_log.set_model_name(run.id, name)
    print(f"recorded as run {run.id}; see `python -m mnist_core runs show {run.id}`")
    return 0


def _refuse_a_cluster_that_cannot_train(engine: Any, address: str) -> set[str]:
    """Say each scheduler or worker that cannot take runs (`engine.cluster_problems`): an
    error when none can, a warning line each otherwise. Returns the sentences said."""
    check = engine.cluster_check
    if check.scheduler_problem:
        raise CommandError(check.scheduler_problem)
    unfit = check.worker_problems()
    if unfit and not check.usable():
        if len(unfit) == 1:
            raise CommandError(next(iter(unfit.values())))
        for sentence in unfit.values():
            print(f"warning: {sentence}", file=sys.stderr)
        raise CommandError(
            f"none of the {len(unfit)} workers of {address} can train this run (each is said "
            "above); fix them as said, then train again."
        )
    return _warn_once(engine, set())


def _warn_once(engine: Any, said: set[str]) -> set[str]:
    """A warning line for each cluster problem not said yet (workers join while we wait)."""
    for sentence in engine.cluster_problems:
        if sentence not in said:
            said.add(sentence)
            print(f"warning: {sentence}", file=sys.stderr, flush=True)
    return said


def _follow_run(engine: Any, run_id: str, progress: ProgressPrinter, said: set[str]) -> Any:
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
            if run.status == QUEUED:
                _warn_once(engine, said)
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
