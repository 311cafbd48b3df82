"""Benchmark 9, the Compare page: its script time with 200 runs in the log and 3 selected.

A run log in a temporary folder is filled through `RunLog`'s public methods with 200 runs as
the engine leaves them: 25 users, the presets with a changed setting here and there, several
epochs each (metrics and every layer's weight summary, taken from the real models), a
throttled batch curve, the final metrics with per-class accuracy and the confusion matrix, and
a kept model file; a few runs stopped, diverged or failed. Then the app runs in Streamlit's
`AppTest` (the server's side of a script run, no browser) on the Compare page, as a teacher
who shows everyone's runs and has ticked three finished ones (session state
`compare_selection`, in the table's order, as ticking leaves it). After one untimed run (the
imports), each timed run is one `AppTest.run()`: the whole script of app.py and the page, and
the page's elements serialized. AppTest is made to keep the scripts' bytecode between runs, as
a server does (see `one_script_cache`). Interleaved with it, the same page over a log that
holds only the three ticked runs says what the other 197 cost; the table's query is timed
apart (the page reads it without the runs' curves, which made it five times slower).

Goal: median at most 1 s.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # to run as a script

import contextlib
import functools
import os
import random
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from bench.common import (
    REPOSITORY_ROOT,
    benchmark_result,
    figure_from_samples,
    load_average,
    main,
    quiet_keras,
    summarize,
)

BENCHMARK = "compare_page"
TITLE = "Compare page: server-side script time, 200 runs in the log, 3 selected (AppTest)"
GOAL_SECONDS = 1.0
USERS = 25
VIEWER = "teacher"
# The settings a student changes from a preset, and the values tried.
CHANGES: dict[str, tuple[Any, ...]] = {
    "optimizer": ("sgd", "adam", "rmsprop"),
    "learning_rate": (0.0003, 0.001, 0.003, 0.01),
    "batch_size": (32, 64, 128, 256),
    "seed": (0, 1, 2, 3),
}
# How the runs end: mostly finished.
ENDINGS = ("finished",) * 17 + ("stopped", "diverged", "failed")
# Batch-progress points an epoch (the engine reports about four a second).
POINTS_PER_EPOCH = 40


@functools.cache
def _weight_summaries() -> dict[str, list[dict[str, Any]]]:
    """One real weight summary per preset (the layers' shapes, statistics and histograms)."""
    from mnist_core.modeling.build import build_model
    from mnist_core.modeling.presets import PRESETS
    from mnist_core.training.progress import summarize_weights

    return {
        name: summarize_weights(build_model(preset.config, training_images=60000))
        for name, preset in PRESETS.items()
    }


def fill_run_log(log: Any, count: int, model_file: Path, seed: int = 0) -> list[Any]:
    """Record `count` ended runs in `log` through its public methods; returns them.

    Args:
        log: an empty RunLog.
        count: how many runs.
        model_file: a real `.keras` file; each kept model is a hard link to it.
        seed: the random choices' seed.
    """
    from mnist_core.modeling.presets import PRESETS
    from mnist_core.runs.record import (
        DIVERGED,
        FAILED,
        STOPPED,
    )

    choose = random.Random(seed)
    summaries = _weight_summaries()
    names = list(PRESETS)
    runs = []
    for index in range(count):
        preset = names[index % len(names)]
        config = PRESETS[preset].config
        changed = None
        if choose.random() < 0.6:
            field = choose.choice(list(CHANGES))
            config = config.replace(**{field: choose.choice(CHANGES[field])})
            changed = field
        config = config.replace(epochs=min(config.epochs, choose.choice((3, 5, 8, 10))))
        training_images = choose.choice((5000, 10000, 30000, None))
        run = log.create_run(
            config,
            user=f"student{index % USERS + 1:02d}",
            preset=None if changed else preset,
            training_images=training_images,
            label=f"{changed} changed" if changed else None,
        )
        log.mark_running(run.id, worker="tcp://127.0.0.1:40000")
        ending = ENDINGS[choose.randrange(len(ENDINGS))]
        # A run that ended early did fewer epochs than asked (none, for a one-epoch preset).
        epochs_done = config.epochs if ending == "finished" else choose.randrange(0, config.epochs)
        samples = (training_images or 60000) * 9 // 10
        batches = -(-samples // config.batch_size)
        accuracy = choose.uniform(0.85, 0.99)
        log.record_plan(
            run.id,
            {
                "epochs": config.epochs,
                "batches_per_epoch": batches,
                "training_images_used": samples,
                "validation_images": (training_images or 60000) - samples,
                "validation": config.validation,
            },
        )
        elapsed = 0.0
        for epoch in range(1, epochs_done + 1):
            points = []
            for step in range(1, POINTS_PER_EPOCH + 1):
                batch = max(1, step * batches // POINTS_PER_EPOCH)
                progress_made = (epoch - 1 + step / POINTS_PER_EPOCH) / config.epochs
                points.append(
                    {
                        "epoch": epoch,
                        "epochs": config.epochs,
                        "batch": batch,
                        "batches_per_epoch": batches,
                        "loss": 2.3 * (1 - progress_made) * (1 - accuracy) * 4 + 0.05,
                        "accuracy": accuracy * (0.6 + 0.4 * progress_made),
                        "elapsed_seconds": elapsed + step * 0.25,
                        "samples_per_second": 2500.0,
                        "seconds_left": 10.0,
                    }
                )
            log.record_progress(run.id, *points)
            elapsed += POINTS_PER_EPOCH * 0.25
            log.record_epoch(
                run.id,
                {
                    "epoch": epoch,
                    "epochs": config.epochs,
                    "loss": 0.5 / epoch,
                    "accuracy": accuracy - 0.05 / epoch,
                    "val_loss": 0.55 / epoch,
                    "val_accuracy": accuracy - 0.06 / epoch,
                    "elapsed_seconds": elapsed,
                    "samples_per_second": 2500.0,
                },
                summaries[preset],
            )
        if ending == FAILED:
            runs.append(log.finish_run(run.id, FAILED, "Training failed: the worker was lost."))
            continue
        confusion = _confusion_matrix(choose, accuracy)
        metrics = {
            "test_loss": 0.05 + (1 - accuracy),
            "test_accuracy": accuracy,
            "loss": 0.5 / max(1, epochs_done),
            "accuracy": accuracy,
            "val_loss": 0.55 / max(1, epochs_done),
            "val_accuracy": accuracy - 0.01,
            "epochs_completed": epochs_done,
            "stop_reason": {"finished": "completed", STOPPED: "stopped", DIVERGED: "nan"}[ending],
            "parameter_count": 100000 + index,
            "training_seconds": elapsed,
            "samples_per_second": 2500.0,
            "training_images_used": samples,
            "per_class_accuracy": [row[i] / sum(row) for i, row in enumerate(confusion)],
            "confusion_matrix": confusion,
        }
        model_path = None
        if ending != DIVERGED:
            path = log.model_path_for(run.id)
            path.parent.mkdir(parents=True, exist_ok=True)
            os.link(model_file, path)
            model_path = str(path)
        runs.append(
            log.finish_run(
                run.id, ending, f"The run ended {ending}.", metrics=metrics, model_path=model_path
            )
        )
    return runs


def _confusion_matrix(choose: random.Random, accuracy: float) -> list[list[int]]:
    """A plausible 10x10 confusion matrix of 10,000 test images at about `accuracy`."""
    matrix = []
    for true in range(10):
        row = [0] * 10
        total = 1000
        right = int(total * min(0.999, max(0.5, accuracy + choose.uniform(-0.02, 0.02))))
        row[true] = right
        for _ in range(total - right):
            row[(true + choose.randrange(1, 10)) % 10] += 1
        matrix.append(row)
    return matrix


def _model_file(directory: Path) -> Path:
    """A real `.keras` file of the default preset's model (untrained: same size)."""
    from mnist_core.modeling.build import build_model
    from mnist_core.modeling.presets import (
        DEFAULT_PRESET_NAME,
        get_preset,
    )

    path = directory / "model.keras"
    build_model(get_preset(DEFAULT_PRESET_NAME).config, training_images=60000).save(path)
    return path


@contextlib.contextmanager
def one_script_cache() -> Iterator[None]:
    """While it lasts, AppTest keeps the scripts' bytecode between runs, as a server does.

    AppTest compiles app.py and the page afresh on every run (a new `ScriptCache` each time:
    0.2 to 0.5 s of Streamlit's "magic" rewriting of the page here); a server compiles them
    once and keeps the bytecode. With one cache for every run, an AppTest run costs what the
    server's script run costs.
    """
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test, local_script_runner

    shared = ScriptCache()
    modules = (local_script_runner, app_test)
    try:
        for module in modules:
            module.ScriptCache = lambda: shared  # type: ignore[attr-defined]
        yield
    finally:
        for module in modules:
            module.ScriptCache = ScriptCache  # type: ignore[attr-defined]


class PageSession:
    """One AppTest session of the app on the Compare page, over one run log.

    Args:
        log_path: the run log (MNIST_RUNS_DB while this session runs).
        selection: the ticked runs' ids, in the table's order.
        confusions: with the page's "Show their confusion matrices" on.
    """

    def __init__(self, log_path: Path, selection: list[str], *, confusions: bool) -> None:
        from streamlit.testing.v1 import AppTest

        self.log_path = log_path
        self.selection = list(selection)
        self.app = AppTest.from_file(str(REPOSITORY_ROOT / "app.py"), default_timeout=300)
        self.app.session_state["user_name"] = VIEWER
        self.app.session_state["compare_selection"] = list(selection)
        self.app.session_state["compare_everyone"] = True
        self.app.session_state["compare_confusions"] = confusions
        self.app.switch_page("app_pages/compare.py")

    def run(self) -> float:
        """One script run of the page; its seconds."""
        os.environ["MNIST_RUNS_DB"] = str(self.log_path)  # the pages read it on every run
        started = time.perf_counter()
        self.app.run()
        elapsed = time.perf_counter() - started
        if self.app.exception:
            raise RuntimeError(f"the Compare page failed: {self.app.exception[0].message}")
        if not self.app.title or self.app.title[0].value != "Compare runs":
            raise RuntimeError("the Compare page did not show its title.")
        if list(self.app.session_state["compare_selection"]) != self.selection:
            raise RuntimeError("the page changed the selection: it would rerun again.")
        return elapsed


def time_pages(sessions: dict[str, PageSession], repetitions: int) -> dict[str, list[float]]:
    """Seconds of `repetitions` script runs of each session, interleaved (A B C, C B A, ...),
    after one untimed run of each."""
    import logging

    # Setting session state from this (test) thread logs a harmless warning each time.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(
        logging.ERROR
    )
    names = list(sessions)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    with one_script_cache():
        for name in names:
            sessions[name].run()
        for repetition in range(repetitions):
            for name in names if repetition % 2 == 0 else reversed(names):
                seconds[name].append(sessions[name].run())
    return seconds


def time_listing(log: Any, repetitions: int) -> dict[str, list[float]]:
    """Seconds of the page's table query, without the curves (as the page reads it) and with."""
    seconds: dict[str, list[float]] = {"without_curves": [], "with_curves": []}
    for _ in range(repetitions):
        for key, include in (("without_curves", False), ("with_curves", True)):
            started = time.perf_counter()
            log.list_runs(limit=500, include_curves=include)
            seconds[key].append(time.perf_counter() - started)
    return seconds


def _three_finished(runs: list[Any]) -> list[str]:
    """Three finished runs spread over the table, in its order (newest first)."""
    from mnist_core.runs.record import FINISHED

    table_order = sorted(runs, key=lambda run: -run.created_at)
    finished = [run.id for run in table_order if run.status == FINISHED]
    return [finished[i] for i in (0, len(finished) // 2, len(finished) - 1)]


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark and return its result (see bench.common.benchmark_result).

    Args:
        quick: 20 runs in the log and 2 timed script runs, instead of 200 and 5.
    """
    started, load_before = time.perf_counter(), load_average()
    quiet_keras()
    from mnist_core.runs.log import RunLog
    from mnist_core.runs.record import FINISHED

    run_count, repetitions = (20, 2) if quick else (200, 5)
    previous = os.environ.get("MNIST_RUNS_DB")
    with tempfile.TemporaryDirectory(prefix="mnist-bench-compare-") as directory:
        folder = Path(directory)
        model_file = _model_file(folder)
        try:
            log = RunLog(folder / "full" / "runs.sqlite3")
            filling = time.perf_counter()
            runs = fill_run_log(log, run_count, model_file)
            fill_seconds = time.perf_counter() - filling
            # The reference: a log that holds only three finished runs, ticked the same way.
            small_log = RunLog(folder / "small" / "runs.sqlite3")
            small_runs = []
            seed = 1
            while sum(run.status == FINISHED for run in small_runs) < 3:
                small_runs += fill_run_log(small_log, 1, model_file, seed=seed)
                seed += 1
            small_runs = [run for run in small_runs if run.status == FINISHED]
            sessions = {
                "full": PageSession(log.path, _three_finished(runs), confusions=False),
                "three": PageSession(
                    small_log.path, [run.id for run in reversed(small_runs)], confusions=False
                ),
                "full_confusions": PageSession(log.path, _three_finished(runs), confusions=True),
            }
            seconds = time_pages(sessions, repetitions)
            listing = time_listing(log, repetitions)
            database_megabytes = log.path.stat().st_size / 1e6
        finally:
            if previous is None:
                os.environ.pop("MNIST_RUNS_DB", None)
            else:
                os.environ["MNIST_RUNS_DB"] = previous
    full, three = seconds["full"], seconds["three"]
    ratios = [a / b for a, b in zip(full, three)]
    figures = [
        figure_from_samples(
            BENCHMARK,
            f"Compare page script run, {run_count} runs in the log, 3 ticked",
            "s",
            full,
            reference=(
                f"log of only the 3 ticked runs: median {summarize(three).median:.2f} s; "
                f"everyone's runs shown (teacher); log {database_megabytes:.1f} MB"
            ),
            goal=f"median <= {GOAL_SECONDS:g} s",
            passed=summarize(full).median <= GOAL_SECONDS,
        ),
        figure_from_samples(
            BENCHMARK,
            f"what the other {run_count - 3} runs cost: {run_count} runs / 3 runs, per pair",
            "x",
            ratios,
        ),
        figure_from_samples(
            BENCHMARK,
            "the same page with the three confusion matrices shown",
            "s",
            seconds["full_confusions"],
        ),
        figure_from_samples(
            BENCHMARK,
            f"of which the table's query: list_runs of {run_count} runs without their curves",
            "s",
            listing["without_curves"],
            reference=(
                "with the curves (before the page left them out): median "
                f"{summarize(listing['with_curves']).median:.2f} s"
            ),
        ),
    ]
    settings = {
        "runs_in_log": run_count,
        "users": USERS,
        "selected": 3,
        "timed_script_runs": repetitions,
        "viewer": "everyone's runs (the page's toggle on)",
        "how": "AppTest of app.py switched to pages/compare.py, one untimed run of each session "
        "first, then the sessions interleaved; the scripts' bytecode kept as a server does",
    }
    details = {
        "script_seconds": seconds,
        "listing_seconds": listing,
        "fill_seconds": fill_seconds,
        "database_megabytes": database_megabytes,
        "statuses": {
            status: sum(run.status == status for run in runs)
            for status in sorted({run.status for run in runs})
        },
    }
    return benchmark_result(
        BENCHMARK, TITLE, quick, settings, figures, details, started, load_before
    )


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
