"""The floor of `bench/phone_drawing.py`: the least a Streamlit page with the Draw page's canvas does.

A Streamlit script, run by the benchmark with `streamlit run` beside the app: the canvas set up
as the Draw page sets it up (streamlit-drawable-canvas, 280x280, a 20-pixel pen, the PNG sent
at each mouse-up), a Clear button that mounts a new canvas, and an answer (`st.metric`) under
the same keys as the app's, all in one fragment; no model, no sidebar, nothing else. The same
lesson on it tells what Streamlit and the canvas cost by themselves, apart from what the app
adds.
"""

import streamlit as st

st.html("<style>[class*='st-key-draw_canvas_'] {touch-action: none;}</style>")
st.session_state.setdefault("canvas_version", 0)


def clear() -> None:
    """on_click: a new key mounts a new, empty canvas (as the app's Clear does)."""
    st.session_state["canvas_version"] += 1


@st.fragment
def drawing_part() -> None:
    """The canvas, Clear, and how many strokes it holds as the answer."""
    from streamlit_drawable_canvas import st_canvas

    canvas = st_canvas(
        stroke_width=20,
        stroke_color="#000000",
        background_color="#FFFFFF",
        update_streamlit=True,
        height=280,
        width=280,
        drawing_mode="freedraw",
        return_image_data=True,
        key=f"draw_canvas_{st.session_state['canvas_version']}",
    )
    st.button("Clear", key="draw_clear", on_click=clear)
    strokes = len((canvas.json_data or {}).get("objects", []))
    with st.container(key="draw_prediction"):
        if canvas.image_bytes is not None and strokes:
            st.metric("Strokes on the canvas", strokes)
        else:
            st.info("Draw something.")


st.title("Draw a digit")
drawing_part()
