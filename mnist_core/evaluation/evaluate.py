"""Evaluate a trained classifier: loss, accuracy, confusion matrix, per-class scores, noise.

Probabilities come from calling the model directly in batches (``model(x, training=False)``),
which avoids the per-call overhead of ``model.predict``. Keras is imported inside functions so
importing this module stays cheap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mnist_core.data.format import IMAGE_SHAPE, NUM_CLASSES

# Losses whose targets are one-hot vectors; sparse_categorical_crossentropy takes integer labels.
ONE_HOT_LOSSES = ("categorical_crossentropy", "binary_crossentropy", "mse")
SPARSE_LOSSES = ("sparse_categorical_crossentropy",)
LOSS_NAMES = ONE_HOT_LOSSES + SPARSE_LOSSES

DEFAULT_CLASS_NAMES = tuple(str(digit) for digit in range(NUM_CLASSES))


@dataclass(frozen=True)
class ClassReport:
    """Scores for one class, as in one row of a classification report."""

    class_index: int
    class_name: str
    precision: float
    recall: float
    f1_score: float
    support: int  # number of examples whose true label is this class


@dataclass(frozen=True)
class AverageScores:
    """Precision, recall and F1 averaged over classes (macro or weighted by support)."""

    precision: float
    recall: float
    f1_score: float
    support: int  # number of examples the average covers


@dataclass(frozen=True)
class NoiseAccuracy:
    """Accuracy on images with Gaussian noise of standard deviation ``sigma`` added."""

    sigma: float
    accuracy: float


# eq=False: the numpy fields make field-by-field equality ambiguous.
@dataclass(frozen=True, eq=False)
class EvaluationReport:
    """Everything ``evaluate_model`` measured on one set of labelled images.

    Arrays are read-only. ``confusion_matrix[true, predicted]`` counts examples;
    ``misclassified_indices`` lists wrong predictions, most confident mistakes first.
    """

    loss: float
    loss_name: str
    accuracy: float
    class_names: tuple[str, ...]
    confusion_matrix: np.ndarray  # (10, 10) int64, rows = true label, columns = predicted label
    per_class: tuple[ClassReport, ...]
    macro_average: AverageScores
    weighted_average: AverageScores
    true_labels: np.ndarray  # (N,) int64
    predicted_labels: np.ndarray  # (N,) int64
    confidences: np.ndarray  # (N,) float32, the probability of the predicted label
    probabilities: np.ndarray  # (N, 10) float32
    misclassified_indices: np.ndarray  # (M,) int64, sorted by confidence, highest first

    @property
    def num_examples(self) -> int:
        """Number of evaluated examples."""
        return int(self.true_labels.shape[0])

    def misclassified(
        self,
        true_label: int | None = None,
        predicted_label: int | None = None,
        limit: int | None = None,
    ) -> np.ndarray:
        """Return indices of misclassified examples, most confident mistakes first.

        Args:
            true_label: keep only examples with this true label (None: any).
            predicted_label: keep only examples predicted as this label (None: any). With
                both labels given this is one off-diagonal cell of the confusion matrix; a
                diagonal cell holds no mistakes and gives an empty array.
            limit: return at most this many indices (None: all).
        """
        _check_optional_label("true_label", true_label)
        _check_optional_label("predicted_label", predicted_label)
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise ValueError(f"limit must be None or an integer >= 0, got {limit!r}.")
        indices = self.misclassified_indices
        if true_label is not None:
            indices = indices[self.true_labels[indices] == true_label]
        if predicted_label is not None:
            indices = indices[self.predicted_labels[indices] == predicted_label]
        if limit is not None:
            indices = indices[:limit]
        return indices

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable summary (no per-example arrays)."""
        return {
            "loss": self.loss,
            "loss_name": self.loss_name,
            "accuracy": self.accuracy,
            "num_examples": self.num_examples,
            "num_misclassified": int(self.misclassified_indices.shape[0]),
            "class_names": list(self.class_names),
            "confusion_matrix": self.confusion_matrix.tolist(),
            "per_class": [
                {
                    "class_index": row.class_index,
                    "class_name": row.class_name,
                    "precision": row.precision,
                    "recall": row.recall,
                    "f1_score": row.f1_score,
                    "support": row.support,
                }
                for row in self.per_class
            ],
            "macro_average": _average_to_dict(self.macro_average),
            "weighted_average": _average_to_dict(self.weighted_average),
        }

    def format_classification_report(self, digits: int = 2) -> str:
        """Return a text table laid out like scikit-learn's ``classification_report``.

        Args:
            digits: decimals shown for precision, recall, F1 and accuracy (default 2).
        """
        headers = ("precision", "recall", "f1-score", "support")
        last_heading = "weighted avg"
        width = max(max(len(name) for name in self.class_names), len(last_heading), digits)
        head_format = "{:>{width}s} " + " {:>9}" * len(headers)
        row_format = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
        lines = head_format.format("", *headers, width=width) + "\n\n"
        for row in self.per_class:
            lines += row_format.format(
                row.class_name,
                row.precision,
                row.recall,
                row.f1_score,
                row.support,
                width=width,
                digits=digits,
            )
        lines += "\n"
        accuracy_format = "{:>{width}s} " + " {:>9}" * 2 + " {:>9.{digits}f}" + " {:>9}\n"
        lines += accuracy_format.format(
            "accuracy", "", "", self.accuracy, self.num_examples, width=width, digits=digits
        )
        for heading, average in (
            ("macro avg", self.macro_average),
            (last_heading, self.weighted_average),
        ):
            lines += row_format.format(
                heading,
                average.precision,
                average.recall,
                average.f1_score,
                average.support,
                width=width,
                digits=digits,
            )
        return lines


