"""The Draw page's path, in a real browser: "Was it right?" sits right under the answer on a
laptop (1366 x 900, in view without scrolling) and on a phone (390 x 844, by touch); a drawing
that is no digit is called so beside the answer."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from app_glue.probability_chart import BARS_CLASS

pytestmark = pytest.mark.browser

TIMEOUT_MS = 45_000  # as conftest's: a cold server imports TensorFlow first
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
# Strokes in canvas pixels (280x280).
SEVEN = [[(70, 60), (210, 60), (120, 240)]]
CROSS = [[(60, 60), (220, 220)], [(220, 60), (60, 220)]]
# "Was it right?" starts at most this far (CSS pixels) below the answer's box.
RIGHT_UNDER = 40


@pytest.fixture
def open_draw_page(chromium, app_url):
    contexts = []

    def open_draw_page(viewport: dict[str, int], phone: bool = False) -> Page:
        options = {"has_touch": True, "is_mobile": True, "device_scale_factor": 3} if phone else {}
        context = chromium.new_context(viewport=viewport, **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        page.goto(app_url)
        return page

    yield open_draw_page
    for context in contexts:
        context.close()


def canvas_box(page: Page) -> dict[str, float]:
    canvas = page.locator(".st-key-draw_canvas_0 canvas.upper-canvas")
    expect(canvas).to_be_visible()
    expect(page.locator("[data-testid='stApp']")).to_have_attribute(
        "data-test-script-state", "notRunning"
    )
    return canvas.bounding_box()


def draw_with_mouse(page: Page, strokes: list[list[tuple[float, float]]]) -> None:
    box = canvas_box(page)
    for stroke in strokes:
        points = [stroke[0]]
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
            points += [(x0 + (x1 - x0) * i / 12, y0 + (y1 - y0) * i / 12) for i in range(1, 13)]
        page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y)
        page.mouse.up()


def draw_with_finger(page: Page, strokes: list[list[tuple[float, float]]]) -> None:
    box = canvas_box(page)
    cdp = page.context.new_cdp_session(page)
    for stroke in strokes:
        points = [stroke[0]]
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
            points += [(x0 + (x1 - x0) * i / 12, y0 + (y1 - y0) * i / 12) for i in range(1, 13)]
        touches = [[{"x": box["x"] + x, "y": box["y"] + y}] for x, y in points]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": touches[0]})
        for touch in touches[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": touch})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def answer_and_question(page: Page) -> tuple[dict[str, float], dict[str, float]]:
    """The answer's box and the box of "Was it right?" once a reading is on screen."""
    expect(page.locator(".st-key-draw_prediction [data-testid='stMetricValue']")).to_have_count(1)
    expect(page.locator("[data-testid='stApp']")).to_have_attribute(
        "data-test-script-state", "notRunning"
    )
    question = page.locator("[class*='st-key-draw_meant_']")
    expect(question).to_contain_text("Was it right?")
    return page.locator(".st-key-draw_prediction").bounding_box(), question.bounding_box()


def test_on_a_laptop_was_it_right_is_under_the_answer_and_in_view(open_draw_page):
    page = open_draw_page(LAPTOP)
    draw_with_mouse(page, SEVEN)
    answer, question = answer_and_question(page)
    assert 0 <= question["y"] - (answer["y"] + answer["height"]) <= RIGHT_UNDER, (answer, question)
    assert question["y"] + question["height"] <= LAPTOP["height"], question  # above the fold
    expect(page.locator("[class*='st-key-draw_meant_']")).to_be_in_viewport(ratio=1.0)


def test_on_a_phone_was_it_right_is_under_the_answer(open_draw_page):
    page = open_draw_page(PHONE, phone=True)
    draw_with_finger(page, SEVEN)
    answer, question = answer_and_question(page)
    assert 0 <= question["y"] - (answer["y"] + answer["height"]) <= RIGHT_UNDER, (answer, question)
    assert question["x"] >= 0 and question["x"] + question["width"] <= PHONE["width"], question
    # Tapping a digit labels the drawing: the page says so under it.
    page.locator("[class*='st-key-draw_meant_'] button", has_text="7").tap()
    expect(
        page.locator("[data-testid='stCaptionContainer']", has_text="You said the last one was a 7")
    ).to_have_count(1)


def test_a_cross_is_read_and_called_no_digit(open_draw_page):
    page = open_draw_page(LAPTOP)
    draw_with_mouse(page, CROSS)
    answer_and_question(page)
    expect(page.locator(".st-key-draw_prediction")).to_contain_text(
        "That does not look like a digit"
    )
    expect(page.locator(f".{BARS_CLASS}")).to_have_count(1)
