"""The `prepare-data` command: load a dataset, verify it and cache it."""

from __future__ import annotations

import argparse
from typing import Any

from mnist_core.cli.common import load_dataset_quietly
from mnist_core.data.datasets import (
    cache_path,
)
from mnist_core.data.format import DATASET_NAMES


def register(subparsers: Any) -> None:
    """Add `prepare-data` to the command line."""
    prepare = subparsers.add_parser(
        "prepare-data",
        help="load a dataset, verify its checksums and cache it",
        description=(
            "Load a dataset from the cache, Keras' loader or the offline copy, verify it "
            "against the reference checksums and cache it under the data directory "
            "($MNIST_DATA_DIR, default <repo>/data)."
        ),
    )
    prepare.add_argument(
        "--dataset", choices=DATASET_NAMES, default="mnist", help="dataset (default: mnist)"
    )
    prepare.set_defaults(handler=prepare_data)


def prepare_data(args: argparse.Namespace) -> int:
    """Load, verify and cache one dataset; print one line saying where it came from.

    Args:
        args: Parsed arguments with `dataset`, one of DATASET_NAMES.
    """
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
