"""The lesson "Our own digits" on a page: one click queues its three runs, the page follows
them, then shows the three-by-two table and the sentences computed from it
(`teaching.class_lesson`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_glue.resources import run_log, training_engine
from app_glue.run_live import LIVE_REFRESH_SECONDS
from app_glue.user import current_user
from mnist_core.runs.database import RunLogError
from mnist_core.runs.limits import RunRefused
from mnist_core.runs.record import Run
from mnist_core.teaching.class_lesson import (
    LESSON_NAME,
    TITLE,
    WHAT_TO_LOOK_FOR,
    lesson_conclusions,
    lesson_requests,
    lesson_table,
)

PREFIX = "digits_"


def start_lesson() -> None:
    """on_click: queue the lesson's three runs as one request."""
    engine = training_engine()
    if engine is None:
        return
    try:
        runs = engine.submit(lesson_requests(), user=current_user())
    except (RunRefused, RunLogError, ValueError) as error:
        st.session_state[f"{PREFIX}lesson_problem"] = f"The lesson was not started: {error}"
        return
    st.session_state[f"{PREFIX}lesson_request"] = runs[0].request_id


def lesson_runs() -> list[Run]:
    """The runs of this user's latest run of the lesson (the one just started, if any)."""
    log = run_log()
    request = st.session_state.get(f"{PREFIX}lesson_request")
    if request is None:
        mine = log.list_runs(user=current_user(), limit=100, include_curves=False)
        request = next((run.request_id for run in mine if run.lesson == LESSON_NAME), None)
    if request is None:
        return []
    return log.list_runs(request_id=request, include_hidden=True, include_curves=False)


def show_table(runs: list[Run]) -> None:
    """The three-by-two table: a row a training, a column a test."""
    rows = lesson_table(runs)
    count = next((row.classmates_count for row in rows if row.classmates_count), None)
    classmates = (
        f"our held-out classmates ({count} drawings)" if count else "our held-out classmates"
    )
    st.dataframe(
        pd.DataFrame(
            {
                "trained on": row.label,
                "MNIST's test set (10,000 digits)": row.mnist,
                classmates: row.classmates,
                "state": row.status or "–",
            }
            for row in rows
        ),
        hide_index=True,
        column_config={
            "MNIST's test set (10,000 digits)": st.column_config.NumberColumn(format="percent"),
            classmates: st.column_config.NumberColumn(format="percent"),
        },
        key=f"{PREFIX}lesson_table",
    )


def show_lesson() -> None:
    """The lesson's button, then its table and conclusions (live while its runs train)."""
    st.caption(WHAT_TO_LOOK_FOR)
    st.button(
        "Run the lesson: MNIST alone, our digits alone, both",
        type="primary",
        icon=":material/play_arrow:",
        key=f"{PREFIX}lesson_start",
        on_click=start_lesson,
    )
    problem = st.session_state.pop(f"{PREFIX}lesson_problem", None)
    if problem:
        st.warning(problem, icon=":material/block:")
    try:
        runs = lesson_runs()
    except RunLogError as error:
        st.error(f"{error}")
        return
    if not runs:
        return
    active = any(run.active for run in runs)

    @st.fragment(run_every=LIVE_REFRESH_SECONDS if active else None)
    def results() -> None:
        try:
            now = lesson_runs()
        except RunLogError as error:
            st.error(f"{error}")
            return
        if active and not any(run.active for run in now):
            st.rerun()  # all ended: once more without the timer
        st.subheader(TITLE)
        show_table(now)
        if any(run.active for run in now):
            st.caption(
                "The runs are training (see the Class page's line); the table fills as they end."
            )
        for sentence in lesson_conclusions(now):
            st.markdown(f"- {sentence}")

    results()
