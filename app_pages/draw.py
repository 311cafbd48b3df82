"""Draw: a digit on a canvas, the model's reading of it, and how the drawing became 28x28."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import streamlit as st
from PIL import Image, ImageOps

from app_glue.models import (
    ModelHandle,
    model_picker,
)
from app_glue.pictures import enlarged_picture
from app_glue.resources import drawing_store
from app_glue.user import current_user
from mnist_core.reading.attribution import (
    Explanation,
    explain_drawing,
)
from mnist_core.reading.images import (
    ACCEPTED_IMAGE_FILES,
    load_image_file,
)
from mnist_core.reading.predict import (
    Prediction,
    predict_image,
)
from mnist_core.reading.preprocess import (
    PreprocessingSteps,
    add_gaussian_noise,
    preprocess_drawing_steps,
)
from mnist_core.reading.tally import DrawingTally

CANVAS_SIZE = 280
# Side of the small pictures (pixels); 28x28 images are enlarged 5x without smoothing.
PICTURE_SIZE = 140
# The three "why" pictures: 4x 28 pixels, so that they stay side by side on a phone.
WHY_PICTURE_SIZE = 112
UPLOAD_TYPES = ["png", "jpg", "jpeg", "bmp", "gif", "tif", "tiff", "webp"]
# Width of the "what you meant" buttons of digits (pixels): big enough for a fingertip.
MEANT_BUTTON_WIDTH = 52
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


def clear_canvas() -> None:
    """A new canvas key gives an empty canvas; forget the drawing everywhere."""
    st.session_state["draw_canvas_version"] += 1
    st.session_state["draw_json"] = None
    st.session_state["draw_png"] = None
    st.session_state["draw_steps"] = None
    st.session_state["draw_history"] = []
    st.session_state["current_drawing"] = None


def undo_stroke() -> None:
    """Go back to the drawing before the last one the canvas sent, on a fresh canvas."""
    history = st.session_state["draw_history"][:-1]
    if not history:
        clear_canvas()
        return
    _, scene, png = history[-1]
    st.session_state["draw_history"] = history
    # A new canvas key mounts a canvas that starts from the restored scene (see below).
    st.session_state["draw_canvas_version"] += 1
    st.session_state["draw_json"] = scene
    st.session_state["draw_png"] = png


def png_digest(png: bytes) -> str:
    """A short name of a canvas image: the same drawing gets the same name."""
    return hashlib.sha1(png).hexdigest()[:16]


def remember_drawing(png: bytes, scene: dict | None) -> None:
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
    st.session_state["draw_noise_seed"] += 1


def record(
    model_name: str, true_label: int, predicted_label: int, drawing_id: str, keep: bool
) -> None:
    """on_click of "what you meant": score the model and (digits only) keep the drawing."""
    tallies = dict(st.session_state["draw_tally"])
    tally = tallies.get(model_name, DrawingTally())
    tallies[model_name] = tally.record(true_label, predicted_label, drawing_id)
    st.session_state["draw_tally"] = tallies
    cached = st.session_state["draw_steps"]
    if keep and cached is not None and cached[1] is not None:
        # The drawing as drawn (no noise), under its canvas digest: labelling it again
        # corrects the label instead of keeping a second copy.
        from mnist_core.data.drawings import DrawingStoreError

        try:
            drawing_store().add_drawing(current_user(), cached[0], cached[1].result, true_label)
        except (DrawingStoreError, ValueError) as error:
            st.session_state["draw_keep_problem"] = f"The drawing was not kept: {error}"


def reset_tally(model_name: str) -> None:
    tallies = dict(st.session_state["draw_tally"])
    tallies.pop(model_name, None)
    st.session_state["draw_tally"] = tallies


def picture(image: np.ndarray, box: int = PICTURE_SIZE, frame: bool = False) -> Image.Image:
    """A float image in [0, 1] scaled to fit a `box`-pixel square; enlarged without smoothing.

    Args:
        image: (H, W) float image in [0, 1].
        box: side of the square the picture must fit, in pixels.
        frame: draw a thin grey frame (for white pictures on the white page).
    """
    height, width = image.shape
    scale = box / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.BOX
    pixels = Image.fromarray(np.rint(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8))
    resized = pixels.resize(size, resample)
    return framed(resized) if frame else resized


def framed(image: Image.Image) -> Image.Image:
    """A thin grey frame around a picture on white paper (the page is white too)."""
    return ImageOps.expand(image, border=1, fill=200 if image.mode == "L" else (200, 200, 200))


def drawing_steps(png: bytes | None) -> tuple[str | None, PreprocessingSteps | None]:
    """Preprocess the canvas image, once per distinct image (reruns reuse the result)."""
    if png is None:
        return None, None
    digest = png_digest(png)
    cached = st.session_state["draw_steps"]
    if cached is not None and cached[0] == digest:
        return digest, cached[1]
    steps = preprocess_drawing_steps(load_image_file(io.BytesIO(png)))
    st.session_state["draw_steps"] = (digest, steps)
    return digest, steps


def classify(handle: ModelHandle, image28: np.ndarray) -> Prediction | None:
    """The model's reading of one image; on failure an error box and None."""
    try:
        return predict_image(handle.model, image28)
    except Exception as error:  # a stored model can fail in any way Keras can
        st.error(
            f"The model {handle.name!r} could not read the drawing ({error}). "
            "Pick another model, or retrain this one on the Train page."
        )
        return None


