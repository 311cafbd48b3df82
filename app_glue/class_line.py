"""The line of everybody's runs on the Class page, refreshed every 2 s: one table however long
it is, the viewer's own Cancel buttons, and the teacher's cancelling of anyone's run."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_glue.resources import training_engine
from app_glue.user import current_user, teacher_allowed
from mnist_core.runs.classroom import TEACHER_STOPPED_REASON
from mnist_core.runs.database import RunLogError
from mnist_core.runs.line import LinePlace
from mnist_core.runs.record import RUNNING, Run
from mnist_core.training.report import format_duration

PREFIX = "class_"
# Rows of the line's table on screen before it scrolls.
LINE_ROWS_TALL = 12


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
    if engine is not None and teacher_allowed():
        gone = engine.cancel_waiting(user_id, reason=f"{TEACHER_STOPPED_REASON} It had not begun.")
        st.toast(f"{gone} waiting run(s) taken out of the line.")


def stop_run(run_id: str) -> None:
    """on_click: stop one run: the viewer's own, or anyone's for the teacher (the run then
    tells its student that the teacher stopped it)."""
    engine = training_engine()
    if engine is None:
        return
    run = engine.run_log.get_run(run_id)
    if run.owned_by(current_user()):
        engine.stop(run_id)
    elif teacher_allowed():
        engine.stop(run_id, reason=TEACHER_STOPPED_REASON)


@st.fragment(run_every=2.0)
def show_line(teacher: bool) -> None:
    """The line, worked out once however long it is, with names for the teacher only."""
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
                on_click=stop_run,
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
        right.button("Cancel it", key=f"{PREFIX}cancel_chosen", on_click=stop_run, args=(which,))
