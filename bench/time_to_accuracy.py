"""Benchmark 3, time to accuracy: training seconds until a preset reaches its target accuracy.

The default CNN preset (cnn_fast) should reach 99.0% MNIST test accuracy, and the best dense
preset (`BEST_DENSE_PRESET_NAME`) 98.0%, on the full training set, trained exactly as the app
trains it (`train_model` with its validation, progress callback and weight summaries). An
observer measures the test accuracy at the end of every epoch; the time that evaluation takes
is left out of the training seconds, which count from the model's construction. The presets
alternate (CNN, dense, CNN, dense ...) over the repetitions.

Goals: CNN within 30 s, dense within 10 s.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # to run as a script

import math
from typing import Any

import numpy as np

from bench.common import (
    benchmark_result,
    figure_from_samples,
    load_average,
    main,
    quiet_keras,
)

BENCHMARK = "time_to_accuracy"
TITLE = "Time to accuracy: training seconds until the test accuracy target (full MNIST)"
CNN_TARGET = (0.99, 30.0)  # (test accuracy, seconds)
DENSE_TARGET = (0.98, 10.0)


def _accuracy_clock(model: Any, dataset: Any, started: float) -> Any:
    """An observer that notes the training seconds and test accuracy at every epoch's end."""
    from mnist_core.predict import predict_batch
    from mnist_core.train import TrainingObserver

    class AccuracyClock(TrainingObserver):
        def __init__(self) -> None:
            self.evaluation_seconds = 0.0
            self.epochs: list[dict[str, float]] = []

        def on_epoch(self, metrics: Any, weight_summary: Any) -> None:
            now = time.perf_counter()
            training_seconds = now - started - self.evaluation_seconds
            probabilities = predict_batch(model, dataset.x_test, batch_size=1000)
            accuracy = float(np.mean(np.argmax(probabilities, axis=1) == dataset.y_test))
            self.epochs.append(
                {
                    "epoch": metrics.epoch,
                    "training_seconds": round(training_seconds, 3),
                    "test_accuracy": accuracy,
                    "val_accuracy": metrics.val_accuracy,
                }
            )
            self.evaluation_seconds += time.perf_counter() - now

    return AccuracyClock()


def train_and_clock(config: Any, dataset: Any) -> dict[str, Any]:
    """Train `config` as the app does and return the per-epoch seconds and test accuracy.

    Args:
        config: the ModelConfig.
        dataset: the Dataset (its test set is the one measured).
    """
    from mnist_core.model import build_model
    from mnist_core.train import train_model

    started = time.perf_counter()
    model = build_model(config, train_size=len(dataset.x_train))
    clock = _accuracy_clock(model, dataset, started)
    result = train_model(config, dataset, clock, model=model)
    return {
        "epochs": clock.epochs,
        "evaluation_seconds": round(clock.evaluation_seconds, 3),
        "final_test_accuracy": result.test_accuracy,
    }


def seconds_to_reach(epochs: list[dict[str, float]], target: float) -> float:
    """Training seconds at the first epoch whose test accuracy reaches `target`; inf if none.

    Args:
        epochs: per-epoch records with "training_seconds" and "test_accuracy".
        target: the accuracy to reach, 0 to 1.
    """
    for epoch in epochs:
        if epoch["test_accuracy"] >= target:
            return float(epoch["training_seconds"])
    return math.inf


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark and return its result (see bench.common.benchmark_result).

    Args:
        quick: 2000 training and 500 test images, 1 epoch, 1 repetition; instead of the
            full dataset, the presets' own epochs and 3 repetitions.
    """
    started, load_before = time.perf_counter(), load_average()
    quiet_keras()
    from mnist_core.data import load_dataset
    from mnist_core.presets import BEST_DENSE_PRESET_NAME, DEFAULT_PRESET_NAME, get_preset

    repetitions = 1 if quick else 3
    dataset = load_dataset("mnist")
    if quick:
        dataset = dataset.subset(train_size=2000, test_size=500, seed=0)
    presets = [(DEFAULT_PRESET_NAME, *CNN_TARGET), (BEST_DENSE_PRESET_NAME, *DENSE_TARGET)]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in presets}
    for repetition in range(repetitions):
        for name, _, _ in presets:
            config = get_preset(name).config
            if quick:
                config = config.replace(epochs=1)
            record = train_and_clock(config, dataset)
            runs[name].append(record)
            for epoch in record["epochs"]:
                print(
                    f"  {name} run {repetition + 1}/{repetitions}, epoch {epoch['epoch']}: "
                    f"{epoch['training_seconds']:.1f} s of training, "
                    f"test accuracy {epoch['test_accuracy']:.2%}",
                    flush=True,
                )
    figures = []
    for name, target, goal_seconds in presets:
        times = [seconds_to_reach(record["epochs"], target) for record in runs[name]]
        median_seconds = float(np.median(times))
        by_epoch = [
            float(np.median([record["epochs"][index]["test_accuracy"] for record in runs[name]]))
            for index in range(min(len(record["epochs"]) for record in runs[name]))
        ]
        reached = sum(math.isfinite(value) for value in times)
        figures.append(
            figure_from_samples(
                BENCHMARK,
                f"{name}: seconds to {target:.1%} test accuracy",
                "s",
                times,
                reference="test accuracy by epoch: "
                + ", ".join(f"{accuracy:.2%}" for accuracy in by_epoch)
                + f" (reached in {reached}/{len(times)} runs)",
                goal=f"<= {goal_seconds:g} s",
                passed=median_seconds <= goal_seconds,
            )
        )
    settings = {
        "presets": {name: get_preset(name).config.to_dict() for name, _, _ in presets},
        "targets": {
            name: {"test_accuracy": target, "seconds": goal} for name, target, goal in presets
        },
        "train_images": len(dataset.x_train),
        "test_images": len(dataset.x_test),
        "epochs": "1 (quick)" if quick else "the preset's own",
        "repetitions": repetitions,
        "timing": "from build_model to each epoch's end, test evaluation left out",
    }
    return benchmark_result(
        BENCHMARK, TITLE, quick, settings, figures, {"runs": runs}, started, load_before
    )


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
