"""Benchmark 4, cold start: from `streamlit run app.py` to the first page and the first prediction.

Each repetition starts a fresh server (a subprocess) and measures, from the moment the process
starts: the health endpoint answering, the HTML at / answering 200, and a chromium page
(launched beforehand: the browser's own start is not the app's) showing the Draw page's title
and its canvas. On that page it then draws a digit: the first prediction on a cold server,
timed from opening the page (which it does as soon as the server is healthy). Then a second,
freshly launched chromium opens the Draw page on the now warm server and draws: the first
prediction every later visitor waits for. Drawing the digit (about 25 mouse moves) is part of
both times; the benchmark's own wait for the page's layout to settle before it draws is not.

Goals: first page within 3 s; first prediction within 3 s of opening the page.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # to run as a script

from typing import Any

from bench import browser_support
from bench.common import benchmark_result, figure_from_samples, load_average, main

BENCHMARK = "cold_start"
TITLE = "Cold start: streamlit run app.py -> first page -> first prediction (chromium)"
FIRST_PAGE_GOAL_SECONDS = 3.0
FIRST_PREDICTION_GOAL_SECONDS = 3.0
FIRST_PORT = 8620
DIGIT = 7


def open_and_predict(page: Any, url: str, started: float | None = None) -> dict[str, float]:
    """Open the Draw page, draw a digit, wait for its prediction; seconds since opening it.

    Args:
        page: a fresh Playwright page.
        url: the app's address.
        started: also give the title's and canvas' times since this perf_counter() value.
    """
    opened = time.perf_counter()
    page.goto(url + "/", wait_until="commit")
    browser_support.wait_for_title(page)
    title = time.perf_counter()
    browser_support.wait_for_canvas(page)
    canvas = time.perf_counter()
    # The benchmark's own wait for the layout to settle is left out of the figures.
    box = browser_support.canvas_box(page)
    strokes_started = time.perf_counter()
    lifted = browser_support.draw_digit(page, DIGIT, box)
    browser_support.wait_for_prediction(page)
    predicted = time.perf_counter()
    times = {
        "title_since_open": title - opened,
        "canvas_since_open": canvas - opened,
        "settle_seconds_left_out": strokes_started - canvas,
        "drawing_seconds": lifted - strokes_started,
        "mouse_up_to_prediction": browser_support.round_trip_milliseconds(page) / 1000,
        "prediction_since_open": (canvas - opened) + (predicted - strokes_started),
        "predicted": browser_support.predicted_text(page),
    }
    if started is not None:
        times["title_since_start"] = title - started
        times["canvas_since_start"] = canvas - started
    return times


def one_cold_start(playwright: Any, port: int, repetition: int) -> dict[str, Any]:
    """Start a server and measure what its first and second visitor see.

    Args:
        playwright: a started Playwright.
        port: the port to serve on.
        repetition: the repetition's number (for file names).
    """
    first_browser = browser_support.launch_chromium(playwright)
    page = browser_support.new_page(first_browser)
    second_browser = None
    server = browser_support.StreamlitServer(port, f"{BENCHMARK}-{repetition}")
    try:
        started = server.start()
        health = server.wait_until_healthy()
        status = server.get_page_status()
        html = time.perf_counter() - started
        if status != 200:
            raise RuntimeError(f"GET / answered {status}, expected 200")
        cold = open_and_predict(page, server.url, started)
        second_browser = browser_support.launch_chromium(playwright)
        second_page = browser_support.new_page(second_browser)
        page = second_page
        warm = open_and_predict(second_page, server.url)
        return {"health": health, "html": html, "cold_server": cold, "warm_server": warm}
    except Exception as error:
        shot = browser_support.save_screenshot(page, f"{BENCHMARK}-{repetition}-failure")
        raise RuntimeError(
            f"{error} (screenshot: {shot}; server log: {server.log_path})"
        ) from error
    finally:
        for browser in (first_browser, second_browser):
            if browser is not None:
                browser.close()
        server.stop()


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark and return its result (see bench.common.benchmark_result).

    Args:
        quick: 1 repetition instead of 3.
    """
    from playwright.sync_api import sync_playwright

    started, load_before = time.perf_counter(), load_average()
    repetitions = 1 if quick else 3
    runs = []
    with sync_playwright() as playwright:
        for repetition in range(repetitions):
            port = browser_support.free_port(FIRST_PORT)
            record = one_cold_start(playwright, port, repetition)
            runs.append(record)
            print(
                f"  {BENCHMARK} {repetition + 1}/{repetitions}: healthy {record['health']:.2f} s, "
                f"title {record['cold_server']['title_since_start']:.2f} s, canvas "
                f"{record['cold_server']['canvas_since_start']:.2f} s, first prediction "
                f"{record['cold_server']['prediction_since_open']:.2f} s (cold server), "
                f"{record['warm_server']['prediction_since_open']:.2f} s (warm server)",
                flush=True,
            )

    def samples(*keys: str) -> list[float]:
        values = []
        for record in runs:
            value: Any = record
            for key in keys:
                value = value[key]
            values.append(value)
        return values

    first_page = samples("cold_server", "title_since_start")
    cold_prediction = samples("cold_server", "prediction_since_open")
    warm_prediction = samples("warm_server", "prediction_since_open")
    page_goal = f"<= {FIRST_PAGE_GOAL_SECONDS:g} s"
    prediction_goal = f"<= {FIRST_PREDICTION_GOAL_SECONDS:g} s"
    figures = [
        figure_from_samples(
            BENCHMARK, "start -> /_stcore/health answers ok", "s", samples("health")
        ),
        figure_from_samples(BENCHMARK, "start -> GET / answers 200", "s", samples("html")),
        figure_from_samples(
            BENCHMARK,
            "start -> first page: Draw title shown in chromium",
            "s",
            first_page,
            goal=page_goal,
            passed=_median(first_page) <= FIRST_PAGE_GOAL_SECONDS,
        ),
        figure_from_samples(
            BENCHMARK,
            "start -> Draw canvas shown",
            "s",
            samples("cold_server", "canvas_since_start"),
        ),
        figure_from_samples(
            BENCHMARK,
            "cold server: open Draw page -> first prediction",
            "s",
            cold_prediction,
            reference=_breakdown(runs, "cold_server"),
            goal=prediction_goal,
            passed=_median(cold_prediction) <= FIRST_PREDICTION_GOAL_SECONDS,
            note="page opened as soon as the server is healthy",
        ),
        figure_from_samples(
            BENCHMARK,
            "warm server, fresh chromium: open Draw page -> first prediction",
            "s",
            warm_prediction,
            reference=_breakdown(runs, "warm_server"),
            goal=prediction_goal,
            passed=_median(warm_prediction) <= FIRST_PREDICTION_GOAL_SECONDS,
        ),
    ]
    settings = {
        "repetitions": repetitions,
        "digit_drawn": DIGIT,
        "server": "fresh `streamlit run app.py` subprocess per repetition, headless",
        "browser": "Debian chromium launched before timing starts, a new one for the warm visit",
    }
    return benchmark_result(
        BENCHMARK, TITLE, quick, settings, figures, {"runs": runs}, started, load_before
    )


def _breakdown(runs: list[dict[str, Any]], visit: str) -> str:
    """Where the time to the first prediction went (medians): page ready, drawing, answer."""
    parts = (
        ("canvas ready", "canvas_since_open"),
        ("drawing", "drawing_seconds"),
        ("mouse-up -> prediction", "mouse_up_to_prediction"),
    )
    return "medians: " + ", ".join(
        f"{label} {_median([record[visit][key] for record in runs]):.2f} s" for label, key in parts
    )


def _median(values: list[float]) -> float:
    import numpy as np

    return float(np.median(values))


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
