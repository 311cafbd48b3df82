"""The Draw page, through AppTest: a drawing is injected as the canvas' own state.

streamlit_drawable_canvas cannot be imported in a test process, and AppTest renders the canvas
as an unknown element. What the browser would send after a stroke is put into session state
under the canvas key instead (see /work/shared/notes/canvas-and-browser.md).
"""

import base64
import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

CANVAS_KEY = "draw_canvas_0"  # the first canvas of a session
PROMPT = "Draw a digit"
# MNIST test images that the default model reads right when drawn on the canvas.
# Clear examples of each digit (test image 18, the first 3, is a 3 that also looks like a 5).
DIGIT_INDICES = {0: 3, 3: 30, 7: 0}


@pytest.fixture(scope="module")
def mnist_test_digits(mnist):
    return mnist.x_test, mnist.y_test


def canvas_state(rgba: np.ndarray) -> dict:
    """What the canvas component sends after a stroke: the scene and a PNG data URL."""
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return {
        "drawing": {
            "raw": {"objects": [{"type": "path", "path": [["M", 100, 100], ["L", 120, 200]]}]},
            "data": f"data:image/png;base64,{encoded}",
        },
        "backgroundFit": None,
    }


def drawn(digit_image: np.ndarray) -> dict:
    from mnist_core.data.synthetic import render_canvas_drawing

    rgba = render_canvas_drawing(
        digit_image, height_fraction=0.7, center_x=0.5, center_y=0.5, stroke_scale=1.0
    )
    return canvas_state(rgba)


def blank_canvas() -> dict:
    """What the toolbar's "Reset canvas & history" sends: a blank white image, not None."""
    return canvas_state(np.full((280, 280, 4), 255, dtype=np.uint8))


@pytest.fixture
def draw_page(open_page):
    def draw_page():
        return open_page()

    return draw_page


def draw_on(at: AppTest, state: dict) -> AppTest:
    """Send a drawing the way the browser does: into the canvas that is on the page."""
    at.session_state[CANVAS_KEY] = state
    return at.run()


def prediction_text(at: AppTest) -> str:
    metrics = [metric for metric in at.metric if metric.label == "The model reads"]
    assert len(metrics) == 1, [metric.label for metric in at.metric]
    return metrics[0].value


def test_blank_canvas_asks_for_a_drawing_and_predicts_nothing(draw_page):
    at = draw_page()
    assert any(PROMPT in info.value for info in at.info)
    assert not [metric for metric in at.metric if metric.label == "The model reads"]
    assert at.session_state["current_drawing"] is None
    # The model is preselected: drawing works the moment the app starts.
    assert at.selectbox(key="draw_model_name").value == "default"


def test_reset_canvas_image_counts_as_blank(draw_page):
    at = draw_page()
    draw_on(at, blank_canvas())
    assert not at.exception
    assert any(PROMPT in info.value for info in at.info)
    assert at.session_state["current_drawing"] is None


@pytest.mark.parametrize("digit", sorted(DIGIT_INDICES))
def test_a_drawn_digit_is_read_right(draw_page, mnist_test_digits, probability_bars, digit):
    images, labels = mnist_test_digits
    index = DIGIT_INDICES[digit]
    assert labels[index] == digit
    at = draw_page()
    draw_on(at, drawn(images[index]))
    assert not at.exception
    assert prediction_text(at) == str(digit)
    assert not any(PROMPT in info.value for info in at.info)
    # The probability bars, and what they say in numbers for those who cannot see them.
    assert len(probability_bars(at)) == 1
    assert any(caption.value.startswith(f"Highest: {digit} at ") for caption in at.caption)
    current = at.session_state["current_drawing"]
    assert current.shape == (28, 28) and current.dtype == np.float32
    # It looks like a digit, and confidence is not said to be correctness.
    assert not any("does not look like a digit" in markdown.value for markdown in at.markdown)
    assert any("Confident is not the same as right" in caption.value for caption in at.caption)
    # The steps from drawing to 28x28: computed and shown only once their expander is open.
    assert not at.image
    at.session_state["draw_steps_open"] = True
    at.run()
    assert not at.exception
    (steps,) = at.image
    captions = [image.caption for image in steps.proto.imgs]
    assert len(captions) == 5 and captions[-1].startswith("5. Centred in 28x28")


