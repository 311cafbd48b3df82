"""Why the model reads what it reads: which pixels pushed it towards a class.

Integrated gradients (Sundararajan, Taly and Yan, "Axiomatic Attribution for Deep Networks",
ICML 2017): walk in a straight line from a blank image (no ink, all 0) to the image, take the
gradient of the class's probability with respect to the pixels at each step (TensorFlow's
`GradientTape`), average them, and multiply by the image. A pixel's attribution is its share of
the rise in probability from the blank image to the drawing: positive pixels pushed the model
towards the class, negative ones away from it, and all of them add up to the difference
(`probability(image) - probability(blank)`, up to the error of the STEPS-point average).
With a blank starting point only ink can be credited: the map shows which parts of the
strokes mattered.

Speed: one gradient over a batch of ATTRIBUTION_STEPS images, traced once per model with
`tf.function` and kept on the model object (as Keras keeps its own compiled predict function).

The maps are shown on the 28x28 image the model sees and, carried back through the cropping,
fitting and centring of `preprocess_drawing_steps`, on the drawing itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from mnist_core.data.format import IMAGE_SHAPE
from mnist_core.reading.preprocess import (
    CROP_THRESHOLD,
    PreprocessingSteps,
)

# Points of the path from the blank image to the image. Measured with the default CNN on 20
# MNIST test digits, the attributions' sum missed the probability's rise by 0.011 (median)
# with 16 points, 0.003 with 32 and with 64; the time grows with the points (about 19, 35
# and 78 ms on a busy 2-core machine).
ATTRIBUTION_STEPS = 32
# The attribute of a model under which its traced attribution function is kept.
_FUNCTION_ATTRIBUTE = "_mnist_core_integrated_gradients"
# The map as shown is spread over neighbouring pixels with this (binomial) filter.
SMOOTHING_KERNEL = np.array([1, 4, 6, 4, 1], dtype=np.float32) / 16
# Attributions from this percentile of the ink's magnitudes on are shown in full colour.
FULL_COLOUR_PERCENTILE = 98
# The picture on the drawing shows the ink and this fraction of its size around it.
INK_MARGIN = 0.1
# Colours of the pictures: paper, ink that did not matter, towards the class, away from it.
PAPER_COLOUR = np.array([255, 255, 255], dtype=np.float32)
NEUTRAL_INK_COLOUR = np.array([150, 150, 150], dtype=np.float32)
TOWARDS_COLOUR = np.array([220, 40, 20], dtype=np.float32)
AWAY_COLOUR = np.array([30, 90, 220], dtype=np.float32)


def attribute_image(
    model: Any, image28: np.ndarray, class_index: int, steps: int = ATTRIBUTION_STEPS
) -> np.ndarray:
    """Integrated gradients of one class's probability for one (28, 28) image.

    Args:
        model: a Keras model (TensorFlow backend) that takes (N, 28, 28) float32 in [0, 1]
            and returns (N, num_classes) probabilities, as `predict_image` takes it.
        image28: (28, 28) float image in [0, 1] (as `preprocess_drawing` returns).
        class_index: the class whose probability is explained, 0 <= class_index < classes.
        steps: points on the path from the blank image (default ATTRIBUTION_STEPS), >= 1.

    Returns:
        float32 (28, 28): each pixel's share of the class probability's rise from a blank
        image; positive pushed towards the class. Pixels without ink have 0.
    """
    image = np.asarray(image28)
    if image.shape != IMAGE_SHAPE or not np.issubdtype(image.dtype, np.floating):
        raise ValueError(
            f"image28 is {image.dtype} {image.shape}; expected a float (28, 28) image in [0, 1]."
        )
    classes = int(model.outputs[0].shape[-1])
    if isinstance(class_index, bool) or not isinstance(class_index, int | np.integer):
        raise ValueError(f"class_index is {class_index!r}; expected an integer class.")
    if not 0 <= class_index < classes:
        raise ValueError(f"class_index is {class_index}; expected 0 to {classes - 1}.")
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise ValueError(f"steps is {steps!r}; expected an integer >= 1.")
    function = _integrated_gradients_function(model, int(steps))
    attribution = function(np.ascontiguousarray(image, dtype=np.float32), np.int32(class_index))
    return np.asarray(attribution, dtype=np.float32)


def _integrated_gradients_function(model: Any, steps: int) -> Any:
    """The model's traced integrated-gradients function for `steps` steps (made once)."""
    cached = getattr(model, _FUNCTION_ATTRIBUTE, None)
    if cached is not None and cached[0] == steps:
        return cached[1]
    import tensorflow as tf

    # Midpoints of `steps` equal intervals: the midpoint rule of the path integral.
    fractions = tf.constant((np.arange(steps, dtype=np.float32) + 0.5) / steps)

    @tf.function(
        input_signature=[
            tf.TensorSpec(IMAGE_SHAPE, tf.float32),
            tf.TensorSpec((), tf.int32),
        ],
        reduce_retracing=True,
    )
    def integrated_gradients(image: Any, class_index: Any) -> Any:
        path = fractions[:, None, None] * image[None]
        with tf.GradientTape() as tape:
            tape.watch(path)
            probabilities = model(path, training=False)
            chosen = probabilities[:, class_index]
        gradients = tape.gradient(chosen, path)
        return image * tf.reduce_mean(gradients, axis=0)

    # Past the model's own attribute tracking: this is a cache, not part of the model.
    object.__setattr__(model, _FUNCTION_ATTRIBUTE, (steps, integrated_gradients))
    return integrated_gradients


