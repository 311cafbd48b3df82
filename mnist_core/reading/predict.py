"""Ask a trained model what digit an image shows.

Speed matters: the app predicts while the user draws. `model.predict` builds a data
pipeline on every call (about 70 ms for one image on the 2-core test machine), and even a
direct eager call, `model(x, training=False)`, runs layer by layer (about 4-5 ms there).
`model.predict_on_batch` runs the model's compiled inference function (inference mode,
as `training=False`), which Keras traces once per model and keeps on the model: about
0.6 ms for one image after a first call of about 40 ms. Keras itself is not imported here:
the model object brings its backend.

A reading is "unsure" when the model's top probability is low or the runner-up is close
behind (`is_unsure`): the app then names both candidates instead of giving a confident wrong
answer. The two thresholds are chosen on the pen dev set (real handwriting) by
`choose_unsure_thresholds`; `bench/unsure.py --tune` re-runs that choice for whichever
default model is committed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mnist_core.data.format import IMAGE_SHAPE

# When the model says "not sure": its top probability is below UNSURE_CONFIDENCE_BELOW, or the
# runner-up is within UNSURE_MARGIN_BELOW of it. Chosen on the pen dev set (2,000 drawings of
# real handwriting, ../shared/notes/real-handwriting.md) by `choose_unsure_thresholds`: at most
# UNSURE_GOAL "not sure", and within that as few confident mistakes as possible (the pair
# furthest inside both goals once both can be met). With the default model of 2026-12-02
# (handwriting_cnn, 98.1% right on the pen dev set) both goals are met: the model is "not
# sure" on 3.0% of the drawings (92% of those name the right digit as one of the two
# candidates) and confidently wrong on 0.7%. The margin alone decides: a top probability
# more than 0.84 above the runner-up is confident, which also means above 0.84. After
# retraining the default model, run `python bench/unsure.py --tune` and copy the two values
# it prints here; `make bench` shows both figures.
UNSURE_CONFIDENCE_BELOW = 0.00
UNSURE_MARGIN_BELOW = 0.84
# The goals on the pen dev set that `choose_unsure_thresholds` aims at (fractions of drawings).
CONFIDENT_WRONG_GOAL = 0.02
UNSURE_GOAL = 0.10


@dataclass(frozen=True)
class Prediction:
    """What a model says about one image.

    Attributes:
        digit: the most probable class (for MNIST, the digit itself).
        confidence: the probability of `digit`, in [0, 1].
        probabilities: one probability a class, in class order; they sum to 1.
        runner_up: the second most probable class.
        runner_up_probability: the probability of `runner_up`.
        unsure: True when the reading is ambiguous (see `is_unsure`): the app then names
            both `digit` and `runner_up`.
        not_a_digit: True when the image does not look like a digit at all
            (`mnist_core.reading.not_a_digit`); None when that was not checked.
    """

    digit: int
    confidence: float
    probabilities: tuple[float, ...]
    runner_up: int
    runner_up_probability: float
    unsure: bool
    not_a_digit: bool | None = None


def is_unsure(
    confidence: float,
    runner_up_probability: float,
    confidence_below: float = UNSURE_CONFIDENCE_BELOW,
    margin_below: float = UNSURE_MARGIN_BELOW,
) -> bool:
    """Whether a reading is too ambiguous to give as one answer.

    Args:
        confidence: the top probability.
        runner_up_probability: the second highest probability.
        confidence_below: unsure when `confidence` is below this (default
            UNSURE_CONFIDENCE_BELOW).
        margin_below: unsure when `confidence - runner_up_probability` is below this
            (default UNSURE_MARGIN_BELOW).
    """
    return confidence < confidence_below or confidence - runner_up_probability < margin_below


def prediction_from_probabilities(
    probabilities: Sequence[float] | np.ndarray,
    *,
    confidence_below: float = UNSURE_CONFIDENCE_BELOW,
    margin_below: float = UNSURE_MARGIN_BELOW,
) -> Prediction:
    """The `Prediction` that a row of class probabilities amounts to.

    Args:
        probabilities: one probability a class (at least two classes), in class order.
        confidence_below, margin_below: the "not sure" thresholds, as for `is_unsure`
            (default: the committed ones).
    """
    values = np.asarray(probabilities, dtype=np.float64)
    if values.ndim != 1 or len(values) < 2:
        raise ValueError(
            f"probabilities has shape {values.shape}; expected one row of at least 2 classes."
        )
    # A stable sort: of equal probabilities the lower class comes first, as with argmax.
    order = np.argsort(-values, kind="stable")
    digit, runner_up = int(order[0]), int(order[1])
    confidence, runner_up_probability = float(values[digit]), float(values[runner_up])
    return Prediction(
        digit=digit,
        confidence=confidence,
        probabilities=tuple(float(value) for value in values),
        runner_up=runner_up,
        runner_up_probability=runner_up_probability,
        unsure=is_unsure(
            confidence,
            runner_up_probability,
            confidence_below=confidence_below,
            margin_below=margin_below,
        ),
    )


@dataclass(frozen=True)
class UnsureFigures:
    """How a pair of "not sure" thresholds does on labelled images.

    Attributes:
        confidence_below: the `is_unsure` confidence threshold measured.
        margin_below: the `is_unsure` margin threshold measured.
        count: number of images.
        accuracy: fraction whose most probable class is right.
        unsure_rate: fraction read as "not sure".
        confident_wrong_rate: fraction read confidently (not "not sure") and wrong.
        unsure_candidates_right: of the "not sure" readings, the fraction whose true class
            is one of the two candidates named (NaN when there are none).
    """

    confidence_below: float
    margin_below: float
    count: int
    accuracy: float
    unsure_rate: float
    confident_wrong_rate: float
    unsure_candidates_right: float

    @property
    def meets_goals(self) -> bool:
        """Whether both goals hold (CONFIDENT_WRONG_GOAL and UNSURE_GOAL)."""
        return self.confident_wrong_rate <= CONFIDENT_WRONG_GOAL and self.unsure_rate <= UNSURE_GOAL


def measure_unsure(
    probabilities: np.ndarray,
    labels: np.ndarray,
    confidence_below: float = UNSURE_CONFIDENCE_BELOW,
    margin_below: float = UNSURE_MARGIN_BELOW,
) -> UnsureFigures:
    """Measure the "not sure" rule on labelled images.

    Args:
        probabilities: (N, num_classes) probabilities, as `predict_batch` returns them.
        labels: (N,) true classes.
        confidence_below: as for `is_unsure` (default UNSURE_CONFIDENCE_BELOW).
        margin_below: as for `is_unsure` (default UNSURE_MARGIN_BELOW).
    """
    top, second, right, candidates_right = _ranked(probabilities, labels)
    unsure = (top < confidence_below) | (top - second < margin_below)
    return _figures(confidence_below, margin_below, unsure, right, candidates_right)


def choose_unsure_thresholds(probabilities: np.ndarray, labels: np.ndarray) -> UnsureFigures:
    """Choose the `is_unsure` thresholds for a model from its readings of labelled images.

    On a grid (confidence 0 to 0.99 by 0.01, margin 0 to 0.98 by 0.02), a pair must say "not
    sure" on at most UNSURE_GOAL of the images: a model that doubts everything helps nobody.
    Of those pairs, when some are also confidently wrong on at most CONFIDENT_WRONG_GOAL, the
    one furthest inside both goals (the larger of the two rates, each divided by its goal, is
    smallest) is chosen; otherwise the one that is confidently wrong least often. Ties go to
    the fewer "not sure" readings, then to the lower thresholds.

    Args:
        probabilities: (N, num_classes) probabilities, as `predict_batch` returns them.
        labels: (N,) true classes.

    Returns:
        The chosen pair's `UnsureFigures`.
    """
    top, second, right, candidates_right = _ranked(probabilities, labels)
    margin = top - second
    best_key, best = None, None
    for confidence_below in np.round(np.arange(0.0, 1.0, 0.01), 2):
        low_confidence = top < confidence_below
        for margin_below in np.round(np.arange(0.0, 1.0, 0.02), 2):
            unsure = low_confidence | (margin < margin_below)
            unsure_rate = float(unsure.mean())
            if unsure_rate > UNSURE_GOAL:
                continue
            confident_wrong_rate = float((~unsure & ~right).mean())
            meets = confident_wrong_rate <= CONFIDENT_WRONG_GOAL
            worst = max(confident_wrong_rate / CONFIDENT_WRONG_GOAL, unsure_rate / UNSURE_GOAL)
            key = (not meets, worst if meets else confident_wrong_rate, unsure_rate)
            if best_key is None or key < best_key:
                best_key = key
                best = (float(confidence_below), float(margin_below), unsure)
    assert best is not None  # thresholds of 0 never say "not sure"
    return _figures(best[0], best[1], best[2], right, candidates_right)


def _ranked(
    probabilities: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Top and second probability of each row, whether the top is right, and either is."""
    values = np.asarray(probabilities, dtype=np.float64)
    truth = np.asarray(labels)
    if values.ndim != 2 or values.shape[1] < 2 or len(values) == 0:
        raise ValueError(
            f"probabilities has shape {values.shape}; expected (N, num_classes), N >= 1, "
            "at least 2 classes."
        )
    if truth.shape != (len(values),):
        raise ValueError(f"labels has shape {truth.shape}; expected ({len(values)},).")
    order = np.argsort(-values, axis=1, kind="stable")[:, :2]
    rows = np.arange(len(values))
    top, second = values[rows, order[:, 0]], values[rows, order[:, 1]]
    right = order[:, 0] == truth
    return top, second, right, right | (order[:, 1] == truth)