def test_noise_switch_changes_what_the_model_sees(draw_page, mnist_test_digits):
    images, _ = mnist_test_digits
    at = draw_page()
    draw_on(at, drawn(images[DIGIT_INDICES[7]]))
    clean = at.session_state["current_drawing"].copy()

    at.session_state["draw_steps_open"] = True
    at.toggle(key="draw_noise").set_value(True).run()
    assert not at.exception
    noisy = at.session_state["current_drawing"]
    assert any(image.caption.startswith("6. With noise") for image in at.image[0].proto.imgs)
    assert not np.array_equal(noisy, clean)
    assert prediction_text(at) in [str(digit) for digit in range(10)]

    at.slider(key="draw_noise_sigma").set_value(0.8).run()
    stronger = at.session_state["current_drawing"]
    assert np.abs(stronger - clean).mean() > np.abs(noisy - clean).mean()

    at.button(key="draw_reroll").click().run()
    assert at.session_state["draw_noise_seed"] == 1
    assert not np.array_equal(at.session_state["current_drawing"], stronger)

    at.toggle(key="draw_noise").set_value(False).run()
    np.testing.assert_array_equal(at.session_state["current_drawing"], clean)


def test_recording_the_meant_digit_updates_the_tally(draw_page, mnist_test_digits, meant_pills):
    images, _ = mnist_test_digits
    at = draw_page()
    draw_on(at, drawn(images[DIGIT_INDICES[3]]))
    assert prediction_text(at) == "3"
    mine = [metric for metric in at.metric if metric.label == "Accuracy on your drawings"]
    assert mine[0].value == "–"

    # "Was it right?" is one row of digits right under the answer.
    assert meant_pills(at).label.startswith("**Was it right?**")
    meant_pills(at).set_value(3).run()
    assert not at.exception
    assert meant_pills(at).value is None  # let go, ready for the next drawing
    tally = at.session_state["draw_tally"]["default"]
    assert (tally.count, tally.correct) == (1, 1)
    mine = [metric for metric in at.metric if metric.label == "Accuracy on your drawings"]
    assert mine[0].value == "100%"
    test_accuracy = [metric for metric in at.metric if "test set" in metric.label]
    assert test_accuracy[0].value.endswith("%")
    assert len(at.table) == 1

    assert any("You said the last one was a 3." in caption.value for caption in at.caption)
    # Tapping again for the same drawing corrects the answer instead of counting twice.
    meant_pills(at).set_value(8).run()
    tally = at.session_state["draw_tally"]["default"]
    assert (tally.count, tally.correct) == (1, 0)
    assert [metric for metric in at.metric if metric.label == "Accuracy on your drawings"][
        0
    ].value == "0%"

    at.button(key="draw_reset_tally").click().run()
    assert "default" not in at.session_state["draw_tally"]
    assert len(at.table) == 0


def test_clear_button_empties_the_canvas(draw_page, mnist_test_digits):
    images, _ = mnist_test_digits
    at = draw_page()
    draw_on(at, drawn(images[DIGIT_INDICES[0]]))
    assert prediction_text(at) == "0"
    at.button(key="draw_clear").click().run()
    assert not at.exception
    assert at.session_state["draw_canvas_version"] == 1
    assert any(PROMPT in info.value for info in at.info)
    assert at.session_state["current_drawing"] is None


def test_the_drawing_survives_a_visit_to_another_page(draw_page, mnist_test_digits):
    images, _ = mnist_test_digits
    at = draw_page()
    draw_on(at, drawn(images[DIGIT_INDICES[7]]))
    assert prediction_text(at) == "7"
    at.switch_page("app_pages/fit_line.py").run()
    assert not at.exception
    at.switch_page("app_pages/draw.py").run()
    assert not at.exception
    # The canvas is given the kept drawing back, and the page still reads it.
    assert at.session_state["draw_canvas_initial"] is not None
    assert prediction_text(at) == "7"


def test_without_any_model_the_page_says_so_and_still_preprocesses(
    draw_page, tmp_path, monkeypatch, mnist_test_digits
):
    images, _ = mnist_test_digits
    monkeypatch.setenv("MNIST_MODELS_DIR", str(tmp_path))  # an empty models directory
    at = draw_page()
    assert any("No saved model yet" in warning.value for warning in at.warning)
    assert any(PROMPT in info.value for info in at.info)
    draw_on(at, drawn(images[DIGIT_INDICES[7]]))
    assert not at.exception
    assert any("No model to read the drawing" in warning.value for warning in at.warning)
    assert not [metric for metric in at.metric if metric.label == "The model reads"]
    assert at.session_state["current_drawing"] is not None