def with_article(name: str) -> str:
    """ "a 4", "an 8", "an Ankle boot": how the answer is said."""
    return f"an {name}" if name[:1].lower() in "8aeiou" else f"a {name}"


def show_answer(prediction: Prediction, class_names: tuple[str, ...], key: str) -> None:
    """The answer, big; when the model is not sure, both candidates.

    Args:
        prediction: the model's reading.
        class_names: the label names.
        key: prefix of the answer's container key (draw_answer for the drawing's).
    """
    answer = class_names[prediction.digit]
    with st.container(key=f"{key}_unsure" if prediction.unsure else f"{key}_sure"):
        st.metric("The model reads", answer)
    if prediction.unsure:
        runner_up = class_names[prediction.runner_up]
        st.markdown(
            f":material/help: **Not sure: {with_article(answer)} — or maybe "
            f"{with_article(runner_up)}**  \n"
            f":gray[{answer}: {prediction.confidence:.0%}, {runner_up}: "
            f"{prediction.runner_up_probability:.0%}. Too close to call, so it says so "
            "instead of guessing.]"
        )
    else:
        st.caption(f"with {prediction.confidence:.1%} confidence")


def show_probabilities(prediction: Prediction, class_names: tuple[str, ...]) -> None:
    long_names = max(len(name) for name in class_names) > 2
    # A plain Vega-Lite spec: no Altair objects to build and validate on every stroke.
    spec = {
        "data": {
            "values": [
                {"class": name, "probability": probability, "chosen": index == prediction.digit}
                for index, (name, probability) in enumerate(
                    zip(class_names, prediction.probabilities)
                )
            ]
        },
        "mark": "bar",
        "height": 180,
        "encoding": {
            "x": {
                "field": "class",
                "type": "nominal",
                "sort": None,
                "title": None,
                "axis": {"labelAngle": -40 if long_names else 0, "labelOverlap": False},
            },
            "y": {
                "field": "probability",
                "type": "quantitative",
                "scale": {"domain": [0, 1]},
                "title": "probability",
            },
            "color": {
                "condition": {"test": "datum.chosen", "value": "#e4572e"},
                "value": "#9aa5b1",
            },
            "tooltip": [
                {"field": "class", "type": "nominal"},
                {"field": "probability", "type": "quantitative", "format": ".1%"},
            ],
        },
    }
    st.vega_lite_chart(spec, width="stretch")
    st.caption(
        "The network gives every class a probability; the tallest bar is its answer. "
        "A confident network puts nearly everything on one bar."
    )


