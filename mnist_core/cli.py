"""The command line of mnist_core: `python -m mnist_core <command> [options]`.

Commands:
    prepare-data  Load a dataset, verify it against its checksums and cache it.
    presets       List the presets with their description and parameter count.
    train         Train a preset with a progress bar and save it to the model store.
    models        List the stored models (broken entries too, with the reason).
    evaluate      Accuracy, loss, per-class report and confusion matrix of a stored model.
    predict       Classify image files the way the drawing page does.
    runs          List the recorded runs; show, compare or export one.

Every command prints what it did on stdout. Errors print one line, ``error: ...``, on stderr
and exit with status 2 (130 after Ctrl-C); the user never sees a traceback.

Adding a command: write a function ``<command>(args) -> int`` below, and register it in
`build_parser` with ``subparser.set_defaults(handler=<command>)``. Import heavy modules
(TensorFlow, Keras) inside the function, and call `import_keras()` before the first use of
Keras, so that `--help`, `presets` and `models` stay fast and TensorFlow's start-up lines stay
off the terminal.
"""

import argparse
import contextlib
import datetime
import json
import math
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import IO, Any, NoReturn

from mnist_core.backend import import_keras, native_stderr_silenced
from mnist_core.data import (
    DATASET_NAMES,
    Dataset,
    DatasetUnavailableError,
    cache_path,
    load_dataset,
)
from mnist_core.runs import RunLogError
from mnist_core.store import ModelStoreError
from mnist_core.train import BatchProgress, EpochMetrics, TrainingObserver, TrainingPlan

ERROR_EXIT_STATUS = 2
# 128 + SIGINT, what a shell reports for a program stopped by Ctrl-C.
INTERRUPTED_EXIT_STATUS = 130
PROGRESS_BAR_WIDTH = 30
# Noise added by `predict --noise` is drawn from this seed, so a run can be repeated.
NOISE_SEED = 0
# Images per model call in `predict`: large enough that a thousand files take a few calls,
# small enough to bound the memory of a CNN's activations.
PREDICT_BATCH_SIZE = 1024
BLANK_IMAGE_NOTE = "blank image: no ink found, nothing to classify"
# Both datasets have this many training images (`train --scheduler` checks --train-size
# without loading the data here).
TRAINING_IMAGES = 60000


class CommandError(Exception):
    """A command could not do what was asked; the message is one line for the user."""

    def __init__(self, message: str, exit_status: int = ERROR_EXIT_STATUS) -> None:
        super().__init__(message)
        self.exit_status = exit_status


# Errors that a user can cause or fix: reported in one line. Anything else is a bug.
USER_ERRORS = (ValueError, DatasetUnavailableError, OSError, ModelStoreError, RunLogError)
# How often `train --scheduler` reads its run's progress from the run log.
FOLLOW_INTERVAL_SECONDS = 0.25


class _ArgumentParser(argparse.ArgumentParser):
    """argparse with usage errors in the one-line form of every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(ERROR_EXIT_STATUS, f"error: {message}; see `{self.prog} --help`.\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the whole command line, one subparser per command."""
    parser = _ArgumentParser(
        prog="python -m mnist_core",
        description="Work with the MNIST playground from the command line.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="command")

    prepare = subparsers.add_parser(
        "prepare-data",
        help="load a dataset, verify its checksums and cache it",
        description=(
            "Load a dataset from the cache, Keras' loader or the offline copy, verify it "
            "against the reference checksums and cache it under the data directory "
            "($MNIST_DATA_DIR, default <repo>/data)."
        ),
    )
    prepare.add_argument(
        "--dataset", choices=DATASET_NAMES, default="mnist", help="dataset (default: mnist)"
    )
    prepare.set_defaults(handler=prepare_data)

    presets_parser = subparsers.add_parser(
        "presets",
        help="list the presets",
        description="List every preset with its parameter count and what it teaches.",
    )
    presets_parser.set_defaults(handler=presets)

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

    models_parser = subparsers.add_parser(
        "models",
        help="list the stored models",
        description="List the stored models; broken entries are listed with the reason.",
    )
    models_parser.set_defaults(handler=models)

    evaluate_parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a stored model on its test set",
        description=(
            "Evaluate a stored model on the test set of its dataset: accuracy, loss, "
            "per-class precision, recall and F1, and the confusion matrix."
        ),
    )
    evaluate_parser.add_argument(
        "--model", required=True, metavar="NAME", help="stored model (see `models`)"
    )
    evaluate_parser.add_argument(
        "--json", action="store_true", help="print the report as JSON instead of text"
    )
    evaluate_parser.set_defaults(handler=evaluate)

    predict_parser = subparsers.add_parser(
        "predict",
        help="classify image files",
        description=(
            "Classify image files with the preprocessing of the drawing page (cropped, fitted "
            "into 20x20 and centred by mass, like MNIST), naming the runner-up and saying when "
            "the reading is not sure. A blank image is reported, not an error. A file that "
            "cannot be read gets one line on stderr (and a {\"file\", \"error\"} entry in "
            "JSON), the others are still classified, and the exit status is then 2."
        ),
    )
    predict_parser.add_argument(
        "--model",
        default="default",
        metavar="NAME",
        help="stored model (default: default)",
    )
    predict_parser.add_argument(
        "--json", action="store_true", help="print a JSON list, one object per file"
    )
    predict_parser.add_argument(
        "--noise",
        type=float,
        default=0.0,
        metavar="SIGMA",
        help=(
            "add Gaussian noise of this standard deviation (on the [0, 1] pixel scale) after "
            "preprocessing, seeded so that runs repeat (default: 0, none)"
        ),
    )
    predict_parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    predict_parser.set_defaults(handler=predict)

    _add_runs_parser(subparsers)
    return parser