def attribution_on_drawing(steps: PreprocessingSteps, attribution28: np.ndarray) -> np.ndarray:
    """Carry a (28, 28) attribution map back onto the drawing it was made from.

    The inverse of cropping, fitting and centring: the part of the map under the fitted
    digit is resized to the size of the ink's bounding box and put where the ink was.

    Args:
        steps: the drawing's `preprocess_drawing_steps`.
        attribution28: (28, 28) map for `steps.result` (as `attribute_image` returns).

    Returns:
        float32 array of the drawing's height and width; 0 outside the ink's bounding box.
    """
    attribution = np.asarray(attribution28, dtype=np.float32)
    if attribution.shape != IMAGE_SHAPE:
        raise ValueError(f"attribution28 has shape {attribution.shape}; expected (28, 28).")
    top, left = _placement(steps.centred, steps.fitted)
    fitted_height, fitted_width = steps.fitted.shape
    under_digit = attribution[top : top + fitted_height, left : left + fitted_width]
    crop_top, crop_left = _crop_origin(steps)
    crop_height, crop_width = steps.cropped.shape
    # Resizing spreads each 28x28 pixel's share over the drawing's pixels it came from.
    resized = Image.fromarray(under_digit, mode="F").resize(
        (crop_width, crop_height), Image.Resampling.BILINEAR
    )
    on_drawing = np.zeros(steps.inverted.shape, dtype=np.float32)
    on_drawing[crop_top : crop_top + crop_height, crop_left : crop_left + crop_width] = resized
    return on_drawing


def _placement(centred: np.ndarray, fitted: np.ndarray) -> tuple[int, int]:
    """Where `fitted` sits in `centred` (its top and left row and column)."""
    height, width = fitted.shape
    for top in range(centred.shape[0] - height + 1):
        for left in range(centred.shape[1] - width + 1):
            if np.array_equal(centred[top : top + height, left : left + width], fitted):
                return top, left
    raise ValueError("steps.fitted is not inside steps.centred: not the steps of one drawing.")


def _crop_origin(steps: PreprocessingSteps) -> tuple[int, int]:
    """The top-left corner of the ink's bounding box in the drawing (as the crop found it)."""
    is_ink = steps.inverted >= CROP_THRESHOLD
    rows, columns = np.flatnonzero(is_ink.any(axis=1)), np.flatnonzero(is_ink.any(axis=0))
    if len(rows) == 0 or (rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1) != (
        steps.cropped.shape
    ):
        raise ValueError("steps.cropped is not the ink of steps.inverted: not one drawing.")
    return int(rows[0]), int(columns[0])


