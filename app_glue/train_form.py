"""The Train page's form: its controls' values in the session state (`train_<field>`), presets
and links that set them all, the run it queues and the run it shows.

A control's value lives under `train_<field>` so that it persists across pages; any edit of a
model or training control turns the preset into "custom".
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from app_glue.resources import (
    run_log,
    training_engine,
)
from app_glue.user import current_user
from mnist_core.modeling.config import ModelConfig
from mnist_core.modeling.form import (
    TRAINING_IMAGE_CHOICES,
    config_from_form,
    form_fields,
    form_values,
)
from mnist_core.modeling.link import (
    CUSTOM_PRESET,
    settings_from_query,
)
from mnist_core.modeling.presets import get_preset
from mnist_core.runs.classroom import class_caps
from mnist_core.runs.database import RunLogError
from mnist_core.runs.limits import RunRefused
from mnist_core.runs.record import Run
from mnist_core.runs.request import RunRequest

PREFIX = "train_"


def init_train_form() -> None:
    """The Train page's session state; on the first visit, the controls from the link's
    settings when it has any, else from the class's preset. Later visits keep the user's
    values (they persist across pages)."""
    st.session_state.setdefault("train_run_id", None)  # the run this session shows
    st.session_state.setdefault("train_compare_when_done", None)  # [run, variant] to compare
    st.session_state.setdefault("train_link_problems", ())
    if st.session_state.get("train_form_ready"):
        return
    st.session_state["train_form_ready"] = True
    # In class mode the link is read against the sliders the page then shows (its caps).
    try:
        caps = class_caps(run_log())
    except RunLogError:
        caps = None  # the page says what is wrong with the run log
    link = settings_from_query(
        st.query_params.to_dict(),
        max_epochs=caps.max_epochs if caps else None,
        max_training_images=caps.max_training_images if caps else None,
    )
    st.session_state["train_simple_link"] = link.class_mode
    st.session_state["train_link_problems"] = link.problems
    apply_settings(link.config, link.preset, link.training_images)


def apply_settings(config: ModelConfig, preset: str, training_images: int) -> None:
    """Set every control from a config (a preset's, or a link's)."""
    st.session_state[f"{PREFIX}preset"] = preset
    st.session_state[f"{PREFIX}dataset"] = config.dataset
    st.session_state[f"{PREFIX}training_images"] = training_images
    for field, value in form_values(config).items():
        st.session_state[PREFIX + field] = value


def load_preset() -> None:
    """on_change of the preset: copy its values into the controls (before they are drawn)."""
    name = st.session_state[f"{PREFIX}preset"]
    if name == CUSTOM_PRESET:
        return
    for field, value in form_values(get_preset(name).config).items():
        st.session_state[PREFIX + field] = value


def mark_custom() -> None:
    """on_change of a model or training control: the preset becomes "custom"."""
    st.session_state[f"{PREFIX}preset"] = CUSTOM_PRESET


def control(widget: Any, label: str, field: str, **options: Any) -> Any:
    """Draw one model/training control, keyed train_<field>, that marks the preset custom."""
    return widget(
        label, key=PREFIX + field, on_change=mark_custom, persist_state="session", **options
    )


def form_value(field: str) -> Any:
    """The value of the control of one form field."""
    return st.session_state[PREFIX + field]


def form_config(dataset_name: str) -> ModelConfig:
    """The config the controls describe.

    Raises:
        ValueError: the settings do not make a network that can be trained.
    """
    return config_from_form({field: form_value(field) for field in form_fields()}, dataset_name)


def submit(config: ModelConfig, preset: str, training_images: int) -> None:
    """Queue the run on the engine; the live view below follows it."""
    engine = training_engine()
    if engine is None:
        return
    all_images = training_images >= TRAINING_IMAGE_CHOICES[-1]
    try:
        request = RunRequest(
            config,
            preset=None if preset == CUSTOM_PRESET else preset,
            training_images=None if all_images else training_images,
        )
        (run,) = engine.submit([request], user=current_user())
    except RunRefused as refusal:  # the server's rules: one waiting run, a network's size
        st.session_state["train_refusal"] = str(refusal)
        return
    except (RunLogError, ValueError) as error:
        st.error(f"The run was not queued: {error}")
        return
    st.session_state["train_run_id"] = run.id
    st.session_state["train_compare_when_done"] = None
    st.rerun()


def run_to_show() -> Run | None:
    """The run the page shows: the one this session started, else (a reload, another tab) the
    user's latest run; None when there is none or the run log cannot be read."""
    log = run_log()
    if st.session_state["train_run_id"]:
        try:
            return log.get_run(st.session_state["train_run_id"])
        except RunLogError:
            pass
    try:
        latest = log.latest_run(current_user())
    except RunLogError:
        return None
    if latest is not None:
        st.session_state["train_run_id"] = latest.id
    return latest