def evaluate_model(
    model: Any,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    class_names: Sequence[str] | None = None,
    loss: str = "categorical_crossentropy",
    batch_size: int = 1000,
) -> EvaluationReport:
    """Evaluate a 10-class model on labelled images.

    The loss is the named Keras loss applied to the label encoding it expects (one-hot, or
    integer labels for sparse_categorical_crossentropy), plus the model's regularization
    losses, so it matches what ``model.evaluate`` reports for a model compiled with it.

    Args:
        model: a Keras model mapping (N, 28, 28) float32 in [0, 1] to (N, 10) probabilities.
        images: (N, 28, 28) uint8 pixels (scaled by 1/255 here) or floats in [0, 1].
        labels: (N,) integer labels in 0..9.
        class_names: ten names shown in the report (default "0".."9").
        loss: one of LOSS_NAMES (default "categorical_crossentropy").
        batch_size: images per model call (default 1000).
    """
    class_names = validate_class_names(class_names)
    if loss not in LOSS_NAMES:
        raise ValueError(f"loss must be one of {', '.join(LOSS_NAMES)}; got {loss!r}.")
    scaled_images = _check_images(images)
    true_labels = _check_labels(labels, num_images=scaled_images.shape[0])
    _check_batch_size(batch_size)

    probabilities, loss_value = _run_model(model, scaled_images, batch_size, loss, true_labels)

    predicted_labels = probabilities.argmax(axis=1).astype(np.int64)
    confidences = probabilities.max(axis=1)
    matrix = confusion_matrix(true_labels, predicted_labels)
    per_class, macro_average, weighted_average = _class_scores(matrix, class_names)

    wrong = np.flatnonzero(predicted_labels != true_labels)
    # Stable sort on negated confidence: most confident mistakes first, ties by index.
    misclassified_indices = wrong[np.argsort(-confidences[wrong], kind="stable")].astype(np.int64)

    for array in (
        true_labels,
        predicted_labels,
        confidences,
        probabilities,
        matrix,
        misclassified_indices,
    ):
        array.flags.writeable = False
    return EvaluationReport(
        loss=loss_value,
        loss_name=loss,
        accuracy=float(np.mean(predicted_labels == true_labels)),
        class_names=class_names,
        confusion_matrix=matrix,
        per_class=per_class,
        macro_average=macro_average,
        weighted_average=weighted_average,
        true_labels=true_labels,
        predicted_labels=predicted_labels,
        confidences=confidences,
        probabilities=probabilities,
        misclassified_indices=misclassified_indices,
    )


def accuracy_under_noise(
    model: Any,
    images: np.ndarray,
    labels: np.ndarray,
    sigmas: Sequence[float],
    *,
    seed: int | None = 0,
    batch_size: int = 1000,
) -> list[NoiseAccuracy]:
    """Measure accuracy after adding Gaussian noise to the images, once per sigma.

    Noise comes from ``preprocess.add_gaussian_noise`` (result clipped to [0, 1]); every sigma
    uses the same seed, so the curves are repeatable.

    Args:
        model: a Keras model mapping (N, 28, 28) float32 in [0, 1] to (N, 10) probabilities.
        images: (N, 28, 28) uint8 pixels or floats in [0, 1].
        labels: (N,) integer labels in 0..9.
        sigmas: noise standard deviations, on the [0, 1] pixel scale; finite and >= 0.
        seed: seed for the noise (default 0; None: different noise every call).
        batch_size: images per model call (default 1000).
    """
    from mnist_core.reading.preprocess import add_gaussian_noise

    sigma_values = _check_sigmas(sigmas)
    scaled_images = _check_images(images)
    true_labels = _check_labels(labels, num_images=scaled_images.shape[0])
    _check_batch_size(batch_size)

    results = []
    for sigma in sigma_values:
        noisy_images = np.asarray(add_gaussian_noise(scaled_images, sigma, seed), dtype=np.float32)
        probabilities = _predict_probabilities(model, noisy_images, batch_size)
        accuracy = float(np.mean(probabilities.argmax(axis=1) == true_labels))
        results.append(NoiseAccuracy(sigma=sigma, accuracy=accuracy))
    return results


