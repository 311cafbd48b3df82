"""The Draw page's canvas and what it keeps: the drawing across visits and reruns, Undo and Clear,
the drawing preprocessed once per stroke, the "why" once per drawing, the tally of answers.

All of it lives in the session state under `draw_...` keys (`init_drawing_state`).
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import streamlit as st

from app_glue.resources import drawing_store
from app_glue.user import current_user
from mnist_core.reading.attribution import (
    Explanation,
    explain_drawing,
)
from mnist_core.reading.images import load_image_file
from mnist_core.reading.preprocess import (
    PreprocessingSteps,
    preprocess_drawing_steps,
)
from mnist_core.reading.tally import DrawingTally

CANVAS_SIZE = 280
# Drawings kept for Undo (each a PNG of a few kB).
UNDO_DEPTH = 30
# The canvas' toolbar (streamlit-drawable-canvas 0.13) is invisible until the canvas is
# hovered, but it still lies over the canvas' top right corner, and on its way up during the
# first 0.2 s of a hover: a stroke started there (always the case on a touch screen, which has
# no hover) lands on an invisible button, draws nothing, or resets the canvas. The toolbar
# lives in the component's shadow root, out of reach of the page's CSS; this script adds a
# style there, once per canvas, so that the hidden toolbar lets strokes through and the shown
# one is in place at once.
CANVAS_TOOLBAR_SCRIPT = """<script>(() => {
  if (window.drawPageToolbarFix) return;
  window.drawPageToolbarFix = true;
  const css = ".dc-toolbar {pointer-events: none;} "
    + ".dc-root:hover > .dc-toolbar, .dc-toolbar:focus-within "
    + "{pointer-events: auto; transition: opacity .15s .1s !important;}";
  const watched = new WeakSet();
  const fix = (root) => {
    if (!root.querySelector("style[data-draw-page]")) {
      const style = document.createElement("style");
      style.dataset.drawPage = "toolbar";
      style.textContent = css;
      root.appendChild(style);
    }
  };
  const scan = () => {
    for (const element of document.querySelectorAll("[class*='st-key-draw_canvas_'] *")) {
      const root = element.shadowRoot;
      if (root && !watched.has(root)) {
        watched.add(root);
        fix(root);
        new MutationObserver(() => fix(root)).observe(root, {childList: true});
      }
    }
  };
  new MutationObserver(scan).observe(document.body, {childList: true, subtree: true});
  scan();
})();</script>"""


def init_drawing_state() -> None:
    """The Draw page's session state, made on its first run."""
    st.session_state.setdefault("draw_canvas_version", 0)  # part of the canvas key: +1 clears it
    st.session_state.setdefault("draw_json", None)  # the canvas scene, to restore it after a visit
    st.session_state.setdefault("draw_png", None)  # the canvas image that goes with draw_json
    st.session_state.setdefault("draw_canvas_initial", None)  # what the mounted canvas was given
    st.session_state.setdefault("draw_steps", None)  # (png digest, PreprocessingSteps | None)
    st.session_state.setdefault("draw_noise_seed", 0)
    st.session_state.setdefault("draw_tally", {})  # model name -> DrawingTally
    # The canvas' drawings so far, oldest first, for Undo: (png digest, scene, png).
    st.session_state.setdefault("draw_history", [])
    st.session_state.setdefault("draw_explanation", None)  # (what it explains, Explanation)


def drawing_canvas() -> bytes | None:
    """Draw the canvas; returns the PNG of the drawing on it (None while it is empty).

    A canvas that is new on screen (first visit, back from another page, Undo) starts from the
    last drawing and sends nothing until the next stroke: the kept PNG stands in for it.
    """
    from streamlit_drawable_canvas import st_canvas

    canvas_key = f"draw_canvas_{st.session_state['draw_canvas_version']}"
    if canvas_key not in st.session_state:
        # Given that drawing once: a changed initial_drawing would reload the canvas and wipe
        # its undo history.
        st.session_state["draw_canvas_initial"] = st.session_state["draw_json"]
    canvas = st_canvas(
        stroke_width=st.session_state.get("draw_stroke_width", 20),
        stroke_color="#000000",
        background_color="#FFFFFF",
        update_streamlit=True,
        height=CANVAS_SIZE,
        width=CANVAS_SIZE,
        drawing_mode="freedraw",
        initial_drawing=st.session_state["draw_canvas_initial"],
        return_image_data=True,
        key=canvas_key,
    )
    png = canvas.image_bytes
    if png is None and st.session_state["draw_canvas_initial"] is not None:
        return st.session_state["draw_png"]
    st.session_state["draw_json"] = canvas.json_data
    st.session_state["draw_png"] = png
    if png is not None:
        remember_drawing(png, canvas.json_data)
    return png


