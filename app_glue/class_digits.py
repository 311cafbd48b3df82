"""The class's own digits, as widgets: the "Share with my class" switch, the counts per digit
and per student, a grid of the drawings per digit (one composed picture a digit), removing
drawings from the class's data (the teacher any, a student their own), and the downloads.

The rules are the core's (`data.class_drawings`, `data.class_split`); each action checks who
may do it again when it acts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd
import streamlit as st

from app_glue.pictures import enlarged_picture, mosaic
from app_glue.resources import class_drawings, user_directory
from app_glue.user import current_user, teacher_allowed
from mnist_core.data.class_drawings import ClassDrawing
from mnist_core.data.class_split import (
    class_npz,
    class_readiness,
    class_zip,
    held_out_writers,
    pseudonyms,
)
from mnist_core.data.drawings import DrawingStoreError
from mnist_core.runs.database import RunLogError

PREFIX = "digits_"
# Tiles a row of a digit's grid, and the most drawings a removal list shows at once.
GRID_COLUMNS = 24
REMOVAL_TILES = 30
THUMBNAIL_SIZE = 56


def _say(kind: str, text: str, where: str = "message") -> None:
    st.session_state[f"{PREFIX}{where}"] = (kind, text)


def show_message(where: str = "message") -> None:
    """What the last action did, once: sharing's at the top ("message"), a removal's beside
    the drawings ("removal")."""
    message = st.session_state.pop(f"{PREFIX}{where}", None)
    if message is not None:
        (st.success if message[0] == "success" else st.error)(message[1])


# --- Sharing -------------------------------------------------------------------------------
def switch_sharing(key: str) -> None:
    """on_change of a "Share with my class" switch: share this user's drawings, or take them
    all out of the class's data for future runs."""
    shared = bool(st.session_state[key])
    try:
        class_drawings().set_sharing(current_user().id, shared)
    except (DrawingStoreError, ValueError) as error:
        _say("error", f"{error}")
        return
    _say(
        "success",
        "Your drawings are shared with your class: they help train its runs, under your name "
        "for your teacher only."
        if shared
        else "Your drawings are no longer shared: runs from now on leave them out.",
    )


def show_sharing_switch(key: str) -> None:
    """The "Share with my class" switch (off until the student turns it on)."""
    try:
        shared = class_drawings().is_sharing(current_user().id)
    except DrawingStoreError as error:
        st.error(f"{error}")
        return
    st.session_state[key] = shared
    st.toggle(
        "Share my drawings with my class",
        key=key,
        on_change=switch_sharing,
        args=(key,),
        help="Your labelled drawings (Draw page's “Was it right?”, uploads on Teach), those to "
        "come too, join the class's digits that everyone can train on. Your teacher sees they "
        "are yours; classmates do not. Switch off to take them out of future runs.",
    )


# --- Counts and the grid -------------------------------------------------------------------
def writer_names(writers: Sequence[str], *, teacher: bool) -> dict[str, str]:
    """How each writer is shown: their name for the teacher, a pseudonym for everyone else,
    "you" for the viewer."""
    me = current_user().id
    shown = pseudonyms(writers)
    if teacher:
        try:
            known = {user.id: user.name for user in user_directory().list_users()}
        except RunLogError:
            known = {}
        shown = {writer: known.get(writer, shown[writer]) for writer in writers}
    return {writer: "you" if writer == me else name for writer, name in shown.items()}


def show_counts(drawings: Sequence[ClassDrawing], *, teacher: bool) -> None:
    """Drawings of each digit, and of each student by digit (who is held out to test on)."""
    per_digit = Counter(drawing.label for drawing in drawings)
    st.dataframe(
        pd.DataFrame(
            [[per_digit.get(digit, 0) for digit in range(10)]],
            columns=[str(d) for d in range(10)],
            index=["drawings"],
        ),
        key=f"{PREFIX}per_digit",
    )
    writers = sorted({drawing.writer_id for drawing in drawings})
    if not writers:
        return
    names = writer_names(writers, teacher=teacher)
    held = held_out_writers(writers)
    by_writer: dict[str, Counter[int]] = {writer: Counter() for writer in writers}
    for drawing in drawings:
        by_writer[drawing.writer_id][drawing.label] += 1
    table = pd.DataFrame(
        {
            "student": names[writer],
            "part": "held out to test" if writer in held else "to learn from",
            **{str(digit): by_writer[writer][digit] for digit in range(10)},
            "drawings": sum(by_writer[writer].values()),
        }
        for writer in sorted(writers, key=lambda writer: names[writer])
    )
    st.dataframe(table, hide_index=True, key=f"{PREFIX}per_student")
    st.caption(
        "A fifth of the students are held out: every drawing of theirs tests the runs, none "
        "trains them, so a run is tested on classmates it never saw."
    )


def show_grids(drawings: Sequence[ClassDrawing]) -> None:
    """One picture a digit: every drawing of that digit, side by side."""
    tabs = st.tabs([f"{digit}" for digit in range(10)])
    for digit, tab in enumerate(tabs):
        images = [drawing.image for drawing in drawings if drawing.label == digit]
        with tab:
            if not images:
                st.caption(f"No {digit} yet.")
                continue
            st.image(
                mosaic(np.stack(images), GRID_COLUMNS), caption=f"{len(images)} drawings of {digit}"
            )


