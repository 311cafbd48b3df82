"""Draw: a digit on a canvas, the model's reading of it, and how the drawing became 28x28.

What a drawing changes is a fragment (`drawing_part`): the canvas, Undo and Clear, the answer,
the probabilities, and (when open) why and the steps. A stroke reruns that, not the model
picker, "Was it right?", the settings, the score or the upload around it. The page lays out the
containers the fragment fills; what looks the same from one drawing to the next ("Was it
right?", the settings, the expanders' frames, the captions that do not change) is drawn by the
page, not by the fragment at every stroke. "Why" and the steps are computed only when open.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app_glue.drawing import (
    CANVAS_TOOLBAR_SCRIPT,
    CANVAS_TOUCH_RULE,
    PEN_WIDTH,
    canvas_drawing,
    clear_canvas,
    drawing_explanation,
    init_drawing_state,
    label_counts,
    meant_key,
    read_drawing,
    record_meant,
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
from app_glue.probability_chart import show_probabilities
from mnist_core.reading.images import ACCEPTED_IMAGE_FILES
from mnist_core.reading.predict import Prediction
from mnist_core.reading.preprocess import (
    PreprocessingSteps,
    add_gaussian_noise,
)
from mnist_core.runs.finetune import teaching_progress

# Side of the small pictures (pixels); 28x28 images are enlarged 5x without smoothing.
PICTURE_SIZE = 140
# The three "why" pictures: 4x 28 pixels, so that they stay side by side on a phone.
WHY_PICTURE_SIZE = 112
UPLOAD_TYPES = ["png", "jpg", "jpeg", "bmp", "gif", "tif", "tiff", "webp"]
# The noise's strength until the slider is moved.
NOISE_SIGMA = 0.3
PROMPT = "Draw a digit… The network's answer appears here as soon as you lift the pen."
STYLE = (
    "<style>"
    # The answer is the point of the page: make the predicted digit big, grey when unsure.
    ".st-key-draw_prediction [data-testid='stMetricValue'] "
    "{font-size: 5rem; line-height: 1.1; font-weight: 700;}"
    ".st-key-draw_answer_unsure [data-testid='stMetricValue'], "
    ".st-key-draw_upload_answer_unsure [data-testid='stMetricValue'] {color: #8a8f98;}"
    # On a phone the columns stack: a smaller answer keeps it on screen below the canvas.
    "@media (max-width: 640px) {.st-key-draw_prediction [data-testid='stMetricValue'] "
    "{font-size: 3.5rem;}}"
    # "What you meant": digits big enough for a fingertip.
    "[class*='st-key-draw_meant_'] button "
    "{min-width: 2.9rem; min-height: 2.6rem; justify-content: center;}"
    f"{CANVAS_TOUCH_RULE}</style>"
)

init_drawing_state()


def with_article(name: str) -> str:
    """ "a 4", "an 8", "an Ankle boot": how the answer is said."""
    return f"an {name}" if name[:1].lower() in "8aeiou" else f"a {name}"


def show_answer(prediction: Prediction, class_names: tuple[str, ...], key: str) -> None:
    """The answer, big; when the model is not sure, both candidates; when the drawing does not
    look like a digit, that too (beside the answer: the network still gives one).

    Args:
        prediction: the model's reading.
        class_names: the label names.
        key: prefix of the answer's container key (draw_answer for the drawing's).
    """
    answer = class_names[prediction.digit]
    grey = prediction.unsure or prediction.not_a_digit
    with st.container(key=f"{key}_unsure" if grey else f"{key}_sure"):
        st.metric("The model reads", answer)
    if prediction.unsure:
        runner_up = class_names[prediction.runner_up]
        st.markdown(
            f":material/help: **Not sure: {with_article(answer)} — or maybe "
            f"{with_article(runner_up)}** :gray[({prediction.confidence:.0%} / "
            f"{prediction.runner_up_probability:.0%})]",
            help=f"{answer}: {prediction.confidence:.0%}, {runner_up}: "
            f"{prediction.runner_up_probability:.0%}. Too close to call, so it says so instead "
            "of guessing.",
        )
    else:
        st.caption(f"with {prediction.confidence:.1%} confidence")
    if prediction.not_a_digit:
        st.markdown(
            ":material/block: **That does not look like a digit.**",
            help="The network has only ever seen the ten digits, so it always picks one, often "
            "confidently. This drawing is unlike the digits it knows (what its layers make of "
            "it, and the shape of the ink): a confident answer is not a right one.",
        )


def show_meant(handle: ModelHandle) -> None:
    """ "Was it right?" right under the answer: one tap on the digit the user meant.

    Drawn by the page, not the fragment: it looks the same for every drawing (the drawing it
    labels is the one the fragment last read), so a stroke does not redraw it, and a tap reruns
    the whole page, whose score changes.
    """
    names = handle.class_names
    st.pills(
        "**Was it right?** Tap what you meant.",
        range(len(names)),
        format_func=lambda label: names[label],
        key=meant_key(),
        on_change=record_meant,
        wrap=True,
        # Digits are kept for Teach; clothes are not.
        args=(handle.name, handle.dataset_name == "mnist"),
    )


def show_teaching_progress(handle: ModelHandle) -> None:
    """Under "Was it right?": what was last tapped, where labelling leads (digits only), and a
    problem keeping a drawing."""
    tally = tally_of(handle.name)
    said = (
        f"You said the last one was {with_article(handle.class_names[tally.true_labels[-1]])}. "
        if tally.count
        else ""
    )
    if handle.dataset_name == "mnist":
        counts = label_counts()
        progress = "" if counts is None else f"**{teaching_progress(counts)}.** "
        st.caption(
            f"{said}{progress}Each drawing you label is kept for **Teach**, where a model learns "
            "your handwriting; tapping another digit corrects your answer."
            + (
                " With noise on, the score keeps it apart."
                if st.session_state.get("draw_noise")
                else ""
            )
        )
    elif said:
        st.caption(said)
    if st.session_state.get("draw_meant_problem"):
        st.warning(st.session_state.pop("draw_meant_problem"))


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
        explained = drawing_explanation(handle.model, image28, explained_class, steps, drawing_id)
    except Exception as error:  # a stored model can fail in any way TensorFlow can
        st.warning(f"Why it reads this cannot be shown for {handle.name!r} ({error}).")
        return
    pictures = [picture(image28, WHY_PICTURE_SIZE)]
    captions = ["What it sees"]
    if explained.drawing_picture is not None:
        pictures.append(shrunk_picture(explained.drawing_picture, WHY_PICTURE_SIZE))
        captions.append("Why, on your drawing")
    pictures.append(framed(enlarged_picture(explained.picture28, WHY_PICTURE_SIZE)))
    captions.append("Why, on the 28x28")
    # One element for the three pictures: side by side, wrapping on a narrow screen.
    st.image(pictures, caption=captions, width=WHY_PICTURE_SIZE)
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
        (steps.grey, "1. Your drawing: as the canvas sends it, 280x280 pixels"),
        (steps.inverted, "2. Inverted: MNIST digits are white ink on black"),
        (steps.cropped, "3. Cropped: cut to the ink, whatever its size and place"),
        (steps.fitted, "4. Fitted to 20x20: shrunk so the longer side is 20 pixels"),
        (steps.centred, "5. Centred in 28x28: centre of mass at the middle, like MNIST"),
    ]
    if noisy is not None:
        pictures.append((noisy, "6. With noise: random grey specks added on top"))
    # One element for all the pictures: on a phone two steps a line, not one under the other.
    st.image(
        [
            picture(image, PICTURE_SIZE, frame=index == 0)
            for index, (image, _) in enumerate(pictures)
        ],
        caption=[caption for _, caption in pictures],
        width=PICTURE_SIZE,
    )


def show_score(handle: ModelHandle) -> None:
    """The model's score on the user's drawings (readings with noise apart), and its table."""
    tally = tally_of(handle.name)
    clean, noisy = tally.part(noisy=False), tally.part(noisy=True)
    names = handle.class_names
    test_label = "Fashion-MNIST" if handle.dataset_name == "fashion_mnist" else "MNIST"
    columns = st.columns(3 if noisy.count else 2)
    columns[0].metric(
        f"Accuracy on the {test_label} test set",
        "not measured"
        if handle.test_accuracy is None or handle.test_accuracy != handle.test_accuracy  # NaN
        else f"{handle.test_accuracy:.1%}",
        help="10,000 digits the network never saw while training.",
    )
    columns[1].metric(
        "Accuracy on your drawings",
        "–" if clean.accuracy is None else f"{clean.accuracy:.0%}",
        help="The drawings you labelled (“Was it right?”), read without noise, for this model.",
    )
    if noisy.count:
        columns[2].metric(
            "With noise on",
            f"{noisy.accuracy:.0%}",
            help="Your drawings read with noise added: a test of the model, scored apart.",
        )
    if tally.count == 0:
        st.caption(f"No drawings recorded for {handle.name!r} yet.")
        return
    last_meant, last_said = tally.true_labels[-1], tally.predicted_labels[-1]
    st.caption(
        f"{clean.correct} of {clean.count} of your drawings read right by {handle.name!r}"
        + (f" (and {noisy.correct} of {noisy.count} with noise on)" if noisy.count else "")
        + f". Last one: you meant {names[last_meant]}, the model said {names[last_said]}."
    )
    if clean.count:
        import pandas as pd

        labels, counts = clean.confusion_table()
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
            kept = " Your drawing above is kept." if st.session_state["draw_png"] else ""
            st.error(f"{problem}{kept}")
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
                prediction = read_drawing(handle, steps.result)
                if prediction is not None:
                    show_answer(prediction, handle.class_names, "draw_upload_answer")


def drawing_settings() -> None:
    """Pen width and noise, under the canvas (the fragment reads them from the session)."""
    st.slider(
        "Pen width",
        min_value=5,
        max_value=40,
        value=PEN_WIDTH,
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
    if not noise_on:
        return
    st.slider(
        "Noise strength σ",
        min_value=0.0,
        max_value=1.0,
        value=NOISE_SIGMA,
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


@st.fragment
def drawing_part(
    handle: ModelHandle | None,
    drawing_box: DeltaGenerator,
    chart_box: DeltaGenerator,
    why_box: DeltaGenerator | None,
    steps_box: DeltaGenerator | None,
) -> None:
    """Everything a drawing changes, written into the page's containers (see the module's doc).

    Args:
        handle: the model that reads the drawing, or None.
        drawing_box: the canvas column's top: the canvas, its buttons and the answer.
        chart_box: the probabilities, in the result column.
        why_box: inside the open "Why" expander, or None when it is closed.
        steps_box: inside the open steps expander, or None when it is closed.
    """
    with drawing_box:
        try:
            drawing_id, steps = canvas_drawing()
        except ValueError as error:
            st.error(f"The drawing could not be read: {error}. Clear the canvas and draw again.")
            drawing_id, steps = None, None
        # The canvas' own toolbar only shows on hover, which a touch screen does not have.
        with st.container(horizontal=True, key="draw_tools"):
            st.button(
                "Undo",
                key="draw_undo",
                on_click=undo_stroke,
                icon=":material/undo:",
                disabled=not st.session_state["draw_history"],
            )
            st.button(
                "Clear", key="draw_clear", on_click=clear_canvas, icon=":material/ink_eraser:"
            )
        # The answer sits right under the canvas, before any setting, so that on a phone (where
        # the columns stack) it shows without scrolling; "Was it right?" right under it.
        answer_box = st.container(key="draw_prediction")

    image28, noisy, prediction = None, None, None
    if steps is not None:
        image28 = steps.result
        if st.session_state.get("draw_noise"):
            seed = st.session_state["draw_noise_seed"]
            sigma = st.session_state.get("draw_noise_sigma", NOISE_SIGMA)
            noisy = add_gaussian_noise(image28, sigma, seed)
            image28 = noisy
            drawing_id = f"{drawing_id}-noise-{sigma}-{seed}"
    st.session_state["current_drawing"] = image28

    with answer_box:
        if steps is None:
            st.info(PROMPT)
        elif handle is None:
            st.warning(
                "No model to read the drawing: pick one above, or train one on the Train page."
            )
        else:
            prediction = read_drawing(handle, image28, None if noisy is None else steps.result)
            if prediction is not None:
                show_answer(prediction, handle.class_names, "draw_answer")
    # What "Was it right?" labels: this reading of this drawing.
    st.session_state["draw_reading"] = (
        None if prediction is None else (drawing_id, prediction.digit, noisy is not None)
    )
    if handle is None:
        return
    with chart_box:
        show_probabilities(
            None if prediction is None else prediction.probabilities,
            handle.class_names,
            empty_summary="The ten probabilities appear here when you draw.",
        )
    if why_box is not None:
        with why_box:
            if prediction is None:
                st.caption("Draw something: the pixels that made the answer show here.")
            else:
                show_why(handle, prediction, image28, steps, drawing_id)
    if steps_box is not None:
        with steps_box:
            if steps is None:
                st.caption("Draw something: how it becomes 28x28 shows here.")
            else:
                show_steps(steps, noisy)


st.title("Draw a digit")
st.caption(
    "Draw a digit with your mouse or finger and watch the network read it. It only ever saw "
    "28x28 grey digits, so your drawing is shrunk and centred the same way first."
)
st.html(STYLE)
canvas_column, result_column = st.columns([1, 1.4], gap="large")
with canvas_column:
    drawing_box = st.container()
with result_column:
    page_model = model_picker("draw")
    chart_box = st.container()
    if page_model is not None:
        st.caption(
            "The network gives every class a probability; the tallest bar is its answer. "
            "Confident is not the same as right: it has only ever seen the ten classes, so it "
            "can put nearly everything on one bar even for a scribble or a letter."
        )
    why = st.expander("Why this answer?", key="draw_why_open", on_change="rerun")
steps = st.expander(
    "From your drawing to 28x28, step by step", key="draw_steps_open", on_change="rerun"
)
with canvas_column:
    if page_model is not None:
        show_meant(page_model)
        show_teaching_progress(page_model)
    # Read by the fragment: they are made before it runs.
    drawing_settings()
drawing_part(
    page_model, drawing_box, chart_box, why if why.open else None, steps if steps.open else None
)
if page_model is not None:
    with st.container(key="draw_score"):
        show_score(page_model)
show_upload(page_model)
# Last: it takes a line of the page, and it watches for the canvas wherever it is.
st.html(CANVAS_TOOLBAR_SCRIPT, unsafe_allow_javascript=True)
