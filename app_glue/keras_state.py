"""Keras' state kept between script runs: the one patch of Streamlit's internals the app keeps."""

from __future__ import annotations

import sys

# Set to 0, the app leaves Streamlit's clear_session after every script run in place.
KEEP_KERAS_STATE_ENVIRONMENT_VARIABLE = "MNIST_KEEP_KERAS_STATE"


def keep_keras_state_between_runs() -> None:
    """Stop Streamlit from calling `keras.backend.clear_session()` after every script run.

    Streamlit does so (with a full garbage collection and TensorFlow's kernel cache cleared)
    for scripts that build a model on every rerun. Here the models (the default model, the
    ones being looked at) are loaded once and shared by every session. Training has moved to
    Dask workers, so this was measured again (bench/runner_settings.py, 2026-12-02): with
    Streamlit's clean-up back, a Train-page rerun took 2.16x as long (654 ms against 302 ms
    median), the Draw round trip 1.02x. It stays. Streamlit's other clean-up, closing pyplot
    figures, is kept.

    `MNIST_KEEP_KERAS_STATE=0` leaves Streamlit's clean-up as it is (the benchmark measures
    the app both ways).
    """
    import os

    if os.environ.get(KEEP_KERAS_STATE_ENVIRONMENT_VARIABLE, "").strip() == "0":
        return
    from streamlit.runtime.scriptrunner import script_runner

    if getattr(script_runner._clean_problem_modules, "keeps_keras_state", False):
        return
    script_runner._clean_problem_modules = _close_pyplot_figures


def _close_pyplot_figures() -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


_close_pyplot_figures.keeps_keras_state = True  # type: ignore[attr-defined]
