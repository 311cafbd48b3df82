"""The Draw page's canvas and what it keeps: the drawing across visits and reruns, Undo and Clear,
the drawing preprocessed once per stroke, the "why" once per drawing, the tally of answers.

All of it lives in the session state under `draw_...` keys (`init_drawing_state`).
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import streamlit as st

from app_glue.models import cached_stored_model
from app_glue.resources import drawing_store
from app_glue.user import current_user
from mnist_core.reading.attribution import (
    Explanation,
    explain_drawing,
)
from mnist_core.reading.images import load_image_file
from mnist_core.reading.predict import (
    Prediction,
    predict_image,
)
from mnist_core.reading.preprocess import (
    PreprocessingSteps,
    preprocess_drawing_steps,
)
from mnist_core.reading.tally import DrawingTally

CANVAS_SIZE = 280
# The pen's width (canvas pixels) until the Draw page's slider is moved.
PEN_WIDTH = 20
# The canvas' key is this and a number (`canvas_key`).
CANVAS_KEY_PREFIX = "draw_canvas_"
# A finger on the canvas draws; it must not scroll the page (a CSS rule for the page's style).
CANVAS_TOUCH_RULE = f"[class*='st-key-{CANVAS_KEY_PREFIX}'] {{touch-action: none;}}"
# Drawings kept for Undo (each a PNG of a few kB).
UNDO_DEPTH = 30
# The canvas' toolbar (streamlit-drawable-canvas 0.13) is invisible until the canvas is
# hovered, but it still lies over the canvas' top right corner, and on its way up during the
# first 0.2 s of a hover: a stroke started there (always the case on a touch screen, which has
# no hover) lands on an invisible button, draws nothing, or resets the canvas. The toolbar
# lives in the component's shadow root, out of reach of the page's CSS; this script adds a
# style there, once per canvas, so that the hidden toolbar lets strokes through and the shown
# one is in place at once. On a touch screen (no hover) the toolbar is not shown at all: a
# touch "hovers" the canvas and showed it over the line above, and the page's own Undo and
# Clear are there for fingers.
# It styles every canvas on the page whenever the page changes, and keeps looking for a while
# when a canvas' shadow root is not there yet: Streamlit attaches it a moment after the canvas'
# element appears, and a change inside a shadow root is not a change of the page. Looking only
# at the first canvas, once, missed the new canvas after Clear about one time in three
# (2026-12-04: a stroke begun at the top right then drew nothing).
CANVAS_TOOLBAR_SCRIPT = """<script>(() => {
  if (window.drawPageToolbarFix) return;
  window.drawPageToolbarFix = true;
  const css = ".dc-toolbar {pointer-events: none;} "
    + ".dc-root:hover > .dc-toolbar, .dc-toolbar:focus-within "
    + "{pointer-events: auto; transition: opacity .15s .1s !important;} "
    + "@media (hover: none) {.dc-toolbar {display: none !important;}}";
  const selector = "[class*='st-key-__KEY__'] [data-testid='stBidiComponentIsolated']";
  let retries = 0;
  let timer = null;
  // again: a look of the retry timer's (at most 100 after the page last changed, 20 ms apart).
  const scan = (again) => {
    let waiting = false;
    for (const host of document.querySelectorAll(selector)) {
      const root = host.shadowRoot;
      if (!root) {
        waiting = true;
      } else if (!root.querySelector("style[data-draw-page]")) {
        const style = document.createElement("style");
        style.dataset.drawPage = "toolbar";
        style.textContent = css;
        root.appendChild(style);
      }
    }
    retries = again ? retries + 1 : 0;
    clearTimeout(timer);
    timer = waiting && retries < 100 ? setTimeout(() => scan(true), 20) : null;
  };
  new MutationObserver(() => scan(false)).observe(document.body, {childList: true, subtree: true});
  scan(false);
})();</script>""".replace("__KEY__", CANVAS_KEY_PREFIX)


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
    # Part of the key of "Was it right?" (`meant_key`): +1 after each tap gives a fresh one.
    st.session_state.setdefault("draw_meant_round", 0)


def canvas_key() -> str:
    """The key of the canvas on the page: a new one (Clear, Undo) mounts a new canvas.

    Measured on a phone-sized page (bench/phone_drawing.py): a new canvas costs one run of the
    page's fragment, and leaves nothing behind. Loading an empty scene into the same canvas
    instead (a changed `initial_drawing`) costs two, the canvas sending what it loaded back.
    """
    return f"{CANVAS_KEY_PREFIX}{st.session_state['draw_canvas_version']}"


def drawing_canvas(key: str, initial_drawing: dict[str, Any] | None) -> Any:
    """The canvas as the Draw page sets it up (streamlit-drawable-canvas): CANVAS_SIZE pixels
    square, black ink on white, the pen's width from the page's slider, the PNG sent at each
    mouse-up; its `CanvasResult`. Also the benchmark's floor page (bench/phone_floor_page.py).

    Args:
        key: the canvas' key (`canvas_key`): a new one mounts a new canvas.
        initial_drawing: the scene it starts from (a canvas' `json_data`), or None.
    """
    from streamlit_drawable_canvas import st_canvas

    return st_canvas(
        stroke_width=st.session_state.get("draw_stroke_width", PEN_WIDTH),
        stroke_color="#000000",
        background_color="#FFFFFF",
        update_streamlit=True,
        height=CANVAS_SIZE,
        width=CANVAS_SIZE,
        drawing_mode="freedraw",
        initial_drawing=initial_drawing,
        return_image_data=True,
        key=key,
    )


def canvas_drawing() -> tuple[str | None, PreprocessingSteps | None]:
    """Draw the canvas; the drawing on it as (digest, steps), as `drawing_steps` gives them.

    A canvas that is new on screen (first visit, back from another page, Undo) starts from the
    last drawing and sends nothing until the next stroke: the kept PNG stands in for it.

    Raises:
        ValueError: the image cannot be read.
    """
    key = canvas_key()
    if key not in st.session_state:
        # Given that drawing once: a changed initial_drawing would reload the canvas and wipe
        # its undo history.
        st.session_state["draw_canvas_initial"] = st.session_state["draw_json"]
    canvas = drawing_canvas(key, st.session_state["draw_canvas_initial"])
    png = canvas.image_bytes
    if png is None and st.session_state["draw_canvas_initial"] is not None:
        return drawing_steps(st.session_state["draw_png"])
    st.session_state["draw_json"] = canvas.json_data
    st.session_state["draw_png"] = png
    if png is not None:
        remember_drawing(png, canvas.json_data)
    return drawing_steps(png)


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


def drawing_explanation(
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


@st.cache_resource(show_spinner=False)
def _not_a_digit_check(model_path: str, modified_ns: int) -> Any:
    """The default model's not-a-digit check, made once per server (None without a detector
    fitted for this very file)."""
    from mnist_core.reading.not_a_digit import load_not_a_digit_check

    return load_not_a_digit_check(cached_stored_model("default", modified_ns).model, model_path)


def not_a_digit_check() -> Any:
    """The not-a-digit check (it reads the default model's insides, whatever model answers);
    None when there is none for the default model on disk."""
    from mnist_core.base.paths import models_directory

    path = models_directory() / "default.keras"
    try:
        return _not_a_digit_check(str(path), path.stat().st_mtime_ns)
    except Exception:  # noqa: BLE001 - no check is no reason to stop reading drawings
        return None


def read_drawing(handle: Any, image28: Any, drawing28: Any = None) -> Prediction | None:
    """The model's reading of one 28x28 image, and (models of digits) whether the drawing looks
    like a digit at all; on failure an error box and None.

    Args:
        handle: the model.
        image28: what it reads.
        drawing28: what the not-a-digit check looks at, when not `image28` (the drawing
            without its noise).
    """
    check = not_a_digit_check() if handle.dataset_name == "mnist" else None
    try:
        return predict_image(handle.model, image28, check, drawing28)
    except Exception as error:  # a stored model can fail in any way Keras can
        st.error(
            f"The model {handle.name!r} could not read the drawing ({error}). "
            "Pick another model, or retrain this one on the Train page."
        )
        return None


def tally_of(model_name: str) -> DrawingTally:
    """This session's tally of the drawings labelled for one model."""
    return st.session_state["draw_tally"].get(model_name, DrawingTally())


def meant_key() -> str:
    """The key of "Was it right?" now: a new one after every tap, so that the next drawing
    gets a fresh, untapped row of digits.

    Setting the tapped widget back to None in its own callback instead (2026-12-04, Streamlit
    1.67, chromium) left it deaf: after the next Clear and drawing (runs of the page's
    fragment) a tap sent nothing to the server, so only a lesson's first label was kept.
    """
    return f"draw_meant_{st.session_state['draw_meant_round']}"


def record_meant(model_name: str, keep: bool) -> None:
    """on_change of "Was it right?": score the model on the drawing it last read and (digits
    only) keep the drawing; then let go of the tapped digit (a new `meant_key`), ready for the
    next drawing.

    Args:
        model_name: the model that read it.
        keep: keep the drawing for Teach (models of digits).
    """
    true_label = st.session_state.get(meant_key())
    st.session_state["draw_meant_round"] += 1
    if true_label is None:
        return
    reading = st.session_state.get("draw_reading")
    if reading is None:
        st.session_state["draw_meant_problem"] = "Draw a digit first, then tap what you meant."
        return
    drawing_id, predicted_label, noisy = reading
    tallies = dict(st.session_state["draw_tally"])
    tallies[model_name] = tally_of(model_name).record(
        int(true_label), predicted_label, drawing_id, noisy=noisy
    )
    st.session_state["draw_tally"] = tallies
    cached = st.session_state["draw_steps"]
    if keep and cached is not None and cached[1] is not None:
        # The drawing as drawn (no noise), under its canvas digest: labelling it again
        # corrects the label instead of keeping a second copy.
        from mnist_core.data.drawings import DrawingStoreError

        st.session_state["draw_label_counts"] = None
        try:
            drawing_store().add_drawing(
                current_user().id, cached[0], cached[1].result, int(true_label)
            )
        except (DrawingStoreError, ValueError) as error:
            st.session_state["draw_meant_problem"] = f"The drawing was not kept: {error}"


def label_counts() -> dict[int, int] | None:
    """How many drawings of each digit this user has kept (for "13 of 20 — two more 9s"): read
    from the store once, then again only after a drawing is labelled. None if unreadable."""
    user = current_user().id
    cached = st.session_state.get("draw_label_counts")
    if cached is None or cached[0] != user:
        from mnist_core.data.drawings import DrawingStoreError

        try:
            cached = (user, drawing_store().label_counts(user))
        except DrawingStoreError:
            return None
        st.session_state["draw_label_counts"] = cached
    return cached[1]


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
