"""Benchmark: "why" on the Draw page, the attribution maps of one drawing.

What the page computes after each stroke, once it has shown the answer: `explain_drawing`
(integrated gradients with TensorFlow over ATTRIBUTION_STEPS images, smoothed, carried back
onto the drawing, and both coloured pictures), for the predicted class. Measured on 200
drawings of the pen dev set, already preprocessed, for the default model and for the largest
dense preset (untrained: its weights do not change the time), after each model's first call
(which traces the function, timed on its own).

Goal: median at most 150 ms on an idle machine.
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
)

BENCHMARK = "attribution"
TITLE = "Why: explain_drawing (integrated gradients + both pictures) for one drawing"
MEDIAN_GOAL_MS = 150.0
DRAWINGS = 200
QUICK_DRAWINGS = 6


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark and return its result (see bench.common.benchmark_result).

    Args:
        quick: 6 drawings instead of 200.
    """
    started, load_before = time.perf_counter(), load_average()
    quiet_keras()
    from bench.prediction import largest_dense_preset_name
    from mnist_core.data.pen_digits import load_pen_dev_set
    from mnist_core.modeling.build import build_model
    from mnist_core.modeling.presets import get_preset
    from mnist_core.modeling.store import load_model
    from mnist_core.reading.attribution import (
        ATTRIBUTION_STEPS,
        attribute_image,
        explain_drawing,
    )
    from mnist_core.reading.predict import predict_image
    from mnist_core.reading.preprocess import preprocess_drawing_steps

    count = QUICK_DRAWINGS if quick else DRAWINGS
    pen = load_pen_dev_set()
    # Spread over the file: every digit, many writers.
    chosen = np.linspace(0, len(pen.labels) - 1, count).round().astype(int)
    steps = [preprocess_drawing_steps(pen.images[index]) for index in chosen]
    dense_name = largest_dense_preset_name()
    models = [
        ("default model", "models/default.keras (trained)", load_model("default").model),
        (
            dense_name,
            f"build_model(get_preset({dense_name!r}).config), untrained: timing only",
            build_model(get_preset(dense_name).config),
        ),
    ]
    figures, details = [], {"models": {}}
    for label, description, model in models:
        classes = [predict_image(model, step.result).digit for step in steps]
        first = time.perf_counter()
        explain_drawing(model, steps[0].result, classes[0], steps[0])
        first_seconds = time.perf_counter() - first
        whole_ms, gradients_ms = [], []
        for step, class_index in zip(steps, classes):
            began = time.perf_counter()
            explain_drawing(model, step.result, class_index, step)
            whole_ms.append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            attribute_image(model, step.result, class_index)
            gradients_ms.append((time.perf_counter() - began) * 1000)
        median = float(np.median(whole_ms))
        figures.append(
            figure_from_samples(
                BENCHMARK,
                f"{label}: explain_drawing (p95 {format_value(percentile(whole_ms, 95), 'ms')})",
                "ms",
                whole_ms,
                reference=(
                    f"of which integrated gradients: median "
                    f"{format_value(float(np.median(gradients_ms)), 'ms')}; the model's first "
                    f"call (tracing) {format_value(first_seconds, 's')}"
                ),
                goal=f"median <= {MEDIAN_GOAL_MS:g} ms",
                passed=median <= MEDIAN_GOAL_MS,
                note="untrained" if "untrained" in description else "",
            )
        )
        details["models"][label] = {
            "description": description,
            "first_call_seconds": first_seconds,
            "samples": {
                "explain_drawing_ms": [round(value, 3) for value in whole_ms],
                "attribute_image_ms": [round(value, 3) for value in gradients_ms],
            },
        }
    settings = {
        "drawings": count,
        "source": f"pen dev set ({pen.path}), {count} drawings spread over the file",
        "steps": ATTRIBUTION_STEPS,
        "models": {label: description for label, description, _ in models},
    }
    return benchmark_result(
        BENCHMARK, TITLE, quick, settings, figures, details, started, load_before
    )


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
