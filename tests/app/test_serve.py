"""The launcher (`python serve.py`): the app, with the default model loaded at start.

The speed it buys (the first visitor's prediction as fast as a later one's) is measured in
`make bench` (bench/cold_start.py); these tests check that the work is really done at start,
into the cache the pages use, and that the launcher serves the app as `streamlit run` does.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from serve import WARM_UP_DONE

REPOSITORY = Path(__file__).parents[2]
START_SECONDS = 240  # a busy 2-core machine imports TensorFlow slowly


def test_the_first_visits_imports_are_done_at_start():
    """Every module named exists (a renamed one would be skipped silently otherwise)."""
    code = (
        "import sys\n"
        "from app_glue.warm_up import FIRST_VISIT_MODULES, warm_up_first_visit\n"
        "warm_up_first_visit()\n"
        "missing = [name for name in FIRST_VISIT_MODULES if name not in sys.modules]\n"
        "assert not missing, missing\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPOSITORY, check=True, timeout=120)


def test_warm_up_loads_the_default_model_into_the_pages_cache_and_runs_it():
    from app_glue.models import cached_stored_model
    from app_glue.warm_up import warm_up_default_model
    from mnist_core.base.paths import models_directory

    warm_up_default_model()

    modified_ns = (models_directory() / "default.keras").stat().st_mtime_ns
    loaded = cached_stored_model("default", modified_ns)
    assert cached_stored_model("default", modified_ns) is loaded  # a cache hit
    # Both TensorFlow functions a drawing needs are already traced on the cached model.
    assert loaded.model.predict_function is not None
    assert loaded.model._mnist_core_integrated_gradients is not None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.cluster  # serve.py starts the embedded Dask cluster
def test_the_launcher_serves_the_app_and_warms_up_at_start():
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile(mode="w+") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "serve.py",
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
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + START_SECONDS
            output = ""
            while WARM_UP_DONE not in output:
                assert server.poll() is None, f"the launcher exited:\n{output}"
                assert time.monotonic() < deadline, f"no warm-up in {START_SECONDS} s:\n{output}"
                time.sleep(0.5)
                log.seek(0)
                output = log.read()
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as reply:
                assert reply.read().decode().strip() == "ok"
            with urllib.request.urlopen(f"{url}/", timeout=10) as reply:
                assert reply.status == 200
            assert "ScriptRunContext" not in output and "Traceback" not in output, output
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
