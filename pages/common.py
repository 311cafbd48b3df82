"""Streamlit glue the pages share: cached datasets and models, the model picker, errors.

Datasets and stored models are loaded once per server process (`st.cache_resource`) and shared
read-only by every session; everything a user does lives in that user's `st.session_state`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import streamlit as st

from mnist_core.data import FASHION_MNIST_CLASS_NAMES, MNIST_CLASS_NAMES, Dataset

# The model trained in this browser session and not saved (yet) appears under this name.
SESSION_MODEL = "(this session's model)"

# Shared session state: every page may read these; app.py creates them.
SHARED_STATE_DEFAULTS: dict[str, Any] = {
    "model_name": "default",  # the model chosen on any page, kept across pages
    "session_result": None,  # this session's latest finished TrainingResult
    "session_result_saved_as": None,  # the name it was saved under, if it was
    "current_drawing": None,  # the latest preprocessed (28, 28) drawing from the Draw page
}


def ensure_entry_point() -> None:
    """Send a visit through app.py even when a fresh server is opened straight at a page's URL.

    Streamlit's first multipage design ran any file of a `pages/` folder beside the entry
    script on its own. Until app.py has called `st.navigation` once, a fresh server still does
    so for a direct link such as /evaluate: no shared state, the wrong sidebar. Every page
    calls this first; in that case it turns the old mode off and reruns, and the rerun goes
    through app.py, which shows the page that was asked for.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        # A session that already went through app.py has its state: rerunning it would
        # only drop the click that started this run (AppTest starts every run this way).
        if any(key not in st.session_state for key in SHARED_STATE_DEFAULTS):
            st.rerun()


def keep_keras_state_between_runs() -> None:
    """Stop Streamlit from calling `keras.backend.clear_session()` after every script run.

    Streamlit does so (with a full garbage collection and TensorFlow's kernel cache cleared)
    for scripts that build a model on every rerun. Here models are trained in background
    threads and shared by every session: clearing under them after each rerun of the live
    training view made a three-epoch training four times slower in the app than from the
    command line. Streamlit's other clean-up, closing pyplot figures, is kept.
    """
    from streamlit.runtime.scriptrunner import script_runner

    if getattr(script_runner._clean_problem_modules, "keeps_keras_state", False):
        return
    script_runner._clean_problem_modules = _close_pyplot_figures


def _close_pyplot_figures() -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


_close_pyplot_figures.keeps_keras_state = True  # type: ignore[attr-defined]


def init_shared_state() -> None:
    """Create the shared session-state keys (called by app.py on every run)."""
    for key, value in SHARED_STATE_DEFAULTS.items():
        st.session_state.setdefault(key, value)


def class_names_for(dataset_name: str) -> tuple[str, ...]:
    """The label names of a dataset."""
    return FASHION_MNIST_CLASS_NAMES if dataset_name == "fashion_mnist" else MNIST_CLASS_NAMES


@st.cache_resource(show_spinner="Loading the dataset…")
def _cached_dataset(name: str) -> Dataset:
    from mnist_core.data import load_dataset

    return load_dataset(name)


def get_dataset(name: str = "mnist") -> Dataset | None:
    """The named dataset, loaded once per server; on failure an error box and None."""
    from mnist_core.data import DatasetUnavailableError

    try:
        return _cached_dataset(name)
    except (DatasetUnavailableError, ValueError) as error:
        st.error(f"The {name} dataset is not available. {error}")
        return None


def dataset_choices() -> list[str]:
    """Datasets that can be loaded here (Fashion-MNIST only when its files are present)."""
    from mnist_core.data import dataset_available

    return [name for name in ("mnist", "fashion_mnist") if dataset_available(name)]


@st.cache_resource
def training_queue() -> Any:
    """The server's one line of training jobs (as many run at once as there are cores)."""
    from mnist_core.jobs import TrainingQueue

    return TrainingQueue()


@dataclass(frozen=True)
class ModelHandle:
    """A model ready to use, with what the pages need to know about it."""

    name: str
    model: Any
    config: Any  # ModelConfig, or None when the sidecar has no usable config
    metadata: dict[str, Any]
    dataset_name: str
    class_names: tuple[str, ...]
    test_accuracy: float | None


@st.cache_resource(max_entries=16, show_spinner="Loading the model…")
def _cached_stored_model(name: str, modified_ns: int) -> Any:
    # modified_ns is part of the cache key, so a re-saved model is loaded afresh.
    from mnist_core.backend import import_keras
    from mnist_core.store import load_model

    import_keras()
    return load_model(name)