def _figures(
    confidence_below: float,
    margin_below: float,
    unsure: np.ndarray,
    right: np.ndarray,
    candidates_right: np.ndarray,
) -> UnsureFigures:
    return UnsureFigures(
        confidence_below=confidence_below,
        margin_below=margin_below,
        count=len(right),
        accuracy=float(right.mean()),
        unsure_rate=float(unsure.mean()),
        confident_wrong_rate=float((~unsure & ~right).mean()),
        unsure_candidates_right=float(candidates_right[unsure].mean())
        if unsure.any()
        else float("nan"),
    )


def predict_image(
    model: Any, image28: np.ndarray, check: Any = None, drawing28: np.ndarray | None = None
) -> Prediction:
    """Classify one (28, 28) image.

    Args:
        model: a Keras model that takes (N, 28, 28) float32 in [0, 1] and returns
            (N, num_classes) softmax probabilities; run in inference mode.
        image28: (28, 28) image, float in [0, 1] (as `preprocess_drawing` returns) or
            uint8 in 0-255 (scaled to [0, 1]).
        check: a `not_a_digit.NotADigitCheck`, to say whether the drawing looks like a digit
            at all (`Prediction.not_a_digit`); None leaves that unchecked (None).
        drawing28: the image the check looks at, when the model reads another one (the
            drawing without the noise the model reads it with); default `image28`.

    Returns:
        The `Prediction`.
    """
    image = _validate_images(image28, "image28", single=True)
    prediction = prediction_from_probabilities(_call_model(model, image[None])[0])
    if check is None:
        return prediction
    looked_at = (
        image if drawing28 is None else _validate_images(drawing28, "drawing28", single=True)
    )
    return replace(prediction, not_a_digit=bool(check.not_a_digit(looked_at[None])[0]))


