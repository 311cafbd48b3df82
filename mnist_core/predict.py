"""Ask a trained model what digit an image shows.

Speed matters: the app predicts while the user draws. `model.predict` builds a data
pipeline on every call (about 70 ms for one image on the 2-core test machine), and even a
direct eager call, `model(x, training=False)`, runs layer by layer (about 4-5 ms there).
`model.predict_on_batch` runs the model's compiled inference function (inference mode,
as `training=False`), which Keras traces once per model and keeps on the model: about
0.6 ms for one image after a first call of about 40 ms. Keras itself is not imported here:
the model object brings its backend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

IMAGE_SHAPE = (28, 28)


@dataclass(frozen=True)
class Prediction:
    """What a model says about one image.

    Attributes:
        digit: the most probable class (for MNIST, the digit itself).
        confidence: the probability of `digit`, in [0, 1].
        probabilities: one probability a class, in class order; they sum to 1.
    """

    digit: int
    confidence: float
    probabilities: tuple[float, ...]


def predict_image(model: Any, image28: np.ndarray) -> Prediction:
    """Classify one (28, 28) image.

    Args:
        model: a Keras model that takes (N, 28, 28) float32 in [0, 1] and returns
            (N, num_classes) softmax probabilities; run in inference mode.
        image28: (28, 28) image, float in [0, 1] (as `preprocess_drawing` returns) or
            uint8 in 0-255 (scaled to [0, 1]).

    Returns:
        The `Prediction`.
    """
    image = _validate_images(image28, "image28", single=True)
    probabilities = _call_model(model, image[None])[0]
    digit = int(np.argmax(probabilities))
    return Prediction(
        digit=digit,
        confidence=float(probabilities[digit]),
        probabilities=tuple(float(value) for value in probabilities),
    )


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
