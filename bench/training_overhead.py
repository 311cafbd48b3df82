"""Benchmark 2, training overhead: a run on the engine against a plain `model.fit`.

The app's path is what the Train page does: `Engine.submit` of one `cnn_fast` run (one epoch
of all 60,000 images) on an embedded cluster of one worker, the run log written by the engine
as it trains, and read twice a second as the page's live view does, until the log says the run
finished with its model file written. The reference does the same training the plain Keras
way, in one process: the same subset, `build_model`, the same scaling, labels and validation
data, `model.fit` without callbacks, then the same test-set evaluation.

How the pair is made fair: the reference runs in a process of its own that is set up like a
worker: the same single-thread environment (`cluster.SINGLE_THREAD_ENVIRONMENT`), the same
niceness (`cluster.WORKER_NICENESS`), TensorFlow imported and MNIST loaded by the worker's own
warm-up (`warm_up.WarmUp`), and one untimed warm-up run, as the worker gets. The two alternate
(A B, B A, ...) so that a busy moment of the shared machine slows both alike.

What is measured, all on one clock (`time.time()` of this machine):

- the training part: the worker's own fit time (`train_model`'s, with the live-progress
  observer) against the reference's `model.fit`: the goal's ratio;
- the fixed costs, in seconds: from `submit` to the task starting on the worker (the line, the
  dispatcher, Dask), the worker's work besides fit (subset, scaling, building, the test
  evaluation, the per-class report, the model to bytes), and from the task's end to the run
  being "finished" in the log (the model sent back and written, the log updated). The task's
  start and end come from Dask's task stream.

Goal: the training part at most 5% slower (median ratio <= 1.05).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # to run as a script

import json
import os
import subprocess
import tempfile
import time
from typing import Any

from bench.common import (
    REPOSITORY_ROOT,
    Figure,
    benchmark_result,
    figure_from_samples,
    format_value,
    load_average,
    main,
    summarize,
)

BENCHMARK = "training_overhead"
TITLE = "Training overhead: a run on the engine (Dask worker, run log) vs plain model.fit"
PRESET_NAME = "cnn_fast"
SLOWDOWN_GOAL = 1.05
# How often the app path reads the run log, as the Train page's live view does.
READ_INTERVAL_SECONDS = 0.5
RUN_TIMEOUT_SECONDS = 900.0


# --- The reference: plain Keras in a process set up like a worker ---------------------------
def serve_reference() -> None:
    """The reference process: read one JSON request a line, train plainly, answer in JSON.

    Each request is {"config": ModelConfig JSON, "training_images": int or None}; the answer holds
    the timings (seconds) and the test accuracy.
    """
    from mnist_core.engine.cluster import WORKER_NICENESS

    os.nice(WORKER_NICENESS)
    from mnist_core.engine.warm_up import WarmUp

    warm_up = WarmUp()
    warm_up.setup()  # what a worker does when it starts: single-threaded TensorFlow, MNIST
    dataset = warm_up.dataset("mnist")
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        print(json.dumps(train_plain_way(request, dataset)), flush=True)


def train_plain_way(request: dict[str, Any], full_dataset: Any) -> dict[str, Any]:
    """Train as plain Keras would: subset, build, scale, fit without callbacks, evaluate.

    Args:
        request: {"config": ModelConfig JSON, "training_images": int or None}.
        full_dataset: MNIST, loaded once.
    """
    import keras

    from mnist_core.data.datasets import scale_images
    from mnist_core.evaluation.evaluate import evaluate_model
    from mnist_core.modeling.build import build_model
    from mnist_core.modeling.config import ModelConfig
    from mnist_core.runs.lifecycle import model_file_bytes as model_bytes
    from mnist_core.training.train import (
        encode_labels,
        split_validation,
    )

    config = ModelConfig.from_json(request["config"])
    training_images = request["training_images"]
    started, cpu_started = time.perf_counter(), time.process_time()
    dataset = full_dataset
    if training_images is not None and training_images < len(dataset.x_train):
        dataset = dataset.subset(training_images, None, seed=config.seed)
    x_train, y_train, x_val, y_val = split_validation(config, dataset)
    model = build_model(config, training_images=len(dataset.x_train))
    keras.utils.set_random_seed(config.seed)
    images, labels = scale_images(x_train), encode_labels(config, y_train)
    validation_data = (scale_images(x_val), encode_labels(config, y_val))
    fit_started = time.perf_counter()
    model.fit(
        images,
        labels,
        batch_size=config.batch_size,
        epochs=config.epochs,
        shuffle=config.shuffle,
        validation_data=validation_data,
        verbose=0,
    )
    fit_seconds = time.perf_counter() - fit_started
    _, test_accuracy = model.evaluate(
        scale_images(dataset.x_test),
        encode_labels(config, dataset.y_test),
        batch_size=1000,
        verbose=0,
    )
    total_seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    # Not part of the reference's time: what the worker does on top, timed here to explain
    # the app's fixed costs (the per-class report and the model as bytes).
    report_started = time.perf_counter()
    evaluate_model(model, dataset.x_test, dataset.y_test, loss=config.loss)
    report_seconds = time.perf_counter() - report_started
    bytes_started = time.perf_counter()
    model_size = len(model_bytes(model))
    bytes_seconds = time.perf_counter() - bytes_started
    return {
        "cpu_seconds_with_worker_extras": time.process_time() - cpu_started,
        "total_seconds": total_seconds,
        "cpu_seconds": cpu_seconds,
        "fit_seconds": fit_seconds,
        "besides_fit_seconds": total_seconds - fit_seconds,
        "test_accuracy": float(test_accuracy),
        "per_class_report_seconds": report_seconds,
        "model_bytes_seconds": bytes_seconds,
        "model_megabytes": model_size / 1e6,
    }


class ReferenceProcess:
    """The reference process, started once and asked for one training at a time."""

    def __init__(self) -> None:
        from mnist_core.engine.cluster import SINGLE_THREAD_ENVIRONMENT

        environment = dict(os.environ, **SINGLE_THREAD_ENVIRONMENT)
        environment["PYTHONPATH"] = os.pathsep.join(
            part for part in (str(REPOSITORY_ROOT), os.environ.get("PYTHONPATH", "")) if part
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from bench.training_overhead import serve_reference; "
             "serve_reference()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment,
            cwd=REPOSITORY_ROOT,
            text=True,
        )  # fmt: skip
        self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("{"):
                return json.loads(line)
        raise RuntimeError(f"the reference process ended (exit status {self.process.wait()}).")

    def train(self, config: Any, training_images: int | None) -> dict[str, Any]:
        """Train once in the reference process; its timings."""
        assert self.process.stdin is not None
        request = {"config": config.to_json(), "training_images": training_images}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._answer()

    def close(self) -> None:
        """End the process (its standard input closes)."""
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


# --- The app's path: Engine.submit on an embedded cluster ------------------------------------
def train_app_way(engine: Any, config: Any, training_images: int | None) -> dict[str, Any]:
    """Submit one run as the Train page does and follow it in the run log until it ends.

    Args:
        engine: a connected `Engine` (its cluster warmed).
        config: the ModelConfig.
        training_images: training images before the validation split (None: all).
    """
    from mnist_core.runs.record import FINISHED
    from mnist_core.runs.request import RunRequest

    worker_pids = engine.client.run(os.getpid)
    cpu_before = sum(_cpu_seconds(pid) for pid in worker_pids.values())
    submitted = time.time()
    (run,) = engine.submit(
        [RunRequest(config, preset=PRESET_NAME, training_images=training_images)], user="bench"
    )
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while not run.ended:
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {run.id} did not end within {RUN_TIMEOUT_SECONDS:g} s")
        time.sleep(READ_INTERVAL_SECONDS)
        run = engine.run_log.get_run(run.id)
    seen = time.time()
    worker_cpu_seconds = sum(_cpu_seconds(pid) for pid in worker_pids.values()) - cpu_before
    if run.status != FINISHED or not run.model_kept:
        raise RuntimeError(f"run {run.id} ended {run.status}: {run.reason}")
    compute = _compute_times(engine, f"train-run-{run.id}", submitted)
    fit_seconds = float(run.metrics["training_seconds"])
    worker_seconds = compute["stop"] - compute["start"]
    return {
        "run_id": run.id,
        "total_seconds": run.finished_at - submitted,
        "seen_seconds": seen - submitted,
        "fit_seconds": fit_seconds,
        "worker_cpu_seconds": worker_cpu_seconds,
        "submit_to_worker_seconds": compute["start"] - submitted,
        "worker_seconds": worker_seconds,
        "worker_besides_fit_seconds": worker_seconds - fit_seconds,
        "worker_to_finished_seconds": run.finished_at - compute["stop"],
        "queued_to_dispatched_seconds": run.started_at - run.created_at,
        "batch_curve_points": len(run.batch_curve),
        "epochs_recorded": len(run.history),
        "test_accuracy": run.test_accuracy,
    }


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process of this machine so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _compute_times(engine: Any, key: str, since: float) -> dict[str, float]:
    """When the task `key` computed on its worker (Dask's task stream, wall clock)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for entry in engine.client.get_task_stream(start=since - 1):
            if entry.get("key") == key:
                for part in entry.get("startstops", ()):
                    if part.get("action") == "compute":
                        return {"start": float(part["start"]), "stop": float(part["stop"])}
        time.sleep(0.2)
    raise RuntimeError(f"the task stream has no record of {key}.")


def start_engine(directory: Path) -> Any:
    """An engine on a run log in `directory` and an embedded cluster of one worker, with
    Dask's task stream recorded (to time the task on its worker)."""
    from distributed import get_task_stream

    from mnist_core.engine.engine import Engine
    from mnist_core.runs.log import RunLog

    engine = Engine.connect(RunLog(directory / "runs.sqlite3"), workers=1)
    with get_task_stream(client=engine.client):  # installs the scheduler's task-stream plugin
        pass
    return engine


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark and return its result (see bench.common.benchmark_result).

    Args:
        quick: 1,000 training images and 1 pair, instead of all 60,000 and 5 pairs (both
            after one untimed warm-up run of each side).
    """
    started, load_before = time.perf_counter(), load_average()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from mnist_core.modeling.presets import get_preset

    training_images, pairs = (1000, 1) if quick else (None, 5)
    config = get_preset(PRESET_NAME).config.replace(epochs=1)
    app_runs: list[dict[str, Any]] = []
    plain_runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mnist-bench-overhead-") as directory:
        reference = ReferenceProcess()
        engine = start_engine(Path(directory))
        try:
            # Warm-up, untimed: the first run of a process pays for TensorFlow's set-up.
            warm_up_images = 1000
            train_app_way(engine, config, warm_up_images)
            reference.train(config, warm_up_images)
            for pair in range(pairs):
                order = ("app", "plain") if pair % 2 == 0 else ("plain", "app")
                for way in order:
                    if way == "app":
                        app_runs.append(train_app_way(engine, config, training_images))
                    else:
                        plain_runs.append(reference.train(config, training_images))
                print(
                    f"  {BENCHMARK} pair {pair + 1}/{pairs}: app fit "
                    f"{app_runs[-1]['fit_seconds']:.2f} s (total {app_runs[-1]['total_seconds']:.2f}"
                    f" s), plain fit {plain_runs[-1]['fit_seconds']:.2f} s (total "
                    f"{plain_runs[-1]['total_seconds']:.2f} s)",
                    flush=True,
                )
        finally:
            engine.close()
            reference.close()
    figures = _figures(app_runs, plain_runs)
    settings = {
        "preset": PRESET_NAME,
        "config": config.to_dict(),
        "epochs": config.epochs,
        "training_images": training_images or 60000,
        "pairs": pairs,
        "order": "one untimed warm-up run of each, then pairs alternating A B / B A",
        "app_path": "Engine.submit on an embedded cluster of 1 worker (niced), run log in a "
        f"temporary folder, read every {READ_INTERVAL_SECONDS:g} s until the run ends",
        "reference": "plain build_model + fit + evaluate in one process with the worker's "
        "single-thread environment, niceness and warm-up",
    }
    details = {"app_runs": app_runs, "plain_runs": plain_runs}
    return benchmark_result(
        BENCHMARK, TITLE, quick, settings, figures, details, started, load_before
    )


def _figures(app_runs: list[dict[str, Any]], plain_runs: list[dict[str, Any]]) -> list[Figure]:
    def values(runs: list[dict[str, Any]], key: str) -> list[float]:
        return [float(entry[key]) for entry in runs]

    def median(runs: list[dict[str, Any]], key: str) -> float:
        return summarize(values(runs, key)).median

    fit_ratios = [
        a / p for a, p in zip(values(app_runs, "fit_seconds"), values(plain_runs, "fit_seconds"))
    ]
    total_ratios = [
        a / p
        for a, p in zip(values(app_runs, "total_seconds"), values(plain_runs, "total_seconds"))
    ]
    cpu_ratios = [
        a / p
        for a, p in zip(
            values(app_runs, "worker_cpu_seconds"),
            values(plain_runs, "cpu_seconds_with_worker_extras"),
        )
    ]
    figures = [
        figure_from_samples(
            BENCHMARK,
            "training part: worker's fit / plain fit",
            "x",
            fit_ratios,
            reference=(
                f"app fit median {format_value(median(app_runs, 'fit_seconds'), 's')}, "
                f"plain fit median {format_value(median(plain_runs, 'fit_seconds'), 's')}"
            ),
            goal=f"<= {SLOWDOWN_GOAL:.2f}x (5% slower)",
            passed=summarize(fit_ratios).median <= SLOWDOWN_GOAL,
        ),
        figure_from_samples(
            BENCHMARK,
            "submit to finished in the log / plain build + fit + evaluate",
            "x",
            total_ratios,
            reference=(
                f"app median {format_value(median(app_runs, 'total_seconds'), 's')}, "
                f"plain median {format_value(median(plain_runs, 'total_seconds'), 's')}"
            ),
            note="fixed costs included",
        ),
        figure_from_samples(
            BENCHMARK,
            "CPU time: worker process during the run / reference process, same work",
            "x",
            cpu_ratios,
            reference=(
                f"worker median {format_value(median(app_runs, 'worker_cpu_seconds'), 'CPU s')}, "
                "reference median "
                f"{format_value(median(plain_runs, 'cpu_seconds_with_worker_extras'), 'CPU s')}"
            ),
            note="reference includes the per-class report and the model to bytes",
        ),
        figure_from_samples(
            BENCHMARK,
            "fixed cost: submit -> task starts on the worker",
            "s",
            values(app_runs, "submit_to_worker_seconds"),
            reference=(
                "of which queued -> dispatched median "
                f"{format_value(median(app_runs, 'queued_to_dispatched_seconds'), 's')}"
            ),
        ),
        figure_from_samples(
            BENCHMARK,
            "fixed cost: worker's work besides fit",
            "s",
            values(app_runs, "worker_besides_fit_seconds"),
            reference=(
                "plain besides fit (build, scale, evaluate) median "
                f"{format_value(median(plain_runs, 'besides_fit_seconds'), 's')}; timed in the "
                "reference: per-class report "
                f"{format_value(median(plain_runs, 'per_class_report_seconds'), 's')}, model to "
                f"bytes {format_value(median(plain_runs, 'model_bytes_seconds'), 's')}"
            ),
        ),
        figure_from_samples(
            BENCHMARK,
            "fixed cost: task ends -> run finished in the log, model file written",
            "s",
            values(app_runs, "worker_to_finished_seconds"),
            reference=f"model {median(plain_runs, 'model_megabytes'):.1f} MB sent back",
        ),
    ]
    return figures


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
