"""A run while it waits or trains: its place in line or its progress, Stop, the curves so far,
refreshed from the run log (a reload, or another tab of the same user, shows the same run)."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import streamlit as st

from app_glue.charts import show_curves
from app_glue.resources import (
    run_log,
    training_engine,
)
from mnist_core.runs.classroom import class_limits_text
from mnist_core.runs.database import RunLogError
from mnist_core.runs.record import (
    QUEUED,
)
from mnist_core.training.report import (
    line_text,
    progress_text,
    starting_text,
)

# The progress bar of a running run, once a second: each refresh only reads the run log, but
# each costs the student's browser about 0.1 s of CPU (measured: a Train page refreshed twice
# a second kept 0.39 of a core of chromium busy; with this and the curves' pace, 0.13-0.2).
LIVE_REFRESH_SECONDS = 1.0


# A place in line changes when a whole run ends: every 2 s is soon enough, and thirty waiting
# pages cost the server and each student's browser a quarter of the refreshes.
WAITING_REFRESH_SECONDS = 2.0


# The curves of a running run: a new point every 2 s is still live, and each redraw of two
# charts costs the student's browser far more than the progress bar's.
CURVES_REFRESH_SECONDS = 2.0


def show_live_run(run_id: str, *, key: str) -> None:
    """Place in line or progress, Stop and the curves so far, refreshed from the run log."""

    try:
        waiting = run_log().get_run(run_id).status == QUEUED
    except RunLogError:
        waiting = False  # the fragment says what is wrong

    @st.fragment(run_every=WAITING_REFRESH_SECONDS if waiting else LIVE_REFRESH_SECONDS)
    def live() -> None:
        try:
            run = run_log().get_run(run_id)
        except RunLogError as error:
            st.error(f"{error}")
            return
        if run.ended or (run.status == QUEUED) != waiting:
            st.rerun()  # ended, or out of the line: the page draws it at its new pace
        engine = training_engine()
        if engine is not None and engine.problem:
            st.warning(engine.problem, icon=":material/warning:")
        if run.status == QUEUED:
            place = engine.place_in_line(run.id) if engine is not None else None
            text = (
                line_text(place.position, place.users_ahead, place.expected_wait_seconds)
                if place is not None
                else "Waiting in line."
            )
            st.info(text, icon=":material/hourglass_top:")
            st.button(
                "Leave the line",
                key=f"{key}_leave",
                on_click=stop_run,
                args=(run.id,),
            )
            return
        bar_column, stop_column = st.columns([6, 1], vertical_alignment="bottom")
        progress = run.batch_progress()
        if progress is None:
            elapsed = time.time() - (run.started_at or time.time())
            bar_column.progress(0.0, text=starting_text(run.phase, elapsed))
        else:
            bar_column.progress(progress.fraction_done, text=progress_text(progress))
        stop_column.button(
            "Stop",
            icon=":material/stop_circle:",
            key=f"{key}_stop",
            on_click=stop_run,
            args=(run.id,),
            disabled=run.stop_requested,
            help="Ends the training after the current batch and keeps what the model learned.",
        )
        if run.stop_requested:
            st.caption("Stopping after this batch…")
        if run.class_limited:
            st.caption(f"Class mode: {class_limits_text(run.limits)}.")

    live()
    if waiting:
        return

    @st.fragment(run_every=CURVES_REFRESH_SECONDS)
    def live_curves() -> None:
        with contextlib.suppress(RunLogError):  # the fragment above says what is wrong
            show_curves(run_log().get_run(run_id), key=f"{key}_live")

    live_curves()


# More cluster problems than this are counted, not each said (a whole room of workers
# started from the wrong environment says the same thing thirty times).
SHOWN_CLUSTER_PROBLEMS = 3


def show_cluster_problems(engine: Any) -> None:
    """Each scheduler or worker of the engine's cluster that cannot train, one sentence each
    (which, what is missing, how to fix it); nothing without an engine."""
    sentences = engine.cluster_problems if engine is not None else ()
    for sentence in sentences[:SHOWN_CLUSTER_PROBLEMS]:
        st.warning(sentence, icon=":material/dns:")
    if len(sentences) > SHOWN_CLUSTER_PROBLEMS:
        st.caption(f"…and {len(sentences) - SHOWN_CLUSTER_PROBLEMS} more like these.")


def stop_run(run_id: str) -> None:
    """on_click: stop (or take out of the line) a run."""
    engine = training_engine()
    if engine is None:
        return
    try:
        engine.stop(run_id)
    except RunLogError as error:
        st.session_state["run_view_problem"] = str(error)