def confusion_matrix(true_labels: np.ndarray, predicted_labels: np.ndarray) -> np.ndarray:
    """Count (true, predicted) pairs into a (10, 10) int64 matrix, rows = true labels.

    Args:
        true_labels: (N,) integer labels in 0..9.
        predicted_labels: (N,) integer labels in 0..9.
    """
    pair_codes = np.asarray(true_labels, dtype=np.int64) * NUM_CLASSES + np.asarray(
        predicted_labels, dtype=np.int64
    )
    counts = np.bincount(pair_codes, minlength=NUM_CLASSES * NUM_CLASSES)
    return counts.reshape(NUM_CLASSES, NUM_CLASSES).astype(np.int64)


def _class_scores(
    matrix: np.ndarray, class_names: tuple[str, ...]
) -> tuple[tuple[ClassReport, ...], AverageScores, AverageScores]:
    """Per-class precision/recall/F1 and their macro and weighted averages.

    Undefined ratios (a class never predicted, or never present) count as 0.0, like
    scikit-learn's ``zero_division=0``. The macro average covers the classes that occur in the
    true or the predicted labels, as scikit-learn does when it infers the labels itself.
    """
    true_positives = np.diag(matrix).astype(np.float64)
    predicted_counts = matrix.sum(axis=0).astype(np.float64)
    supports = matrix.sum(axis=1)
    precision = _safe_divide(true_positives, predicted_counts)
    recall = _safe_divide(true_positives, supports.astype(np.float64))
    # 2TP / (2TP + FP + FN) equals the harmonic mean of precision and recall where both exist.
    f1 = _safe_divide(2 * true_positives, predicted_counts + supports)

    per_class = tuple(
        ClassReport(
            class_index=index,
            class_name=class_names[index],
            precision=float(precision[index]),
            recall=float(recall[index]),
            f1_score=float(f1[index]),
            support=int(supports[index]),
        )
        for index in range(NUM_CLASSES)
    )
    total_support = int(supports.sum())
    present = (supports > 0) | (predicted_counts > 0)
    macro_average = AverageScores(
        precision=float(precision[present].mean()),
        recall=float(recall[present].mean()),
        f1_score=float(f1[present].mean()),
        support=total_support,
    )
    weights = supports / total_support
    weighted_average = AverageScores(
        precision=float(np.sum(precision * weights)),
        recall=float(np.sum(recall * weights)),
        f1_score=float(np.sum(f1 * weights)),
        support=total_support,
    )
    return per_class, macro_average, weighted_average


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    result = np.zeros_like(numerator, dtype=np.float64)
    np.divide(numerator, denominator, out=result, where=denominator > 0)
    return result


def _predict_probabilities(model: Any, images: np.ndarray, batch_size: int) -> np.ndarray:
    probabilities, _ = _run_model(model, images, batch_size)
    return probabilities


def _run_model(
    model: Any,
    images: np.ndarray,
    batch_size: int,
    loss: str | None = None,
    true_labels: np.ndarray | None = None,
) -> tuple[np.ndarray, float | None]:
    """Return (N, 10) float32 probabilities and, when a loss is named, the mean loss."""
    import keras

    loss_function = keras.losses.get(loss) if loss is not None else None
    if loss in SPARSE_LOSSES:
        targets = true_labels.astype(np.float32)
    elif loss is not None:
        targets = np.eye(NUM_CLASSES, dtype=np.float32)[true_labels]
    batches = []
    loss_total = 0.0
    for start in range(0, images.shape[0], batch_size):
        stop = min(start + batch_size, images.shape[0])
        outputs = model(images[start:stop], training=False)
        probabilities = np.asarray(keras.ops.convert_to_numpy(outputs), dtype=np.float32)
        if probabilities.shape != (stop - start, NUM_CLASSES):
            raise ValueError(
                f"model must output {NUM_CLASSES} class probabilities per image, got output of "
                f"shape {probabilities.shape} for {stop - start} images."
            )
        batches.append(probabilities)
        if loss_function is not None:
            # The loss takes the model's output tensor, not the numpy copy: Keras' TensorFlow
            # backend reads the pre-activation logits attached to it, as model.evaluate does
            # (for binary_crossentropy after a softmax that even changes the value).
            per_example = loss_function(targets[start:stop], outputs)
            loss_total += float(np.sum(keras.ops.convert_to_numpy(per_example), dtype=np.float64))
    if loss_function is None:
        return np.concatenate(batches, axis=0), None
    # model.evaluate adds weight-regularization penalties to the reported loss.
    penalties = getattr(model, "losses", ())
    regularization = sum(float(keras.ops.convert_to_numpy(penalty)) for penalty in penalties)
    return np.concatenate(batches, axis=0), loss_total / images.shape[0] + regularization


