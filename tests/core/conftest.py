"""Fixtures of the core tests: a Dask cluster started as the README's recipe says."""

from __future__ import annotations

import pytest
from dask_recipe import (
    free_port,
    outside_directory,
    start_scheduler,
    start_worker,
    stop,
    wait_for_worker_named,
)


@pytest.fixture(scope="session")
def recipe_cluster(tmp_path_factory):
    """A scheduler and one worker on 127.0.0.1, started the README's way; yields
    (scheduler address, the worker's address, the directory they run in)."""
    directory = outside_directory(tmp_path_factory.mktemp("recipe-cluster"))
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = start_scheduler(port, directory)
    worker = start_worker(address, directory, "lab-1")
    try:
        worker_address = wait_for_worker_named(address, "lab-1")
        yield address, worker_address, directory
    finally:
        stop(worker, scheduler)
