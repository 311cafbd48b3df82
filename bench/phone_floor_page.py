"""The floor of `bench/phone_drawing.py`: the least a Streamlit page with the Draw canvas does.

A Streamlit script, run by the benchmark with `streamlit run` beside the app: the canvas as the
Draw page sets it up (`app_glue.drawing.drawing_canvas`, and its touch rule), a Clear button
that mounts a new canvas, and an answer (`st.metric`) under the same keys as the app's, all in
one fragment; no model, no sidebar, nothing else. The same lesson on it tells what Streamlit
and the canvas cost by themselves, apart from what the app adds. It takes only the canvas from
the app (`app_glue.drawing`, which loads no model).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's app_glue

import streamlit as st

from app_glue.drawing import CANVAS_KEY_PREFIX, CANVAS_TOUCH_RULE, drawing_canvas

st.html(f"<style>{CANVAS_TOUCH_RULE}</style>")
st.session_state.setdefault("canvas_version", 0)


def clear() -> None:
    """on_click: a new key mounts a new, empty canvas (as the app's Clear does)."""
    st.session_state["canvas_version"] += 1


@st.fragment
def drawing_part() -> None:
    """The canvas, Clear, and how many strokes it holds as the answer."""
    canvas = drawing_canvas(f"{CANVAS_KEY_PREFIX}{st.session_state['canvas_version']}", None)
    st.button("Clear", key="draw_clear", on_click=clear)
    strokes = len((canvas.json_data or {}).get("objects", []))
    with st.container(key="draw_prediction"):
        if canvas.image_bytes is not None and strokes:
            st.metric("Strokes on the canvas", strokes)
        else:
            st.info("Draw something.")


st.title("Draw a digit")
drawing_part()