def smooth_attribution(attribution28: np.ndarray) -> np.ndarray:
    """The attribution map as it is shown: each pixel shares its attribution with its neighbours.

    A gradient is noisy from pixel to pixel (neighbouring pixels of one stroke get opposite
    signs); spread over about a stroke's width, the map shows which parts of the strokes
    mattered. A 5x5 binomial filter (standard deviation 1 pixel), zero outside the image.

    Args:
        attribution28: (28, 28) map, as `attribute_image` returns it.
    """
    attribution = np.asarray(attribution28, dtype=np.float32)
    if attribution.shape != IMAGE_SHAPE:
        raise ValueError(f"attribution28 has shape {attribution.shape}; expected (28, 28).")
    padded = np.pad(attribution, SMOOTHING_KERNEL.size // 2)
    height, width = IMAGE_SHAPE
    rows = sum(
        weight * padded[:, offset : offset + width]
        for offset, weight in enumerate(SMOOTHING_KERNEL)
    )
    return sum(
        weight * rows[offset : offset + height, :] for offset, weight in enumerate(SMOOTHING_KERNEL)
    ).astype(np.float32)


@dataclass(frozen=True)
class Explanation:
    """Why a model read a drawing as a class, ready to show.

    Attributes:
        class_index: the class explained.
        attribution: (28, 28) float32, the map as shown (`smooth_attribution` of
            `attribute_image`); positive pushed towards the class.
        picture28: uint8 (28, 28, 3), the 28x28 image coloured by `attribution`.
        drawing_picture: uint8 (h, w, 3), the drawing coloured by the same map carried back
            onto it (`attribution_on_drawing`), cut to a square about the ink with a margin
            (the strokes, not the empty canvas); None when explained without the drawing.
    """

    class_index: int
    attribution: np.ndarray
    picture28: np.ndarray
    drawing_picture: np.ndarray | None


def explain_drawing(
    model: Any,
    image28: np.ndarray,
    class_index: int,
    steps: PreprocessingSteps | None = None,
) -> Explanation:
    """Which pixels pushed the model towards `class_index`, on the 28x28 image and the drawing.

    Args:
        model: as for `attribute_image`.
        image28: the (28, 28) image the model read (with noise, if any was added).
        class_index: the class to explain (the answer, or the runner-up).
        steps: the drawing's `preprocess_drawing_steps`, for the picture on the drawing
            (default None: only the 28x28 picture).
    """
    attribution = smooth_attribution(attribute_image(model, image28, class_index))
    scale = _display_scale(image28, attribution)
    drawing_picture = None
    if steps is not None:
        around_ink = _around_ink(steps)
        drawing_picture = attribution_picture(
            steps.inverted[around_ink],
            attribution_on_drawing(steps, attribution)[around_ink],
            scale,
        )
    return Explanation(
        class_index=int(class_index),
        attribution=attribution,
        picture28=attribution_picture(image28, attribution, scale),
        drawing_picture=drawing_picture,
    )


def _around_ink(steps: PreprocessingSteps) -> tuple[slice, slice]:
    """A square about the ink's bounding box, INK_MARGIN of its side wider, inside the image."""
    top, left = _crop_origin(steps)
    height, width = steps.cropped.shape
    side = max(height, width) * (1 + 2 * INK_MARGIN)
    spans = []
    for start, length, limit in ((top, height, steps.inverted.shape[0]),
                                 (left, width, steps.inverted.shape[1])):  # fmt: skip
        centre = start + length / 2
        low = int(round(min(max(centre - side / 2, 0), max(limit - side, 0))))
        spans.append(slice(low, int(min(limit, round(low + side)))))
    return spans[0], spans[1]


def _display_scale(image28: np.ndarray, attribution: np.ndarray) -> float:
    """The attribution shown in full colour: a high percentile over the ink, not the maximum
    (a few extreme pixels would leave everything else pale)."""
    on_ink = np.abs(attribution[np.asarray(image28) >= CROP_THRESHOLD])
    if on_ink.size == 0:
        on_ink = np.abs(attribution).ravel()
    return float(np.percentile(on_ink, FULL_COLOUR_PERCENTILE))


def attribution_picture(ink: np.ndarray, attribution: np.ndarray, scale: float) -> np.ndarray:
    """An RGB picture of the ink, coloured by attribution: red towards the class, blue away.

    Args:
        ink: (H, W) float ink level in [0, 1] (1 = full ink), such as the 28x28 image or
            `steps.inverted`.
        attribution: (H, W) attribution map of the same size.
        scale: the attribution magnitude shown in full colour (larger is clipped); 0 or
            less shows all ink grey.

    Returns:
        uint8 (H, W, 3): white paper, grey ink where the attribution is near 0.
    """
    ink = np.clip(np.asarray(ink, dtype=np.float32), 0.0, 1.0)
    attribution = np.asarray(attribution, dtype=np.float32)
    if ink.ndim != 2 or attribution.shape != ink.shape:
        raise ValueError(
            f"ink has shape {ink.shape} and attribution {attribution.shape}; expected the "
            "same (H, W)."
        )
    strength = (
        np.clip(attribution / np.float32(scale), -1.0, 1.0)
        if scale > 0
        else np.zeros_like(attribution)
    )
    towards = np.clip(strength, 0.0, 1.0)[..., None]
    away = np.clip(-strength, 0.0, 1.0)[..., None]
    ink_colour = (
        NEUTRAL_INK_COLOUR * (1 - towards - away) + TOWARDS_COLOUR * towards + AWAY_COLOUR * away
    )
    cover = ink[..., None]
    picture = PAPER_COLOUR * (1 - cover) + ink_colour * cover
    return np.rint(picture).astype(np.uint8)