def test_a_broken_model_file_shows_an_error_not_an_exception(
    draw_page, tmp_path, monkeypatch, mnist_test_digits
):
    import shutil
    import zipfile

    from mnist_core.base.paths import models_directory

    images, _ = mnist_test_digits
    shutil.copy(models_directory() / "default.json", tmp_path / "default.json")
    # A zip that looks like a Keras archive from the outside but cannot be loaded.
    with zipfile.ZipFile(tmp_path / "default.keras", "w") as archive:
        archive.writestr("config.json", "{not json")
    monkeypatch.setenv("MNIST_MODELS_DIR", str(tmp_path))
    at = draw_page()
    draw_on(at, drawn(images[DIGIT_INDICES[7]]))
    assert not at.exception
    assert at.error, "the model's load failure is shown"
    assert not [metric for metric in at.metric if metric.label == "The model reads"]


def pen_canvas_state(image: np.ndarray) -> dict:
    """A pen dev-set drawing (grey, ink 0 on paper 255) as the canvas would send it."""
    rgba = np.dstack([image, image, image, np.full_like(image, 255)])
    return canvas_state(rgba)


@pytest.fixture(scope="module")
def pen_readings():
    """The pen dev set and how the default model reads each of its drawings (the core's way)."""
    from mnist_core.data.pen_digits import load_pen_dev_set
    from mnist_core.modeling.store import load_model
    from mnist_core.reading.predict import (
        predict_batch,
        prediction_from_probabilities,
    )
    from mnist_core.reading.preprocess import preprocess_drawing

    pen = load_pen_dev_set()
    images = pen.images[:400]
    probabilities = predict_batch(
        load_model("default").model, np.stack([preprocess_drawing(image) for image in images])
    )
    return images, [prediction_from_probabilities(row) for row in probabilities]


def test_an_ambiguous_drawing_is_called_not_sure_with_both_candidates(draw_page, pen_readings):
    images, predictions = pen_readings
    unsure = [index for index, prediction in enumerate(predictions) if prediction.unsure]
    assert unsure, "the default model is sure of all 400 drawings: re-tune the thresholds"
    prediction = predictions[unsure[0]]
    at = draw_page()
    draw_on(at, pen_canvas_state(images[unsure[0]]))
    assert not at.exception
    assert prediction_text(at) == str(prediction.digit)
    article = {8: "an"}
    expected = (
        f"Not sure: {article.get(prediction.digit, 'a')} {prediction.digit} — or maybe "
        f"{article.get(prediction.runner_up, 'a')} {prediction.runner_up}"
    )
    assert any(expected in markdown.value for markdown in at.markdown), expected


def test_a_clear_reading_is_not_called_unsure(draw_page, mnist_test_digits):
    images, _ = mnist_test_digits
    at = draw_page()
    draw_on(at, drawn(images[DIGIT_INDICES[7]]))
    assert prediction_text(at) == "7"
    assert not any("Not sure" in markdown.value for markdown in at.markdown)
    assert any("confidence" in caption.value for caption in at.caption)


def test_why_shows_the_maps_for_the_answer_and_on_request_for_the_runner_up(
    draw_page, mnist_test_digits
):
    images, _ = mnist_test_digits
    at = draw_page()
    draw_on(at, drawn(images[DIGIT_INDICES[3]]))
    assert prediction_text(at) == "3"
    # Computed only once its expander is open.
    assert not any(markdown.value == "**Why a 3?**" for markdown in at.markdown)
    at.session_state["draw_why_open"] = True
    at.run()
    assert any(markdown.value == "**Why a 3?**" for markdown in at.markdown)
    explained_for, explanation = at.session_state["draw_explanation"]
    assert explained_for[2] == explanation.class_index == 3
    captions = [picture.caption for image in at.image for picture in image.proto.imgs]
    assert captions == ["What it sees", "Why, on your drawing", "Why, on the 28x28"]

    choice = at.segmented_control(key="draw_why_class")
    choice.set_value("runner_up").run()
    assert not at.exception
    explained_for, explanation = at.session_state["draw_explanation"]
    runner_up = explanation.class_index
    assert runner_up != 3 and explained_for[2] == runner_up
    assert any(f"towards {runner_up}" in caption.value for caption in at.caption)


def test_undo_goes_back_one_drawing_at_a_time(draw_page, mnist_test_digits):
    images, _ = mnist_test_digits
    at = draw_page()
    draw_on(at, drawn(images[DIGIT_INDICES[7]]))
    assert at.button(key="draw_undo").disabled is False
    draw_on(at, drawn(images[DIGIT_INDICES[3]]))
    assert prediction_text(at) == "3"
    assert len(at.session_state["draw_history"]) == 2

    at.button(key="draw_undo").click().run()
    assert not at.exception
    # A fresh canvas that starts from the earlier drawing, and the page reads that one.
    assert at.session_state["draw_canvas_version"] == 1
    assert at.session_state["draw_canvas_initial"] is not None
    assert prediction_text(at) == "7"

    at.button(key="draw_undo").click().run()
    assert any(PROMPT in info.value for info in at.info)
    assert at.session_state["draw_history"] == []
    assert at.button(key="draw_undo").disabled is True