# --- Removing ------------------------------------------------------------------------------
def remove_drawing(writer_id: str, drawing_id: str) -> None:
    """on_click: take a drawing out of the class's data (the teacher any, a student their own)."""
    me = current_user()
    if writer_id != me.id and not teacher_allowed():
        _say(
            "error",
            "Only your teacher can remove a classmate's drawing; unlock the key first.",
            "removal",
        )
        return
    try:
        removed = class_drawings().remove(writer_id, drawing_id, removed_by=me.id)
    except DrawingStoreError as error:
        _say("error", f"{error}", "removal")
        return
    if removed:
        _say(
            "success",
            "Removed from the class's digits (it stays its student's own). "
            "Runs from now on leave it out.",
            "removal",
        )
    else:
        _say("error", "That drawing is no longer in the class's digits.", "removal")


def put_back(writer_id: str, drawing_id: str) -> None:
    """on_click: put a removed drawing back into the class's data."""
    me = current_user()
    if writer_id != me.id and not teacher_allowed():
        _say("error", "Only your teacher can put a classmate's drawing back.", "removal")
        return
    class_drawings().put_back(writer_id, drawing_id)
    _say("success", "Put back into the class's digits.", "removal")


def _tiles(chosen: Sequence[ClassDrawing], *, label: str, action, key: str) -> None:
    with st.container(horizontal=True, gap="small", key=f"{PREFIX}{key}_tiles"):
        for drawing in chosen[:REMOVAL_TILES]:
            with st.container(key=f"{PREFIX}{key}_{drawing.writer_id}_{drawing.id}", width=80):
                st.image(enlarged_picture(drawing.image, THUMBNAIL_SIZE), width=THUMBNAIL_SIZE)
                st.button(
                    label,
                    key=f"{PREFIX}{key}_button_{drawing.writer_id}_{drawing.id}",
                    on_click=action,
                    args=(drawing.writer_id, drawing.id),
                )


def show_removal(drawings: Sequence[ClassDrawing], *, teacher: bool) -> None:
    """Pick a digit and a student (the teacher any, a student themselves), then remove any of
    their drawings from the class's data; removed ones can be put back."""
    me = current_user().id
    writers = sorted({drawing.writer_id for drawing in drawings}) if teacher else [me]
    if not writers:
        st.caption("Nobody shares drawings yet.")
        return
    names = writer_names(writers, teacher=teacher)
    show_message("removal")
    left, right = st.columns(2)
    digit = left.selectbox("Digit", list(range(10)), key=f"{PREFIX}remove_digit")
    writer = right.selectbox(
        "Student",
        writers,
        format_func=names.get,
        key=f"{PREFIX}remove_writer",
        disabled=not teacher,
    )
    chosen = [d for d in drawings if d.label == digit and d.writer_id == writer]
    if not chosen and writer == me:
        st.caption(
            f"You share no drawing of {digit}: label drawings on the Draw page (“Was it right?”) "
            "and switch on “Share my drawings with my class”."
        )
    elif not chosen:
        st.caption(f"{names.get(writer, 'This student')} shares no drawing of {digit}.")
    else:
        more = (
            f" (the first {REMOVAL_TILES} of {len(chosen)})" if len(chosen) > REMOVAL_TILES else ""
        )
        st.caption(f"{len(chosen)} drawing(s){more}: remove any that is mislabelled or a scribble.")
        _tiles(chosen, label="Remove", action=remove_drawing, key="remove")
    try:
        removed = class_drawings().removed_drawings(writer_id=None if teacher else me)
    except DrawingStoreError:
        removed = []
    if removed:
        with st.expander(f"Removed from the class's digits ({len(removed)})"):
            _tiles(removed, label="Put back", action=put_back, key="restore")


# --- Take it home --------------------------------------------------------------------------
def _npz() -> bytes:
    return class_npz(class_drawings().list_drawings())


def _zip() -> bytes:
    return class_zip(class_drawings().list_drawings())


def show_take_home(drawings: Sequence[ClassDrawing]) -> None:
    """The class's digits as MNIST's .npz and as a zip of PNGs (made when pressed)."""
    left, right = st.columns(2)
    left.download_button(
        "MNIST format (.npz)",
        _npz,
        file_name="class_digits.npz",
        mime="application/octet-stream",
        icon=":material/download:",
        key=f"{PREFIX}npz",
        disabled=not drawings,
        help="x_train, y_train, x_test, y_test as mnist.load_data() gives them: uint8, 28x28, "
        "light digits on dark; the held-out classmates are the test part.",
    )
    right.download_button(
        "PNGs and labels.csv (.zip)",
        _zip,
        file_name="class_digits.zip",
        mime="application/zip",
        icon=":material/download:",
        key=f"{PREFIX}zip",
        disabled=not drawings,
        help="One 28x28 PNG a drawing, labels.csv (file,label,writer,part); students as "
        "pseudonyms (“student 07”).",
    )
    st.caption(
        "In Python: `data = np.load('class_digits.npz')`, then `data['x_train']`, as with "
        "MNIST. On the command line: `python -m mnist_core drawings export --class --npz FILE`."
    )


def readiness_of(drawings: Sequence[ClassDrawing]) -> str:
    """Whether the class's digits are enough to train on, in a sentence."""
    return class_readiness(drawings).reason
