"""Whether a drawing looks like a digit at all: "that does not look like a digit".

A network that has only ever seen digits gives every image ten probabilities that add up to
one, and often puts nearly all of it on one digit: an X is an 8 at 99%, a dot a 0 at 97%. Its
top probability cannot tell. This detector looks at what the default model makes of the image
inside, and at the ink itself (`NotADigitCheck.features`, one pass of the default model):

- how the default model's three convolution layers respond: each filter's mean and strongest
  response over the image (448 numbers), and the last one's whole map (`flatten`, 1,152);
- its penultimate layer (`dense`, 128), and from it: the Mahalanobis distance to the nearest
  digit's mean (one covariance shared by the ten digits, fitted on digits), the energy (minus
  the log-sum-exp of the logits) and the top probability;
- the ink on the 28x28: how much, in how many pieces, in a box of what shape, filling how much
  of it.

A small network (one hidden layer of 64) turns these standardised numbers into the probability
that the drawing is not a digit; "not a digit" above `NotADigitDetector.threshold`. It is fitted
(`bench/not_a_digit.py --fit`) on digits (MNIST training images, MNIST digits drawn as on the
canvas, pen-drawn digits of the pen data set's training lines) against non-digits made for
tuning only (`mnist_core.data.non_digits`: the tuning fonts, drawn in varied hands, and their own
seed); the threshold calls at most `TUNING_FALSE_ALARMS` of each kind of held-out tuning digit
"not a digit". The pen dev set and the committed non-digit set only measure it.

The detector is fitted for one model file, the committed default model (its digest is kept
with the parameters): the not-a-digit reading uses the default model's insides whichever model
answers, so it says the same for every model of digits. Another default model needs a new fit;
until then `load_not_a_digit_check` gives None and readings say nothing about it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from mnist_core.base.paths import package_directory

DETECTOR_PATH = package_directory() / "data" / "nondigits" / "not_a_digit_detector.npz"
# The default model's layers the detector reads: three convolution blocks (pooled over the
# image), the last block's whole map, the penultimate layer.
POOLED_LAYERS = ("relu_1", "relu_2", "relu_3")
MAP_LAYER = "flatten"
PENULTIMATE_LAYER = "dense"
# Pixels at least this bright count as ink for the ink's shape (the 28x28 is in [0, 1]).
INK_LEVEL = 0.3
# Ink pieces smaller than this many pixels do not count as pieces.
SMALLEST_PIECE = 3
# The share of each kind of held-out tuning digit the threshold lets be called "not a digit".
TUNING_FALSE_ALARMS = 0.005


@dataclass(frozen=True)
class NotADigitDetector:
    """The fitted parameters (see the module's doc).

    Attributes:
        model_digest: sha1 of the `.keras` file whose insides it reads.
        class_means: (10, 128) mean penultimate features of each digit.
        precision: (128, 128) inverse of the covariance the digits share.
        feature_mean: (F,) of the features, for standardising them.
        feature_scale: (F,) their standard deviations.
        hidden_weights: (F, H) of the small network's hidden layer (ReLU).
        hidden_bias: (H,).
        output_weights: (H,) of its output (a logistic unit).
        output_bias: its bias.
        threshold: "not a digit" above this probability.
    """

    model_digest: str
    class_means: np.ndarray
    precision: np.ndarray
    feature_mean: np.ndarray
    feature_scale: np.ndarray
    hidden_weights: np.ndarray
    hidden_bias: np.ndarray
    output_weights: np.ndarray
    output_bias: float
    threshold: float

    def save(self, path: str | Path = DETECTOR_PATH) -> None:
        """Write the parameters to an `.npz` (float32 arrays)."""
        arrays = {}
        for field in fields(self):
            value = getattr(self, field.name)
            arrays[field.name] = (
                value.astype(np.float32) if isinstance(value, np.ndarray) else np.array(value)
            )
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: str | Path = DETECTOR_PATH) -> NotADigitDetector:
        """Read parameters written by `save`."""
        with np.load(path, allow_pickle=False) as arrays:
            values = {}
            for field in fields(cls):
                value = arrays[field.name]
                values[field.name] = (
                    str(value) if field.name == "model_digest"
                    else float(value) if value.ndim == 0
                    else value.astype(np.float64)
                )  # fmt: skip
        return cls(**values)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """The probability that each row of `features` (`NotADigitCheck.features`) is not a
        digit."""
        standard = (features - self.feature_mean) / self.feature_scale
        hidden = np.maximum(standard @ self.hidden_weights + self.hidden_bias, 0.0)
        return 1.0 / (1.0 + np.exp(-(hidden @ self.output_weights + self.output_bias)))


def file_digest(path: str | Path) -> str:
    """sha1 of a file's bytes (which model file a detector was fitted for)."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def feature_model(model: Any) -> Any:
    """A Keras model giving, at once, the layers of `model` that the detector reads and its
    probabilities."""
    from mnist_core.base.keras_import import import_keras

    keras = import_keras()
    names = (*POOLED_LAYERS, MAP_LAYER, PENULTIMATE_LAYER)
    return keras.Model(model.inputs, [model.get_layer(name).output for name in names])


def mahalanobis_distances(
    features: np.ndarray, class_means: np.ndarray, precision: np.ndarray
) -> np.ndarray:
    """(N, classes) squared Mahalanobis distances of each row to each class mean."""
    centred = features[:, None, :] - class_means[None, :, :]
    return np.einsum("nkd,de,nke->nk", centred, precision, centred)


def model_features(
    penultimate: np.ndarray, logits: np.ndarray, class_means: np.ndarray, precision: np.ndarray
) -> np.ndarray:
    """(N, 3): log Mahalanobis distance to the nearest digit, energy, top probability."""
    distance = mahalanobis_distances(penultimate, class_means, precision).min(axis=1)
    top = logits.max(axis=1, keepdims=True)
    log_sum = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    top_probability = np.exp(top[:, 0] - log_sum)
    return np.stack([np.log1p(np.maximum(distance, 0.0)), -log_sum, top_probability], axis=1)


def ink_pieces(ink: np.ndarray) -> np.ndarray:
    """How many 8-connected pieces of at least SMALLEST_PIECE pixels each (N, H, W) bool mask
    holds (a flood fill from each unvisited ink pixel: a drawing has a few hundred)."""
    pieces = np.zeros(len(ink), dtype=np.int64)
    for index, mask in enumerate(ink):
        unvisited = {(int(row), int(column)) for row, column in zip(*np.nonzero(mask))}
        while unvisited:
            stack, size = [unvisited.pop()], 0
            while stack:
                row, column = stack.pop()
                size += 1
                for step_row in (-1, 0, 1):
                    for step_column in (-1, 0, 1):
                        neighbour = (row + step_row, column + step_column)
                        if neighbour in unvisited:
                            unvisited.remove(neighbour)
                            stack.append(neighbour)
            pieces[index] += size >= SMALLEST_PIECE
    return pieces


def ink_features(images: np.ndarray) -> np.ndarray:
    """(N, 5): ink fraction, ink pieces, log aspect ratio of the ink box (height over width),
    its square, and the share of the box inked, of (N, 28, 28) images in [0, 1]."""
    ink = images >= INK_LEVEL
    rows, columns = ink.any(axis=2), ink.any(axis=1)

    def extent(lines: np.ndarray) -> np.ndarray:
        size = lines.shape[1]
        first = np.argmax(lines, axis=1)
        last = size - 1 - np.argmax(lines[:, ::-1], axis=1)
        return np.where(lines.any(axis=1), last - first + 1, 1).astype(np.float64)

    height, width = extent(rows), extent(columns)
    aspect = np.log(height / width)
    return np.stack(
        [
            images.mean(axis=(1, 2)),
            ink_pieces(ink).astype(np.float64),
            aspect,
            aspect**2,
            ink.sum(axis=(1, 2)) / (height * width),
        ],
        axis=1,
    )


class NotADigitCheck:
    """The detector with the model whose insides it reads, ready to check images.

    Args:
        model: the Keras model the detector was fitted for (the default model).
        detector: its fitted parameters (class means and precision at least, to compute
            features while fitting the rest).
    """

    def __init__(self, model: Any, detector: NotADigitDetector) -> None:
        self.model = model
        self.detector = detector
        self._layers = feature_model(model)
        self._output_kernel, self._output_bias = (
            np.asarray(weight, dtype=np.float64) for weight in model.layers[-1].get_weights()
        )

    def features(self, images28: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """(N, F) features (see the module's doc) of (N, 28, 28) images in [0, 1]."""
        images = np.asarray(images28, dtype=np.float32)
        parts = []
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            *pooled_maps, last_map, penultimate = (
                np.asarray(output, dtype=np.float64)
                for output in self._layers.predict_on_batch(batch)
            )
            pooled = [
                np.concatenate([layer.mean(axis=(1, 2)), layer.max(axis=(1, 2))], axis=1)
                for layer in pooled_maps
            ]
            logits = penultimate @ self._output_kernel + self._output_bias
            detector = self.detector
            parts.append(
                np.concatenate(
                    [
                        *pooled,
                        last_map,
                        penultimate,
                        model_features(
                            penultimate, logits, detector.class_means, detector.precision
                        ),
                        ink_features(batch),
                    ],
                    axis=1,
                )
            )
        return np.concatenate(parts)

    def probabilities(self, images28: np.ndarray) -> np.ndarray:
        """The probability that each image is not a digit."""
        return self.detector.probabilities(self.features(images28))

    def not_a_digit(self, images28: np.ndarray) -> np.ndarray:
        """Whether each (28, 28) image in [0, 1] does not look like a digit."""
        return self.probabilities(images28) > self.detector.threshold


def load_not_a_digit_check(
    model: Any, model_path: str | Path, detector_path: str | Path = DETECTOR_PATH
) -> NotADigitCheck | None:
    """The check for a model, if the committed detector was fitted for that very file.

    Args:
        model: the loaded Keras model (the default model).
        model_path: its `.keras` file.
        detector_path: the detector's parameters (default: the committed ones).

    Returns:
        The check, or None when there is no detector for this file (another default model).
    """
    detector_path = Path(detector_path)
    if not detector_path.is_file() or not Path(model_path).is_file():
        return None
    detector = NotADigitDetector.load(detector_path)
    if detector.model_digest != file_digest(model_path):
        return None
    return NotADigitCheck(model, detector)


def fit_class_gaussians(
    penultimate: np.ndarray, labels: np.ndarray, *, ridge: float = 1e-3
) -> tuple[np.ndarray, np.ndarray]:
    """Class means and the precision of the covariance the classes share (ridge added)."""
    classes = np.unique(labels)
    means = np.stack([penultimate[labels == label].mean(axis=0) for label in classes])
    centred = penultimate - means[np.searchsorted(classes, labels)]
    covariance = centred.T @ centred / len(centred)
    covariance += ridge * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
    return means, np.linalg.inv(covariance)
