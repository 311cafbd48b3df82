"""Looking at a dataset: array statistics, random samples, label counts and pixel histograms.

The Data page shows what the notebooks print before they train: the shape, dtype and range of
each array, a few images with their labels, how many images each class has, and what scaling
does to the pixel values. Everything here is plain numpy and cheap enough to run on every rerun.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mnist_core.data.datasets import Dataset

ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")


def describe_arrays(dataset: Dataset) -> list[dict[str, Any]]:
    """One row per array of the dataset: its name, shape, dtype, smallest and largest value.

    Args:
        dataset: the dataset to describe.
    """
    rows = []
    for name in ARRAY_NAMES:
        array = getattr(dataset, name)
        rows.append(
            {
                "array": name,
                "shape": tuple(int(size) for size in array.shape),
                "dtype": str(array.dtype),
                "min": array.min().item() if array.size else None,
                "max": array.max().item() if array.size else None,
            }
        )
    return rows


def describe_values(values: np.ndarray) -> str:
    """The dtype and the range of an array's values, as the Data page says them: "uint8, 0 to
    255", "float32, 0 to 1".

    Args:
        values: a non-empty array of numbers.
    """
    array = np.asarray(values)
    if array.size == 0:
        raise ValueError(f"values must hold at least one number; got shape {array.shape}.")
    return f"{array.dtype}, {array.min().item():g} to {array.max().item():g}"


def sample_indices(total: int, count: int, seed: int) -> np.ndarray:
    """`count` different random indices into an array of `total` items, in random order.

    Args:
        total: number of items to choose from, at least 1.
        count: number of indices wanted; at most `total` are returned.
        seed: the random seed; the same seed gives the same indices.
    """
    if isinstance(total, bool) or not isinstance(total, int | np.integer) or total < 1:
        raise ValueError(f"total must be an integer >= 1; got {total!r}.")
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 1:
        raise ValueError(f"count must be an integer >= 1; got {count!r}.")
    random = np.random.default_rng(seed)
    return random.choice(total, size=min(int(count), int(total)), replace=False)


def label_counts(labels: np.ndarray, class_names: tuple[str, ...]) -> list[dict[str, Any]]:
    """How many examples each class has: one row per class (label, class_name, count, share).

    Args:
        labels: integer labels of shape (N,), values 0..len(class_names) - 1.
        class_names: the name of each label value.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be integers of shape (N,); got dtype {labels.dtype}, "
            f"shape {labels.shape}."
        )
    if labels.size and int(labels.max()) >= len(class_names):
        raise ValueError(
            f"labels hold {int(labels.max())} but there are only {len(class_names)} class_names."
        )
    counts = np.bincount(labels, minlength=len(class_names))
    total = max(1, int(labels.size))
    return [
        {
            "label": label,
            "class_name": class_names[label],
            "count": int(counts[label]),
            "share": int(counts[label]) / total,
        }
        for label in range(len(class_names))
    ]


def pixel_histogram(
    images: np.ndarray, bins: int = 32, value_range: tuple[float, float] = (0.0, 255.0)
) -> list[dict[str, float]]:
    """Histogram of all pixel values: one row per bin (start, end, count).

    Args:
        images: pixel values of any shape (uint8 0..255, or floats after scaling).
        bins: number of equal-width bins (default 32).
        value_range: the (low, high) range the bins cover (default (0, 255); use (0, 1)
            for scaled images).
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be an integer >= 1; got {bins!r}.")
    low, high = value_range
    if not low < high:
        raise ValueError(f"value_range must be (low, high) with low < high; got {value_range!r}.")
    counts, edges = np.histogram(np.asarray(images).ravel(), bins=bins, range=(low, high))
    return [
        {"start": float(edges[index]), "end": float(edges[index + 1]), "count": int(count)}
        for index, count in enumerate(counts)
    ]


def enlarge_image(image: np.ndarray, factor: int) -> np.ndarray:
    """Enlarge a grey image by repeating every pixel `factor` times in both directions.

    Nearest-neighbour enlarging keeps the pixels sharp, so a 28x28 image shows its pixels.

    Args:
        image: a 2-D image, uint8 (0..255) or float in [0, 1].
        factor: how many screen pixels each image pixel becomes along each side, >= 1.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (height, width); got shape {image.shape}.")
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be an integer >= 1; got {factor!r}.")
    if np.issubdtype(image.dtype, np.floating):
        image = np.rint(np.clip(image, 0.0, 1.0) * 255.0)
    image = image.astype(np.uint8)
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def flattened_strip(image: np.ndarray, height: int = 12) -> np.ndarray:
    """One image as the single row of pixels a dense layer reads, made `height` pixels tall.

    Args:
        image: a (28, 28) image, uint8 or float in [0, 1].
        height: how tall to draw the row of 784 pixels (default 12).
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (height, width); got shape {image.shape}.")
    if isinstance(height, bool) or not isinstance(height, int) or height < 1:
        raise ValueError(f"height must be an integer >= 1; got {height!r}.")
    row = image.reshape(1, -1)
    return enlarge_image(row, 1).repeat(height, axis=0)
