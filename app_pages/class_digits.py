"""Our digits: the drawings the class shares, a network trained on them, and the lesson
"Our own digits"."""

import streamlit as st

from app_glue.class_digits import (
    readiness_of,
    show_counts,
    show_grids,
    show_message,
    show_removal,
    show_sharing_switch,
    show_take_home,
)
from app_glue.class_lesson_view import show_lesson
from app_glue.resources import class_drawings
from app_glue.user import teacher_allowed
from mnist_core.data.drawings import DrawingStoreError

st.title("Our digits")
st.caption(
    "MNIST was written on paper, decades ago. These are the digits our class drew, shared by "
    "the students who chose to. Train on them (Train page: “MNIST + our class's digits” or "
    "“our class's digits”), or run the lesson below to see what they change."
)
show_message()
show_sharing_switch("digits_share")

teacher = teacher_allowed()
try:
    drawings = class_drawings().list_drawings()
except DrawingStoreError as error:
    st.error(f"{error}")
    st.stop()

st.header("The class's digits")
st.caption(readiness_of(drawings))
show_counts(drawings, teacher=teacher)
if drawings:
    show_grids(drawings)

st.header("Remove a drawing")
st.caption(
    "Your teacher can take any drawing out of the class's digits (mislabelled, a scribble); "
    "you can take out your own. It stays yours, and can be put back."
)
show_removal(drawings, teacher=teacher)

st.header("The lesson: our own digits")
show_lesson()

st.header("Take it home")
show_take_home(drawings)