def _check_images(images: np.ndarray) -> np.ndarray:
    """Return images as float32 in [0, 1], or raise ValueError."""
    array = np.asarray(images)
    if array.ndim != 3 or array.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"images must have shape (N, 28, 28), got {array.shape}.")
    if array.shape[0] == 0:
        raise ValueError("images must contain at least one image, got 0.")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255.0)
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(
            f"images must be uint8 pixels (0..255) or floats in [0, 1], got dtype {array.dtype}."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError("images must be finite floats in [0, 1], got NaN or infinite values.")
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"float images must lie in [0, 1], got values from {low:g} to {high:g}; "
            "pass uint8 pixels or divide by 255 first."
        )
    return array.astype(np.float32, copy=False)


def _check_labels(labels: np.ndarray, *, num_images: int) -> np.ndarray:
    """Return labels as a fresh int64 array, or raise ValueError."""
    array = np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(f"labels must have shape (N,), got {array.shape}.")
    if array.shape[0] != num_images:
        raise ValueError(
            f"labels must have one entry per image: got {array.shape[0]} labels for {num_images} images."
        )
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"labels must be integers 0..9, got dtype {array.dtype}.")
    low, high = int(array.min()), int(array.max())
    if low < 0 or high >= NUM_CLASSES:
        raise ValueError(
            f"labels must be integers 0..{NUM_CLASSES - 1}, got values from {low} to {high}."
        )
    return array.astype(np.int64)


def validate_class_names(class_names: Sequence[str] | None) -> tuple[str, ...]:
    """The ten class names as a tuple (the digits when None); ValueError for anything else."""
    if class_names is None:
        return DEFAULT_CLASS_NAMES
    if isinstance(class_names, str):
        raise ValueError(
            f"class_names must be a sequence of {NUM_CLASSES} strings, got the string {class_names!r}."
        )
    names = tuple(class_names)
    if len(names) != NUM_CLASSES or not all(isinstance(name, str) for name in names):
        raise ValueError(f"class_names must be {NUM_CLASSES} strings, got {names!r}.")
    return names


def _check_batch_size(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}.")


def _check_sigmas(sigmas: Sequence[float]) -> list[float]:
    if isinstance(sigmas, str | bytes):
        raise ValueError(f"sigmas must be a list of numbers, got {sigmas!r}.")
    try:
        values = sigmas.tolist() if isinstance(sigmas, np.ndarray) else list(sigmas)
    except TypeError:
        raise ValueError(f"sigmas must be a list of numbers, got {sigmas!r}.") from None
    if not values:
        raise ValueError(f"sigmas must contain at least one noise level, got {sigmas!r}.")
    checked = []
    for sigma in values:
        if isinstance(sigma, bool) or not isinstance(sigma, int | float | np.integer | np.floating):
            raise ValueError(f"sigmas must be numbers, got {sigma!r} in {sigmas!r}.")
        if not math.isfinite(float(sigma)) or float(sigma) < 0:
            raise ValueError(f"sigmas must be finite and >= 0, got {sigma!r} in {sigmas!r}.")
        checked.append(float(sigma))
    return checked


def _check_optional_label(field: str, label: int | None) -> None:
    if label is None:
        return
    if (
        isinstance(label, bool)
        or not isinstance(label, int | np.integer)
        or not 0 <= label < NUM_CLASSES
    ):
        raise ValueError(f"{field} must be None or an integer 0..{NUM_CLASSES - 1}, got {label!r}.")


def _average_to_dict(average: AverageScores) -> dict[str, float | int]:
    return {
        "precision": average.precision,
        "recall": average.recall,
        "f1_score": average.f1_score,
        "support": average.support,
    }