def explanation(
    handle: ModelHandle,
    image28: np.ndarray,
    class_index: int,
    steps: PreprocessingSteps,
    drawing_id: str,
) -> Explanation | None:
    """Why the model reads the drawing as `class_index`, once per drawing, model and class."""
    wanted = (drawing_id, id(handle.model), class_index)
    cached = st.session_state["draw_explanation"]
    if cached is not None and cached[0] == wanted:
        return cached[1]
    try:
        explained = explain_drawing(handle.model, image28, class_index, steps)
    except Exception as error:  # a stored model can fail in any way TensorFlow can
        st.warning(f"Why it reads this cannot be shown for {handle.name!r} ({error}).")
        return None
    st.session_state["draw_explanation"] = (wanted, explained)
    return explained


def show_why(
    handle: ModelHandle,
    prediction: Prediction,
    image28: np.ndarray,
    steps: PreprocessingSteps,
    drawing_id: str,
) -> None:
    names = handle.class_names
    answer, runner_up = names[prediction.digit], names[prediction.runner_up]
    st.markdown(f"**Why {with_article(answer)}?**")
    choice = st.segmented_control(
        "Show what speaks for",
        ["answer", "runner_up"],
        format_func=lambda option: (
            f"{answer} (its answer)" if option == "answer" else f"{runner_up} (runner-up)"
        ),
        default="answer",
        required=True,
        key="draw_why_class",
    )
    explained_class = prediction.runner_up if choice == "runner_up" else prediction.digit
    explained = explanation(handle, image28, explained_class, steps, drawing_id)
    if explained is None:
        return
    with st.container(horizontal=True, key="draw_why_pictures", gap="xsmall"):
        st.image(
            picture(image28, WHY_PICTURE_SIZE), caption="What it sees", width=WHY_PICTURE_SIZE
        )
        if explained.drawing_picture is not None:
            on_drawing = Image.fromarray(explained.drawing_picture)
            on_drawing.thumbnail((WHY_PICTURE_SIZE, WHY_PICTURE_SIZE), Image.Resampling.BOX)
            st.image(framed(on_drawing), caption="Why, on your drawing", width=WHY_PICTURE_SIZE)
        st.image(
            framed(enlarged_picture(explained.picture28, WHY_PICTURE_SIZE)),
            caption="Why, on the 28x28",
            width=WHY_PICTURE_SIZE,
        )
    shown = names[explained_class]
    st.caption(
        f":red[Red]: the parts of your strokes that pushed the network towards {shown}; "
        f":blue[blue]: the parts that spoke against {shown}; grey: hardly mattered. "
        "(Integrated gradients: how much each pixel adds to the probability of "
        f"{shown}, from a blank image to your drawing.)"
    )


def show_steps(steps: PreprocessingSteps, noisy: np.ndarray | None) -> None:
    pictures = [
        (steps.grey, "1. Your drawing", "as the canvas sends it, 280x280 pixels"),
        (steps.inverted, "2. Inverted", "MNIST digits are white ink on black"),
        (steps.cropped, "3. Cropped", "cut to the ink, whatever its size and place"),
        (steps.fitted, "4. Fitted to 20x20", "shrunk so the longer side is 20 pixels"),
        (steps.centred, "5. Centred in 28x28", "centre of mass at the middle, like MNIST"),
    ]
    if noisy is not None:
        pictures.append((noisy, "6. With noise", "random grey specks added on top"))
    # In a row that wraps: on a phone two steps a line, not one under the other.
    with st.container(horizontal=True, key="draw_steps_row", gap="medium"):
        for index, (image, title, caption) in enumerate(pictures):
            with st.container(width=PICTURE_SIZE + 12):
                st.markdown(f"**{title}**")
                shown = picture(image, frame=index == 0)
                st.image(shown, width=shown.width)
                st.caption(caption)


