"""The teacher's view of the class, as widgets: who is here, and the class board (each
student's best run, one click to open it in Compare), shown to the students when the teacher
says so. The queries are the core's (`runs.class_board`); the projector view draws the same
board in large type (`app_glue.class_projector`)."""

from __future__ import annotations

import datetime
from typing import Any

import pandas as pd
import streamlit as st

from app_glue.resources import run_log
from app_glue.user import current_user, teacher_allowed
from mnist_core.data.format import dataset_title
from mnist_core.runs.class_board import (
    PRESENT_SECONDS,
    BoardEntry,
    board_names,
    class_board,
    present_students,
)
from mnist_core.runs.class_settings import (
    BoardVisibility,
    board_visibility,
    set_board_visibility,
)
from mnist_core.runs.database import RunLogError

PREFIX = "class_"
# "Who is here": what a student without a finished run has as best accuracy.
NO_FINISHED_RUN = "no run yet"
# How often the teacher's tables refresh themselves (seconds).
REFRESH_SECONDS = 5.0


def show_present() -> None:
    """Everybody seen in the last hour but the teacher looking: runs, best accuracy, drawings;
    sortable by any column (click its header), refreshed every few seconds."""

    @st.fragment(run_every=REFRESH_SECONDS)
    def present() -> None:
        try:
            people = present_students(run_log(), viewer_id=current_user().id)
        except RunLogError as error:
            st.error(f"{error}")
            return
        minutes = int(PRESENT_SECONDS // 60)
        if not people:
            st.caption(f"Nobody else has been here in the last {minutes} minutes.")
            return
        training = sum(person.running > 0 for person in people)
        st.caption(
            f"{len(people)} here in the last {minutes} minutes besides you, {training} training "
            "now. Click a column's header to sort by it."
        )
        table = pd.DataFrame(
            {
                "name": person.name,
                "last seen": datetime.datetime.fromtimestamp(person.last_seen).strftime("%H:%M:%S"),
                "finished": person.finished,
                "running": person.running,
                "waiting": person.waiting,
                "best test accuracy": person.best_test_accuracy,
                "drawings": person.drawings,
                "shared": "yes" if person.sharing else "no",
            }
            for person in people
        )
        st.dataframe(
            table,
            hide_index=True,
            column_config={
                "best test accuracy": st.column_config.NumberColumn(format="percent"),
            },
            # A student who has only drawn so far has no accuracy: say so, not "None".
            placeholder=NO_FINISHED_RUN,
            key=f"{PREFIX}present_table",
        )

    present()


def board_rows(entries: list[BoardEntry], shown_names: dict[str, str]) -> pd.DataFrame:
    """The board as a table: rank, student, figures, network (the class's held-out writers'
    column only once a run was scored on them)."""
    table = pd.DataFrame(
        {
            "#": entry.rank,
            "student": shown_names[entry.run_id],
            "test accuracy": entry.test_accuracy,
            "our classmates": entry.class_test_accuracy,
            "network": entry.network,
            "parameters": entry.parameter_count,
            "seconds": entry.training_seconds,
            "trained on": dataset_title(entry.dataset),
        }
        for entry in entries
    )
    if all(entry.class_test_accuracy is None for entry in entries):
        table = table.drop(columns="our classmates")
    return table


def show_board(*, teacher: bool) -> None:
    """The class board, refreshed every few seconds: the teacher sees it always, with names;
    students see it when the teacher shows it (with names, or as "student 1…n"). A click on
    a row opens that run in Compare beside the viewer's own best."""
    visibility = _visibility()
    if not teacher and not visibility.shown:
        st.caption("Your teacher has not shown the class board yet.")
        return

    @st.fragment(run_every=REFRESH_SECONDS * 2)
    def board() -> None:
        try:
            entries = class_board(run_log())
        except RunLogError as error:
            st.error(f"{error}")
            return
        if not entries:
            st.caption("No run has finished yet: the board fills as runs end.")
            return
        me = current_user()
        names = board_names(entries, names=teacher or visibility.names, viewer_id=me.id)
        picked = st.dataframe(
            board_rows(entries, names),
            hide_index=True,
            on_select="rerun",
            selection_mode="single-row",
            column_config={
                "test accuracy": st.column_config.NumberColumn(
                    format="percent", help="On MNIST's 10,000 test digits."
                ),
                "our classmates": st.column_config.NumberColumn(
                    format="percent",
                    help="On the drawings of the classmates held out of the class's digits "
                    "(runs that were scored on them).",
                ),
                "parameters": st.column_config.NumberColumn(format="localized"),
                "seconds": st.column_config.NumberColumn(format="%.1f", help="Training seconds."),
            },
            # A new key after each click: back on this page, no row is still picked.
            key=f"{PREFIX}board_table_{st.session_state.get(f'{PREFIX}board_opened', 0)}",
        )
        st.caption("Click a row to open that run in Compare, beside your own best run.")
        rows = picked.selection.rows if picked is not None else []
        if rows:
            open_in_compare(entries[rows[0]].run_id, entries, me.id)

    board()


def open_in_compare(run_id: str, entries: list[BoardEntry], viewer_id: str) -> None:
    """Open a board run in Compare, beside the viewer's own best (or the board's best)."""
    mine = next((entry.run_id for entry in entries if entry.user_id == viewer_id), None)
    other = mine if mine not in (None, run_id) else entries[0].run_id
    st.session_state["compare_selection"] = [run_id] + ([other] if other != run_id else [])
    st.session_state[f"{PREFIX}board_opened"] = st.session_state.get(f"{PREFIX}board_opened", 0) + 1
    st.switch_page("app_pages/compare.py")


def _visibility() -> BoardVisibility:
    try:
        return board_visibility(run_log())
    except RunLogError:
        return BoardVisibility()


def show_board_switches() -> None:
    """The teacher's switches: show the board to the students, with names or as numbers."""
    visibility = _visibility()
    st.session_state[f"{PREFIX}board_shown"] = visibility.shown
    st.session_state[f"{PREFIX}board_names"] = visibility.names
    left, right = st.columns(2)
    left.toggle(
        "Show the board to the students",
        key=f"{PREFIX}board_shown",
        on_change=_switch_board,
        help="Off by default: only you see it. On: their Class page shows it too.",
    )
    right.toggle(
        "With their names",
        key=f"{PREFIX}board_names",
        on_change=_switch_board,
        disabled=not visibility.shown,
        help="Off: each student is “student 1…n” in board order, and sees which row is theirs.",
    )


def _switch_board() -> None:
    """on_change of the board switches (the teacher key is checked again here)."""
    if not teacher_allowed():
        st.session_state[f"{PREFIX}board_problem"] = "Unlock with the teacher key first."
        return
    set_board_visibility(
        run_log(),
        BoardVisibility(
            shown=bool(st.session_state[f"{PREFIX}board_shown"]),
            names=bool(st.session_state[f"{PREFIX}board_names"]),
        ),
    )


def projector_link() -> Any:
    """A button that opens the projector view in a new tab."""
    return st.link_button(
        "Open the projector view",
        "class?view=projector",
        icon=":material/cast:",
        help="For the classroom's screen: the board and the ten best runs' curves in large "
        "type, refreshing on their own. Unlock the key in that tab too to show names.",
    )
