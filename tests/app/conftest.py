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


@pytest.fixture(scope="session", autouse=True)
def full_error_details():
    """Exceptions in AppTest keep their message: the app's config redacts them for visitors
    (client.showErrorDetails = "none"), which would leave a failing test unreadable."""
    from streamlit import config

    previous = config.get_option("client.showErrorDetails")
    config.set_option("client.showErrorDetails", "full")
    yield
    config.set_option("client.showErrorDetails", previous)


APP_PATH = Path(__file__).resolve().parents[2] / "app.py"


@pytest.fixture(scope="session")
def open_page():
    """A function that opens the app in AppTest, as a visitor would, on one of its pages.

    open_page(page=None, *, user=None, query=None, **session_state) -> AppTest: `page` is a
    script of app_pages/ without ".py" (None: the start page); `user` is the visitor's name
    (the browser of `browser_token(user)`, which holds that name); `query` the link's query
    parameters; the other keys are set in the session state after the first run (the start
    page resets some). The page is checked to have run without an exception.
    """

    def open_page(
        page: str | None = None,
        *,
        user: str | None = None,
        query: dict | None = None,
        **session_state,
    ):
        from streamlit.testing.v1 import AppTest

        at = AppTest.from_file(str(APP_PATH), default_timeout=120)
        for name, value in (query or {}).items():
            at.query_params[name] = value
        if user is not None:
            at.session_state["user_token"] = browser_token(user)
            app_user(user)
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


def browser_token(name: str) -> str:
    """The cookie token of the test browser of a visitor called `name` (one browser a name)."""
    import base64
    import hashlib

    return base64.urlsafe_b64encode(hashlib.sha256(name.encode()).digest()[:24]).decode()


def app_user(name: str):
    """The `User` of the test browser of `name`, holding that name on the app's server."""
    from mnist_core.base.paths import default_runs_path
    from mnist_core.runs.log import RunLog
    from mnist_core.runs.users import UserDirectory, user_id_of

    users = UserDirectory(RunLog(default_runs_path()).database)
    return users.claim_name(user_id_of(browser_token(name)), name)


@pytest.fixture(scope="session")
def app_user_of():
    """A function: the `User` of the test browser of a visitor's name (see `open_page`)."""
    return app_user


@pytest.fixture(scope="session")
def meant_pills():
    """A function giving the Draw page's "Was it right?" in AppTest: a new widget (key) after
    every tap (`app_glue.drawing.meant_key`)."""

    def meant_pills(at):
        return at.pills(key=f"draw_meant_{at.session_state['draw_meant_round']}")

    return meant_pills


@pytest.fixture(scope="session")
def probability_bars():
    """A function giving the probability bars on an AppTest page (`st.html` blocks,
    `app_glue.probability_chart`)."""
    from app_glue.probability_chart import BARS_CLASS

    def probability_bars(at):
        return [block for block in at.get("html") if f'class="{BARS_CLASS}"' in block.proto.body]

    return probability_bars


@pytest.fixture
def train_page_in_class_mode(new_app, app_run_log):
    """A function opening the Train page from a link (its query parameters) with class mode on;
    class mode is off again after the test."""
    from mnist_core.runs.classroom import set_class_mode

    def train_page_in_class_mode(**query: str):
        at = new_app()
        for name, value in query.items():
            at.query_params[name] = value
        at.run()
        at.switch_page("app_pages/train.py").run()
        return at

    set_class_mode(app_run_log, True)
    yield train_page_in_class_mode
    set_class_mode(app_run_log, False)
