"""mnist_core.evaluation.confusion: the confusion matrix as heatmap records and its worst mix-ups."""

import numpy as np
import pytest

from mnist_core.evaluation.confusion import (
    confusion_cells,
    most_confused_pairs,
)

NAMES = tuple(str(digit) for digit in range(10))


def matrix_with(cells):
    matrix = np.diag(np.full(10, 50)).astype(np.int64)
    for (true_index, predicted_index), count in cells.items():
        matrix[true_index, predicted_index] = count
    return matrix


def test_one_record_per_cell_with_names_and_row_share():
    matrix = matrix_with({(5, 3): 10})
    cells = confusion_cells(matrix, NAMES)
    assert len(cells) == 100
    cell = cells[5 * 10 + 3]
    assert cell == {
        "true_index": 5,
        "true": "5",
        "predicted_index": 3,
        "predicted": "3",
        "count": 10,
        "correct": False,
        "share": pytest.approx(10 / 60),
    }
    assert cells[0]["correct"] is True


def test_empty_row_has_zero_shares():
    matrix = np.zeros((10, 10), dtype=np.int64)
    assert {cell["share"] for cell in confusion_cells(matrix, NAMES)} == {0.0}


def test_most_confused_pairs_largest_first_without_the_diagonal():
    matrix = matrix_with({(4, 9): 7, (7, 2): 7, (3, 5): 2, (1, 1): 999})
    assert most_confused_pairs(matrix, limit=2) == [(4, 9, 7), (7, 2, 7)]
    assert most_confused_pairs(matrix) == [(4, 9, 7), (7, 2, 7), (3, 5, 2)]
    assert most_confused_pairs(matrix_with({})) == []


@pytest.mark.parametrize(
    ("matrix", "names", "message"),
    [
        (np.zeros((9, 10), dtype=np.int64), NAMES, "shape"),
        (np.full((10, 10), 0.5), NAMES, "counts"),
        (np.zeros((10, 10), dtype=np.int64), NAMES[:9], "10 strings"),
        (np.zeros((10, 10), dtype=np.int64), "0123456789", "10 strings"),
    ],
)
def test_bad_inputs_raise_clear_errors(matrix, names, message):
    with pytest.raises(ValueError, match=message):
        confusion_cells(matrix, names)


def test_bad_limit_is_rejected():
    with pytest.raises(ValueError, match="limit"):
        most_confused_pairs(matrix_with({}), limit=-1)
