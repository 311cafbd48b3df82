"""Benchmark 3, time to accuracy: training seconds until a preset reaches its target accuracy.

The class's CNN preset (cnn_fast, the one the Train page opens with) trains one epoch on the
full 60,000 training images with a one-cycle learning-rate schedule; after that epoch it
should read 99.0% of the MNIST test set, as the mean over three seeds (0, 1, 2). Beside it,
in the same run, the Keras example convnet (keras-io examples/vision/mnist_convnet.py: conv
32, pool, conv 64, pool, dropout 0.5, dense softmax; adam, batch 128, validation split 0.1)
trains epoch by epoch, up to its own 15 epochs, until it reaches 99.0%. The figure is the
ratio of their seconds to 99.0%, run by run (when the example never gets there: to its best
epoch, said in the table). The best dense preset (`BEST_DENSE_PRESET_NAME`) should reach
98.0%.

The presets are trained exactly as the app trains them (`train_model` with its validation,
progress callback and weight summaries); the example is plain Keras, as its script is. After
every epoch the test accuracy is measured; the time that takes is left out of the training
seconds, which count from the model's construction. The three alternate (CNN, example,
dense, CNN, ...) over the repetitions, so that a busy moment of the shared machine slows all.

Goals: CNN mean accuracy after one epoch >= 99.0%, CNN within 30 s, CNN/example seconds to
99.0% <= 0.25x, dense within 10 s.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # to run as a script

import dataclasses
import math
from typing import Any

import numpy as np

from bench.common import (
    benchmark_result,
    figure_from_samples,
    format_value,
    load_average,
    main,
    quiet_keras,
)

BENCHMARK = "time_to_accuracy"
TITLE = "Time to accuracy: training seconds until the test accuracy target (full MNIST)"
CNN_TARGET = (0.99, 30.0)  # (test accuracy, seconds)
DENSE_TARGET = (0.98, 10.0)
CNN_SEEDS = (0, 1, 2)
# The Keras example, as its script trains it.
EXAMPLE_NAME = "keras_example_convnet"
EXAMPLE_EPOCHS = 15
EXAMPLE_BATCH_SIZE = 128
EXAMPLE_VALIDATION_SPLIT = 0.1
RATIO_GOAL = 0.25


def _accuracy_clock(model: Any, dataset: Any, started: float) -> Any:
    """An observer that notes the training seconds and test accuracy at every epoch's end."""
    from mnist_core.reading.predict import predict_batch
    from mnist_core.training.progress import TrainingObserver

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
    from mnist_core.modeling.build import build_model
    from mnist_core.training.train import train_model

    started = time.perf_counter()
    model = build_model(config, training_images=len(dataset.x_train))
    clock = _accuracy_clock(model, dataset, started)
    result = train_model(config, dataset, clock, model=model)
    return {
        "epochs": clock.epochs,
        "evaluation_seconds": round(clock.evaluation_seconds, 3),
        "final_test_accuracy": result.test_accuracy,
    }


