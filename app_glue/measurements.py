"""What is computed about a model once: its test report, its accuracy under noise, the model that
returns every layer's output.

Per saved model file for everyone (keyed on the file and its modification time, so that a
re-saved model is measured afresh), per session for a model without a file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from app_glue.models import (
    ModelHandle,
    stored_model_version,
)


@st.cache_resource(max_entries=32, show_spinner=False)
def _shared_result(kind: str, path: str, modified_ns: int, _compute: Callable[[], Any]) -> Any:
    # Every session measuring the same saved model shares one result.
    return _compute()


def measured(handle: ModelHandle, kind: str, compute: Callable[[], Any], *, state_key: str) -> Any:
    """`compute()` for this model, computed once (see the module's docstring).

    Args:
        handle: the model.
        kind: what is measured ("report", "noise_curve", ...).
        compute: measures it; what it raises goes to the caller.
        state_key: the session-state key of this session's results (the page's, e.g.
            "evaluate_results"): a dict of them for one model.
    """
    results = st.session_state.get(state_key)
    if results is None or results["model"] is not handle.model:
        results = {"model": handle.model}
        st.session_state[state_key] = results
    if kind not in results:
        version = stored_model_version(handle)
        results[kind] = _shared_result(kind, *version, compute) if version else compute()
    return results[kind]


def is_measured(handle: ModelHandle, kind: str, *, state_key: str) -> bool:
    """Whether `measured` has this model's `kind` in this session already."""
    results = st.session_state.get(state_key)
    return results is not None and results["model"] is handle.model and kind in results


def activation_model(handle: ModelHandle) -> Any:
    """The model that returns every layer's output of the chosen model, built once; it shares
    the model's weights."""
    from mnist_core.evaluation.inspection import build_activation_model

    return measured(
        handle,
        "activation_model",
        lambda: build_activation_model(handle.model),
        state_key="inside_activation_models",
    )