def _add_runs_parser(subparsers: Any) -> None:
    runs_parser = subparsers.add_parser(
        "runs",
        help="list the recorded runs; show, compare or export one",
        description=(
            "Every training (in the app or with `train`) is a run, kept in the run log "
            "($MNIST_RUNS_DB, default <data directory>/runs.sqlite3). Without a subcommand, "
            "list them, newest first."
        ),
    )
    runs_parser.add_argument(
        "--json", action="store_true", help="print a JSON list, one object per run"
    )
    runs_parser.add_argument("--user", metavar="NAME", help="only this user's runs")
    runs_parser.add_argument("--limit", type=int, metavar="N", help="at most N runs")
    runs_parser.add_argument("--all", action="store_true", help="also the runs their users hid")
    runs_parser.set_defaults(handler=runs_list)
    commands = runs_parser.add_subparsers(dest="runs_command", metavar="subcommand")

    show_parser = commands.add_parser(
        "show", help="one run in full", description="Show one run: settings, figures, epochs."
    )
    show_parser.add_argument("run_id", metavar="ID", help="the run's id (see `runs`)")
    show_parser.add_argument(
        "--json", action="store_true", dest="json_output", help="print it as JSON"
    )
    show_parser.set_defaults(handler=runs_show)

    compare_parser = commands.add_parser(
        "compare",
        help="the differing settings and the figures of runs, side by side",
        description="Print the settings that differ between runs, then their figures.",
    )
    compare_parser.add_argument("run_ids", nargs="+", metavar="ID", help="two or more run ids")
    compare_parser.add_argument(
        "--json", action="store_true", dest="json_output", help="print it as JSON"
    )
    compare_parser.set_defaults(handler=runs_compare)

    export_parser = commands.add_parser(
        "export",
        help="a run as a Keras script, its history as CSV, its model file",
        description=(
            "Write a run as a standalone Python script (keras and numpy only) that trains "
            "it again, its history as CSV, and/or its trained model as a .keras file."
        ),
    )
    export_parser.add_argument("run_id", metavar="ID", help="the run's id (see `runs`)")
    export_parser.add_argument("--code", metavar="FILE", help="write the training script here")
    export_parser.add_argument("--csv", metavar="FILE", help="write the history here")
    export_parser.add_argument(
        "--model", metavar="FILE", help="copy the trained model here (a .keras file)"
    )
    export_parser.add_argument("--overwrite", action="store_true", help="replace files that exist")
    export_parser.set_defaults(handler=runs_export)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status.

    Args:
        argv: Arguments without the program name; None (default) means sys.argv[1:].
    """
    # TensorFlow's C++ start-up lines (missing CUDA drivers...) are noise on the command line.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        # argparse prints usage errors (one line, see _ArgumentParser) and --help itself.
        args = build_parser().parse_args(argv)
    except SystemExit as exit_request:
        return exit_request.code if isinstance(exit_request.code, int) else ERROR_EXIT_STATUS
    try:
        return args.handler(args)
    except CommandError as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return error.exit_status
    except USER_ERRORS as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return INTERRUPTED_EXIT_STATUS
    except Exception as error:  # a bug; still one line, with enough to report it
        print(f"error: unexpected {type(error).__name__}: {_one_line(error)}", file=sys.stderr)
    return ERROR_EXIT_STATUS


# --- prepare-data ----------------------------------------------------------------------------


def prepare_data(args: argparse.Namespace) -> int:
    """Load, verify and cache one dataset; print one line saying where it came from.

    Args:
        args: Parsed arguments with `dataset`, one of DATASET_NAMES.
    """
    dataset, caught = _load_dataset_quietly(args.dataset)
    cache = cache_path(args.dataset)
    if not cache.is_file():
        reasons = "; ".join(caught)
        raise OSError(
            f"{args.dataset} loaded and verified, but its cache {cache} could not be written"
            + (f" ({reasons})" if reasons else "")
        )
    summary = (
        f"{dataset.name}: {len(dataset.y_train)} train / {len(dataset.y_test)} test images, "
        f"verified, from {dataset.source}"
    )
    if not dataset.source.startswith("cache "):
        summary += f"; cached in {cache}"
    print(summary)
    return 0


# --- presets ---------------------------------------------------------------------------------


def presets(args: argparse.Namespace) -> int:
    """Print one line per preset: name, parameter count and description (no TensorFlow).

    Args:
        args: Parsed arguments (none used).
    """
    from mnist_core.model import count_parameters
    from mnist_core.presets import DEFAULT_PRESET_NAME, PRESETS

    rows = [
        (
            name + (" (default)" if name == DEFAULT_PRESET_NAME else ""),
            f"{count_parameters(preset.config):,}",
            preset.description,
        )
        for name, preset in PRESETS.items()
    ]
    _print_table(("preset", "parameters", "description"), rows, right_aligned={1})
    return 0


# --- train -----------------------------------------------------------------------------------


def train(args: argparse.Namespace) -> int:
    """Train a preset with a progress bar, then save the model under `--name`.

    Args:
        args: Parsed arguments: `preset`, `epochs` (None: the preset's), `name` (None: the
            preset's name), `train_size` (None: all), `overwrite`, `scheduler` (None: train
            in this process).
    """
    from mnist_core.model import validate_config
    from mnist_core.presets import get_preset
    from mnist_core.store import model_exists, models_directory, validate_model_name

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
    dataset = _load_dataset(config.dataset)
    if args.train_size is not None:
        available = len(dataset.y_train)
        if not 1 <= args.train_size <= available:
            raise ValueError(
                f"--train-size must be an integer from 1 to {available}, got {args.train_size}."
            )
        dataset = dataset.subset(args.train_size, None, seed=config.seed)

    import_keras()
    from mnist_core.store import save_model
    from mnist_core.train import STOP_NAN, STOP_REQUESTED, train_model

    progress = ProgressPrinter(sys.stdout)
    recording = _RecordedTraining.start(config, preset.name, args.train_size, progress)
    print(f"training preset {preset.name} as model {name!r}")
    if config.redraw_fraction > 0 or config.pen_digit_copies > 0:
        print("drawing the extra training digits first (a minute or two)", flush=True)
    try:
        with _stop_on_interrupt(progress):
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
    ) -> "_RecordedTraining | None":
        """Create the run; None (after a warning line) when the log cannot be used."""
        from mnist_core.runs import CLI_USER, RUNNING, RunLog, RunRecorder, this_process_owner

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
        from mnist_core.runs import DIVERGED, FINISHED, STOPPED
        from mnist_core.train import STOP_COMPLETED, STOP_NAN

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
                self._warn(f"its model could not be kept ({_one_line(error)})")
                model_path = None
        self._write(
            lambda: self.run_log.finish_run(
                self.run_id, status, reason, metrics=metrics, model_path=model_path
            )
        )

    def fail(self, error: BaseException) -> None:
        """End the run after the training raised `error` (Ctrl-C twice, or a bug)."""
        from mnist_core.runs import FAILED, INTERRUPTED

        self.recorder.close()
        if isinstance(error, KeyboardInterrupt):
            status, reason = INTERRUPTED, "Interrupted with Ctrl-C during training."
        else:
            status, reason = FAILED, f"Training failed: {_one_line(error)}"
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
            self._warn(_one_line(error))
        if self.recorder.problem is not None:
            self._warn(self.recorder.problem)

    def _warn(self, problem: str) -> None:
        if not self._warned:
            self._warned = True
            print(
                f"warning: run {self.run_id} is not fully recorded in the run log: "
                f"{_one_line(problem)}",
                file=sys.stderr,
            )


def _final_metrics(result: Any, dataset: Any) -> dict[str, Any]:
    """The engine's final figures of a run (`run_metrics`); if they cannot be computed, the
    training's own, so that the run still ends recorded."""
    from mnist_core.engine import run_metrics
    from mnist_core.model import count_parameters
    from mnist_core.runs import finite_or_none

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
        f"warning: this training is not recorded in the run log ({_one_line(error)}); "
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
    from mnist_core.cluster import ClusterUnavailableError
    from mnist_core.engine import Engine, RunRequest
    from mnist_core.runs import CLI_USER, DIVERGED, STOPPED, RunLog

    if args.train_size is not None and not 1 <= args.train_size <= TRAINING_IMAGES:
        raise ValueError(
            f"--train-size must be an integer from 1 to {TRAINING_IMAGES}, got {args.train_size}."
        )
    run_log = RunLog()
    run_log.check()  # the cluster's runs live in the log: without it, nothing can train
    try:
        engine = Engine.connect(run_log, address=args.scheduler)
    except ClusterUnavailableError as error:
        raise CommandError(_one_line(error)) from None
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
    from mnist_core.store import save_model

    stored = save_model(
        _load_keras_file(run.model_path),
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


def _follow_run(engine: Any, run_id: str, progress: "ProgressPrinter") -> Any:
    """Print a run's progress from the log until it ends; Ctrl-C asks the engine to stop it."""
    import time

    from mnist_core.runs import QUEUED, RUNNING

    shown_plan, shown_epochs, shown_progress, stop_sent, said_queued = False, 0, None, False, False
    with _stop_on_interrupt(progress):
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


def _load_keras_file(path: str) -> Any:
    """Load a `.keras` file quietly (a keras.Model)."""
    keras = import_keras()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return keras.saving.load_model(path)


class ProgressPrinter(TrainingObserver):
    """A training observer that prints a progress bar per epoch and carries Ctrl-C stop requests.

    On a terminal the bar is redrawn in place (``\\r``) from `on_batch`; elsewhere (a pipe, a
    log file) only the final line of each epoch is printed, with the validation metrics.

    Args:
        stream: where to print (default sys.stdout).
        interactive: redraw in place; default: whether `stream` is a terminal.
    """

    def __init__(self, stream: IO[str] | None = None, interactive: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        if interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self._stop = threading.Event()
        self._stop_announced = False
        self._drawn_width = 0  # characters of the bar now on the line; 0: the line is clean

    def on_train_begin(self, plan: TrainingPlan) -> None:
        """Print what the run is about to do."""
        validation = (
            f"{plan.validation_samples} held out for validation"
            if plan.validation == "split"
            else f"validation on the {plan.validation_samples} test images"
        )
        self._print_line(
            f"{plan.epochs} epoch(s) of {plan.batches_per_epoch} batches: "
            f"{plan.train_samples} training images, {validation}"
        )

    def on_batch(self, progress: BatchProgress) -> None:
        """Redraw the bar of the current epoch (terminal only)."""
        if not self.interactive:
            return
        fraction = progress.batch / progress.batches_per_epoch
        line = (
            f"{_epoch_bar(progress.epoch, progress.epochs, fraction)} "
            f"loss {progress.loss:.4f} accuracy {progress.accuracy:.4f} | "
            f"{progress.samples_per_second:.0f} samples/s"
        )
        if math.isfinite(progress.seconds_left):
            line += f" | {progress.seconds_left:.0f} s left"
        self._draw(line)

    def on_epoch(self, metrics: EpochMetrics, weight_summary: list[dict[str, Any]]) -> None:
        """Print the final line of an epoch, with the validation metrics."""
        self._print_line(
            f"{_epoch_bar(metrics.epoch, metrics.epochs, 1.0)} "
            f"loss {metrics.loss:.4f} accuracy {metrics.accuracy:.4f} "
            f"val_loss {metrics.val_loss:.4f} val_accuracy {metrics.val_accuracy:.4f} | "
            f"{metrics.samples_per_second:.0f} samples/s"
        )

    def should_stop(self) -> bool:
        """True once a stop was requested (Ctrl-C); says so once."""
        if not self._stop.is_set():
            return False
        if not self._stop_announced:
            self._stop_announced = True
            self._print_line("Ctrl-C: stopping after this batch (press it again to abort)")
        return True

    # Stop requests and clean-up.

    def request_stop(self) -> None:
        """Ask the run to stop after the current batch; safe from a signal handler."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        """Whether a stop was requested."""
        return self._stop.is_set()

    def finish(self) -> None:
        """End a bar left on the line, so that what follows starts on a new line."""
        if self._drawn_width:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn_width = 0

    def _draw(self, line: str) -> None:
        padding = " " * max(0, self._drawn_width - len(line))
        self.stream.write(f"\r{line}{padding}")
        self.stream.flush()
        self._drawn_width = len(line)

    def _print_line(self, line: str) -> None:
        if self._drawn_width:
            self._draw(line)
            self.stream.write("\n")
            self._drawn_width = 0
        else:
            self.stream.write(f"{line}\n")
        self.stream.flush()


def _epoch_bar(epoch: int, epochs: int, fraction: float) -> str:
    filled = round(PROGRESS_BAR_WIDTH * fraction)
    bar = "#" * filled + "-" * (PROGRESS_BAR_WIDTH - filled)
    return f"epoch {epoch}/{epochs} [{bar}] {fraction:4.0%}"


@contextlib.contextmanager
def _stop_on_interrupt(progress: ProgressPrinter) -> Iterator[None]:
    """Turn the first Ctrl-C into a stop request; a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def handle_interrupt(signal_number: int, frame: Any) -> None:
        if progress.stop_requested:
            raise KeyboardInterrupt
        # Only set a flag here: printing from a signal handler can collide with a print in
        # progress. The observer announces the stop when it is next polled.
        progress.request_stop()

    previous = signal.signal(signal.SIGINT, handle_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# --- models ----------------------------------------------------------------------------------


def models(args: argparse.Namespace) -> int:
    """List the stored models without loading them (no TensorFlow).

    Args:
        args: Parsed arguments (none used).
    """
    from mnist_core.presets import DEFAULT_MODEL_PRESET_NAME
    from mnist_core.store import list_models, models_directory

    directory = models_directory()
    entries = list_models()
    if not entries:
        print(
            f"no models in {directory}; train one with "
            f"`python -m mnist_core train --preset {DEFAULT_MODEL_PRESET_NAME} --name default`"
        )
        return 0
    print(f"models in {directory}:")
    rows = []
    for entry in entries:
        if entry.error is not None:
            rows.append((entry.name, f"broken: {entry.error}", "", "", ""))
            continue
        metadata = entry.metadata or {}
        accuracy = (metadata.get("metrics") or {}).get("test_accuracy")
        rows.append(
            (
                entry.name,
                metadata["dataset"],
                f"{accuracy:.2%}" if isinstance(accuracy, int | float) else "-",
                f"{metadata['parameter_count']:,}",
                _format_timestamp(metadata["created_at"]),
            )
        )
    # A broken entry's reason spans the other columns; keep it out of the width computation.
    _print_table(
        ("name", "dataset", "test accuracy", "parameters", "created"),
        rows,
        right_aligned={2, 3},
        spanning=lambda row: row[1].startswith("broken: "),
    )
    return 0


def _format_timestamp(text: str) -> str:
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.utcoffset() == datetime.timedelta(0):
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return moment.strftime("%Y-%m-%d %H:%M %z")


# --- evaluate --------------------------------------------------------------------------------


def evaluate(args: argparse.Namespace) -> int:
    """Evaluate a stored model on the test set of its dataset.

    Args:
        args: Parsed arguments: `model` (a stored model's name), `json` (print JSON).
    """
    from mnist_core.evaluate import LOSS_NAMES, evaluate_model

    entry = _find_stored_model(args.model)
    metadata = entry.metadata or {}
    dataset = _load_dataset(metadata["dataset"])
    loss = (metadata.get("config") or {}).get("loss")
    if loss not in LOSS_NAMES:
        loss = "categorical_crossentropy"
    model = _load_stored_model(entry.name)
    report = evaluate_model(
        model, dataset.x_test, dataset.y_test, class_names=dataset.class_names, loss=loss
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    print(f"model {entry.name!r} on the {dataset.name} test set ({report.num_examples} images)")
    print(f"accuracy {report.accuracy:.2%}  loss {report.loss:.4f} ({report.loss_name})")
    print()
    print(report.format_classification_report(digits=4))
    print(format_confusion_matrix(report.confusion_matrix, report.class_names))
    return 0


def format_confusion_matrix(matrix: Any, class_names: Sequence[str]) -> str:
    """The confusion matrix as a text table: rows are true classes, columns predictions.

    Args:
        matrix: (K, K) counts, ``matrix[true, predicted]``.
        class_names: the K class names; columns are headed by class index.
    """
    count_width = max(4, len(str(int(matrix.max()))) + 1)
    label_width = max(len(name) for name in class_names)
    lines = ["confusion matrix (rows: true class, columns: predicted class)"]
    if any(name != str(index) for index, name in enumerate(class_names)):
        lines.append(
            "columns: " + ", ".join(f"{index} = {name}" for index, name in enumerate(class_names))
        )
    header = " " * label_width + "".join(
        f"{index:>{count_width}}" for index in range(len(class_names))
    )
    lines.append(header)
    for name, row in zip(class_names, matrix):
        lines.append(f"{name:>{label_width}}" + "".join(f"{int(c):>{count_width}}" for c in row))
    return "\n".join(lines)


# --- predict ---------------------------------------------------------------------------------


def predict(args: argparse.Namespace) -> int:
    """Classify image files: all are read and preprocessed first, then one `predict_batch` call.

    A file that cannot be read is reported on stderr as it is met and in the results; the
    others are classified all the same, and the exit status says that some failed.

    Args:
        args: Parsed arguments: `images` (paths), `model` (a stored model's name), `json`,
            `noise` (standard deviation of Gaussian noise added after preprocessing).
    """
    import numpy as np

    from mnist_core.preprocess import add_gaussian_noise, load_image_file, preprocess_drawing

    if not (math.isfinite(args.noise) and 0.0 <= args.noise <= 1.0):
        raise ValueError(
            f"--noise must be a number from 0 to 1 (a standard deviation on the [0, 1] pixel "
            f"scale), got {args.noise}."
        )
    entry = _find_stored_model(args.model)
    # Only the (28, 28) results are kept: a thousand canvas-sized RGBA images take 300 MB.
    prepared: dict[int, Any] = {}
    errors: dict[int, str] = {}
    for index, path in enumerate(args.images):
        try:
            prepared[index] = preprocess_drawing(load_image_file(path))
        except ValueError as error:  # load_image_file's message names the file and why
            errors[index] = _one_line(error)
            print(f"error: {errors[index]}", file=sys.stderr, flush=True)

    inked = [index for index, image in prepared.items() if image is not None]
    class_names = _class_names_of(entry.metadata or {})
    results = [
        {"file": path, "error": errors[index]}
        if index in errors
        else _prediction_result(path, None, class_names)
        for index, path in enumerate(args.images)
    ]
    if inked:
        from mnist_core.predict import predict_batch

        batch = np.stack([prepared[index] for index in inked])
        if args.noise > 0:
            batch = add_gaussian_noise(batch, args.noise, seed=NOISE_SEED)
        model = _load_stored_model(entry.name)
        probabilities = predict_batch(model, batch, batch_size=PREDICT_BATCH_SIZE)
        for index, row in zip(inked, probabilities):
            results[index] = _prediction_result(args.images[index], row, class_names)
    exit_status = ERROR_EXIT_STATUS if errors else 0
    if args.json:
        print(json.dumps(results, indent=2))
        return exit_status
    show_names = any(name != str(index) for index, name in enumerate(class_names))

    def label(index: int) -> str:
        name = class_names[index] if index < len(class_names) else str(index)
        return f"{index} {name}" if show_names else str(index)

    lines = []
    for result in results:
        if "error" in result:
            continue  # already reported on stderr
        if result["digit"] is None:
            lines.append(f"{result['file']}: no digit ({result['note']})")
            continue
        line = f"{result['file']}: {label(result['digit'])} ({result['confidence']:.1%})"
        if result["unsure"]:
            line += (
                f", not sure: or maybe {label(result['runner_up'])} "
                f"({result['runner_up_probability']:.1%})"
            )
        lines.append(line)
    if lines:
        print("\n".join(lines))
    return exit_status


def _prediction_result(path: str, probabilities: Any, class_names: Sequence[str]) -> dict[str, Any]:
    """The JSON object of one file; `probabilities` None means a blank image."""
    if probabilities is None:
        return {
            "file": path,
            "digit": None,
            "class_name": None,
            "confidence": None,
            "probabilities": None,
            "runner_up": None,
            "runner_up_probability": None,
            "unsure": None,
            "note": BLANK_IMAGE_NOTE,
        }
    from mnist_core.predict import prediction_from_probabilities

    prediction = prediction_from_probabilities(probabilities)
    digit = prediction.digit
    return {
        "file": path,
        "digit": digit,
        "class_name": class_names[digit] if digit < len(class_names) else str(digit),
        "confidence": prediction.confidence,
        "probabilities": list(prediction.probabilities),
        "runner_up": prediction.runner_up,
        "runner_up_probability": prediction.runner_up_probability,
        "unsure": prediction.unsure,
        "note": None,
    }


def _class_names_of(metadata: dict[str, Any]) -> tuple[str, ...]:
    from mnist_core.data import FASHION_MNIST_CLASS_NAMES, MNIST_CLASS_NAMES

    if metadata.get("dataset") == "fashion_mnist":
        return FASHION_MNIST_CLASS_NAMES
    return MNIST_CLASS_NAMES


# --- runs ----------------------------------------------------------------------------------


def _open_run_log() -> Any:
    """The run log, which must exist already: reading runs never creates one."""
    from mnist_core.runs import RUNS_DB_ENVIRONMENT_VARIABLE, RunLog

    run_log = RunLog()
    if not run_log.path.is_file():
        raise CommandError(
            f"no run log at {run_log.path}: nothing has been recorded there yet (train with "
            f"`python -m mnist_core train`, or point {RUNS_DB_ENVIRONMENT_VARIABLE} at a log)."
        )
    run_log.check()
    return run_log


def runs_list(args: argparse.Namespace) -> int:
    """List the recorded runs, newest first (no TensorFlow).

    Args:
        args: Parsed arguments: `json`, `user` (None: everyone's), `limit`, `all` (hidden too).
    """
    from mnist_core.compare import architecture_summary

    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be at least 1, got {args.limit}.")
    run_log = _open_run_log()
    runs = run_log.list_runs(user=args.user, include_hidden=args.all, limit=args.limit)
    if args.json:
        print(json.dumps(_json_ready([run.to_dict() for run in runs]), indent=2))
        return 0
    if not runs:
        print(f"no runs in {run_log.path}")
        return 0
    print(f"runs in {run_log.path}:")
    rows = [
        (
            run.id,
            _format_epoch_seconds(run.created_at),
            run.user,
            run.status,
            run.label or run.preset or "-",
            architecture_summary(run.config),
            f"{len(run.history)}/{run.config.epochs}",
            f"{run.test_accuracy:.2%}" if run.test_accuracy is not None else "-",
            f"{run.parameter_count:,}" if run.parameter_count is not None else "-",
        )
        for run in runs
    ]
    _print_table(
        ("id", "created", "user", "status", "name", "network", "epochs", "test accuracy",
         "parameters"),
        rows,
        right_aligned={6, 7, 8},
    )  # fmt: skip
    return 0


def runs_show(args: argparse.Namespace) -> int:
    """Show one run: what it is, its settings, its figures and its epochs.

    Args:
        args: Parsed arguments: `run_id`, `json_output`.
    """
    import dataclasses

    from mnist_core.compare import architecture_summary, setting_value, side_by_side_metrics
    from mnist_core.model import ModelConfig

    run = _open_run_log().get_run(args.run_id)
    if args.json_output:
        print(json.dumps(_json_ready(run.to_dict()), indent=2))
        return 0
    print(f"run {run.id}: {run.status}" + (f" ({run.reason})" if run.reason else ""))
    facts = [
        ("user", run.user),
        ("name", run.label or "-"),
        ("preset", run.preset or "-"),
        ("lesson", run.lesson or "-"),
        ("network", architecture_summary(run.config)),
        ("dataset", run.dataset),
        ("training images", "all" if run.train_images is None else f"{run.train_images:,}"),
        ("created", _format_epoch_seconds(run.created_at)),
        ("model", run.model_path if run.model_kept else "not kept"),
    ]
    if run.model_name:
        facts.append(("saved as", run.model_name))
    if run.limits:
        facts.append(("class limits", json.dumps(run.limits)))
    width = max(len(key) for key, _ in facts) + 2
    for key, value in facts:
        print(f"  {key:<{width}}{value}")
    print("\nsettings:")
    _print_table(
        ("setting", "value"),
        [
            (field.name, setting_value(run.config, field.name))
            for field in dataclasses.fields(ModelConfig)
            if field.name != "dataset"
        ],
    )
    print("\nfigures:")
    _print_table(
        ("figure", "value"), [(row.metric, row.values[0]) for row in side_by_side_metrics([run])]
    )
    if run.history:
        print("\nepochs:")
        _print_table(
            ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"),
            [
                (
                    str(entry.get("epoch", index + 1)),
                    _format_number(entry.get("loss"), ".4f"),
                    _format_number(entry.get("accuracy"), ".4f"),
                    _format_number(entry.get("val_loss"), ".4f"),
                    _format_number(entry.get("val_accuracy"), ".4f"),
                    _format_number(entry.get("elapsed_seconds"), ".1f"),
                )
                for index, entry in enumerate(run.history)
            ],
            right_aligned={0, 1, 2, 3, 4, 5},
        )
    return 0


def runs_compare(args: argparse.Namespace) -> int:
    """Print the settings that differ between runs, then their figures side by side.

    Args:
        args: Parsed arguments: `run_ids` (two or more), `json_output`.
    """
    from mnist_core.compare import differing_settings, run_label, side_by_side_metrics

    if len(args.run_ids) < 2:
        raise ValueError(
            f"runs compare needs at least two run ids, got {len(args.run_ids)}; "
            "`python -m mnist_core runs` lists them."
        )
    if len(set(args.run_ids)) != len(args.run_ids):
        raise ValueError("runs compare got the same run id twice; give each run once.")
    run_log = _open_run_log()
    runs = [run_log.get_run(run_id) for run_id in args.run_ids]
    labels = [run_label(run) for run in runs]
    settings = differing_settings(runs)
    metrics = side_by_side_metrics(runs)
    if args.json_output:
        document = {
            "runs": [run.id for run in runs],
            "labels": labels,
            "differing_settings": [
                {"setting": row.setting, "field": row.field, "values": list(row.values)}
                for row in settings
            ],
            "metrics": [
                {
                    "metric": row.metric,
                    "values": list(row.values),
                    "numbers": list(row.numbers),
                    "best": row.best,
                }
                for row in metrics
            ],
        }
        print(json.dumps(_json_ready(document), indent=2))
        return 0
    if settings:
        print("settings that differ:")
        _print_table(("setting", *labels), [(row.setting, *row.values) for row in settings])
    else:
        print("the runs have the same settings")
    print("\nfigures (* best):")
    _print_table(
        ("figure", *labels),
        [
            (
                row.metric,
                *(
                    value + (" *" if index == row.best else "")
                    for index, value in enumerate(row.values)
                ),
            )
            for row in metrics
        ],
        right_aligned=set(range(1, len(labels) + 1)),
    )
    return 0


def runs_export(args: argparse.Namespace) -> int:
    """Write a run as a standalone Keras script, its history as CSV and/or its model file.

    Args:
        args: Parsed arguments: `run_id`, `code`, `csv`, `model` (paths; at least one),
            `overwrite`.
    """
    from pathlib import Path

    from mnist_core import export

    targets = [path for path in (args.code, args.csv, args.model) if path]
    if not targets:
        raise ValueError("runs export needs --code FILE, --csv FILE and/or --model FILE.")
    if len({os.path.abspath(path) for path in targets}) != len(targets):
        raise ValueError("runs export got the same FILE twice; give each export its own file.")
    if not args.overwrite:
        for path in targets:
            if os.path.exists(path):
                raise ValueError(f"{path} exists; choose another file or pass --overwrite.")
    for path in targets:
        folder = Path(path).resolve().parent
        if not folder.is_dir():
            raise ValueError(f"the folder of {path} does not exist ({folder}).")
    run = _open_run_log().get_run(args.run_id)
    # Everything is prepared before anything is written: a run that cannot be exported
    # (a schedule the exporter does not know, no kept model) leaves no half of its files.
    code = export.script_for_run(run, file_name=Path(args.code).name) if args.code else None
    if args.model and not run.model_kept:
        export.copy_model(run, args.model)  # raises ValueError saying why
    if code is not None:
        Path(args.code).write_text(code)
        print(f"wrote {args.code}: train it again with `python {args.code} --data mnist.npz`")
    if args.csv:
        Path(args.csv).write_text(export.history_csv(run))
        print(f"wrote {args.csv}: {len(run.history)} epoch(s)")
    if args.model:
        export.copy_model(run, args.model)
        print(f"wrote {args.model}")
    return 0


def _json_ready(value: Any) -> Any:
    """`value` with every float that is not finite made None: strict JSON."""
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _format_epoch_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M")


def _format_number(value: Any, spec: str) -> str:
    if isinstance(value, int | float) and math.isfinite(value):
        return format(value, spec)
    return "-"


# --- shared helpers --------------------------------------------------------------------------


def _load_dataset_quietly(name: str) -> tuple[Dataset, list[str]]:
    """Load a dataset with TensorFlow's start-up lines silenced; return it and any warnings."""
    with warnings.catch_warnings(record=True) as caught, native_stderr_silenced():
        warnings.simplefilter("always")
        dataset = load_dataset(name)
    return dataset, [str(warning.message) for warning in caught]


def _load_dataset(name: str) -> Dataset:
    """Load a dataset; its warnings (a cache that could not be written) become notes."""
    dataset, notes = _load_dataset_quietly(name)
    for note in notes:
        print(f"note: {_one_line(note)}", file=sys.stderr)
    return dataset


def _find_stored_model(name: str) -> Any:
    """Return the usable store entry `name` (a StoredModel), without loading TensorFlow.

    Raises ModelNotFoundError or BrokenModelError with a message that says what to do.
    """
    from mnist_core.store import (
        BrokenModelError,
        ModelNotFoundError,
        list_models,
        models_directory,
        validate_model_name,
    )

    validate_model_name(name)
    entries = {entry.name: entry for entry in list_models()}
    if name not in entries:
        usable = [entry_name for entry_name, entry in entries.items() if entry.is_valid]
        listing = f"stored models: {', '.join(usable)}" if usable else "no models are stored"
        raise ModelNotFoundError(
            f"no model named {name!r} in {models_directory()} ({listing}); see "
            "`python -m mnist_core models`, or train one with "
            f"`python -m mnist_core train --preset cnn_fast --name {name}`."
        )
    entry = entries[name]
    if entry.error is not None:
        raise BrokenModelError(
            f"model {name!r} is broken: {entry.error}; retrain it with "
            f"`python -m mnist_core train --preset PRESET --name {name} --overwrite`."
        )
    return entry


def _load_stored_model(name: str) -> Any:
    """Import Keras quietly and load a stored model (a keras.Model)."""
    import_keras()
    from mnist_core.store import load_model

    with warnings.catch_warnings():
        # Keras warns about optimizer variables it does not restore: nothing for a user.
        warnings.simplefilter("ignore")
        return load_model(name).model


def _print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right_aligned: Collection[int] = (),
    spanning: Callable[[Sequence[str]], bool] | None = None,
) -> None:
    """Print rows in columns; `spanning(row)` marks rows whose second cell runs to the end."""
    measured = [row for row in rows if not (spanning and spanning(row))]
    widths = [
        max([len(header)] + [len(row[column]) for row in measured])
        for column, header in enumerate(headers)
    ]
    last = len(headers) - 1

    def format_row(row: Sequence[str]) -> str:
        if spanning and spanning(row):
            return f"{row[0]:<{widths[0]}}  {row[1]}"
        cells = [
            cell.rjust(widths[column])
            if column in right_aligned
            else (cell if column == last else cell.ljust(widths[column]))
            for column, cell in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    print(format_row(headers))
    for row in rows:
        print(format_row(row))


def _one_line(error: BaseException | str) -> str:
    return " ".join(str(error).split()) or type(error).__name__