def show_tally(handle: ModelHandle, prediction: Prediction | None, drawing_id: str | None) -> None:
    tally: DrawingTally = st.session_state["draw_tally"].get(handle.name, DrawingTally())
    names = handle.class_names
    # Labelled digits become the user's own data set (the Teach page); clothes do not.
    keeps_drawings = handle.dataset_name == "mnist"
    st.subheader("Was it right?")
    if prediction is not None and drawing_id is not None:
        st.caption(
            "Click what you meant. The model is scored on your own handwriting, which it "
            "has never seen; clicking again for the same drawing corrects your answer."
            + (
                " Each drawing you label is kept for **Teach**, where a model learns your "
                "handwriting."
                if keeps_drawings
                else ""
            )
        )
        short_names = max(len(name) for name in names) <= 2
        # A row that wraps: ten buttons in a line on a wide screen, a few lines on a phone.
        with st.container(horizontal=True, key="draw_meant"):
            for label, name in enumerate(names):
                st.button(
                    name,
                    key=f"draw_meant_{label}",
                    on_click=record,
                    args=(handle.name, label, prediction.digit, drawing_id, keeps_drawings),
                    width=MEANT_BUTTON_WIDTH if short_names else "content",
                )
    else:
        st.caption("Draw something first, then tell the model what you meant.")
    if st.session_state.get("draw_keep_problem"):
        st.warning(st.session_state.pop("draw_keep_problem"))

    test_label = "Fashion-MNIST" if handle.dataset_name == "fashion_mnist" else "MNIST"
    left, right = st.columns(2)
    left.metric(
        f"Accuracy on the {test_label} test set",
        "not measured"
        if handle.test_accuracy is None or handle.test_accuracy != handle.test_accuracy  # NaN
        else f"{handle.test_accuracy:.1%}",
        help="10,000 digits the network never saw while training.",
    )
    right.metric(
        "Accuracy on your drawings",
        "–" if tally.accuracy is None else f"{tally.accuracy:.0%}",
        help="The drawings you labelled above, for this model.",
    )
    if tally.count == 0:
        st.caption(f"No drawings recorded for {handle.name!r} yet.")
        return
    last_meant, last_said = tally.true_labels[-1], tally.predicted_labels[-1]
    st.caption(
        f"{tally.correct} of {tally.count} of your drawings read right by {handle.name!r}. "
        f"Last one: you meant {names[last_meant]}, the model said {names[last_said]}."
    )
    import pandas as pd

    labels, counts = tally.confusion_table()
    table = pd.DataFrame(
        counts,
        index=pd.Index([names[label] for label in labels], name="you meant ↓ / model said →"),
        columns=[names[label] for label in labels],
    )
    st.table(table, width="content")
    st.caption("Rows: what you meant. Columns: what the model said. The diagonal is right.")
    st.button("Reset tally", key="draw_reset_tally", on_click=reset_tally, args=(handle.name,))


def show_upload(handle: ModelHandle | None) -> None:
    with st.expander("Or upload a photo or scan of a digit"):
        st.caption(
            "A photo of a digit on paper goes through the same steps as a drawing: "
            "dark ink on light paper works best, one digit per picture."
        )
        uploaded = st.file_uploader(
            f"Image file ({ACCEPTED_IMAGE_FILES})", type=UPLOAD_TYPES, key="draw_upload"
        )
        if uploaded is None:
            return
        try:
            steps = preprocess_drawing_steps(load_image_file(uploaded))
        except ValueError as error:
            st.error(f"{error} Your drawing above is kept.")
            return
        if steps is None:
            st.warning("No digit found in that picture: it looks blank. Try a sharper photo.")
            return
        left, right = st.columns(2)
        with left:
            st.image(picture(steps.result), caption="What the model sees", width=PICTURE_SIZE)
        with right:
            if handle is not None:
                prediction = classify(handle, steps.result)
                if prediction is not None:
                    show_answer(prediction, handle.class_names, "draw_upload_answer")


st.title("Draw a digit")
st.caption(
    "Draw a digit with your mouse or finger and watch the network read it. It only ever saw "
    "28x28 grey digits, so your drawing is shrunk and centred the same way first."
)
st.html(
    # The answer is the point of the page: make the predicted digit big, grey when unsure.
    "<style>.st-key-draw_prediction [data-testid='stMetricValue'] "
    "{font-size: 5rem; line-height: 1.1; font-weight: 700;}"
    ".st-key-draw_answer_unsure [data-testid='stMetricValue'], "
    ".st-key-draw_upload_answer_unsure [data-testid='stMetricValue'] {color: #8a8f98;}"
    # On a phone the columns stack: a smaller answer keeps it on screen below the canvas.
    "@media (max-width: 640px) {.st-key-draw_prediction [data-testid='stMetricValue'] "
    "{font-size: 3.5rem;}}"
    # A finger on the canvas draws; it must not scroll the page.
    "[class*='st-key-draw_canvas_'] {touch-action: none;}</style>"
)

