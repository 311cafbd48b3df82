"""Streamlit glue the pages share: cached datasets and models, the model picker, errors.

Datasets and stored models are loaded once per server process (`st.cache_resource`) and shared
read-only by every session; everything a user does lives in that user's `st.session_state`.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from mnist_core.data.datasets import Dataset
from mnist_core.data.format import (
    FASHION_MNIST_CLASS_NAMES,
    MNIST_CLASS_NAMES,
)

# A run's kept model appears in the model pickers under "run:<id>".
RUN_MODEL_PREFIX = "run:"
# The browser remembers its user in this cookie (the URL's ?user= is the fallback).
USER_COOKIE = "mnist_user"
USER_QUERY_PARAMETER = "user"
# Set to 0, the app leaves Streamlit's clear_session after every script run in place.
KEEP_KERAS_STATE_ENVIRONMENT_VARIABLE = "MNIST_KEEP_KERAS_STATE"

# Shared session state: every page may read these; app.py creates them.
SHARED_STATE_DEFAULTS: dict[str, Any] = {
    "model_name": "default",  # the model chosen on any page, kept across pages
    "current_drawing": None,  # the latest preprocessed (28, 28) drawing from the Draw page
    "user_name": None,  # who this browser is (see current_user)
    "teacher_unlocked": False,  # the teacher key was typed in this session
    "compare_selection": [],  # run ids picked for the Compare page
}


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


def init_shared_state() -> None:
    """Create the shared session-state keys (called by app.py on every run)."""
    for key, value in SHARED_STATE_DEFAULTS.items():
        st.session_state.setdefault(key, value)


def class_names_for(dataset_name: str) -> tuple[str, ...]:
    """The label names of a dataset."""
    return FASHION_MNIST_CLASS_NAMES if dataset_name == "fashion_mnist" else MNIST_CLASS_NAMES


@st.cache_resource(show_spinner="Loading the dataset…")
def _cached_dataset(name: str) -> Dataset:
    from mnist_core.data.datasets import load_dataset

    return load_dataset(name)


def get_dataset(name: str = "mnist") -> Dataset | None:
    """The named dataset, loaded once per server; on failure an error box and None."""
    from mnist_core.data.datasets import DatasetUnavailableError

    try:
        return _cached_dataset(name)
    except (DatasetUnavailableError, ValueError) as error:
        st.error(f"The {name} dataset is not available. {error}")
        return None


def dataset_choices() -> list[str]:
    """Datasets that can be loaded here (Fashion-MNIST only when its files are present)."""
    from mnist_core.data.datasets import dataset_available

    return [name for name in ("mnist", "fashion_mnist") if dataset_available(name)]


@st.cache_resource(show_spinner=False)
def _run_log(path: str) -> Any:
    from mnist_core.runs.log import RunLog

    return RunLog(path)


def run_log() -> Any:
    """The server's run log (one object per database path)."""
    from mnist_core.base.paths import default_runs_path

    return _run_log(str(default_runs_path()))


@st.cache_resource(show_spinner=False)
def _drawing_store(path: str) -> Any:
    from mnist_core.data.drawings import DrawingStore

    return DrawingStore(path)


def drawing_store() -> Any:
    """The server's store of users' labelled drawings (beside the run log)."""
    from mnist_core.base.paths import default_runs_path

    return _drawing_store(str(default_runs_path()))


@dataclass
class EngineHolder:
    """Holds the engine (Streamlit refuses to cache a Dask client directly)."""

    engine: Any


@st.cache_resource(show_spinner="Connecting to the training cluster…")
def _engine_holder(path: str, address: str | None) -> EngineHolder:
    from mnist_core.engine.engine import Engine

    return EngineHolder(Engine.connect(_run_log(path), address=address))


def training_engine() -> Any:
    """The server's training engine (started once); on failure an error box and None.

    The Draw and Evaluate pages never call this: they keep working when the cluster is down.
    """
    from mnist_core.base.paths import default_runs_path
    from mnist_core.engine.cluster import (
        ClusterUnavailableError,
        configured_scheduler_address,
    )
    from mnist_core.runs.log import RunLogError

    try:
        return _engine_holder(str(default_runs_path()), configured_scheduler_address()).engine
    except ClusterUnavailableError as error:
        st.error(f"Training is not available: {error}", icon=":material/cloud_off:")
    except RunLogError as error:
        st.error(f"Training is not available: {error}", icon=":material/database:")
    return None


_REMEMBER_USER_JS = """
export default function(component) {
    const { data } = component;
    if (!data || !data.name) { return; }
    const value = encodeURIComponent(data.name);
    document.cookie = `${data.cookie}=${value}; path=/; max-age=31536000; SameSite=Lax`;
    try { window.localStorage.setItem(data.cookie, data.name); } catch (error) {}
}
"""


