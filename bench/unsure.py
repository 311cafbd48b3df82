"""Benchmark: "not sure" instead of a confident wrong answer, on the pen dev set.

The default model reads the 2,000 drawings of real handwriting of the pen dev set
(mnist_core/pen_digits.py) the way `python -m mnist_core predict` does (`preprocess_drawing`,
then `predict_batch`), and the "not sure" rule of mnist_core/predict.py (`is_unsure`, with its
committed thresholds) sorts each reading into right, confidently wrong, or "not sure".

Goals: confidently wrong on at most 2% of the drawings, "not sure" on at most 10%.

The thresholds that `choose_unsure_thresholds` would pick for the committed model are shown
beside the figures. After retraining the default model, re-tune them:

    python bench/unsure.py --tune    # prints the two constants for mnist_core/predict.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # to run as a script

from typing import Any

import numpy as np

from bench.common import benchmark_result, figure_from_samples, load_average, main, quiet_keras

BENCHMARK = "unsure"
TITLE = 'Pen dev set: confidently wrong vs "not sure" (default model)'
QUICK_DRAWINGS = 200


def default_model_on_pen_dev_set(count: int | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """The default model's probabilities for the pen dev set's drawings, their labels, the file.

    Args:
        count: only the first `count` drawings (default: all).
    """
    quiet_keras()
    from mnist_core.data.pen_digits import load_pen_dev_set
    from mnist_core.evaluation.pen_dev import read_pen_dev_set
    from mnist_core.modeling.store import load_model

    pen = load_pen_dev_set()
    reading = read_pen_dev_set(load_model("default").model, pen, count)
    return reading.probabilities, reading.labels, str(pen.path)


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark and return its result (see bench.common.benchmark_result).

    Args:
        quick: the first 200 drawings instead of all 2,000.
    """
    from mnist_core.reading.predict import (
        CONFIDENT_WRONG_GOAL,
        UNSURE_GOAL,
        choose_unsure_thresholds,
        measure_unsure,
    )

    started, load_before = time.perf_counter(), load_average()
    probabilities, labels, path = default_model_on_pen_dev_set(QUICK_DRAWINGS if quick else None)
    committed = measure_unsure(probabilities, labels)
    tuned = choose_unsure_thresholds(probabilities, labels)
    thresholds = (
        f"thresholds: confidence < {committed.confidence_below:g} or margin < "
        f"{committed.margin_below:g}"
    )
    retuned = (
        f"re-tuned for this model: {tuned.confidence_below:g} / {tuned.margin_below:g} would give "
        f"{tuned.confident_wrong_rate:.1%} wrong, {tuned.unsure_rate:.1%} not sure"
    )
    count = committed.count
    figures = [
        figure_from_samples(
            BENCHMARK,
            "confidently wrong (not flagged and wrong)",
            "%",
            [committed.confident_wrong_rate * 100],
            reference=f"{thresholds}; {retuned}",
            goal=f"<= {CONFIDENT_WRONG_GOAL:.0%} of the drawings",
            passed=committed.confident_wrong_rate <= CONFIDENT_WRONG_GOAL,
            note=f"{count} pen dev-set drawings",
        ),
        figure_from_samples(
            BENCHMARK,
            '"not sure"',
            "%",
            [committed.unsure_rate * 100],
            reference=(
                f"of these, the right digit is one of the two named in "
                f"{committed.unsure_candidates_right:.0%}"
            ),
            goal=f"<= {UNSURE_GOAL:.0%} of the drawings",
            passed=committed.unsure_rate <= UNSURE_GOAL,
        ),
        figure_from_samples(
            BENCHMARK,
            "read right (most probable digit)",
            "%",
            [committed.accuracy * 100],
        ),
    ]
    settings = {
        "drawings": count,
        "file": path,
        "model": "models/default.keras",
        "path": "preprocess_drawing + predict_batch, as `python -m mnist_core predict`",
    }
    details = {
        "committed_thresholds": committed.__dict__,
        "tuned_thresholds": tuned.__dict__,
    }
    return benchmark_result(
        BENCHMARK, TITLE, quick, settings, figures, details, started, load_before
    )


def tune() -> None:
    """Print the thresholds `choose_unsure_thresholds` picks for the committed default model."""
    from mnist_core.reading.predict import choose_unsure_thresholds

    probabilities, labels, path = default_model_on_pen_dev_set()
    tuned = choose_unsure_thresholds(probabilities, labels)
    print(f"pen dev set {path}: {tuned.count} drawings, {tuned.accuracy:.1%} read right")
    print(
        f"chosen: {tuned.confident_wrong_rate:.1%} confidently wrong, {tuned.unsure_rate:.1%} "
        f"not sure ({tuned.unsure_candidates_right:.0%} of these name the right digit); "
        f"both goals {'met' if tuned.meets_goals else 'NOT met'}"
    )
    print("In mnist_core/predict.py (and update the figures in the comment above them):")
    print(f"UNSURE_CONFIDENCE_BELOW = {tuned.confidence_below:.2f}")
    print(f"UNSURE_MARGIN_BELOW = {tuned.margin_below:.2f}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--tune"]:
        tune()
    else:
        main(run, __doc__.splitlines()[0])
