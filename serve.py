"""Serve the app, ready before its first visitor: `python serve.py [streamlit options]`.

`make run` starts the app this way. Streamlit has no start-up hook: a plain `streamlit run
app.py` imports TensorFlow and loads the default model only when the first visitor draws, and
that visitor (in a class: everyone, a few seconds after the teacher started the server) waits
for it. This launcher first starts a warm-up thread that does that work into the app's own
model cache (`app_glue.warm_up.warm_up_default_model`), then runs Streamlit in the same process,
the documented way (`streamlit.web.cli.main` with `sys.argv` set), with any options given
(`--server.port 8502`, ...).

It is the app's entry point, beside app.py and not part of the library (mnist_core never
imports Streamlit or the pages).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

_KEPT: list[object] = []  # the embedded cluster, alive as long as the server
APP_SCRIPT = Path(__file__).resolve().parent / "app.py"
WARM_UP_THREAD = "mnist-warm-up"
# Streamlit warns (here, at every start) when a thread without a session touches its API,
# as the model cache's spinner does: the warm-up thread never has a session.
STREAMLIT_CONTEXT_LOGGER = "streamlit.runtime.scriptrunner_utils.script_run_context"
# What the warm-up prints (stderr, in the server's log) when it is done, and when it failed.
WARM_UP_DONE = "serve.py: TensorFlow and the default model are ready"
WARM_UP_FAILED = "serve.py: the warm-up failed"


def start_training_cluster() -> None:
    """Start the embedded Dask cluster with the server (unless MNIST_DASK_SCHEDULER names one)
    and point the app at it by address: the same path as a real cluster. It ends with us."""
    from mnist_core.engine.cluster import (
        SCHEDULER_ENVIRONMENT_VARIABLE,
        ClusterUnavailableError,
        configured_scheduler_address,
        start_embedded_cluster,
    )

    if configured_scheduler_address() is not None:
        return
    try:
        cluster = start_embedded_cluster()
    except ClusterUnavailableError as error:
        print(f"serve.py: {error}", file=sys.stderr)
        return  # the Train page says so; drawing and evaluating work without it
    os.environ[SCHEDULER_ENVIRONMENT_VARIABLE] = cluster.address
    _KEPT.append(cluster)  # closed when this process exits (its stdin pipe closes)


def warm_up() -> None:
    """Import TensorFlow and Keras, load the default model into the app's cache, run it once;
    then connect the training engine (which also marks runs of a previous server
    interrupted)."""
    started = time.perf_counter()
    try:
        from app_glue.warm_up import (
            warm_up_default_model,
            warm_up_first_visit,
            warm_up_training_engine,
        )

        warm_up_default_model()
        warm_up_first_visit()
        warm_up_training_engine()
    except Exception as error:  # noqa: BLE001 - the app still works: it loads on first use
        print(f"{WARM_UP_FAILED} ({error}); the model loads on first use.", file=sys.stderr)
        return
    print(f"{WARM_UP_DONE} ({time.perf_counter() - started:.1f} s).", file=sys.stderr, flush=True)


def check_settings() -> None:
    """Refuse to start with a setting that cannot be used: a teacher key that is set but
    unusable (it would leave every student the teacher) or a bad time limit. Exits with the
    message that names the file or variable, the problem and the fix."""
    from mnist_core.runs.classroom import TeacherKeyError, configured_teacher_key
    from mnist_core.runs.limits import Limits

    try:
        configured_teacher_key()
        Limits.from_environment()
    except (TeacherKeyError, ValueError) as error:
        print(f"serve.py: not started. {error}", file=sys.stderr)
        sys.exit(2)


def main(streamlit_options: Sequence[str] | None = None) -> None:
    """Check the settings, start the warm-up thread, then run `streamlit run app.py`.

    Args:
        streamlit_options: options for `streamlit run` (default: sys.argv[1:]).
    """
    from streamlit.web import cli

    check_settings()
    options = list(sys.argv[1:] if streamlit_options is None else streamlit_options)
    logging.getLogger(STREAMLIT_CONTEXT_LOGGER).addFilter(
        lambda record: record.threadName != WARM_UP_THREAD
    )
    start_training_cluster()
    threading.Thread(target=warm_up, name=WARM_UP_THREAD, daemon=True).start()
    sys.argv = ["streamlit", "run", str(APP_SCRIPT), *options]
    sys.exit(cli.main())


if __name__ == "__main__":
    main()
