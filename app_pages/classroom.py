"""Class: the line of runs, class mode, and what the teacher key unlocks."""

import pandas as pd
import streamlit as st

from app_glue.models import saved_records
from app_glue.resources import (
    run_log,
    training_engine,
)
from app_glue.teacher import show_key_section, show_people, switch_class_mode, teacher_key_set
from app_glue.user import (
    current_user,
)
from mnist_core.modeling.store import (
    ModelStoreError,
)
from mnist_core.runs.classroom import (
    TEACHER_STOPPED_REASON,
    ModelProtectedError,
    class_mode_on,
)
from mnist_core.runs.database import RunLogError
from mnist_core.runs.limits import ClassLimits
from mnist_core.runs.line import LinePlace
from mnist_core.runs.record import RUNNING, Run
from mnist_core.runs.saved_models import delete_saved_model
from mnist_core.training.report import format_duration

PREFIX = "class_"
# Rows of the line's table on screen before it scrolls.
LINE_ROWS_TALL = 12

st.title("Class")
st.caption(
    "Everybody's trainings share the class's workers and wait in one fair line: one run at a "
    "time per person, first come, first served."
)

teacher = show_key_section()

try:
    log = run_log()
    class_mode = class_mode_on(log)
except RunLogError as error:
    st.error(f"{error}")
    st.stop()

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
    st.caption("Unlock with the teacher key to switch class mode.")

# --- The line ------------------------------------------------------------------------------
st.header("The line")


@st.fragment(run_every=2.0)
def show_line() -> None:
    engine = training_engine()
    if engine is None:
        return
    try:
        snapshot = engine.line()  # the whole line worked out once, however long it is
    except RunLogError as error:
        st.error(f"{error}")
        return
    st.caption(
        f"{len(snapshot.running)} training, {len(snapshot.queued)} waiting, on "
        f"{snapshot.workers} worker(s)."
    )
    if not snapshot.line:
        st.caption("Nobody is training right now.")
        return
    if teacher and snapshot.queued:
        waiting_users = {run.owner_id: run.user for run in snapshot.queued}
        left, middle, right = st.columns([1, 2, 1], vertical_alignment="bottom")
        left.button(
            "Cancel every waiting run",
            key=f"{PREFIX}cancel_waiting",
            on_click=cancel_waiting,
            args=(None,),
        )
        who = middle.selectbox(
            "…or the waiting runs of",
            list(waiting_users),
            format_func=waiting_users.get,
            key=f"{PREFIX}cancel_whose",
        )
        right.button(
            "Cancel theirs", key=f"{PREFIX}cancel_theirs", on_click=cancel_waiting, args=(who,)
        )
    me = current_user()
    # One table however long the line: its cost hardly grows with the line (a button a row
    # would make the page's every refresh cost more with each run waiting).
    st.dataframe(
        pd.DataFrame(
            {
                "place": position,
                "who": run.user if (teacher or run.owned_by(me)) else "a classmate",
                "run": run.display_name,
                "state": line_state(run, snapshot.places.get(run.id)),
            }
            for position, run in enumerate(snapshot.line, start=1)
        ),
        hide_index=True,
        height=min(LINE_ROWS_TALL, len(snapshot.line)) * 35 + 38,
        key=f"{PREFIX}line_table",
    )
    for run in snapshot.line:
        if run.owned_by(me):
            st.button(
                f"Cancel my run: {run.display_name}",
                key=f"{PREFIX}cancel_{run.id}",
                on_click=engine.stop,
                args=(run.id,),
            )
    if teacher:
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        labels = {
            run.id: f"{position}. {run.user}: {run.display_name}"
            for position, run in enumerate(snapshot.line, start=1)
        }
        which = left.selectbox(
            "Cancel one run", list(labels), format_func=labels.get, key=f"{PREFIX}cancel_which"
        )
        right.button(
            "Cancel it",
            key=f"{PREFIX}cancel_chosen",
            on_click=engine.stop,
            args=(which,),
            kwargs={"reason": TEACHER_STOPPED_REASON},
        )


def line_state(run: Run, place: LinePlace | None) -> str:
    """What a run in the line is doing, in words: training and how far, or waiting and how long."""
    if run.status == RUNNING:
        progress = run.batch_progress()
        return f"training, {progress.fraction_done:.0%}" if progress else "starting"
    if place is not None and place.expected_wait_seconds is not None:
        return f"waiting, about {format_duration(place.expected_wait_seconds)}"
    return "waiting"


def cancel_waiting(user_id: str | None) -> None:
    """on_click: take every waiting run (or every one of a student's) out of the line."""
    engine = training_engine()
    if engine is not None:
        gone = engine.cancel_waiting(user_id, reason=f"{TEACHER_STOPPED_REASON} It had not begun.")
        st.toast(f"{gone} waiting run(s) taken out of the line.")


show_line()
if not teacher:
    st.caption("Unlock with the teacher key to see every name and cancel anyone's run.")

# --- People --------------------------------------------------------------------------------
if teacher:
    st.header("People")
    show_people()

# --- Clearing and saved models -------------------------------------------------------------
st.header("Tidy up")
if teacher:
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
    st.caption("Unlock with the teacher key to clear the class's runs.")


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