def test_an_unreadable_upload_says_so_and_keeps_the_drawing(draw_page, mnist_test_digits):
    images, _ = mnist_test_digits
    at = draw_page()
    upload = ("digit.png", b"not a picture", "image/png")
    at.file_uploader(key="draw_upload").set_value(upload).run()
    # Nothing drawn yet: no drawing to speak of.
    (refused,) = [error.value for error in at.error]
    assert "not an image Pillow can read" in refused and "drawing above" not in refused
    at.file_uploader(key="draw_upload").set_value(None).run()
    draw_on(at, drawn(images[DIGIT_INDICES[7]]))
    at.file_uploader(key="draw_upload").set_value(upload).run()
    assert not at.exception
    assert any(
        "not an image Pillow can read" in error.value
        and "Your drawing above is kept" in error.value
        for error in at.error
    )
    assert prediction_text(at) == "7"
    assert at.session_state["draw_png"] is not None


def test_an_uploaded_picture_is_read_beside_the_drawing(draw_page, mnist_test_digits):
    images, _ = mnist_test_digits
    at = draw_page()
    draw_on(at, drawn(images[DIGIT_INDICES[7]]))
    buffer = io.BytesIO()
    Image.fromarray(images[DIGIT_INDICES[3]]).save(buffer, format="PNG")
    at.file_uploader(key="draw_upload").set_value(
        ("three.png", buffer.getvalue(), "image/png")
    ).run()
    assert not at.exception
    readings = [metric.value for metric in at.metric if metric.label == "The model reads"]
    assert readings == ["7", "3"]


def non_digit_state(kind: str) -> dict:
    """The first drawing of a kind ("cross", "letter", ...) of the committed non-digit set, as the
    canvas would send it."""
    from mnist_core.data.non_digits import KINDS, load_non_digit_set

    others = load_non_digit_set()
    image = others.images[list(others.kinds).index(KINDS.index(kind))]
    return pen_canvas_state(image)


def test_a_drawing_that_is_no_digit_is_called_so_beside_the_probabilities(
    draw_page, probability_bars
):
    at = draw_page()
    draw_on(at, non_digit_state("cross"))
    assert not at.exception
    # The network still gives its answer and its ten probabilities; the page says what it is.
    assert prediction_text(at) in [str(digit) for digit in range(10)]
    assert any("does not look like a digit" in markdown.value for markdown in at.markdown)
    assert len(probability_bars(at)) == 1
    assert any(caption.value.startswith("Highest: ") for caption in at.caption)
    assert at.session_state["draw_reading"] is not None


def test_with_noise_on_the_score_keeps_the_readings_apart(
    draw_page, mnist_test_digits, meant_pills
):
    images, _ = mnist_test_digits
    at = draw_page()
    draw_on(at, drawn(images[DIGIT_INDICES[7]]))
    meant_pills(at).set_value(7).run()
    at.toggle(key="draw_noise").set_value(True).run()
    at.slider(key="draw_noise_sigma").set_value(0.9).run()
    meant_pills(at).set_value(7).run()
    assert not at.exception
    tally = at.session_state["draw_tally"]["default"]
    assert tally.noisy == (False, True)
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Accuracy on your drawings"] == "100%"
    assert "With noise on" in metrics
    assert any("with noise on" in caption.value for caption in at.caption)


def test_the_page_says_how_many_drawings_more_teach_needs(
    open_page, app_user_of, app_run_log, mnist, meant_pills
):
    from mnist_core.data.drawings import DrawingStore, drawing_image, image_id

    user = app_user_of("counting carla").id
    store = DrawingStore(app_run_log.path)
    for digit in range(6):
        for copy in range(2):
            image = drawing_image(np.roll(mnist.x_test[digit], copy, axis=1))
            store.add_drawing(user, image_id(image), image, digit)
    image = drawing_image(mnist.x_test[6])
    store.add_drawing(user, image_id(image), image, 7)
    at = open_page(user="counting carla")
    assert any("13 of 20 — one more 7 and two more 6s" in caption.value for caption in at.caption)
    draw_on(at, drawn(mnist.x_test[0]))  # a 7
    meant_pills(at).set_value(7).run()
    assert any("14 of 20 — two more 6s and two more 8s" in caption.value for caption in at.caption)
