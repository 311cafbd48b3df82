"""The confusion matrix of an evaluation as chart data: one record per cell, the worst mix-ups.

`confusion_matrix[true, predicted]` counts test images of class `true` that the model called
`predicted`: the diagonal holds the right answers, every other cell one kind of mistake.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mnist_core.data.format import NUM_CLASSES
from mnist_core.evaluation.evaluate import validate_class_names


def confusion_cells(
    confusion_matrix: np.ndarray, class_names: Sequence[str]
) -> list[dict[str, Any]]:
    """One record per cell of a 10x10 confusion matrix, for a heatmap.

    Args:
        confusion_matrix: (10, 10) counts, rows = true class, columns = predicted class.
        class_names: the ten class names.

    Returns:
        Records {"true_index", "true", "predicted_index", "predicted", "count", "correct",
        "share"}, share being the cell's count over the true class' count (the row).
    """
    matrix = _check_matrix(confusion_matrix)
    names = validate_class_names(class_names)
    row_totals = matrix.sum(axis=1)
    return [
        {
            "true_index": true_index,
            "true": names[true_index],
            "predicted_index": predicted_index,
            "predicted": names[predicted_index],
            "count": int(matrix[true_index, predicted_index]),
            "correct": true_index == predicted_index,
            "share": (
                float(matrix[true_index, predicted_index] / row_totals[true_index])
                if row_totals[true_index]
                else 0.0
            ),
        }
        for true_index in range(NUM_CLASSES)
        for predicted_index in range(NUM_CLASSES)
    ]


def most_confused_pairs(confusion_matrix: np.ndarray, limit: int = 5) -> list[tuple[int, int, int]]:
    """The off-diagonal cells with the most mistakes, largest first.

    Args:
        confusion_matrix: (10, 10) counts, rows = true class, columns = predicted class.
        limit: at most this many pairs (default 5).

    Returns:
        (true_index, predicted_index, count) for cells with at least one mistake; ties are
        ordered by true, then predicted index.
    """
    matrix = _check_matrix(confusion_matrix)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be an integer >= 0, got {limit!r}.")
    pairs = [
        (true_index, predicted_index, int(matrix[true_index, predicted_index]))
        for true_index in range(NUM_CLASSES)
        for predicted_index in range(NUM_CLASSES)
        if true_index != predicted_index and matrix[true_index, predicted_index] > 0
    ]
    pairs.sort(key=lambda pair: -pair[2])
    return pairs[:limit]


def _check_matrix(confusion_matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(confusion_matrix)
    if matrix.shape != (NUM_CLASSES, NUM_CLASSES):
        raise ValueError(
            f"confusion_matrix must have shape ({NUM_CLASSES}, {NUM_CLASSES}), got {matrix.shape}."
        )
    if not np.issubdtype(matrix.dtype, np.integer) or (matrix < 0).any():
        raise ValueError("confusion_matrix must hold counts (integers >= 0).")
    return matrix
