"""Class: the line of runs, class mode, and what the teacher key unlocks."""

import streamlit as st

from app_glue.models import saved_records
from app_glue.resources import (
    run_log,
    training_engine,
)
from app_glue.run_queries import runs_in_line
from app_glue.user import (
    configured_teacher_key,
    current_user,
    teacher_allowed,
)
from mnist_core.modeling.store import (
    ModelStoreError,
)
from mnist_core.runs.classroom import (
    ModelProtectedError,
    class_mode_on,
    set_class_mode,
    teacher_key_matches,
)
from mnist_core.runs.database import RunLogError
from mnist_core.runs.limits import ClassLimits
from mnist_core.runs.record import RUNNING
from mnist_core.runs.saved_models import delete_saved_model
from mnist_core.training.report import format_duration

PREFIX = "class_"
st.session_state.setdefault(f"{PREFIX}no_key_noted", False)

st.title("Class")
st.caption(
    "Everybody's trainings share the class's workers and wait in one fair line: one run at a "
    "time per person, first come, first served."
)

key = configured_teacher_key()
if key is None:
    st.info(
        "No teacher key is set on this server, so everything on this page is open to whoever "
        "uses it (fine for a single user at home). For a class, start the app with "
        "`MNIST_TEACHER_KEY=...` or `teacher_key` in `.streamlit/secrets.toml`.",
        icon=":material/lock_open:",
    )
elif not st.session_state.get("teacher_unlocked"):
    with st.form(f"{PREFIX}unlock"):
        typed = st.text_input("Teacher key", type="password", key=f"{PREFIX}typed_key")
        if st.form_submit_button("Unlock", icon=":material/key:"):
            if teacher_key_matches(key, typed):
                st.session_state["teacher_unlocked"] = True
                st.rerun()
            else:
                st.error("That is not the teacher key. Type it again (it is case-sensitive).")
    st.caption("The key stays in this browser tab only: it never goes into a link.")
else:
    st.success("Teacher key unlocked in this tab.", icon=":material/key:")
    if st.button("Lock again", key=f"{PREFIX}lock"):
        st.session_state["teacher_unlocked"] = False
        st.rerun()
teacher = teacher_allowed()

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
wanted = st.toggle(
    "Class mode on", value=class_mode, key=f"{PREFIX}mode", disabled=not teacher
)
if teacher and wanted != class_mode:
    set_class_mode(log, wanted)
    if wanted and key is None and not st.session_state[f"{PREFIX}no_key_noted"]:
        st.session_state[f"{PREFIX}no_key_noted"] = True
        st.warning(
            "Class mode is on, but no teacher key is set: any visitor can switch it off again. "
            "Set MNIST_TEACHER_KEY when you start the app for a class.",
            icon=":material/warning:",
        )
    st.toast(f"Class mode is {'on' if wanted else 'off'} for everybody.")
if not teacher:
    st.caption("Unlock with the teacher key to switch class mode.")

# --- The line ------------------------------------------------------------------------------
st.header("The line")


@st.fragment(run_every=2.0)
def show_line() -> None:
    engine = training_engine()
    try:
        line = runs_in_line()
    except RunLogError as error:
        st.error(f"{error}")
        return
    running = [run for run in line if run.status == RUNNING]
    queued = [run for run in line if run.status != RUNNING]
    workers = engine.worker_threads() if engine is not None else 0
    st.caption(
        f"{len(running)} training, {len(queued)} waiting, on {workers} worker(s)."
    )
    if not line:
        st.caption("Nobody is training right now.")
        return
    for position, run in enumerate(line, start=1):
        mine = run.user == current_user()
        who = run.user if (teacher or mine) else "a classmate"
        what = run.label or run.preset or run.config.architecture
        if run.status == RUNNING:
            progress = run.batch_progress()
            state = (
                f"training, {progress.fraction_done:.0%}"
                if progress is not None
                else "starting"
            )
        else:
            place = engine.place_in_line(run.id) if engine is not None else None
            wait = (
                f", about {format_duration(place.expected_wait_seconds)} to wait"
                if place is not None and place.expected_wait_seconds is not None
                else ""
            )
            state = f"waiting{wait}"
        columns = st.columns([1, 3, 3, 1], vertical_alignment="center")
        columns[0].write(f"{position}.")
        columns[1].write(f"**{who}**: {what}")
        columns[2].write(state)
        if (teacher or mine) and engine is not None:
            columns[3].button(
                "Cancel", key=f"{PREFIX}cancel_{run.id}", on_click=engine.stop, args=(run.id,)
            )


show_line()
if not teacher:
    st.caption("Unlock with the teacher key to see every name and cancel anyone's run.")

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
        format_func=lambda name: f"{name} (saved by {records[name].saved_by or 'the command line'})",
        key=f"{PREFIX}delete_name",
    )
    if right.button("Delete", icon=":material/delete:", key=f"{PREFIX}delete"):
        try:
            delete_saved_model(chosen, user=current_user(), teacher=teacher)
        except (ModelProtectedError, ModelStoreError) as error:
            st.error(f"{error}")
        else:
            st.success(f"Deleted “{chosen}”.")
