"""The app in a real browser: draw digits with the mouse, visit every page, train, clear.

What AppTest cannot show: the canvas component really sends strokes, the pages really render
in chromium, and a training run really draws its curve. Run them alone with
`pytest tests/app/browser -m browser`.
"""

from __future__ import annotations

import math
import re
import time

import pytest
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

# One epoch of a small dense network on 1,000 images: about 5 s in a plain Python process,
# 30 s to over 2 minutes inside the server on a busy 2-core machine (most of it before the
# first batch). The limit only catches a training that never ends.
TRAINING_TIMEOUT_MS = 240_000

# Strokes on the 280x280 canvas, in canvas pixels: each stroke is a list of points the pen
# passes through, drawn with the page's default pen (20 px). Plain, upright digits, large and
# centred: the default model read each of them with 100% confidence when this was written.
Stroke = list[tuple[float, float]]


def _arc(
    centre_x: float, centre_y: float, radius_x: float, radius_y: float, start: float, end: float
) -> Stroke:
    """Points along an ellipse from angle `start` to `end` (degrees, 0 = right, 90 = down)."""
    count = max(8, int(abs(end - start) / 6))
    return [
        (
            centre_x + radius_x * math.cos(math.radians(start + (end - start) * i / count)),
            centre_y + radius_y * math.sin(math.radians(start + (end - start) * i / count)),
        )
        for i in range(count + 1)
    ]


DIGIT_STROKES: dict[int, list[Stroke]] = {
    0: [_arc(140, 140, 55, 90, -90, 275)],
    1: [[(150, 45), (140, 235)]],
    2: [_arc(140, 100, 55, 50, 190, 380) + [(90, 225), (205, 225)]],
    3: [_arc(135, 95, 55, 45, 200, 450) + _arc(135, 185, 60, 45, -90, 160)],
    4: [[(165, 45), (85, 165), (210, 165)], [(170, 95), (170, 240)]],
    7: [[(80, 55), (205, 55), (125, 240)]],
}


def draw_strokes(page: Page, strokes: list[Stroke], canvas_key: str = "draw_canvas_0") -> None:
    """Draw with the mouse on the canvas: press, move in small steps, release.

    Args:
        page: the Draw page.
        strokes: the pen's paths, in canvas pixels.
        canvas_key: the canvas' Streamlit key (draw_canvas_<n>, n = times cleared).
    """
    canvas = page.locator(f".st-key-{canvas_key} canvas.upper-canvas")
    expect(canvas).to_be_visible()
    # After Clear the old canvas can linger for a moment beside the new one and then vanish,
    # moving the new one: draw only once there is one canvas, standing still.
    expect(page.locator("canvas.upper-canvas")).to_have_count(1)
    box = _steady_box(canvas)
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x, box["y"] + y)
        page.mouse.down()
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
            steps = max(2, int(math.hypot(x1 - x0, y1 - y0) / 8))
            page.mouse.move(box["x"] + x1, box["y"] + y1, steps=steps)
        page.mouse.up()


def _steady_box(element: Locator, timeout_seconds: float = 10.0) -> dict[str, float]:
    """The element's bounding box once two readings 100 ms apart agree."""
    deadline = time.monotonic() + timeout_seconds
    box = element.bounding_box()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        again = element.bounding_box()
        if box is not None and again == box:
            return box
        box = again
    raise AssertionError(f"the canvas kept moving (last box {box})")


def prediction(page: Page) -> Locator:
    """The big "The model reads" answer (absent while the canvas is blank)."""
    return page.locator(".st-key-draw_prediction [data-testid='stMetricValue']")


def prediction_box(page: Page) -> Locator:
    """Where the answer, or the "Draw a digit" prompt, appears."""
    return page.locator(".st-key-draw_prediction")


def wait_until_idle(page: Page) -> None:
    """Wait until the app's script is not running (use after waiting for the run's effect)."""
    expect(page.locator("[data-testid='stApp']")).to_have_attribute(
        "data-test-script-state", "notRunning"
    )


def expect_no_exception(page: Page) -> None:
    """No exception box and no traceback on the page."""
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    expect(page.get_by_text("Traceback")).to_have_count(0)


# "1" is drawn (and read) by the Clear and toolbar-reset tests below.
@pytest.mark.parametrize("digit", [0, 2, 3, 4, 7])
def test_a_digit_drawn_with_the_mouse_is_read_right(app_page, digit):
    expect(prediction_box(app_page)).to_contain_text("Draw a digit")
    draw_strokes(app_page, DIGIT_STROKES[digit])
    expect(prediction(app_page)).to_have_text(str(digit))
    expect_no_exception(app_page)


def test_clear_button_brings_back_the_prompt(app_page):
    draw_strokes(app_page, DIGIT_STROKES[7])
    expect(prediction(app_page)).to_have_text("7")
    app_page.get_by_role("button", name="Clear").click()
    expect(prediction(app_page)).to_have_count(0)
    expect(prediction_box(app_page)).to_contain_text("Draw a digit")
    # The fresh canvas (a new key) takes a new drawing.
    wait_until_idle(app_page)
    draw_strokes(app_page, DIGIT_STROKES[1], canvas_key="draw_canvas_1")
    expect(prediction(app_page)).to_have_text("1")