canvas_column, result_column = st.columns([1, 1.4], gap="large")
# The canvas comes first: on a cold server loading the model (and TensorFlow) takes seconds,
# and the user can start drawing meanwhile. The answer sits right under it, before any
# setting, so that on a phone (where the columns stack) it shows without scrolling.
with canvas_column:
    from streamlit_drawable_canvas import st_canvas

    canvas_key = f"draw_canvas_{st.session_state['draw_canvas_version']}"
    if canvas_key not in st.session_state:
        # A canvas that is new on screen (first visit, back from another page, Undo) starts
        # from the last drawing. It is given that drawing once: a changed initial_drawing
        # would reload the canvas and wipe its undo history.
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
        # A restored canvas shows the saved drawing but sends nothing until the next stroke.
        png = st.session_state["draw_png"]
    else:
        st.session_state["draw_json"] = canvas.json_data
        st.session_state["draw_png"] = png
        if png is not None:
            remember_drawing(png, canvas.json_data)
    # The canvas' own toolbar only shows on hover, which a touch screen does not have.
    with st.container(horizontal=True, key="draw_tools"):
        st.button(
            "Undo",
            key="draw_undo",
            on_click=undo_stroke,
            icon=":material/undo:",
            disabled=not st.session_state["draw_history"],
        )
        st.button("Clear", key="draw_clear", on_click=clear_canvas, icon=":material/ink_eraser:")
    answer_box = st.container(key="draw_prediction")
    st.slider(
        "Pen width",
        min_value=5,
        max_value=40,
        value=20,
        key="draw_stroke_width",
        persist_state="session",
        help="MNIST digits have strokes about 2 to 3 pixels wide out of 28: 20 to 30 here.",
    )
    noise_on = st.toggle(
        "Add noise",
        key="draw_noise",
        persist_state="session",
        help="Random grey specks on the image the model sees: how robust is it?",
    )
    if noise_on:
        sigma = st.slider(
            "Noise strength σ",
            min_value=0.0,
            max_value=1.0,
            value=0.3,
            step=0.05,
            key="draw_noise_sigma",
            persist_state="session",
        )
        st.button("Re-roll the noise", key="draw_reroll", on_click=reroll_noise, icon=":material/casino:")
        st.caption(
            "Each pixel gets a random nudge up or down; σ is the typical size of the nudge "
            "(1 = the whole range from black to white). Re-roll to draw new specks."
        )

with result_column:
    handle = model_picker("draw")

try:
    drawing_id, steps = drawing_steps(png)
except ValueError as error:
    st.error(f"The drawing could not be read: {error}. Clear the canvas and draw again.")
    drawing_id, steps = None, None

noisy = None
prediction = None
if steps is not None:
    image28 = steps.result
    if noise_on:
        noisy = add_gaussian_noise(image28, sigma, st.session_state["draw_noise_seed"])
        image28 = noisy
        drawing_id = f"{drawing_id}-noise-{sigma}-{st.session_state['draw_noise_seed']}"
    st.session_state["current_drawing"] = image28
else:
    st.session_state["current_drawing"] = None

with answer_box:
    if steps is None:
        st.info("Draw a digit… The network's answer appears here as soon as you lift the pen.")
    elif handle is None:
        st.warning("No model to read the drawing: pick one above, or train one on the Train page.")
    else:
        prediction = classify(handle, image28)
        if prediction is not None:
            show_answer(prediction, handle.class_names, "draw_answer")

if prediction is not None:
    with result_column:
        show_probabilities(prediction, handle.class_names)
        show_why(handle, prediction, image28, steps, drawing_id)

if steps is not None:
    st.subheader("From your drawing to 28x28, step by step")
    show_steps(steps, noisy)

if handle is not None:
    show_tally(handle, prediction, drawing_id if prediction is not None else None)

show_upload(handle)
# Last: it takes a line of the page, and it watches for canvases wherever they are.
st.html(CANVAS_TOOLBAR_SCRIPT, unsafe_allow_javascript=True)
