"""Benchmark 1, the prediction path: one canvas drawing to a predicted digit.

The app's way is `preprocess_drawing` then `predict_image` (a compiled inference call,
`model.predict_on_batch`). The naive way is the same preprocessing then `model.predict`, which
builds a data pipeline on every call. Both run on the same 200 canvas-like drawings of MNIST
test digits (`render_canvas_drawing`), interleaved drawing by drawing (alternating which goes
first), after a warm-up, for the default model and for the largest dense preset (untrained:
its weights do not change the time a call takes).

Goal: median at most 5 ms, and at least 8x faster than the naive way.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # to run as a script

from typing import Any

import numpy as np

from bench.common import (
    benchmark_result,
    figure_from_samples,
    format_value,
    load_average,
    main,
    percentile,
    quiet_keras,
    summarize,
)

BENCHMARK = "prediction"
TITLE = "Prediction path: 280x280 drawing -> preprocess_drawing -> predict_image"
MEDIAN_GOAL_MS = 5.0
SPEED_UP_GOAL = 8.0
CANVAS_SIZE = 280
SEED = 20240601


def make_drawings(count: int, seed: int = SEED) -> tuple[list[np.ndarray], np.ndarray]:
    """`count` canvas-like drawings of different MNIST test digits, and their labels.

    Args:
        count: how many drawings.
        seed: seed of the choice of digits and of the drawing parameters.
    """
    from mnist_core.data.datasets import load_dataset
    from mnist_core.data.synthetic import render_canvas_drawing

    dataset = load_dataset("mnist")
    rng = np.random.default_rng(seed)
    indices = rng.choice(len(dataset.x_test), size=count, replace=False)
    # The Draw page's canvas has black ink on a white background.
    drawings = [
        render_canvas_drawing(
            dataset.x_test[index], canvas_size=CANVAS_SIZE, background="white", rng=rng
        )
        for index in indices
    ]
    return drawings, dataset.y_test[indices]


def largest_dense_preset_name() -> str:
    """The dense preset with the most parameters (the slowest dense model to call)."""
    from mnist_core.modeling.presets import PRESETS
    from mnist_core.modeling.summary import count_parameters

    dense = [preset for preset in PRESETS.values() if preset.config.architecture == "dense"]
    return max(dense, key=lambda preset: count_parameters(preset.config)).name


def predict_fast(model: Any, drawing: np.ndarray) -> tuple[int, float]:
    """The app's way; returns the digit and the seconds spent preprocessing.

    Args:
        model: a Keras model.
        drawing: an RGBA canvas image.
    """
    from mnist_core.reading.predict import predict_image
    from mnist_core.reading.preprocess import preprocess_drawing

    started = time.perf_counter()
    image = preprocess_drawing(drawing)
    preprocessed = time.perf_counter()
    return predict_image(model, image).digit, preprocessed - started


def predict_naive(model: Any, drawing: np.ndarray) -> int:
    """The naive way: the same preprocessing, then `model.predict` on the one image.

    Args:
        model: a Keras model.
        drawing: an RGBA canvas image.
    """
    from mnist_core.reading.preprocess import preprocess_drawing

    image = preprocess_drawing(drawing)
    return int(np.argmax(model.predict(image[None], verbose=0)[0]))


def time_both_ways(
    model: Any, drawings: list[np.ndarray], warm_up: list[np.ndarray]
) -> dict[str, list[float]]:
    """Time the app's way and the naive way on every drawing, interleaved.

    Args:
        model: the model to call.
        drawings: the measured drawings.
        warm_up: drawings run both ways first, not measured (tracing, caches).
    """
    for drawing in warm_up:
        predict_fast(model, drawing)
        predict_naive(model, drawing)
    samples: dict[str, list[float]] = {
        "fast_ms": [],
        "naive_ms": [],
        "preprocess_ms": [],
        "fast_digits": [],
        "naive_digits": [],
    }
    for index, drawing in enumerate(drawings):
        # Alternate which way goes first, so that neither always finds the caches warm.
        for fast_way in (True, False) if index % 2 == 0 else (False, True):
            started = time.perf_counter()
            if fast_way:
                digit, preprocess_seconds = predict_fast(model, drawing)
                samples["fast_ms"].append((time.perf_counter() - started) * 1000)
                samples["preprocess_ms"].append(preprocess_seconds * 1000)
                samples["fast_digits"].append(digit)
            else:
                digit = predict_naive(model, drawing)
                samples["naive_ms"].append((time.perf_counter() - started) * 1000)
                samples["naive_digits"].append(digit)
    return samples


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark and return its result (see bench.common.benchmark_result).

    Args:
        quick: 6 drawings instead of 200 and 2 warm-up drawings instead of 10.
    """
    started, load_before = time.perf_counter(), load_average()
    quiet_keras()
    from mnist_core.modeling.build import build_model
    from mnist_core.modeling.presets import get_preset
    from mnist_core.modeling.store import load_model

    count, warm_up_count = (6, 2) if quick else (200, 10)
    drawings, labels = make_drawings(count + warm_up_count)
    warm_up, drawings, labels = (
        drawings[:warm_up_count],
        drawings[warm_up_count:],
        labels[warm_up_count:],
    )
    dense_name = largest_dense_preset_name()
    models = [
        ("default model", "models/default.keras (CNN, trained)", load_model("default").model),
        (
            dense_name,
            f"build_model(get_preset({dense_name!r}).config), untrained: timing only",
            build_model(get_preset(dense_name).config),
        ),
    ]
    figures, details = [], {"models": {}}
    for label, description, model in models:
        samples = time_both_ways(model, drawings, warm_up)
        fast, naive = samples["fast_ms"], samples["naive_ms"]
        speed_ups = [slow / quick_ms for slow, quick_ms in zip(naive, fast)]
        fast_spread, naive_spread = summarize(fast), summarize(naive)
        p95 = percentile(fast, 95)
        agree = sum(a == b for a, b in zip(samples["fast_digits"], samples["naive_digits"]))
        figures.append(
            figure_from_samples(
                BENCHMARK,
                f"{label}: preprocess + predict_image (p95 {format_value(p95, 'ms')})",
                "ms",
                fast,
                reference=f"naive model.predict: median {format_value(naive_spread.median, 'ms')}",
                goal=f"median <= {MEDIAN_GOAL_MS:g} ms",
                passed=fast_spread.median <= MEDIAN_GOAL_MS,
                note="untrained" if "untrained" in description else "",
            )
        )
        figures.append(
            figure_from_samples(
                BENCHMARK,
                f"{label}: speed-up over naive model.predict",
                "x",
                speed_ups,
                reference="per drawing: naive time / app time",
                goal=f">= {SPEED_UP_GOAL:g}x",
                passed=summarize(speed_ups).median >= SPEED_UP_GOAL,
            )
        )
        details["models"][label] = {
            "description": description,
            "fast_ms_p95": p95,
            "naive_ms_p95": percentile(naive, 95),
            "preprocess_ms_median": float(np.median(samples["preprocess_ms"])),
            "same_digit_both_ways": f"{agree}/{len(drawings)}",
            "correct_digits": f"{int(np.sum(np.array(samples['fast_digits']) == labels))}"
            f"/{len(drawings)}",
            "samples": {
                key: [round(value, 4) for value in values] for key, values in samples.items()
            },
        }
    figures.append(
        figure_from_samples(
            BENCHMARK,
            "of which preprocess_drawing alone (default model run)",
            "ms",
            details["models"][models[0][0]]["samples"]["preprocess_ms"],
        )
    )
    # How well the default model reads real pen-drawn digits (the pen dev set, all 2,000).
    from mnist_core.evaluation.pen_dev import read_pen_dev_set

    reading = read_pen_dev_set(models[0][2], count=60 if quick else None)
    per_digit = reading.accuracy_per_digit()
    figures.append(
        figure_from_samples(
            BENCHMARK,
            f"default model: pen dev set accuracy ({len(reading.labels)} real pen-drawn digits)",
            "%",
            [100 * reading.accuracy],
            reference="worst digit: "
            + ", ".join(
                f"{digit} {100 * value:.1f}%"
                for digit, value in sorted(per_digit.items(), key=lambda item: item[1])[:2]
            ),
            goal=">= 95%",
            passed=reading.accuracy >= 0.95,
        )
    )
    details["pen_dev_accuracy_per_digit"] = {
        str(digit): value for digit, value in per_digit.items()
    }
    settings = {
        "drawings": count,
        "warm_up_drawings": warm_up_count,
        "canvas": f"{CANVAS_SIZE}x{CANVAS_SIZE} RGBA, black ink on white (as the Draw page)",
        "models": {label: description for label, description, _ in models},
        "order": "interleaved drawing by drawing, alternating which way goes first",
    }
    return benchmark_result(
        BENCHMARK, TITLE, quick, settings, figures, details, started, load_before
    )


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
