"""Real people's strokes through the real canvas: the pen dev set replayed with the mouse.

Every 80th digit of the pen dev set (25 digits, the first one first) is drawn on the Draw page
along a smooth curve through its 8 pen points, with the page's pen set to the digit's own
pen width. What the page reads must agree with `python -m mnist_core predict` on the same
digits' images for at least 24 of the 25: the canvas, its PNG and the page's preprocessing
together change the reading of at most 1 real digit in 25. (Replaying is deterministic: every
40th digit, 50 of them, agreed 50 of 50 on 2026-12-03; half of them keep the suite quicker.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from page_actions import canvas_box, rerun_awaited, wait_until_idle
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

REPOSITORY = Path(__file__).parents[3]
EVERY = 80
REPLAYED = 25
MIN_AGREEING = 24
# Points of the curve between two pen points: the dev set's note says 8 is plenty.
STEPS_BETWEEN_POINTS = 8


def catmull_rom(points: np.ndarray, steps: int = STEPS_BETWEEN_POINTS) -> list[tuple[float, float]]:
    """A smooth curve through `points` (uniform Catmull-Rom, end points repeated).

    Args:
        points: (K, 2) points the curve passes through, in order.
        steps: curve points from one point to the next.
    """
    knots = np.asarray(points, dtype=np.float64)
    padded = np.concatenate([knots[:1], knots, knots[-1:]])
    curve = [tuple(knots[0])]
    for index in range(len(knots) - 1):
        p0, p1, p2, p3 = padded[index : index + 4]
        for step in range(1, steps + 1):
            t = step / steps
            point = 0.5 * (
                2 * p1
                + (p2 - p0) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (3 * p1 - p0 - 3 * p2 + p3) * t**3
            )
            curve.append((float(point[0]), float(point[1])))
    return curve


def test_catmull_rom_passes_through_its_points():
    points = np.array([[10, 10], [50, 80], [120, 40], [200, 200]])
    curve = catmull_rom(points, steps=4)
    assert len(curve) == 1 + 3 * 4
    np.testing.assert_allclose([curve[i] for i in (0, 4, 8, 12)], points)


@pytest.fixture(scope="module")
def replayed_digits(tmp_path_factory):
    """The replayed digits: their index, label, points, pen, and the CLI's reading of the image."""
    from PIL import Image

    from mnist_core.data.pen_digits import load_pen_dev_set

    pen = load_pen_dev_set()
    indices = list(range(0, len(pen.labels), EVERY))[:REPLAYED]
    assert len(indices) == REPLAYED
    directory = tmp_path_factory.mktemp("pen")
    paths = []
    for index in indices:
        paths.append(str(directory / f"{index:04d}.png"))
        Image.fromarray(pen.images[index]).save(paths[-1])
    completed = subprocess.run(
        [sys.executable, "-m", "mnist_core", "predict", "--json", *paths],
        cwd=REPOSITORY,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    readings = [result["digit"] for result in json.loads(completed.stdout)]
    return [
        {
            "index": index,
            "label": int(pen.labels[index]),
            "points": pen.points[index],
            "pen": int(pen.pen_widths[index]),
            "cli": reading,
        }
        for index, reading in zip(indices, readings, strict=True)
    ]


def set_pen_width(page: Page, width: int) -> None:
    """Set the page's Pen width slider with the keyboard and wait for the app to take it.

    (Filling the slider's input changes only what it shows: the app gets the value when
    the slider next loses focus, which can be in the middle of the next stroke.)
    """
    slider = page.locator(".st-key-draw_stroke_width input[type='range']")
    change = width - int(slider.get_attribute("value"))
    if change == 0:
        return
    # The thumb moves at once, the app hears of it a moment later: a stroke drawn before the
    # page's rerun has begun would race it. So the slider lets go, and the rerun is waited for.
    with rerun_awaited(page):
        slider.focus()
        for _ in range(abs(change)):
            page.keyboard.press("ArrowRight" if change > 0 else "ArrowLeft")
        expect(
            page.locator(".st-key-draw_stroke_width [data-testid='stSliderThumbValue']")
        ).to_have_text(str(width))
        slider.blur()


def replay(page: Page, points: np.ndarray, canvas_key: str) -> None:
    """Draw one pen path with the mouse button down, along a smooth curve through its points."""
    box = canvas_box(page, canvas_key)
    curve = [(box["x"] + x, box["y"] + y) for x, y in catmull_rom(points)]
    page.mouse.move(*curve[0])
    page.mouse.down()
    for point in curve[1:]:
        page.mouse.move(*point)
    page.mouse.up()


def test_replayed_pen_digits_read_as_the_cli_reads_their_images(app_page, replayed_digits):
    answer = app_page.locator(".st-key-draw_prediction [data-testid='stMetricValue']")
    # By pen width, so that the slider moves (and the app reruns) as few times as possible.
    replayed_digits = sorted(replayed_digits, key=lambda digit: digit["pen"])
    readings = []
    for number, digit in enumerate(replayed_digits):
        set_pen_width(app_page, digit["pen"])
        replay(app_page, digit["points"], f"draw_canvas_{number}")
        expect(answer).to_have_count(1)
        readings.append(int(answer.inner_text()))
        wait_until_idle(app_page)
        app_page.get_by_role("button", name="Clear").click()
        expect(answer).to_have_count(0)
        wait_until_idle(app_page)

    agreeing = sum(
        reading == digit["cli"] for reading, digit in zip(readings, replayed_digits, strict=True)
    )
    disagreements = [
        (digit["index"], digit["label"], digit["cli"], reading)
        for reading, digit in zip(readings, replayed_digits, strict=True)
        if reading != digit["cli"]
    ]
    print(f"page and CLI agree on {agreeing} of {len(readings)}; (index, label, cli, page):")
    print(disagreements)
    assert agreeing >= MIN_AGREEING, disagreements
