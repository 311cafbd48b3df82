"""How well a model reads the pen dev set: 2,000 real pen-drawn digits, through the Draw page's
own preprocessing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_core.data.pen_digits import PenDevSet, load_pen_dev_set


@dataclass(frozen=True)
class PenDevReading:
    """What a model reads on the pen dev set.

    Attributes:
        probabilities: float32 (N, 10), the model's probabilities for each drawing.
        labels: uint8 (N,), what was written.
    """

    probabilities: np.ndarray
    labels: np.ndarray

    @property
    def accuracy(self) -> float:
        """The share of drawings read right."""
        return float(np.mean(self.probabilities.argmax(axis=1) == self.labels))

    def accuracy_per_digit(self) -> dict[int, float]:
        """The share read right of each written digit (0..9) that the drawings hold."""
        predicted = self.probabilities.argmax(axis=1)
        return {
            int(digit): float(np.mean(predicted[self.labels == digit] == digit))
            for digit in np.unique(self.labels)
        }


def read_pen_dev_set(
    model: object, dev_set: PenDevSet | None = None, count: int | None = None
) -> PenDevReading:
    """Read the dev set's drawings with `model`, preprocessed exactly as the Draw page does.

    Args:
        model: a Keras model taking (N, 28, 28) images in 0..1.
        dev_set: the drawings (default: `load_pen_dev_set()`).
        count: only the first `count` drawings (default: all).
    """
    from mnist_core.reading.predict import predict_batch
    from mnist_core.reading.preprocess import preprocess_drawing

    dev_set = dev_set if dev_set is not None else load_pen_dev_set()
    images, labels = dev_set.images[:count], dev_set.labels[:count]
    prepared = [preprocess_drawing(image) for image in images]
    if any(image is None for image in prepared):
        raise ValueError(f"{dev_set.path} has a drawing with no ink: the file is damaged.")
    return PenDevReading(predict_batch(model, np.stack(prepared)), labels)