def identify_user() -> str:
    """Who this browser is: the session's name, else the cookie, else `?user=`, else a new
    anonymous name; remembered in the browser (a cookie) on every run. Called by app.py."""
    from urllib.parse import unquote

    from mnist_core.runs.users import (
        anonymous_name,
        validate_user_name,
    )

    name = st.session_state.get("user_name")
    if not name:
        candidates = [
            st.query_params.get(USER_QUERY_PARAMETER),
            unquote(st.context.cookies.get(USER_COOKIE) or ""),
        ]
        for candidate in candidates:
            try:
                name = validate_user_name(candidate)
                break
            except ValueError:
                continue
        else:
            name = anonymous_name()
        st.session_state["user_name"] = name
    remember = st.components.v2.component("mnist_remember_user", js=_REMEMBER_USER_JS)
    with st.sidebar:
        remember(data={"name": name, "cookie": USER_COOKIE}, key="remember_user")
    return name


def change_user_name() -> None:
    """on_change of the sidebar's name field: adopt a valid name, else say why."""
    from mnist_core.runs.users import validate_user_name

    typed = st.session_state.get("user_name_field", "")
    try:
        st.session_state["user_name"] = validate_user_name(typed)
        st.session_state.pop("user_name_problem", None)
    except ValueError as error:
        st.session_state["user_name_problem"] = str(error)


# What the first visit of the Draw page imports that the model's warm-up does not (measured
# with `python -X importtime serve.py` and one visit: about 0.15 s, mostly the emoji and icon
# tables Streamlit reads the first time a button has an icon). A name that a later version no
# longer has is skipped: this only moves work earlier.
FIRST_VISIT_MODULES = (
    "streamlit.emojis",
    "streamlit.material_icon_names",
    "pyarrow.pandas_compat",
    "mnist_core.reading.tally",
    "mnist_core.runs.users",
)


def warm_up_first_visit() -> None:
    """Import what the first visit's page run would import, and Pillow's image plugins (see
    `FIRST_VISIT_MODULES`); called by `serve.py` after the model's warm-up."""
    import importlib
    import io

    from PIL import Image, ImageDraw

    from mnist_core.reading.preprocess import (
        load_image_file,
        preprocess_drawing_steps,
    )

    for name in FIRST_VISIT_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    Image.init()
    # A canvas-like PNG (a white stroke on transparent) through the Draw page's own path.
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).line([(140, 60), (140, 220)], fill=(255, 255, 255, 255), width=20)
    png = io.BytesIO()
    canvas.save(png, format="PNG")
    png.seek(0)
    preprocess_drawing_steps(load_image_file(png))


def warm_up_training_engine() -> None:
    """Connect the server's training engine before any visit (see `serve.py`)."""
    from mnist_core.base.paths import default_runs_path
    from mnist_core.engine.cluster import configured_scheduler_address

    _engine_holder(str(default_runs_path()), configured_scheduler_address())


def current_user() -> str:
    """This browser's user name (set by app.py on every run)."""
    return st.session_state.get("user_name") or "anonymous"


def teacher_allowed() -> bool:
    """Whether this session may do what the teacher key guards (always, when no key is set)."""
    from mnist_core.runs.classroom import configured_teacher_key

    return configured_teacher_key(_secrets()) is None or bool(
        st.session_state.get("teacher_unlocked")
    )


def _secrets() -> Any:
    try:
        return dict(st.secrets)
    except Exception:  # noqa: BLE001 - no secrets.toml is the usual case
        return None


def configured_teacher_key() -> str | None:
    """The teacher key of this server, if one is set."""
    from mnist_core.runs.classroom import configured_teacher_key as configured

    return configured(_secrets())


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
    weight_summaries: Any = None  # one list of layer summaries an epoch, if kept


@st.cache_resource(max_entries=16, show_spinner="Loading the model…")
def _cached_stored_model(name: str, modified_ns: int) -> Any:
    # modified_ns is part of the cache key, so a re-saved model is loaded afresh.
    from mnist_core.base.keras_import import import_keras
    from mnist_core.modeling.store import load_model

    import_keras()
    return load_model(name)


def warm_up_default_model() -> None:
    """Load the default model into the shared model cache and run it once, before any visit.

    Called by `serve.py` in a thread of its own when the server starts (there is no
    session then). The first prediction and the first "why" of a model each trace a
    TensorFlow function: both are done here on a blank image, so that the first visitor's
    drawing is answered as fast as every later one.
    """
    import numpy as np

    from mnist_core.base.paths import models_directory
    from mnist_core.data.format import IMAGE_SHAPE
    from mnist_core.modeling.store import DEFAULT_MODEL_NAME
    from mnist_core.reading.attribution import explain_drawing
    from mnist_core.reading.predict import predict_image

    path = models_directory() / f"{DEFAULT_MODEL_NAME}.keras"
    loaded = _cached_stored_model(DEFAULT_MODEL_NAME, path.stat().st_mtime_ns)
    blank = np.zeros(IMAGE_SHAPE, dtype=np.float32)
    predict_image(loaded.model, blank)
    explain_drawing(loaded.model, blank, 0)


