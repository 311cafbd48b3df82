"""The models the pages use: the shared model picker, loading (once per server), labels.

A model is a saved model (by name) or a run's kept model ("run:<id>"); both are described by
their `ModelRecord` (the run that trained them), loaded once per server process
(`st.cache_resource`) and shared read-only by every session.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from app_glue.resources import run_log
from app_glue.user import current_user
from mnist_core.runs.record import run_id_of_model
from mnist_core.runs.saved_models import ModelRecord


@dataclass(frozen=True)
class ModelHandle:
    """A model ready to use, with what the pages need to know about it."""

    name: str
    model: Any
    record: ModelRecord

    @property
    def config(self) -> Any:
        """Its `ModelConfig`, or None when its sidecar has no usable one."""
        return self.record.config

    @property
    def dataset_name(self) -> str:
        """The dataset it reads and is tested on: MNIST for a model that learned the class's
        digits too (their test set is MNIST's)."""
        from mnist_core.data.format import base_dataset

        return base_dataset(self.record.dataset)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.record.class_names

    @property
    def test_accuracy(self) -> float | None:
        return self.record.test_accuracy

    @property
    def weight_summaries(self) -> Any:
        """One list of layer summaries an epoch, if kept."""
        return self.record.weight_summaries


@st.cache_resource(max_entries=16, show_spinner="Loading the model…")
def cached_stored_model(name: str, modified_ns: int) -> Any:
    # modified_ns is part of the cache key, so a re-saved model is loaded afresh.
    from mnist_core.base.keras_import import import_keras
    from mnist_core.modeling.store import load_model

    import_keras()
    return load_model(name)


def _my_kept_runs(limit: int = 20) -> list[Any]:
    from mnist_core.runs.database import RunLogError

    try:
        runs = run_log().list_runs(user=current_user(), limit=limit)
    except RunLogError:
        return []
    return [run for run in runs if run.ended and run.model_kept]


def model_names() -> list[str]:
    """Names the model pickers offer: my runs' kept models first, then the stored ones."""
    from mnist_core.modeling.store import list_models

    names = [run.model_name_in_pickers for run in _my_kept_runs()]
    chosen = st.session_state.get("model_name") or ""
    if run_id_of_model(chosen) is not None and chosen not in names:
        names.insert(0, chosen)  # opened from the Compare page: someone else's run
    return names + [entry.name for entry in list_models() if entry.is_valid]


def model_label(name: str) -> str:
    """How a picker shows a model name (runs by their label, preset and accuracy)."""
    run_id = run_id_of_model(name)
    if run_id is None:
        record = saved_records().get(name)
        return f"{name} ({record.saved_by})" if record is not None and record.saved_by else name
    from mnist_core.runs.database import RunLogError

    try:
        run = run_log().get_run(run_id)
    except RunLogError:
        return f"run {run_id}"
    accuracy = f", {run.test_accuracy:.1%}" if run.test_accuracy is not None else ""
    return f"run {run.id} · {run.display_name}{accuracy} ({run.user})"


def saved_records() -> dict[str, ModelRecord]:
    """The records of the usable saved models, by name."""
    from mnist_core.runs.saved_models import saved_model_records

    return saved_model_records()


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


def get_model(name: str) -> ModelHandle | None:
    """Load a model by name (or a run's kept model); on failure an error box and None."""
    run_id = run_id_of_model(name)
    if run_id is not None:
        from mnist_core.runs.database import RunLogError

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
        return ModelHandle(name, loaded, ModelRecord.from_run(run, summaries))
    from mnist_core.base.paths import models_directory
    from mnist_core.modeling.store import ModelStoreError

    path = models_directory() / f"{name}.keras"
    try:
        modified_ns = path.stat().st_mtime_ns
        loaded = cached_stored_model(name, modified_ns)
    except FileNotFoundError:
        st.error(f"No model called {name!r} is saved. Pick another one or train one.")
        return None
    except (ModelStoreError, ValueError) as error:
        st.error(f"{error}")
        return None
    return ModelHandle(name, loaded.model, ModelRecord.from_sidecar(loaded.metadata))


def stored_model_version(handle: ModelHandle) -> tuple[str, int] | None:
    """(path, modification time) of a model's file, to key shared caches; None else."""
    run_id = run_id_of_model(handle.name)
    if run_id is not None:
        from mnist_core.runs.database import RunLogError

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
