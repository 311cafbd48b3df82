"""The Train page's "Your teacher suggests: … [Load these settings]": the teacher's suggestion
(`runs.class_settings`), looked for every few seconds, offered and never applied without the
student's click; and the class's digits as a dataset choice, with what they still lack."""

from __future__ import annotations

import streamlit as st

from app_glue.resources import class_drawings, run_log, user_directory
from app_glue.train_form import apply_settings
from app_glue.user import current_user
from mnist_core.data.class_split import class_readiness
from mnist_core.data.drawings import DrawingStoreError
from mnist_core.data.format import CLASS_DATASET_NAMES
from mnist_core.runs.class_settings import current_suggestion
from mnist_core.runs.database import RunLogError

PREFIX = "train_"
# A suggestion reaches every open Train page within this time (the issue asks for 5 s).
SUGGESTION_REFRESH_SECONDS = 3.0


def load_suggestion(suggestion_id: str) -> None:
    """on_click: load the teacher's suggestion into the controls (if it is still the one)."""
    suggestion = current_suggestion(run_log())
    if suggestion is None or suggestion.id != suggestion_id:
        st.session_state[f"{PREFIX}suggestion_gone"] = True
        return
    apply_settings(suggestion.config, suggestion.preset, suggestion.training_images)
    st.session_state[f"{PREFIX}suggestion_loaded"] = suggestion.id
    st.session_state[f"{PREFIX}suggestion_redraw"] = True


def not_now(suggestion_id: str) -> None:
    """on_click: hide this suggestion (a new one shows again)."""
    st.session_state[f"{PREFIX}suggestion_hidden"] = suggestion_id


@st.fragment(run_every=SUGGESTION_REFRESH_SECONDS)
def show_suggestion() -> None:
    """The teacher's suggestion, if there is one this student has not loaded or hidden; also
    notes that the student is here (for the teacher's "who is here")."""
    try:
        user_directory().sign_in(current_user().id)  # written at most every 30 s
        suggestion = current_suggestion(run_log())
    except RunLogError:
        return
    if st.session_state.pop(f"{PREFIX}suggestion_redraw", False):
        st.rerun(scope="app")  # the controls outside this fragment show the loaded settings
    if st.session_state.pop(f"{PREFIX}suggestion_gone", False):
        st.warning("Your teacher withdrew that suggestion; your settings are unchanged.")
    if suggestion is None:
        return
    if st.session_state.get(f"{PREFIX}suggestion_loaded") == suggestion.id:
        st.caption(f"Loaded your teacher's suggestion: {suggestion.describe()}.")
        return
    if st.session_state.get(f"{PREFIX}suggestion_hidden") == suggestion.id:
        return
    with st.container(border=True, key=f"{PREFIX}suggestion"):
        st.markdown(f":material/campaign: **Your teacher suggests:** {suggestion.describe()}.")
        with st.container(horizontal=True):
            st.button(
                "Load these settings",
                type="primary",
                key=f"{PREFIX}suggestion_load",
                on_click=load_suggestion,
                args=(suggestion.id,),
            )
            st.button(
                "Not now",
                key=f"{PREFIX}suggestion_not_now",
                on_click=not_now,
                args=(suggestion.id,),
            )
        st.caption("Your own settings stay as they are unless you load these.")


def training_dataset_choices(loadable: list[str]) -> list[str]:
    """The Train page's datasets: those this server can load, and the class's digits (which
    need MNIST: its test set scores every run)."""
    return [*loadable, *CLASS_DATASET_NAMES] if "mnist" in loadable else loadable


def show_class_readiness(dataset: str) -> bool:
    """For a dataset of the class's digits, whether they are enough and what they lack;
    returns whether a run on `dataset` can be queued as far as the class's drawings go."""
    if dataset not in CLASS_DATASET_NAMES:
        return True
    try:
        drawings = class_drawings().list_drawings(images=False)
    except DrawingStoreError as error:
        st.error(f"{error}")
        return False
    readiness = class_readiness(drawings)
    if readiness.ready:
        st.caption(
            f"{readiness.reason} The run records exactly which drawings it used; see them on "
            "the Our digits page."
        )
    else:
        st.warning(readiness.reason, icon=":material/draw:")
    return readiness.ready