def build_keras_example(seed: int) -> Any:
    """The convnet of keras-io's examples/vision/mnist_convnet.py, compiled as it is there.

    Args:
        seed: the random seed of its initial weights (and of the training that follows).
    """
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def train_keras_example(
    dataset: Any, seed: int, target: float, max_epochs: int = EXAMPLE_EPOCHS
) -> dict[str, Any]:
    """Train the Keras example epoch by epoch until its test accuracy reaches `target`.

    As in its script: images scaled to [0, 1] with a channel axis, one-hot labels, batch 128,
    the last 10% of the training images held out for validation.

    Args:
        dataset: the Dataset (its test set is the one measured).
        seed: the random seed.
        target: stop after the first epoch at or above this test accuracy.
        max_epochs: stop after this many epochs in any case (default 15, the script's).
    """
    import keras

    x_train = (dataset.x_train.astype("float32") / 255.0)[..., None]
    y_train = keras.utils.to_categorical(dataset.y_train, 10)
    x_test = (dataset.x_test.astype("float32") / 255.0)[..., None]
    started = time.perf_counter()
    model = build_keras_example(seed)

    class AccuracyClock(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.evaluation_seconds = 0.0
            self.epochs: list[dict[str, float]] = []

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            now = time.perf_counter()
            training_seconds = now - started - self.evaluation_seconds
            probabilities = self.model.predict(x_test, batch_size=1000, verbose=0)
            accuracy = float(np.mean(np.argmax(probabilities, axis=1) == dataset.y_test))
            self.epochs.append(
                {
                    "epoch": epoch + 1,
                    "training_seconds": round(training_seconds, 3),
                    "test_accuracy": accuracy,
                    "val_accuracy": float((logs or {}).get("val_accuracy", math.nan)),
                }
            )
            if accuracy >= target:
                self.model.stop_training = True
            self.evaluation_seconds += time.perf_counter() - now

    clock = AccuracyClock()
    model.fit(
        x_train,
        y_train,
        batch_size=EXAMPLE_BATCH_SIZE,
        epochs=max_epochs,
        validation_split=EXAMPLE_VALIDATION_SPLIT,
        callbacks=[clock],
        verbose=0,
    )
    return {
        "epochs": clock.epochs,
        "evaluation_seconds": round(clock.evaluation_seconds, 3),
        "final_test_accuracy": clock.epochs[-1]["test_accuracy"],
    }


def seconds_to_best(epochs: list[dict[str, float]]) -> tuple[float, float]:
    """Training seconds at the first epoch with the best test accuracy, and that accuracy.

    Args:
        epochs: per-epoch records with "training_seconds" and "test_accuracy".
    """
    best = max(epoch["test_accuracy"] for epoch in epochs)
    first = next(epoch for epoch in epochs if epoch["test_accuracy"] == best)
    return float(first["training_seconds"]), float(best)


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
        quick: 2000 training and 500 test images, 1 epoch (the example: at most 2), 1
            repetition; instead of the full dataset, the presets' own epochs (the example:
            up to 15) and 3 repetitions.
    """
    started, load_before = time.perf_counter(), load_average()
    quiet_keras()
    from mnist_core.data.datasets import load_dataset
    from mnist_core.modeling.presets import (
        BEST_DENSE_PRESET_NAME,
        DEFAULT_PRESET_NAME,
        get_preset,
    )

    cnn_name, dense_name = DEFAULT_PRESET_NAME, BEST_DENSE_PRESET_NAME
    repetitions = 1 if quick else len(CNN_SEEDS)
    example_epochs = 2 if quick else EXAMPLE_EPOCHS
    dataset = load_dataset("mnist")
    if quick:
        dataset = dataset.subset(training_images=2000, test_images=500, seed=0)
    runs: dict[str, list[dict[str, Any]]] = {cnn_name: [], EXAMPLE_NAME: [], dense_name: []}
    for repetition in range(repetitions):
        seed = CNN_SEEDS[repetition]
        for name in (cnn_name, EXAMPLE_NAME, dense_name):
            if name == EXAMPLE_NAME:
                record = train_keras_example(dataset, seed, CNN_TARGET[0], example_epochs)
            else:
                config = get_preset(name).config
                if name == cnn_name:
                    config = config.replace(seed=seed)
                if quick:
                    config = config.replace(epochs=1)
                record = train_and_clock(config, dataset)
            record["seed"] = seed if name != dense_name else get_preset(name).config.seed
            runs[name].append(record)
            for epoch in record["epochs"]:
                print(
                    f"  {name} run {repetition + 1}/{repetitions}, epoch {epoch['epoch']}: "
                    f"{epoch['training_seconds']:.1f} s of training, "
                    f"test accuracy {epoch['test_accuracy']:.2%}",
                    flush=True,
                )
    figures = [_one_epoch_accuracy_figure(cnn_name, runs[cnn_name], CNN_TARGET[0])]
    for name, (target, goal_seconds) in ((cnn_name, CNN_TARGET), (dense_name, DENSE_TARGET)):
        times = [seconds_to_reach(record["epochs"], target) for record in runs[name]]
        figures.append(
            figure_from_samples(
                BENCHMARK,
                f"{name}: seconds to {target:.1%} test accuracy",
                "s",
                times,
                reference=_by_epoch(runs[name], target),
                goal=f"<= {goal_seconds:g} s",
                passed=float(np.median(times)) <= goal_seconds,
            )
        )
        if name == cnn_name:
            figures.extend(_example_figures(runs[cnn_name], runs[EXAMPLE_NAME], target))
    settings = {
        "presets": {name: get_preset(name).config.to_dict() for name in (cnn_name, dense_name)},
        "cnn_seeds": list(CNN_SEEDS[:repetitions]),
        "keras_example": {
            "source": "keras-io examples/vision/mnist_convnet.py",
            "layers": "Conv2D 32 3x3 relu, MaxPool 2, Conv2D 64 3x3 relu, MaxPool 2, Flatten, "
            "Dropout 0.5, Dense 10 softmax",
            "optimizer": "adam (Keras defaults)",
            "batch_size": EXAMPLE_BATCH_SIZE,
            "validation_split": EXAMPLE_VALIDATION_SPLIT,
            "max_epochs": example_epochs,
            "stops": f"after the first epoch at >= {CNN_TARGET[0]:.1%} test accuracy",
        },
        "targets": {
            cnn_name: {"test_accuracy": CNN_TARGET[0], "seconds": CNN_TARGET[1]},
            EXAMPLE_NAME: {"test_accuracy": CNN_TARGET[0], "ratio": RATIO_GOAL},
            dense_name: {"test_accuracy": DENSE_TARGET[0], "seconds": DENSE_TARGET[1]},
        },
        "training_images": len(dataset.x_train),
        "test_images": len(dataset.x_test),
        "epochs": "1 (quick)" if quick else "the preset's own",
        "repetitions": repetitions,
        "timing": "from building the model to each epoch's end, test evaluation left out",
    }
    return benchmark_result(
        BENCHMARK, TITLE, quick, settings, figures, {"runs": runs}, started, load_before
    )


def _by_epoch(records: list[dict[str, Any]], target: float) -> str:
    """The median test accuracy at every epoch all runs have, and how many runs got there."""
    epochs = min(len(record["epochs"]) for record in records)
    by_epoch = [
        float(np.median([record["epochs"][index]["test_accuracy"] for record in records]))
        for index in range(epochs)
    ]
    reached = sum(math.isfinite(seconds_to_reach(record["epochs"], target)) for record in records)
    return (
        "test accuracy by epoch: "
        + ", ".join(f"{accuracy:.2%}" for accuracy in by_epoch)
        + f" (reached in {reached}/{len(records)} runs)"
    )


def _one_epoch_accuracy_figure(name: str, records: list[dict[str, Any]], target: float) -> Any:
    """The CNN's test accuracy after its first epoch, as the mean over the seeds."""
    accuracies = [100 * record["epochs"][0]["test_accuracy"] for record in records]
    mean = float(np.mean(accuracies))
    figure = figure_from_samples(
        BENCHMARK,
        f"{name}: test accuracy after 1 epoch, mean of {len(records)} seed(s)",
        "%",
        accuracies,
        reference="per seed: "
        + ", ".join(
            f"{record['seed']}: {accuracy:.2f}%" for record, accuracy in zip(records, accuracies)
        ),
        goal=f"mean >= {100 * target:.1f}%",
        passed=mean >= 100 * target,
        note="the headline is the mean, not the median",
    )
    return dataclasses.replace(figure, median=mean)


