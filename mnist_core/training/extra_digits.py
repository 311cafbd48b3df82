"""The training images a config asks for: the dataset's own, re-drawn ones, pen digits.

MNIST's digits were scanned from paper; a digit drawn on the canvas has a uniform pen, thick
or thin, and a hand MNIST may never have seen. Two fields of `ModelConfig` bring such digits
into training (MNIST only; both 0 by default, which leaves the training set as it is):

- `redraw_fraction`: that share of the training images is re-drawn on a canvas with a
  uniform pen of random width, at a random size and place (`synthetic.render_canvas_drawing`),
  and brought back to 28x28 by the Draw page's own `preprocess_drawing`.
- `pen_digit_copies`: every digit of the pendigits training writers that is not in the pen
  dev set (`pen_digits.pen_training_digits`) is drawn that many times as a canvas drawing,
  with random size, place, pen and slant (`pen_digits.random_pen_drawing`), preprocessed the
  same way and added to the training set.

Everything is made once, before training, from the config's seed: the same config gives the
same training set. The validation images are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_core.modeling.config import ModelConfig

# Re-drawn and pen digits are drawn on a canvas of this side: the preprocessing brings any
# canvas to 28x28 (the digit to 20 pixels), and this size is several times quicker to draw
# and to preprocess than the Draw page's 280.
DRAWING_CANVAS_SIZE = 112
# Offsets of the random generators, so that each kind of extra image draws its own numbers.
_REDRAW_SEED_OFFSET = 101
_PEN_DIGITS_SEED_OFFSET = 202


@dataclass(frozen=True)
class TrainingSet:
    """The images a model trains on, and where they came from.

    Attributes:
        images: uint8 (N, 28, 28), white ink on black.
        labels: (N,) integer labels.
        redrawn_count: how many of the dataset's images were re-drawn.
        pen_digit_count: how many pen-digit drawings were added (at the end).
        pen_source_lines: int32, the raw-file line of every added pen digit, in order.
    """

    images: np.ndarray
    labels: np.ndarray
    redrawn_count: int = 0
    pen_digit_count: int = 0
    pen_source_lines: np.ndarray | None = None


def build_training_set(
    config: ModelConfig, images: np.ndarray, labels: np.ndarray, *, pen_digits: object = None
) -> TrainingSet:
    """The training images `config` asks for, from the dataset's training images.

    Args:
        config: the model's config (its `redraw_fraction`, `pen_digit_copies` and `seed`).
        images: the dataset's training images (after the validation split), uint8 (N, 28, 28).
        labels: their labels, (N,).
        pen_digits: the pen digits to draw (a `pen_digits.PenDigits`); default: every
            digit of `pen_digits.pen_training_digits()`. Tests pass a few.

    Returns:
        A `TrainingSet`; when neither field asks for anything, the arrays given.
    """
    redrawn_count = 0
    if config.redraw_fraction > 0:
        images, redrawn_count = _redraw(config, images)
    if config.pen_digit_copies <= 0:
        return TrainingSet(images, labels, redrawn_count=redrawn_count)
    from mnist_core.data.pen_digits import pen_training_digits

    digits = pen_digits if pen_digits is not None else pen_training_digits()
    pen_images, pen_labels, pen_lines = draw_pen_digits(
        digits, config.pen_digit_copies, config.seed + _PEN_DIGITS_SEED_OFFSET
    )
    return TrainingSet(
        images=np.concatenate((images, pen_images)),
        labels=np.concatenate((labels, pen_labels.astype(labels.dtype))),
        redrawn_count=redrawn_count,
        pen_digit_count=len(pen_labels),
        pen_source_lines=pen_lines,
    )


def draw_pen_digits(
    digits: object, copies: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw every pen digit `copies` times at random and preprocess it like a Draw-page drawing.

    Args:
        digits: a `pen_digits.PenDigits`.
        copies: drawings of each digit, >= 1.
        seed: the random generator's seed.

    Returns:
        uint8 images (copies * N, 28, 28), their labels and their raw-file lines.
    """
    from mnist_core.data.pen_digits import random_pen_drawing
    from mnist_core.reading.preprocess import preprocess_drawing

    rng = np.random.default_rng(seed)
    count = len(digits.labels)
    images = np.empty((copies * count, 28, 28), dtype=np.uint8)
    for copy in range(copies):
        for index in range(count):
            drawing = random_pen_drawing(digits.points[index], rng, canvas_size=DRAWING_CANVAS_SIZE)
            images[copy * count + index] = _to_uint8(preprocess_drawing(drawing))
    return images, np.tile(digits.labels, copies), np.tile(digits.source_lines, copies)


def _redraw(config: ModelConfig, images: np.ndarray) -> tuple[np.ndarray, int]:
    from mnist_core.data.synthetic import render_canvas_drawing
    from mnist_core.reading.preprocess import preprocess_drawing

    rng = np.random.default_rng(config.seed + _REDRAW_SEED_OFFSET)
    count = int(round(config.redraw_fraction * len(images)))
    chosen = rng.choice(len(images), size=count, replace=False)
    redrawn = np.array(images, copy=True)
    for index in chosen:
        if not images[index].any():
            continue
        drawing = render_canvas_drawing(
            images[index], canvas_size=DRAWING_CANVAS_SIZE, background="white", rng=rng
        )
        image = preprocess_drawing(drawing)
        if image is not None:
            redrawn[index] = _to_uint8(image)
    return redrawn, count


def _to_uint8(image: np.ndarray | None) -> np.ndarray:
    if image is None:  # only a drawing without ink, which random drawing never makes
        return np.zeros((28, 28), dtype=np.uint8)
    return np.round(image * 255).astype(np.uint8)


def describe_training_data(config: ModelConfig, training_images_used: int | None = None) -> str:
    """One sentence saying what a model of this config learns from.

    Args:
        config: the model's config.
        training_images_used: the number of training images, when known (default: not said).
    """
    dataset = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}.get(
        config.dataset, config.dataset
    )
    held_out = (
        f"{config.validation_split:.0%} held out for validation"
        if config.validation == "split"
        else "validated on the test set"
    )
    parts = [f"{dataset}'s training images ({held_out})"]
    if config.redraw_fraction > 0:
        parts.append(
            f"{config.redraw_fraction:.0%} of them re-drawn with a uniform pen of random width "
            "and preprocessed like a drawing"
        )
    if config.pen_digit_copies > 0:
        copies = config.pen_digit_copies
        parts.append(
            f"{copies} random drawing{'s' if copies > 1 else ''} of each pendigits training "
            "digit that is not in the pen dev set (Alpaydin and Alimoglu, UCI 1998, CC BY 4.0)"
        )
    augmentations = [
        name
        for name, value in (
            ("shift", config.augment_shift),
            ("rotation", config.augment_rotation),
            ("zoom", config.augment_zoom),
            ("stroke thickness", config.augment_stroke),
        )
        if value > 0
    ]
    sentence = "; ".join(parts)
    if augmentations:
        sentence += "; random " + ", ".join(augmentations) + " in every epoch"
    if training_images_used is not None:
        sentence += f" ({training_images_used:,} training images)"
    return sentence[0].upper() + sentence[1:] + "."
