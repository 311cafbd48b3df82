"""App-test fixtures: one run log for the whole session (so the pages' engine, and the embedded
cluster it starts, are made once), and runs recorded without a cluster for pages that only read
them."""

import os
from pathlib import Path

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


APP_PATH = Path(__file__).resolve().parents[2] / "app.py"


@pytest.fixture(scope="session")
def open_page():
    """A function that opens the app in AppTest, as a visitor would, on one of its pages.

    open_page(page=None, *, user=None, **session_state) -> AppTest: `page` is a script of
    app_pages/ without ".py" (None: the start page); `user` is the visitor's name; the other
    keys are set in the session state after the first run (the start page resets some).
    The page is checked to have run without an exception.
    """

    def open_page(page: str | None = None, *, user: str | None = None, **session_state):
        from streamlit.testing.v1 import AppTest

        at = AppTest.from_file(str(APP_PATH), default_timeout=120)
        if user is not None:
            at.session_state["user_name"] = user
        at.run()
        for key, value in session_state.items():
            at.session_state[key] = value
        if page is not None:
            at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, [exception.value for exception in at.exception]
        return at

    return open_page


@pytest.fixture(scope="session")
def new_app():
    """A function that gives the app in AppTest before its first run (to set a link's query
    parameters first, say)."""

    def new_app():
        from streamlit.testing.v1 import AppTest

        return AppTest.from_file(str(APP_PATH), default_timeout=120)

    return new_app