def clear_canvas() -> None:
    """on_click: a new canvas key gives an empty canvas; forget the drawing everywhere."""
    st.session_state["draw_canvas_version"] += 1
    st.session_state["draw_json"] = None
    st.session_state["draw_png"] = None
    st.session_state["draw_steps"] = None
    st.session_state["draw_history"] = []
    st.session_state["current_drawing"] = None


def undo_stroke() -> None:
    """on_click: go back to the drawing before the last one the canvas sent, on a fresh canvas."""
    history = st.session_state["draw_history"][:-1]
    if not history:
        clear_canvas()
        return
    _, scene, png = history[-1]
    st.session_state["draw_history"] = history
    # A new canvas key mounts a canvas that starts from the restored scene.
    st.session_state["draw_canvas_version"] += 1
    st.session_state["draw_json"] = scene
    st.session_state["draw_png"] = png


def png_digest(png: bytes) -> str:
    """A short name of a canvas image: the same drawing gets the same name."""
    return hashlib.sha1(png).hexdigest()[:16]


def remember_drawing(png: bytes, scene: dict[str, Any] | None) -> None:
    """Keep what the canvas sent for Undo (every rerun sends the same drawing again)."""
    digest = png_digest(png)
    history = st.session_state["draw_history"]
    digests = [entry[0] for entry in history]
    if digests and digests[-1] == digest:
        return
    if digest in digests:
        # The toolbar's own undo went back to an earlier drawing: continue from there.
        history = history[: digests.index(digest) + 1]
    else:
        history = [*history, (digest, scene, png)][-UNDO_DEPTH:]
    st.session_state["draw_history"] = history


def reroll_noise() -> None:
    """on_click: new random specks of noise."""
    st.session_state["draw_noise_seed"] += 1


def drawing_steps(png: bytes | None) -> tuple[str | None, PreprocessingSteps | None]:
    """The canvas image preprocessed, once per distinct image (reruns reuse the result), with
    its digest; (None, None) for no image, (digest, None) for a blank one.

    Raises:
        ValueError: the image cannot be read.
    """
    if png is None:
        return None, None
    digest = png_digest(png)
    cached = st.session_state["draw_steps"]
    if cached is not None and cached[0] == digest:
        return digest, cached[1]
    steps = preprocess_drawing_steps(load_image_file(io.BytesIO(png)))
    st.session_state["draw_steps"] = (digest, steps)
    return digest, steps


def explanation(
    model: Any, image28: Any, class_index: int, steps: PreprocessingSteps, drawing_id: str
) -> Explanation:
    """Why the model reads the drawing as `class_index`, once per drawing, model and class.

    Raises:
        Exception: whatever the model raises (a stored model can fail in any way TensorFlow can).
    """
    wanted = (drawing_id, id(model), class_index)
    cached = st.session_state["draw_explanation"]
    if cached is not None and cached[0] == wanted:
        return cached[1]
    explained = explain_drawing(model, image28, class_index, steps)
    st.session_state["draw_explanation"] = (wanted, explained)
    return explained


def tally_of(model_name: str) -> DrawingTally:
    """This session's tally of the drawings labelled for one model."""
    return st.session_state["draw_tally"].get(model_name, DrawingTally())


def record(
    model_name: str, true_label: int, predicted_label: int, drawing_id: str, keep: bool
) -> None:
    """on_click of "what you meant": score the model and (digits only) keep the drawing."""
    tallies = dict(st.session_state["draw_tally"])
    tallies[model_name] = tally_of(model_name).record(true_label, predicted_label, drawing_id)
    st.session_state["draw_tally"] = tallies
    cached = st.session_state["draw_steps"]
    if keep and cached is not None and cached[1] is not None:
        # The drawing as drawn (no noise), under its canvas digest: labelling it again
        # corrects the label instead of keeping a second copy.
        from mnist_core.data.drawings import DrawingStoreError

        try:
            drawing_store().add_drawing(current_user().id, cached[0], cached[1].result, true_label)
        except (DrawingStoreError, ValueError) as error:
            st.session_state["draw_keep_problem"] = f"The drawing was not kept: {error}"


def reset_tally(model_name: str) -> None:
    """on_click: forget the tally of one model."""
    tallies = dict(st.session_state["draw_tally"])
    tallies.pop(model_name, None)
    st.session_state["draw_tally"] = tallies


def uploaded_steps(uploaded: Any) -> tuple[Any, str | None]:
    """An uploaded picture's preprocessing steps and None, or None and why it is not read.

    The picture is checked from its header before it is decoded (`reading.images`), and it is
    read once per upload: the page's later reruns reuse the result.
    """
    key = getattr(uploaded, "file_id", None) or uploaded.name
    cached = st.session_state.get("draw_upload_steps")
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    try:
        steps, problem = preprocess_drawing_steps(load_image_file(uploaded)), None
    except ValueError as error:
        steps, problem = None, str(error)
    st.session_state["draw_upload_steps"] = (key, steps, problem)
    return steps, problem
