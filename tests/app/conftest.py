"""App-test fixtures: one run log for the whole session (so the pages' engine, and the embedded
cluster it starts, are made once), and runs recorded without a cluster for pages that only read
them."""

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def app_run_log(tmp_path_factory):
    """The run log every page of this test session uses (MNIST_RUNS_DB)."""
    from mnist_core.runs.log import RunLog

    path = tmp_path_factory.mktemp("app_runs") / "runs.sqlite3"
    previous = os.environ.get("MNIST_RUNS_DB")
    os.environ["MNIST_RUNS_DB"] = str(path)
    yield RunLog(path)
    if previous is None:
        os.environ.pop("MNIST_RUNS_DB", None)
    else:
        os.environ["MNIST_RUNS_DB"] = previous
