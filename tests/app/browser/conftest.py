"""Real-browser fixtures: the app served by `streamlit run`, and Debian's chromium via Playwright.

Playwright's own browser download is not reachable here, so the tests launch /usr/bin/chromium
(`apt-get install chromium`, or `make browser`). Without it the tests fail: a skipped browser
test would hide that the app was never tried in a browser.

The fixtures use `playwright.sync_api.sync_playwright` directly and have names of their own
(`app_url`, `chromium`, `app_page`), so pytest-playwright's fixtures (`browser`, `page`, ...)
are never involved. A failing test leaves a screenshot in test-artifacts/.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPOSITORY = Path(__file__).parents[3]
ARTIFACTS = REPOSITORY / "test-artifacts"
CHROMIUM_PATH = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}
SERVER_START_SECONDS = 60
# Playwright's timeout for every action and expectation (ms). The first prediction on a
# fresh server includes importing TensorFlow and loading the model (about 5 s on 2 cores).
DEFAULT_TIMEOUT_MS = 45_000


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().decode().strip() == "ok"
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """`streamlit run app.py` on a free port, stopped (by its own handle) after the session."""
    with _served_app() as url:
        yield url


@pytest.fixture
def fresh_app_url() -> Iterator[str]:
    """A server of the test's own, that no browser has visited yet."""
    with _served_app() as url:
        yield url


@pytest.fixture(scope="session")
def served_app():
    """A function giving a context manager: the app on a server of its own, started like
    `make run` (serve.py, its embedded cluster) with the given environment variables added;
    it yields (url, server process id)."""
    return _served_by_launcher


@contextlib.contextmanager
def _served_by_launcher(**environment: str) -> Iterator[tuple[str, int]]:
    with _served_app(launcher=True, **environment) as (url, pid):
        yield url, pid


@contextlib.contextmanager
def _served_app(*, launcher: bool = False, **extra_environment: str) -> Iterator[Any]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **extra_environment)
    start = (
        [sys.executable, "serve.py"]
        if launcher
        else [sys.executable, "-m", "streamlit", "run", "app.py"]
    )
    with tempfile.TemporaryFile(mode="w+") as log:
        server = subprocess.Popen(
            [
                *start,
                "--server.headless",
                "true",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--browser.gatherUsageStats",
                "false",
                "--server.fileWatcherType",
                "none",
            ],  # fmt: skip
            cwd=REPOSITORY,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + SERVER_START_SECONDS
            while not _healthy(url):
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"streamlit did not start on {url}:\n{log.read()[-3000:]}")
                time.sleep(0.2)
            yield (url, server.pid) if launcher else url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.fixture(scope="session")
def chromium():
    """Debian's chromium, launched once for the session through Playwright's sync API."""
    if not CHROMIUM_PATH.exists():
        pytest.fail(
            f"{CHROMIUM_PATH} is missing: the browser tests need Debian's chromium. "
            "Install it with `apt-get install chromium` (or `make browser`)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM_PATH), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def app_page(chromium, app_url, request):
    """A fresh browser tab (its own Streamlit session) on the app's start page, the Draw page."""
    from playwright.sync_api import expect

    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page.goto(app_url)
    try:
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is None or report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.name)
            try:
                page.screenshot(path=str(ARTIFACTS / f"{safe_name}.png"), full_page=True)
            except Exception as error:  # the page may be the reason for the failure
                print(f"could not save a screenshot: {error}")
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can see whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
