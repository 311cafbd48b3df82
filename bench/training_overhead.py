"""Benchmark 2, training overhead: the app's training path against a plain `model.fit`.

The app's path is a `TrainingJob` (what the Train page starts): a background thread that runs
`train_model` with the job itself as the live-progress observer, recording throttled batch
progress, per-epoch metrics and weight summaries. The reference does the same work the plain
Keras way: `build_model`, the same scaling and labels, `model.fit` with the same validation
data and no callbacks, then the same test-set evaluation. The two alternate in one run
(A B, B A, A B ...) after one untimed warm-up of each; each pair gives one ratio. The wall-clock
ratio is the goal's; the ratio of the process' CPU time, which other workers on a shared machine
disturb less, is shown beside it.

Goal: the app's path at most 5% slower (median ratio <= 1.05).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # to run as a script

from typing import Any

from bench.common import (
    benchmark_result,
    figure_from_samples,
    format_value,
    load_average,
    main,
    quiet_keras,
    summarize,
)

BENCHMARK = "training_overhead"
TITLE = "Training overhead: TrainingJob (train_model + live observer) vs plain model.fit"
PRESET_NAME = "dense_fast"
SLOWDOWN_GOAL = 1.05


def train_app_way(config: Any, dataset: Any) -> dict[str, float]:
    """Train as the app does (a TrainingJob in its own thread) and time it.

    Args:
        config: the ModelConfig.
        dataset: the Dataset.
    """
    from mnist_core.jobs import FINISHED, TrainingJob, TrainingQueue

    started, cpu_started = time.perf_counter(), time.process_time()
    job = TrainingJob(config, dataset, TrainingQueue(max_running=1)).start()
    job.wait()
    total = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    snapshot = job.snapshot()
    if snapshot.state != FINISHED:
        raise RuntimeError(f"the training job ended {snapshot.state}: {snapshot.error}")
    return {
        "total_seconds": total,
        "cpu_seconds": cpu_seconds,
        "fit_seconds": snapshot.result.training_seconds,
        "batches_reported": len(snapshot.batch_curve),
        "epochs_reported": len(snapshot.history),
        "test_accuracy": snapshot.result.test_accuracy,
    }


def train_plain_way(config: Any, dataset: Any) -> dict[str, float]:
    """Do the same work with plain Keras: build, scale, fit without callbacks, evaluate.

    Args:
        config: the ModelConfig.
        dataset: the Dataset.
    """
    import keras

    from mnist_core.data import scale_images
    from mnist_core.model import build_model
    from mnist_core.train import encode_labels, split_validation

    started, cpu_started = time.perf_counter(), time.process_time()
    x_train, y_train, x_val, y_val = split_validation(config, dataset)
    model = build_model(config, train_size=len(dataset.x_train))
    keras.utils.set_random_seed(config.seed)
    train_images, train_labels = scale_images(x_train), encode_labels(config, y_train)
    validation_data = (scale_images(x_val), encode_labels(config, y_val))
    fit_started = time.perf_counter()
    model.fit(
        train_images,
        train_labels,
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
    return {
        "total_seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu_started,
        "fit_seconds": fit_seconds,
        "test_accuracy": float(test_accuracy),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark and return its result (see bench.common.benchmark_result).

    Args:
        quick: 600 training and 200 test images, no warm-up and 2 pairs, instead of 20000,
            the whole test set, one warm-up of each and 9 pairs.
    """
    started, load_before = time.perf_counter(), load_average()
    quiet_keras()
    from mnist_core.data import load_dataset
    from mnist_core.presets import get_preset

    train_size, test_size, pairs = (600, 200, 2) if quick else (20000, None, 9)
    config = get_preset(PRESET_NAME).config.replace(epochs=1)
    dataset = load_dataset("mnist").subset(train_size=train_size, test_size=test_size, seed=0)
    if not quick:
        # Warm-up: the first fit of a process pays for TensorFlow's one-time set-up.
        train_app_way(config, dataset)
        train_plain_way(config, dataset)
    app_runs, plain_runs = [], []
    for pair in range(pairs):
        order = ("app", "plain") if pair % 2 == 0 else ("plain", "app")
        for way in order:
            if way == "app":
                app_runs.append(train_app_way(config, dataset))
            else:
                plain_runs.append(train_plain_way(config, dataset))
        print(
            f"  {BENCHMARK} pair {pair + 1}/{pairs}: app {app_runs[-1]['total_seconds']:.2f} s, "
            f"plain {plain_runs[-1]['total_seconds']:.2f} s",
            flush=True,
        )
    figures = []
    measures = (
        ("total_seconds", "start to trained and tested", "s"),
        ("fit_seconds", "fit only", "s"),
        ("cpu_seconds", "CPU time of the process, start to tested", "CPU s"),
    )
    for key, what, unit in measures:
        app = [entry[key] for entry in app_runs]
        plain = [entry[key] for entry in plain_runs]
        ratios = [a / p for a, p in zip(app, plain)]
        ratio_spread = summarize(ratios)
        is_goal = key == "total_seconds"
        figures.append(
            figure_from_samples(
                BENCHMARK,
                f"app path / plain fit, {what}",
                "x",
                ratios,
                reference=(
                    f"app median {format_value(summarize(app).median, unit)}, "
                    f"plain median {format_value(summarize(plain).median, unit)}"
                ),
                goal=f"<= {SLOWDOWN_GOAL:.2f}x (5% slower)" if is_goal else "",
                passed=ratio_spread.median <= SLOWDOWN_GOAL if is_goal else None,
            )
        )
    settings = {
        "preset": PRESET_NAME,
        "epochs": config.epochs,
        "train_images": train_size,
        "test_images": len(dataset.x_test),
        "validation": f"{config.validation} {config.validation_split}",
        "pairs": pairs,
        "order": ("" if quick else "one warm-up of each, then ") + "pairs alternating A B / B A",
    }
    details = {"app_runs": app_runs, "plain_runs": plain_runs}
    return benchmark_result(
        BENCHMARK, TITLE, quick, settings, figures, details, started, load_before
    )


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
