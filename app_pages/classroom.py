"""Class: who is here, the class board, suggestions to everyone, the line, class mode, and what
the teacher key unlocks; `?view=projector` is the board for the classroom's screen."""

import streamlit as st

from app_glue.class_actions import show_action_message, show_record, show_suggest
from app_glue.class_board import (
    projector_link,
    show_board,
    show_board_switches,
    show_present,
)
from app_glue.class_line import show_line
from app_glue.class_projector import projector_asked, show_projector
from app_glue.models import saved_records
from app_glue.resources import run_log
from app_glue.teacher import show_key_section, show_people, switch_class_mode, teacher_key_set
from app_glue.user import current_user, teacher_allowed
from mnist_core.modeling.store import ModelStoreError
from mnist_core.runs.classroom import ModelProtectedError, class_mode_on
from mnist_core.runs.database import RunLogError
from mnist_core.runs.limits import ClassLimits
from mnist_core.runs.saved_models import delete_saved_model

PREFIX = "class_"
NEEDS_KEY = "Unlock with the teacher key to {what}."

# --- The projector view --------------------------------------------------------------------
if projector_asked():
    show_projector(teacher=teacher_allowed())
    if not teacher_allowed():
        with st.expander("Teacher key", icon=":material/key:"):
            show_key_section()
    st.stop()

st.title("Class")
st.caption(
    "Everybody's trainings share the class's workers and wait in one fair line: one run at a "
    "time per person, first come, first served."
)

teacher = show_key_section()
show_action_message()

try:
    log = run_log()
    class_mode = class_mode_on(log)
except RunLogError as error:
    st.error(f"{error}")
    st.stop()

# --- Who is here, the board ----------------------------------------------------------------
if teacher:
    st.header("Who is here")
    show_present()
st.header("The class board")
st.caption("Each student's best run, the best first: its test accuracy, its network, its time.")
show_board(teacher=teacher)
if teacher:
    show_board_switches()
    projector_link()

# --- Suggest to everyone -------------------------------------------------------------------
if teacher:
    st.header("Suggest to everyone")
    show_suggest()

# --- Class mode ----------------------------------------------------------------------------
st.header("Class mode")
st.caption(
    f"While class mode is on, every run is held to {ClassLimits().describe()}, whatever a "
    "page or a link asks for, and the Train page shows the simple controls only."
)
# The switch shows the server's value on every run, and acts only on a change made here.
st.session_state[f"{PREFIX}mode"] = class_mode
st.toggle(
    "Class mode on",
    key=f"{PREFIX}mode",
    disabled=not teacher,
    on_change=switch_class_mode,
)
if st.session_state.pop(f"{PREFIX}mode_changed", False):
    on = class_mode_on(log)
    if on and not teacher_key_set():
        st.warning(
            "Class mode is on, but no teacher key is set: any visitor can switch it off again. "
            "Set MNIST_TEACHER_KEY when you start the app for a class.",
            icon=":material/warning:",
        )
    st.toast(f"Class mode is {'on' if on else 'off'} for everybody.")
if not teacher:
    st.caption(NEEDS_KEY.format(what="switch class mode"))

# --- The line ------------------------------------------------------------------------------
st.header("The line")
show_line(teacher)
if not teacher:
    st.caption(NEEDS_KEY.format(what="see every name and cancel anyone's run"))

# --- People --------------------------------------------------------------------------------
if teacher:
    st.header("People")
    show_people()

# --- The lesson's record, tidying up -------------------------------------------------------
st.header("Tidy up")
if teacher:
    st.subheader("The lesson's record")
    show_record()
    st.subheader("Runs only")
    confirm = st.checkbox(
        "Yes, delete every ended run of the class (runs from the command line stay)",
        key=f"{PREFIX}confirm_clear",
    )
    if st.button("Clear the class's runs", disabled=not confirm, key=f"{PREFIX}clear"):
        try:
            removed = log.delete_runs()
        except RunLogError as error:
            st.error(f"{error}")
        else:
            st.success(f"Deleted {removed} run(s).")
else:
    st.caption(NEEDS_KEY.format(what="download the class's runs or clear the class's data"))

records = saved_records()
if records:
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    chosen = left.selectbox(
        "Delete a saved model",
        list(records),
        format_func=lambda name: (
            f"{name} (saved by {records[name].saved_by or 'the command line'})"
        ),
        key=f"{PREFIX}delete_name",
    )
    if right.button("Delete", icon=":material/delete:", key=f"{PREFIX}delete"):
        try:
            delete_saved_model(chosen, user=current_user(), teacher=teacher)
        except (ModelProtectedError, ModelStoreError) as error:
            st.error(f"{error}")
        else:
            st.success(f"Deleted “{chosen}”.")