def _example_figures(
    cnn_records: list[dict[str, Any]], example_records: list[dict[str, Any]], target: float
) -> list[Any]:
    """The Keras example's seconds to `target` (or to its best), and the CNN's ratio to it."""
    example_times, ratios, missed = [], [], 0
    for cnn_record, example_record in zip(cnn_records, example_records):
        seconds = seconds_to_reach(example_record["epochs"], target)
        if not math.isfinite(seconds):
            missed += 1
            seconds, _ = seconds_to_best(example_record["epochs"])
        example_times.append(seconds)
        ratios.append(seconds_to_reach(cnn_record["epochs"], target) / seconds)
    best = [seconds_to_best(record["epochs"])[1] for record in example_records]
    if missed:
        name = f"{EXAMPLE_NAME}: seconds to its best test accuracy (never reached {target:.1%})"
        note = (
            f"the example did not reach {target:.1%} in {missed} of {len(example_records)} "
            f"runs (best {max(best):.2%}); seconds to its best epoch instead"
        )
    else:
        name, note = f"{EXAMPLE_NAME}: seconds to {target:.1%} test accuracy", ""
    example_figure = figure_from_samples(
        BENCHMARK,
        name,
        "s",
        example_times,
        reference=_by_epoch(example_records, target),
        note=note,
    )
    finite = [ratio for ratio in ratios if math.isfinite(ratio)]
    all_reached = bool(finite) and len(finite) == len(ratios)
    example_median = format_value(float(np.median(example_times)), "s")
    ratio_figure = figure_from_samples(
        BENCHMARK,
        f"cnn_fast / Keras example convnet: seconds to {target:.1%}",
        "x",
        finite if finite else [math.inf],
        reference=f"run by run; the example's median {example_median}"
        + (f" (to its best, {missed} run(s) never at {target:.1%})" if missed else ""),
        goal=f"<= {RATIO_GOAL:g}x",
        passed=all_reached and float(np.median(finite)) <= RATIO_GOAL,
        note="" if all_reached else f"cnn_fast missed {target:.1%} in some run(s)",
    )
    return [example_figure, ratio_figure]


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
