"""What the browser tests do on a page, written once: wait for the app, check for exceptions,
draw strokes with the mouse, find the answer. (Fixtures are in conftest.py.)"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator

from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

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
    box = canvas_box(page, canvas_key)
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x, box["y"] + y)
        page.mouse.down()
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
            steps = max(2, int(math.hypot(x1 - x0, y1 - y0) / 8))
            page.mouse.move(box["x"] + x1, box["y"] + y1, steps=steps)
        page.mouse.up()


def canvas_box(page: Page, canvas_key: str = "draw_canvas_0") -> dict[str, float]:
    """Where the canvas `canvas_key` is on the screen, once it is the only canvas, whole in the
    window and standing still: a stroke drawn there reaches it.

    After Clear the old canvas can linger for a moment beside the new one and then vanish,
    moving the new one; and a setting under the canvas scrolls the page when it takes the focus
    (a stroke above the window is lost on the way)."""
    canvas = page.locator(f".st-key-{canvas_key} canvas.upper-canvas")
    expect(canvas).to_be_visible()
    expect(page.locator("canvas.upper-canvas")).to_have_count(1)
    window = page.viewport_size
    deadline = time.monotonic() + 10
    while True:
        box = _steady_box(canvas)
        if (
            window is None
            or box["y"] >= 0
            and box["x"] >= 0
            and box["y"] + box["height"] <= window["height"]
            and box["x"] + box["width"] <= window["width"]
        ):
            return box
        assert time.monotonic() < deadline, f"the canvas is not in the window ({box}, {window})"
        canvas.evaluate("canvas => canvas.scrollIntoView({block: 'center'})")


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


def wait_until_idle(page: Page, timeout_ms: float = 30_000) -> None:
    """Wait until the app's script is not running (use after waiting for the run's effect)."""
    # A wait, not a speed check (those are `make bench`'s): a page that measures on its first
    # opening (Evaluate tests 10,000 images) took over 5 s on a loaded CI machine.
    expect(page.locator("[data-testid='stApp']")).to_have_attribute(
        "data-test-script-state", "notRunning", timeout=timeout_ms
    )


# Counts the app's script runs from now on (each change away from "running" ends one: the
# records' old values, not the attribute read in the callback, for a run can begin and end
# between two callbacks) and when the app's state last changed.
_COUNT_RUNS_JS = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  if (window.__runWatcher) window.__runWatcher.disconnect();
  window.__runsSeen = 0;
  window.__runStateChanged = performance.now();
  window.__runWatcher = new MutationObserver((records) => {
    window.__runStateChanged = performance.now();
    for (const record of records) if (record.oldValue === 'running') window.__runsSeen += 1;
  });
  window.__runWatcher.observe(app, {
    attributes: true, attributeOldValue: true, attributeFilter: ['data-test-script-state'],
  });
}"""
# True once a run has ended since _COUNT_RUNS_JS and no other has begun for `quietMs`.
_RUNS_SETTLED_JS = """(quietMs) => window.__runsSeen > 0
  && document.querySelector("[data-testid='stApp']").getAttribute('data-test-script-state')
     !== 'running'
  && performance.now() - window.__runStateChanged >= quietMs"""
# A run that follows another within this time belongs to the same action: a changed setting
# reruns the page, and the canvas it gave new arguments to answers with a run of its own.
RUNS_QUIET_MS = 750


@contextlib.contextmanager
def rerun_awaited(page: Page, timeout_ms: float = 10_000) -> Iterator[None]:
    """Around an action that makes the app rerun (a slider let go, say): afterwards, wait until
    its runs have ended (at most `timeout_ms`) and the app is idle. Watching for runs from
    before the action on, not looking for one after it, misses neither a run over before the
    first look nor one that begins seconds late on a loaded machine, nor the canvas' own run
    that follows the page's (a stroke drawn before them would race them). A run the browser
    shows no sign of is not waited for longer than `timeout_ms`."""
    page.evaluate(_COUNT_RUNS_JS)
    yield
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(_RUNS_SETTLED_JS, arg=RUNS_QUIET_MS, timeout=timeout_ms)
    wait_until_idle(page)


def expect_no_exception(page: Page) -> None:
    """No exception box and no traceback on the page."""
    expect(page.locator("[data-testid='stException']")).to_have_count(0)
    expect(page.get_by_text("Traceback")).to_have_count(0)


def keyed_button(page: Page, key: str) -> Locator:
    """The button of widget `key` (Streamlit draws a button with a help tooltip twice, one
    copy hidden: only the visible one is taken)."""
    return page.locator(f".st-key-{key}").get_by_role("button")


# The labels of visible buttons whose text does not fit (an ellipsis, or clipped).
_CUT_LABELS_JS = """() => {
  const root = document.querySelectorAll("[data-testid='stMain'], [data-testid='stSidebar']");
  const buttons = [...root].flatMap((part) => [...part.querySelectorAll('button')]);
  return buttons
    .filter((button) => button.checkVisibility() && button.innerText.trim() !== '')
    .filter((button) => [button, ...button.querySelectorAll('*')].some((element) => {
      const style = getComputedStyle(element);
      const clips = style.overflow !== 'visible' || style.textOverflow === 'ellipsis';
      return clips && element.scrollWidth > element.clientWidth + 1;
    }))
    .map((button) => button.innerText.trim());
}"""


def cut_button_labels(page: Page) -> list[str]:
    """The labels of the visible buttons of the page and its sidebar whose text does not fit
    (cut with an ellipsis, or clipped)."""
    return page.evaluate(_CUT_LABELS_JS)