def warm_up_default_model() -> None:
    """Load the default model into the shared model cache and run it once, before any visit.

    Called by `mnist_core.serve` in a thread of its own when the server starts (there is no
    session then). The first prediction and the first "why" of a model each trace a
    TensorFlow function: both are done here on a blank image, so that the first visitor's
    drawing is answered as fast as every later one.
    """
    import numpy as np

    from mnist_core.attribution import explain_drawing
    from mnist_core.predict import IMAGE_SHAPE, predict_image
    from mnist_core.store import DEFAULT_MODEL_NAME, models_directory

    path = models_directory() / f"{DEFAULT_MODEL_NAME}.keras"
    loaded = _cached_stored_model(DEFAULT_MODEL_NAME, path.stat().st_mtime_ns)
    blank = np.zeros(IMAGE_SHAPE, dtype=np.float32)
    predict_image(loaded.model, blank)
    explain_drawing(loaded.model, blank, 0)


def _handle(name: str, model: Any, metadata: dict[str, Any]) -> ModelHandle:
    from mnist_core.model import ModelConfig

    try:
        config = ModelConfig.from_dict(metadata.get("config") or {})
    except (TypeError, ValueError):
        config = None
    dataset_name = metadata.get("dataset") or (config.dataset if config else "mnist")
    accuracy = (metadata.get("metrics") or {}).get("test_accuracy")
    return ModelHandle(
        name=name,
        model=model,
        config=config,
        metadata=metadata,
        dataset_name=dataset_name,
        class_names=class_names_for(dataset_name),
        test_accuracy=float(accuracy) if isinstance(accuracy, int | float) else None,
    )


def model_names() -> list[str]:
    """Names the model pickers offer: this session's model first, then the stored ones."""
    from mnist_core.store import list_models

    names = [entry.name for entry in list_models() if entry.is_valid]
    if st.session_state.get("session_result") is not None:
        names.insert(0, SESSION_MODEL)
    return names


def broken_models() -> list[Any]:
    """Stored entries that cannot be loaded, with the reason."""
    from mnist_core.store import list_models

    return [entry for entry in list_models() if not entry.is_valid]


def get_model(name: str) -> ModelHandle | None:
    """Load a model by name (or this session's model); on failure an error box and None."""
    if name == SESSION_MODEL:
        result = st.session_state.get("session_result")
        if result is None:
            st.info("No model has been trained in this session yet: train one on the Train page.")
            return None
        metadata = {
            "config": result.config.to_dict(),
            "dataset": result.config.dataset,
            "metrics": result.metrics(),
            "history": [entry.to_dict() for entry in result.history],
        }
        return _handle(name, result.model, metadata)
    from mnist_core.store import ModelStoreError, models_directory

    path = models_directory() / f"{name}.keras"
    try:
        modified_ns = path.stat().st_mtime_ns
        loaded = _cached_stored_model(name, modified_ns)
    except FileNotFoundError:
        st.error(f"No model called {name!r} is saved. Pick another one or train one.")
        return None
    except (ModelStoreError, ValueError) as error:
        st.error(f"{error}")
        return None
    return _handle(name, loaded.model, loaded.metadata)


def stored_model_version(handle: ModelHandle) -> tuple[str, int] | None:
    """(path, modification time) of a saved model's file, to key shared caches; None else."""
    if handle.name == SESSION_MODEL:
        return None
    from mnist_core.store import MODEL_SUFFIX, models_directory

    path = models_directory() / f"{handle.name}{MODEL_SUFFIX}"
    try:
        return str(path.resolve()), path.stat().st_mtime_ns
    except OSError:
        return None


def enlarged_picture(image: Any, pixels: int) -> Any:
    """A 28x28 image (uint8, or floats in [0, 1]) enlarged so that its pixels stay sharp."""
    import numpy as np
    from PIL import Image

    if image.dtype != np.uint8:
        image = (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)
    return Image.fromarray(image).resize((pixels, pixels), Image.Resampling.NEAREST)


def model_picker(page: str, label: str = "Model") -> ModelHandle | None:
    """A model selectbox whose choice is shared by every page; returns the loaded model.

    Args:
        page: the page's prefix, which keys the widget (e.g. "draw").
        label: the selectbox label.
    """
    names = model_names()
    if not names:
        st.warning("No saved model yet: train one on the Train page and save it.")
        return None
    chosen = st.session_state.get("model_name")
    if chosen not in names:
        chosen = "default" if "default" in names else names[0]
    widget_key = f"{page}_model_name"
    st.session_state[widget_key] = chosen

    def remember() -> None:
        st.session_state["model_name"] = st.session_state[widget_key]

    st.selectbox(
        label,
        names,
        key=widget_key,
        on_change=remember,
        help="Saved models live in the models/ folder; a model trained on the Train page "
        "appears here as soon as it finishes.",
    )
    st.session_state["model_name"] = st.session_state[widget_key]
    return get_model(st.session_state[widget_key])
