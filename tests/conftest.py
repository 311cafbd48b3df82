"""Shared fixtures: the real datasets (loaded once per test session) and small subsets."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session", autouse=True)
def isolated_run_log(tmp_path_factory):
    """Every training a test starts (the CLI's `train` records its run) goes to a run log of
    the test session, never to the one in the shared data directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MNIST_RUNS_DB", str(tmp_path_factory.mktemp("run_log") / "runs.sqlite3"))
        yield


@pytest.fixture(scope="session")
def mnist():
    """The full, verified MNIST dataset (from the project's cache)."""
    from mnist_core.data.datasets import load_dataset

    return load_dataset("mnist")


@pytest.fixture(scope="session")
def tiny_mnist(mnist):
    """A few hundred images: enough for one quick epoch."""
    return mnist.subset(train_size=600, test_size=200, seed=0)