def predict_batch(model: Any, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Classify many (28, 28) images, `batch_size` at a time.

    Args:
        model: as for `predict_image`.
        images: (N, 28, 28) images, float in [0, 1] or uint8 in 0-255 (scaled to [0, 1]).
        batch_size: images per model call (default 256), >= 1.

    Returns:
        float32 array (N, num_classes) of probabilities; row i belongs to images[i].
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise ValueError(f"batch_size is {batch_size!r}; expected an integer >= 1.")
    if batch_size < 1:
        raise ValueError(f"batch_size is {batch_size}; expected an integer >= 1.")
    batch = _validate_images(images, "images", single=False)
    if len(batch) == 0:
        return np.zeros((0, _num_outputs(model)), dtype=np.float32)
    chunks = [
        _call_model(model, batch[start : start + batch_size])
        for start in range(0, len(batch), batch_size)
    ]
    return np.concatenate(chunks) if len(chunks) > 1 else chunks[0]


def _validate_images(images: np.ndarray, name: str, *, single: bool) -> np.ndarray:
    array = np.asarray(images)
    expected = "(28, 28)" if single else "(N, 28, 28)"
    shape_ok = (
        array.shape == IMAGE_SHAPE
        if single
        else (array.ndim == 3 and array.shape[1:] == IMAGE_SHAPE)
    )
    if not shape_ok:
        raise ValueError(
            f"{name} has shape {array.shape}; expected {expected} "
            "(preprocess drawings and files with preprocess_drawing first)."
        )
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255)
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(
            f"{name} has dtype {array.dtype}; expected float in [0, 1] or uint8 in 0-255."
        )
    values = np.ascontiguousarray(array, dtype=np.float32)
    if values.size:
        low, high = float(values.min()), float(values.max())
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"{name} contains NaN or infinite values; expected floats in [0, 1].")
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"{name} has values from {low:g} to {high:g}; expected floats in [0, 1]."
            )
    return values


def _call_model(model: Any, batch: np.ndarray) -> np.ndarray:
    probabilities = np.asarray(model.predict_on_batch(batch), dtype=np.float32)
    if probabilities.ndim != 2 or probabilities.shape[0] != len(batch):
        raise ValueError(
            f"model returned shape {probabilities.shape} for {len(batch)} images; expected "
            "(N, num_classes) probabilities (a model built by mnist_core.model.build_model)."
        )
    return probabilities


def _num_outputs(model: Any) -> int:
    return int(model.outputs[0].shape[-1])
