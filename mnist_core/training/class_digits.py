"""Training on the class's own digits, where the run trains (a worker).

A run on "mnist_and_class" or "class_digits" (`data.format`), or one scored on the class's
held-out writers, carries the class's drawings with its task (`ClassDigits`: the training part
and the test part, as the run recorded them; `runs.class_data` makes it), so that a worker on
another machine needs neither the drawings nor the server's file.

What the network learns from:

- "mnist_and_class": a seeded sample of MNIST's training images (the run's training images)
  and the class's training part, each drawing repeated so that the drawings are a fifth of the
  mix (as fine-tuning mixes a student's own; `finetune.drawing_copies`);
- "class_digits": the class's training part alone, repeated so that an epoch shows about the
  run's training images (each repeat differently shifted, turned and resized when the config
  augments);
- "mnist": MNIST as always; the class's drawings only test it.

Validation ("split") holds out MNIST images ("mnist_and_class") or drawings ("class_digits")
that the network never learns from, repeats included. Every run is scored on MNIST's whole
test set (its test accuracy, comparable with any run) and on the class's held-out writers
(`class_test_figures`).
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from mnist_core.data.datasets import Dataset
from mnist_core.data.format import CLASS_DIGITS, MNIST_AND_CLASS
from mnist_core.modeling.config import ModelConfig
from mnist_core.training.finetune import MAX_DRAWING_COPIES, drawing_copies

# An epoch of "class_digits" shows the drawings about this many times over, when the run asks
# for no number of training images.
DEFAULT_CLASS_EPOCH_IMAGES = 6000


def _encode(images: np.ndarray) -> str:
    data = np.ascontiguousarray(images, dtype=np.uint8).tobytes()
    return base64.b64encode(zlib.compress(data, 6)).decode("ascii")


def _decode(text: str, count: int, field: str) -> np.ndarray:
    try:
        pixels = zlib.decompress(base64.b64decode(text))
        return np.frombuffer(pixels, dtype=np.uint8).reshape(count, 28, 28)
    except (ValueError, zlib.error, TypeError):
        raise ValueError(
            f"class_digits {field} must be {count} 28x28 drawings (base64 of zlib); they cannot "
            "be read."
        ) from None


@dataclass(frozen=True, eq=False)
class ClassDigits:
    """The class's drawings a run trains and is tested on.

    Attributes:
        train_images, test_images: uint8 (N, 28, 28), white ink on black.
        train_labels, test_labels: uint8 (N,).
        test_writers: how many writers the test part holds.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    test_writers: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, to travel with the run's task."""
        return {
            "train_labels": [int(label) for label in self.train_labels],
            "test_labels": [int(label) for label in self.test_labels],
            "train_images": _encode(self.train_images),
            "test_images": _encode(self.test_images),
            "test_writers": self.test_writers,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassDigits:
        """Read `to_dict()` output; ValueError naming what is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"class_digits must be a JSON object, got {type(data).__name__}.")
        missing = sorted({"train_labels", "test_labels", "train_images", "test_images"} - set(data))
        if missing:
            raise ValueError(f"class_digits lacks the field(s) {', '.join(missing)}.")
        train_labels = np.array(data["train_labels"], dtype=np.uint8)
        test_labels = np.array(data["test_labels"], dtype=np.uint8)
        return cls(
            train_images=_decode(data["train_images"], len(train_labels), "train_images"),
            train_labels=train_labels,
            test_images=_decode(data["test_images"], len(test_labels), "test_images"),
            test_labels=test_labels,
            test_writers=int(data.get("test_writers", 0)),
        )


@dataclass(frozen=True)
class ClassTrainingSet:
    """What a run on the class's digits trains on, and how it was made.

    Attributes:
        dataset: the `Dataset` to hand to `train_model` (named as the config's dataset; its
            training images are all learned from, its test set is MNIST's).
        validation: (images, labels) to validate on (`train_model(validation=...)`): MNIST
            images or drawings never learned from; None when the config validates on the test
            set.
        training_drawings: the class's drawings learned from (each `copies` times).
        copies: how often each drawing is repeated.
        mnist_images: MNIST training images learned from.
    """

    dataset: Dataset
    validation: tuple[np.ndarray, np.ndarray] | None
    training_drawings: int
    copies: int
    mnist_images: int

    def figures(self) -> dict[str, Any]:
        """How it was made, for the run's figures."""
        return {
            "training_drawings": self.training_drawings,
            "drawing_copies": self.copies,
            "mnist_images": self.mnist_images,
        }


def class_training_set(
    config: ModelConfig, mnist: Dataset, digits: ClassDigits, training_images: int | None
) -> ClassTrainingSet:
    """The data set a run on the class's digits trains on (see the module's docstring).

    Args:
        config: the run's config ("mnist_and_class" or "class_digits"; its seed, validation).
        mnist: the MNIST `Dataset` (its test set stays the test set).
        digits: the class's drawings.
        training_images: MNIST images to mix in ("mnist_and_class"; None: all), or the images
            an epoch shows ("class_digits"; None: DEFAULT_CLASS_EPOCH_IMAGES).
    """
    if config.dataset not in (MNIST_AND_CLASS, CLASS_DIGITS):
        raise ValueError(
            f"dataset must be {MNIST_AND_CLASS!r} or {CLASS_DIGITS!r} to train on the class's "
            f"digits, got {config.dataset!r}."
        )
    if len(digits.train_labels) < 2:
        raise ValueError("The class's training part holds too few drawings to learn from.")
    rng = np.random.default_rng(config.seed)
    split = config.validation == "split"
    if config.dataset == MNIST_AND_CLASS:
        if training_images is not None and training_images < len(mnist.x_train):
            sample = mnist.subset(training_images, None, seed=config.seed)
        else:
            sample = mnist
        images, labels = sample.x_train, sample.y_train
        drawings, drawing_labels = digits.train_images, digits.train_labels
        held = int(round(len(labels) * config.validation_split)) if split else 0
    else:
        order = rng.permutation(len(digits.train_labels))
        images = labels = None
        drawings, drawing_labels = digits.train_images[order], digits.train_labels[order]
        held = max(1, int(round(len(drawing_labels) * config.validation_split))) if split else 0
    if images is not None:
        cut = len(labels) - held
        copies = drawing_copies(cut, len(drawing_labels))
        learn_images = np.concatenate([images[:cut], np.tile(drawings, (copies, 1, 1))])
        learn_labels = np.concatenate([labels[:cut], np.tile(drawing_labels, copies)])
        validation = (images[cut:], labels[cut:]) if split else None
        mnist_count, drawing_count = cut, len(drawing_labels)
    else:
        cut = len(drawing_labels) - held
        wanted = DEFAULT_CLASS_EPOCH_IMAGES if training_images is None else training_images
        copies = int(np.clip(round(wanted / cut), 1, MAX_DRAWING_COPIES))
        learn_images = np.tile(drawings[:cut], (copies, 1, 1))
        learn_labels = np.tile(drawing_labels[:cut], copies)
        validation = (drawings[cut:], drawing_labels[cut:]) if split else None
        mnist_count, drawing_count = 0, cut
    shuffle = rng.permutation(len(learn_labels))
    dataset = Dataset(
        name=config.dataset,
        x_train=learn_images[shuffle].astype(np.uint8),
        y_train=learn_labels[shuffle].astype(np.uint8),
        x_test=mnist.x_test,
        y_test=mnist.y_test,
        class_names=mnist.class_names,
        source=f"{mnist_count} MNIST images and {drawing_count} class drawings x {copies}",
    )
    return ClassTrainingSet(dataset, validation, drawing_count, copies, mnist_count)


def class_test_figures(model: Any, digits: ClassDigits) -> dict[str, Any]:
    """How well a trained model reads the class's held-out writers: accuracy, right answers,
    drawings, writers, and the accuracy of each digit they drew.

    Args:
        model: the trained Keras model.
        digits: the class's drawings (their test part is read).
    """
    count = len(digits.test_labels)
    figures: dict[str, Any] = {
        "test_count": count,
        "test_writers": digits.test_writers,
        "test_correct": 0,
        "test_accuracy": None,
        "per_digit_accuracy": {},
    }
    if not count:
        return figures
    probabilities = model.predict(
        digits.test_images.astype(np.float32) / np.float32(255.0), batch_size=256, verbose=0
    )
    right = np.argmax(np.asarray(probabilities), axis=1) == digits.test_labels
    figures["test_correct"] = int(right.sum())
    figures["test_accuracy"] = float(right.mean())
    figures["per_digit_accuracy"] = {
        str(int(digit)): float(right[digits.test_labels == digit].mean())
        for digit in np.unique(digits.test_labels)
    }
    return figures