def _handle(
    name: str, model: Any, metadata: dict[str, Any], weight_summaries: Any = None
) -> ModelHandle:
    from mnist_core.modeling.config import ModelConfig

    try:
        config = ModelConfig.from_dict(metadata.get("config") or {})
    except (TypeError, ValueError):
        config = None
    dataset_name = metadata.get("dataset") or (config.dataset if config else "mnist")
    accuracy = (metadata.get("metrics") or {}).get("test_accuracy")
    if weight_summaries is None:
        weight_summaries = (metadata.get("extras") or {}).get("weight_summaries")
    return ModelHandle(
        name=name,
        model=model,
        config=config,
        metadata=metadata,
        dataset_name=dataset_name,
        class_names=class_names_for(dataset_name),
        test_accuracy=float(accuracy) if isinstance(accuracy, int | float) else None,
        weight_summaries=weight_summaries,
    )


def _my_kept_runs(limit: int = 20) -> list[Any]:
    from mnist_core.runs.log import RunLogError

    try:
        runs = run_log().list_runs(user=current_user(), limit=limit)
    except RunLogError:
        return []
    return [run for run in runs if run.ended and run.model_kept]


def model_names() -> list[str]:
    """Names the model pickers offer: my runs' kept models first, then the stored ones."""
    from mnist_core.modeling.store import list_models

    names = [f"{RUN_MODEL_PREFIX}{run.id}" for run in _my_kept_runs()]
    chosen = st.session_state.get("model_name") or ""
    if chosen.startswith(RUN_MODEL_PREFIX) and chosen not in names:
        names.insert(0, chosen)  # opened from the Compare page: someone else's run
    return names + [entry.name for entry in list_models() if entry.is_valid]


def model_label(name: str) -> str:
    """How a picker shows a model name (runs by their label, preset and accuracy)."""
    if not name.startswith(RUN_MODEL_PREFIX):
        owner = _store_owners().get(name)
        return f"{name} ({owner})" if owner else name
    from mnist_core.runs.log import RunLogError

    run_id = name[len(RUN_MODEL_PREFIX) :]
    try:
        run = run_log().get_run(run_id)
    except RunLogError:
        return f"run {run_id}"
    what = run.label or run.preset or run.config.architecture
    accuracy = f", {run.test_accuracy:.1%}" if run.test_accuracy is not None else ""
    return f"run {run.id} · {what}{accuracy} ({run.user})"


def _store_owners() -> dict[str, str]:
    """Who saved each stored model (from its sidecar; the command line's have no owner)."""
    from mnist_core.modeling.store import list_models

    return {
        entry.name: owner
        for entry in list_models()
        if entry.is_valid and (owner := ((entry.metadata or {}).get("extras") or {}).get("user"))
    }


def broken_models() -> list[Any]:
    """Stored entries that cannot be loaded, with the reason."""
    from mnist_core.modeling.store import list_models

    return [entry for entry in list_models() if not entry.is_valid]


@st.cache_resource(max_entries=16, show_spinner="Loading the model…")
def _cached_run_model(path: str, modified_ns: int) -> Any:
    del modified_ns  # part of the cache key
    from mnist_core.base.keras_import import import_keras

    keras = import_keras()
    return keras.models.load_model(path, compile=False, safe_mode=True)


def run_model_metadata(run: Any) -> dict[str, Any]:
    """The sidecar-like metadata of a run's model (what the pages read of a saved model)."""
    return {
        "config": run.config.to_dict(),
        "dataset": run.dataset,
        "metrics": run.metrics,
        "history": list(run.history),
        "run_id": run.id,
        "user": run.user,
        "preset": run.preset,
        "train_images": run.train_images,
    }


def get_model(name: str) -> ModelHandle | None:
    """Load a model by name (or a run's kept model); on failure an error box and None."""
    if name.startswith(RUN_MODEL_PREFIX):
        from mnist_core.runs.log import RunLogError

        run_id = name[len(RUN_MODEL_PREFIX) :]
        try:
            run = run_log().get_run(run_id)
            path = Path(run.model_path or "")
            loaded = _cached_run_model(str(path), path.stat().st_mtime_ns)
            summaries = run_log().weight_summaries(run_id)
        except RunLogError as error:
            st.error(f"{error}")
            return None
        except (OSError, ValueError) as error:
            st.error(
                f"The model of run {run_id} is no longer kept ({type(error).__name__}). "
                "Pick another model, or train the run again."
            )
            return None
        return _handle(name, loaded, run_model_metadata(run), summaries)
    from mnist_core.base.paths import models_directory
    from mnist_core.modeling.store import ModelStoreError

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
    """(path, modification time) of a model's file, to key shared caches; None else."""
    if handle.name.startswith(RUN_MODEL_PREFIX):
        run_id = handle.name[len(RUN_MODEL_PREFIX) :]
        from mnist_core.runs.log import RunLogError

        try:
            path = run_log().model_path_for(run_id)
            return str(path.resolve()), path.stat().st_mtime_ns
        except (OSError, RunLogError):
            return None
    from mnist_core.base.paths import models_directory
    from mnist_core.modeling.store import MODEL_SUFFIX

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
        format_func=model_label,
        help="Saved models live in the models/ folder; your runs' models (“run …”) appear "
        "here as soon as they finish.",
    )
    st.session_state["model_name"] = st.session_state[widget_key]
    return get_model(st.session_state[widget_key])