def test_the_toolbar_reset_counts_as_a_blank_canvas(app_page):
    draw_strokes(app_page, DIGIT_STROKES[1])
    expect(prediction(app_page)).to_have_text("1")
    wait_until_idle(app_page)
    # The toolbar shows on hover; its reset sends a blank image (not None) to Python.
    app_page.locator(".st-key-draw_canvas_0 canvas.upper-canvas").hover()
    app_page.get_by_role("button", name="Reset canvas & history").click()
    expect(prediction(app_page)).to_have_count(0)
    expect(prediction_box(app_page)).to_contain_text("Draw a digit")


def test_an_uploaded_picture_of_a_digit_is_read_right(app_page, mnist, tmp_path):
    from PIL import Image

    from mnist_core.data.synthetic import render_canvas_drawing

    # A dark 3 on white paper, like a scan: MNIST test image 18 is a 3.
    assert mnist.y_test[18] == 3
    picture = render_canvas_drawing(
        mnist.x_test[18], canvas_size=200, height_fraction=0.6, center_x=0.5, center_y=0.5,
        stroke_scale=1.0,
    )  # fmt: skip
    path = tmp_path / "three.png"
    Image.fromarray(picture).convert("RGB").save(path)
    expander = app_page.get_by_test_id("stExpander").filter(has_text="upload")
    expander.get_by_text("Or upload a photo or scan of a digit").click()
    app_page.locator(".st-key-draw_upload input[type='file']").set_input_files(path)
    expect(expander.get_by_test_id("stMetricValue")).to_have_text("3")
    expect_no_exception(app_page)


PAGES = [
    ("Data", "data"),
    ("Train", "train"),
    ("Evaluate", "evaluate"),
    ("Inside the network", "inside"),
    ("Fit a line", "fit_line"),
    ("Draw", ""),  # the default page lives at the app's root
]


def test_every_page_opens_without_an_exception(app_page):
    # Half a drawing: the first stroke of a 4.
    draw_strokes(app_page, DIGIT_STROKES[4][:1])
    # Wait for the answer before leaving: a debounced canvas rerun can swallow a click.
    expect(prediction(app_page)).to_have_count(1)
    wait_until_idle(app_page)
    answer_before = prediction(app_page).inner_text()
    sidebar = app_page.get_by_test_id("stSidebarNav")
    for title, url_path in PAGES:
        sidebar.get_by_role("link", name=title).click()
        # The Train page writes its settings into the query string.
        app_page.wait_for_url(re.compile(f"/{url_path}(\\?.*)?$"), wait_until="commit")
        expect(app_page.locator("h1").first).to_be_visible()
        wait_until_idle(app_page)
        expect_no_exception(app_page)
    # Back on the Draw page the drawing is still there, still read, and can be finished.
    expect(prediction(app_page)).to_have_text(answer_before)
    draw_strokes(app_page, DIGIT_STROKES[4][1:])
    expect(prediction(app_page)).to_have_text("4")


def test_training_one_epoch_on_a_small_subset_shows_the_curve_and_accuracy(app_page):
    app_page.get_by_test_id("stSidebarNav").get_by_role("link", name="Train").click()
    app_page.wait_for_url(re.compile(r"/train(\?.*)?$"), wait_until="commit")
    wait_until_idle(app_page)
    # A dense network: it learns something in one epoch on 1,000 images, in seconds.
    app_page.get_by_test_id("stSelectbox").filter(has_text="Preset").click()
    app_page.get_by_role("option", name="dense_fast").click()
    wait_until_idle(app_page)
    # The smallest subset and one epoch: Home moves a slider to its first choice.
    slider(app_page, "Training images").press("Home")
    expect(slider(app_page, "Training images")).to_have_attribute("aria-valuetext", "1,000")
    wait_until_idle(app_page)
    app_page.get_by_role("tab", name="Learning").click()
    slider(app_page, "Epochs").press("Home")
    expect(slider(app_page, "Epochs")).to_have_attribute("aria-valuetext", "1")
    wait_until_idle(app_page)

    app_page.locator(".st-key-train_start").get_by_role("button", name="Train").click()
    accuracy = app_page.get_by_test_id("stMetric").filter(has_text="Test accuracy")
    expect(accuracy.get_by_test_id("stMetricValue")).to_have_text(
        re.compile(r"^\d+\.\d\d%$"), timeout=TRAINING_TIMEOUT_MS
    )
    value = float(accuracy.get_by_test_id("stMetricValue").inner_text().rstrip("%"))
    assert value > 20, f"one epoch on 1,000 images should beat chance (10%), got {value}%"
    # The loss and accuracy curves.
    expect(app_page.get_by_test_id("stVegaLiteChart")).to_have_count(2)
    expect(app_page.get_by_test_id("stVegaLiteChart").first).to_be_visible()
    expect_no_exception(app_page)


def slider(page: Page, label: str) -> Locator:
    """The thumb of the slider (or select slider) whose label is `label`."""
    return page.get_by_test_id("stSlider").filter(has_text=label).get_by_role("slider")


def test_a_page_opened_by_its_url_on_a_fresh_server_goes_through_the_app(chromium, fresh_app_url):
    # Streamlit's old multipage mode would run pages/train.py on its own for the first visit
    # of a fresh server: no shared state, and a sidebar listing every file of pages/.
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(f"{fresh_app_url}/train")
        navigation = page.get_by_test_id("stSidebarNav")
        expect(navigation.get_by_role("link", name="Inside the network")).to_be_visible(
            timeout=60_000
        )
        expect(navigation.get_by_role("link", name="common")).to_have_count(0)
        expect(page.get_by_role("heading", name="Train a network")).to_be_visible()
        expect_no_exception(page)
    finally:
        context.close()
