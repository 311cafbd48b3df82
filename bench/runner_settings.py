"""Benchmark: the two Streamlit runner settings the app changes, each measured on and off.

The app once trained in threads of the web server, and two settings existed only for that:

- **Keras state kept between script runs** (`app_glue.keras_state.keep_keras_state_between_runs`):
  Streamlit calls `keras.backend.clear_session()` after every script run of an app that has
  imported Keras; the app replaces that clean-up (`MNIST_KEEP_KERAS_STATE=0` leaves it);
- **no garbage collection after every script run** (`runner.postScriptGC = false` in
  `.streamlit/config.toml`; `--runner.postScriptGC true` turns it back on).

Training now runs on Dask workers, so each is kept only where this benchmark says it still
pays. Four servers run side by side, one for each combination, and are measured in turns
(server A, B, C, D, then again), so that a busy moment of the machine slows all alike:

- **Draw page round trip:** mouse-up on the canvas to the prediction on screen (browser
  clock), a cleared canvas before every drawing;
- **Train page rerun:** choosing another preset (it reloads every control) to the end of the
  script run the choice starts (browser clock: the app's script state back to not running).

Goal for each setting: keep it only if turning it off makes a median at least 10% slower.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # to run as a script

import os
import time
from typing import Any

from bench import browser_support
from bench.common import benchmark_result, figure_from_samples, load_average, main, summarize

BENCHMARK = "runner_settings"
TITLE = "Streamlit runner settings: Keras state kept, post-script GC off (each on and off)"
FIRST_PORT = 8680
# A setting pays when the app is at least this much slower without it.
WORTH_KEEPING = 1.10
DIGITS = (0, 1, 2, 3, 4, 7)
PRESETS = ("dense_fast", "cnn_fast")
# (name, keep Keras state, post-script GC)
COMBINATIONS = (
    ("as shipped (state kept, no GC)", True, False),
    ("Streamlit's clear_session back", False, False),
    ("post-script GC back", True, True),
    ("both back (Streamlit's defaults)", False, True),
)
# Notes the browser's clock when the app's script state next turns "notRunning" after having
# been "running": the end of the script run that the next click starts.
ARM_RERUN_JS = """() => {
  window.__benchRerunDone = null;
  window.__benchRerunStart = performance.now();
  const app = document.querySelector("[data-testid='stApp']");
  let seenRunning = false;
  const observer = new MutationObserver(() => {
    const state = app.getAttribute('data-test-script-state');
    if (state === 'running') { seenRunning = true; }
    if (seenRunning && state === 'notRunning' && window.__benchRerunDone === null) {
      window.__benchRerunDone = performance.now();
      observer.disconnect();
    }
  });
  observer.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""


def shipped_settings() -> dict[str, bool]:
    """Which of the two settings the app ships with: the benchmark's verdict must match."""
    import tomllib

    from bench.common import REPOSITORY_ROOT

    config = tomllib.loads((REPOSITORY_ROOT / ".streamlit" / "config.toml").read_text())
    app = (REPOSITORY_ROOT / "app.py").read_text()
    return {
        "keep Keras state": "keep_keras_state_between_runs()" in app,
        "postScriptGC = false": config.get("runner", {}).get("postScriptGC") is False,
    }


def start_server(index: int, keep_state: bool, collect: bool) -> browser_support.StreamlitServer:
    """One app server with the settings of a combination."""
    launcher = browser_support.STREAMLIT_RUN + ("--runner.postScriptGC", str(collect).lower())
    os.environ["MNIST_KEEP_KERAS_STATE"] = "1" if keep_state else "0"
    server = browser_support.StreamlitServer(
        browser_support.free_port(FIRST_PORT + index), f"{BENCHMARK}-{index}", launcher=launcher
    )
    server.start()
    return server


def train_rerun_milliseconds(page: Any, preset: str) -> float:
    """Choose `preset` on the Train page; browser ms from the choice to the run's end."""
    page.get_by_test_id("stSelectbox").filter(has_text="Preset").first.click()
    page.evaluate(ARM_RERUN_JS)
    from mnist_core.modeling.presets import preset_title

    page.get_by_role("option", name=preset_title(preset), exact=True).click()
    page.wait_for_function("() => window.__benchRerunDone !== null", timeout=60_000)
    return float(page.evaluate("() => window.__benchRerunDone - window.__benchRerunStart"))


def draw_milliseconds(page: Any, digit: int) -> float:
    """Clear (if needed) and draw `digit` on the Draw page; the round trip in ms."""
    if browser_support.predicted_text(page):
        box = browser_support.clear_drawing(page, 60)
    else:
        box = browser_support.canvas_box(page)
    browser_support.draw_digit(page, digit, box)
    browser_support.wait_for_prediction(page, 60)
    return browser_support.round_trip_milliseconds(page)


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark and return its result (see bench.common.benchmark_result).

    Args:
        quick: 2 rounds after 1 warm-up round instead of 12 after 2.
    """
    from playwright.sync_api import sync_playwright

    started, load_before = time.perf_counter(), load_average()
    rounds, warm_up = (2, 1) if quick else (12, 2)
    kept = os.environ.get("MNIST_KEEP_KERAS_STATE")
    servers = [
        start_server(index, keep_state, collect)
        for index, (_, keep_state, collect) in enumerate(COMBINATIONS)
    ]
    samples: dict[str, dict[str, list[float]]] = {
        name: {"draw_ms": [], "train_rerun_ms": []} for name, _, _ in COMBINATIONS
    }
    try:
        for server in servers:
            server.wait_until_healthy(120)
        with sync_playwright() as playwright:
            browser = browser_support.launch_chromium(playwright)
            try:
                draw_pages, train_pages = [], []
                for server in servers:
                    draw_page = browser_support.new_page(browser)
                    draw_page.goto(server.url + "/")
                    browser_support.wait_for_canvas(draw_page, 120)
                    train_page = browser_support.new_page(browser)
                    train_page.goto(server.url + "/train")
                    train_page.locator(".st-key-train_start button").first.wait_for(timeout=120_000)
                    browser_support.wait_until_idle(train_page, 120)
                    draw_pages.append(draw_page)
                    train_pages.append(train_page)
                for round_index in range(warm_up + rounds):
                    digit = DIGITS[round_index % len(DIGITS)]
                    preset = PRESETS[round_index % len(PRESETS)]
                    # Who goes first turns with each round.
                    order = list(range(len(servers)))
                    shift = round_index % len(order)
                    for index in order[shift:] + order[:shift]:
                        name = COMBINATIONS[index][0]
                        draw = draw_milliseconds(draw_pages[index], digit)
                        rerun = train_rerun_milliseconds(train_pages[index], preset)
                        if round_index >= warm_up:
                            samples[name]["draw_ms"].append(draw)
                            samples[name]["train_rerun_ms"].append(rerun)
            finally:
                browser.close()
    finally:
        for server in servers:
            server.stop()
        if kept is None:
            os.environ.pop("MNIST_KEEP_KERAS_STATE", None)
        else:
            os.environ["MNIST_KEEP_KERAS_STATE"] = kept

    shipped = COMBINATIONS[0][0]
    medians = {
        name: {key: summarize(values).median for key, values in figures.items()}
        for name, figures in samples.items()
    }
    figures = []
    for name, _, _ in COMBINATIONS:
        for key, label in (("draw_ms", "Draw round trip"), ("train_rerun_ms", "Train page rerun")):
            ratio = medians[name][key] / medians[shipped][key]
            figures.append(
                figure_from_samples(
                    BENCHMARK,
                    f"{label}: {name}",
                    "ms",
                    samples[name][key],
                    reference="" if name == shipped else f"{ratio:.2f}x as shipped",
                )
            )
    # Each setting against the app without it (the other setting as shipped).
    shipped_keeps = shipped_settings()
    verdicts = {}
    for setting, without in (
        ("keep Keras state", COMBINATIONS[1][0]),
        ("postScriptGC = false", COMBINATIONS[2][0]),
    ):
        slowdowns = {
            key: medians[without][key] / medians[shipped][key]
            for key in ("draw_ms", "train_rerun_ms")
        }
        worst = max(slowdowns.values())
        verdicts[setting] = {
            "slowdown_without_it": slowdowns,
            "keep": worst >= WORTH_KEEPING,
        }
        figures.append(
            figure_from_samples(
                BENCHMARK,
                f"without '{setting}': the slower of the two medians",
                "x",
                [worst],
                reference=f"draw {slowdowns['draw_ms']:.2f}x, train rerun "
                f"{slowdowns['train_rerun_ms']:.2f}x",
                goal=f"kept only if >= {WORTH_KEEPING:g}x",
                passed=(worst >= WORTH_KEEPING) == shipped_keeps[setting],
                note=("keep" if worst >= WORTH_KEEPING else "not worth keeping")
                + (" (the app keeps it)" if shipped_keeps[setting] else " (the app drops it)"),
            )
        )
    settings = {
        "rounds": rounds,
        "warm_up_rounds": warm_up,
        "combinations": [
            {"name": name, "keep_keras_state": keep, "post_script_gc": collect}
            for name, keep, collect in COMBINATIONS
        ],
        "order": "servers side by side, measured in turns, the first turning each round",
    }
    details = {"samples": samples, "medians": medians, "verdicts": verdicts}
    return benchmark_result(
        BENCHMARK, TITLE, quick, settings, figures, details, started, load_before
    )


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
