"""The Draw page on a phone: a 390x844 touch screen, drawn on with a finger.

Real touch input: Chrome DevTools Protocol `Input.dispatchTouchEvent` (touchStart, touchMove,
touchEnd) through Playwright's CDP session, in a mobile context (has_touch, is_mobile).
What a student with a phone needs: the canvas fits the screen, a finger on it draws instead of
scrolling the page, the answer shows without scrolling right after the stroke, and Clear and
Undo work by touch (the canvas' own toolbar only appears on hover, which a phone lacks).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from page_actions import wait_until_idle
from playwright.sync_api import CDPSession, Locator, Page, expect

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).parents[3] / "test-artifacts"
TIMEOUT_MS = 45_000  # as conftest's: a cold server imports TensorFlow first

PHONE = {"width": 390, "height": 844}
PROMPT = "Draw a digit"
# Strokes in canvas pixels (280x280). The second stroke of the 4 goes from the bottom up: a
# finger moving up the screen is what would scroll the page down, if the canvas let it.
FOUR_FIRST_STROKE = [(165, 45), (85, 165), (210, 165)]
FOUR_SECOND_STROKE = [(170, 240), (170, 95)]
# A 7 begun in the canvas' top right corner, where its hidden toolbar lies.
SEVEN = [(262, 10), (60, 20), (150, 255)]
# Points a finger passes per stroke segment.
TOUCH_STEPS = 12


@pytest.fixture
def phone(chromium, app_url, request) -> Iterator[tuple[Page, CDPSession]]:
    """The app's Draw page in a phone-sized touch context, and a CDP session to touch it."""
    context = chromium.new_context(
        viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=3
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page.goto(app_url)
    try:
        yield page, context.new_cdp_session(page)
    finally:
        report = getattr(request.node, "report_call", None)
        if report is None or report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
        context.close()


def canvas_box(page: Page, number: int = 0) -> dict[str, float]:
    canvas = page.locator(f".st-key-draw_canvas_{number} canvas.upper-canvas")
    expect(canvas).to_be_visible()
    expect(page.locator("canvas.upper-canvas")).to_have_count(1)
    wait_until_idle(page)
    return canvas.bounding_box()


def touch_stroke(cdp: CDPSession, box: dict[str, float], stroke: list[tuple[float, float]]) -> None:
    """Draw one stroke with a finger: touch down, move in small steps, lift."""
    points = [stroke[0]]
    for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
        points += [
            (x0 + (x1 - x0) * step / TOUCH_STEPS, y0 + (y1 - y0) * step / TOUCH_STEPS)
            for step in range(1, TOUCH_STEPS + 1)
        ]
    touches = [[{"x": box["x"] + x, "y": box["y"] + y}] for x, y in points]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": touches[0]})
    for touch in touches[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": touch})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def scroll_positions(page: Page) -> dict[str, float]:
    """The window's scroll position and the app's own (Streamlit scrolls its main section)."""
    return page.evaluate(
        """() => {
          const main = document.querySelector("[data-testid='stMain']");
          return {window: window.scrollY, app: main.scrollTop,
                  appScrollable: main.scrollHeight - main.clientHeight};
        }"""
    )


def answer(page: Page) -> Locator:
    return page.locator(".st-key-draw_prediction [data-testid='stMetricValue']")


def expect_answer_on_screen(page: Page) -> None:
    """The whole answer (the digit and what is said under it) lies inside the viewport."""
    expect(answer(page)).to_be_in_viewport(ratio=1.0)
    box = page.locator(".st-key-draw_prediction").bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    said = page.locator(".st-key-draw_prediction").inner_text()
    assert "confidence" in said or "Not sure" in said, said


def test_a_finger_draws_a_digit_that_is_read_on_screen_without_scrolling(phone):
    page, cdp = phone
    box = canvas_box(page)
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    before = scroll_positions(page)
    assert before["appScrollable"] > 0, "the page is short enough never to scroll"

    touch_stroke(cdp, box, FOUR_FIRST_STROKE)
    expect(answer(page)).to_have_count(1)
    expect_answer_on_screen(page)
    after = scroll_positions(page)
    assert (after["window"], after["app"]) == (before["window"], before["app"])

    wait_until_idle(page)
    touch_stroke(cdp, canvas_box(page), FOUR_SECOND_STROKE)
    expect(answer(page)).to_have_text("4")
    expect_answer_on_screen(page)
    after = scroll_positions(page)
    assert (after["window"], after["app"]) == (before["window"], before["app"])
    expect(page.locator("[data-testid='stException']")).to_have_count(0)


def test_undo_and_clear_work_by_touch(phone):
    page, cdp = phone
    touch_stroke(cdp, canvas_box(page), FOUR_FIRST_STROKE)
    expect(answer(page)).to_have_count(1)
    wait_until_idle(page)
    first_reading = answer(page).inner_text()
    touch_stroke(cdp, canvas_box(page), FOUR_SECOND_STROKE)
    expect(answer(page)).to_have_text("4")
    wait_until_idle(page)
    if first_reading == "4":
        pytest.fail("the first stroke alone already reads 4: Undo would show nothing")

    page.locator(".st-key-draw_undo button").tap()
    expect(answer(page)).to_have_text(first_reading)
    expect_answer_on_screen(page)
    wait_until_idle(page)
    # Undo gave a fresh canvas with the first stroke on it: it takes a new stroke.
    touch_stroke(cdp, canvas_box(page, 1), FOUR_SECOND_STROKE)
    expect(answer(page)).to_have_text("4")
    wait_until_idle(page)

    page.locator(".st-key-draw_clear button").tap()
    expect(answer(page)).to_have_count(0)
    expect(page.locator(".st-key-draw_prediction")).to_contain_text(PROMPT)


def test_a_stroke_from_the_top_right_corner_draws(phone):
    """There the canvas' hidden toolbar lies; the page lets the touch through to the canvas,
    and the toolbar takes no part in a touch screen's page (a touch "hovers" the canvas, and
    the toolbar would show over the line above it; the page's own Undo and Clear are there)."""
    page, cdp = phone
    touch_stroke(cdp, canvas_box(page), SEVEN)
    expect(answer(page)).to_have_count(1)
    expect(page.locator(".st-key-draw_undo button")).to_be_enabled()
    wait_until_idle(page)
    toolbar_display = page.locator("[class*='st-key-draw_canvas_'] .dc-toolbar").evaluate(
        "toolbar => getComputedStyle(toolbar).display"
    )
    assert toolbar_display == "none"
