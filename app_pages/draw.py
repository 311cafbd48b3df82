"""Draw: a digit on a canvas, the model's reading of it, and how the drawing became 28x28."""

from __future__ import annotations

import streamlit as st

from app_glue.charts import show_probabilities
from app_glue.drawing import (
    CANVAS_TOOLBAR_SCRIPT,
    clear_canvas,
    drawing_canvas,
    drawing_steps,
    explanation,
    init_drawing_state,
    record,
    reroll_noise,
    reset_tally,
    tally_of,
    undo_stroke,
    uploaded_steps,
)
from app_glue.models import (
    ModelHandle,
    model_picker,
)
from app_glue.pictures import (
    ImageArray,
    enlarged_picture,
    framed,
    picture,
    shrunk_picture,
)
from mnist_core.reading.images import (
    ACCEPTED_IMAGE_FILES,
)
from mnist_core.reading.predict import (
    Prediction,
    predict_image,
)
from mnist_core.reading.preprocess import (
    PreprocessingSteps,
    add_gaussian_noise,
)

# Side of the small pictures (pixels); 28x28 images are enlarged 5x without smoothing.
PICTURE_SIZE = 140
# The three "why" pictures: 4x 28 pixels, so that they stay side by side on a phone.
WHY_PICTURE_SIZE = 112
UPLOAD_TYPES = ["png", "jpg", "jpeg", "bmp", "gif", "tif", "tiff", "webp"]
# Width of the "what you meant" buttons of digits (pixels): big enough for a fingertip.
MEANT_BUTTON_WIDTH = 52

init_drawing_state()


def classify(handle: ModelHandle, image28: ImageArray) -> Prediction | None:
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


def show_why(
    handle: ModelHandle,
    prediction: Prediction,
    image28: ImageArray,
    steps: PreprocessingSteps,
    drawing_id: str,
) -> None:
    """What in the drawing speaks for the answer (or the runner-up), as three pictures."""
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
    try:
        explained = explanation(handle.model, image28, explained_class, steps, drawing_id)
    except Exception as error:  # a stored model can fail in any way TensorFlow can
        st.warning(f"Why it reads this cannot be shown for {handle.name!r} ({error}).")
        return
    with st.container(horizontal=True, key="draw_why_pictures", gap="xsmall"):
        st.image(picture(image28, WHY_PICTURE_SIZE), caption="What it sees", width=WHY_PICTURE_SIZE)
        if explained.drawing_picture is not None:
            st.image(
                shrunk_picture(explained.drawing_picture, WHY_PICTURE_SIZE),
                caption="Why, on your drawing",
                width=WHY_PICTURE_SIZE,
            )
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


def show_steps(steps: PreprocessingSteps, noisy: ImageArray | None) -> None:
    """The pictures from the drawing to the 28x28 image, in a row that wraps."""
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
                shown = picture(image, PICTURE_SIZE, frame=index == 0)
                st.image(shown, width=shown.width)
                st.caption(caption)


def show_tally(handle: ModelHandle, prediction: Prediction | None, drawing_id: str | None) -> None:
    """ "Was it right?": what the user meant, and the model's score on the user's drawings."""
    tally = tally_of(handle.name)
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
    """A photo or scan of a digit, read beside the drawing."""
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
        steps, problem = uploaded_steps(uploaded)
        if problem is not None:
            st.error(f"{problem} Your drawing above is kept.")
            return
        if steps is None:
            st.warning("No digit found in that picture: it looks blank. Try a sharper photo.")
            return
        left, right = st.columns(2)
        with left:
            st.image(
                picture(steps.result, PICTURE_SIZE),
                caption="What the model sees",
                width=PICTURE_SIZE,
            )
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
    png = drawing_canvas()
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
        st.button(
            "Re-roll the noise", key="draw_reroll", on_click=reroll_noise, icon=":material/casino:"
        )
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
        show_probabilities(prediction.probabilities, handle.class_names, key="draw_probabilities")
        st.caption(
            "The network gives every class a probability; the tallest bar is its answer. "
            "A confident network puts nearly everything on one bar."
        )
        show_why(handle, prediction, image28, steps, drawing_id)

if steps is not None:
    st.subheader("From your drawing to 28x28, step by step")
    show_steps(steps, noisy)

if handle is not None:
    show_tally(handle, prediction, drawing_id if prediction is not None else None)

show_upload(handle)
# Last: it takes a line of the page, and it watches for canvases wherever they are.
st.html(CANVAS_TOOLBAR_SCRIPT, unsafe_allow_javascript=True)
