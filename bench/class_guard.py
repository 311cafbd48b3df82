"""Benchmark: what the class-proofing costs the pages a class keeps open.

1. **The line, 3 or 300 waiting.** The Class page (teacher unlocked: every name, a Cancel
   button a run) and a Train page whose user's run waits at the end of the line, run in
   AppTest in this process (the server-side script time of a rerun, what every open tab costs
   the web server on its 2 s refresh). The runs wait for another live engine (this process's
   heartbeat), so none starts. Each rerun comes more than the line's snapshot time
   (`LINE_SNAPSHOT_SECONDS`) after the last, so that every one works the line out again.
   Goal: with 300 waiting at most 1.2x the time with 3.
2. **Drawing while an oversized picture is refused.** A server started like `make run`; one
   chromium tab draws and clears digits as the round-trip benchmark does, first alone, then
   while another tab uploads a 13,000 x 13,000-pixel PNG (a few hundred kB, 645 MB decoded)
   just before each drawing. Goals: the drawer's median mouse-up -> answer at most 1.2x its
   median alone (and under 500 ms); each refusal on screen within 2 s; the server's peak
   memory (VmHWM) grows by less than 100 MB.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # to run as a script

import tempfile
import time
from typing import Any

from bench import browser_support
from bench.common import (
    REPOSITORY_ROOT,
    app_pages_on_a_class_log,
    benchmark_result,
    figure_from_samples,
    load_average,
    main,
    summarize,
)

BENCHMARK = "class_guard"
TITLE = "Class guards: the line's script time with 3 or 300 waiting; drawing while a huge upload is refused"
LINE_SIZES = (3, 300)
QUICK_LINE_SIZES = (3, 30)
LINE_RATIO_GOAL = 1.2
DRAW_RATIO_GOAL = 1.2
DRAW_GOAL_MILLISECONDS = 500.0
REFUSAL_GOAL_SECONDS = 2.0
MEMORY_GOAL_MEGABYTES = 100.0
OVERSIZED_SIDE = 13_000
FIRST_PORT = 8650
DIGITS = (0, 1, 2, 3, 4, 7)
TEACHER_KEY = "bench key"
# Armed on the uploader's page before a file is set: the browser's clock then, and when the
# refusal naming that picture's size first shows (a MutationObserver), so that the drawing
# the same Playwright thread does meanwhile does not count.
ARM_REFUSAL_JS = """(text) => {
  window.__refusalArmed = performance.now();
  window.__refusalShown = null;
  const observer = new MutationObserver(() => {
    if (window.__refusalShown === null && document.body.innerText.includes(text)) {
      window.__refusalShown = performance.now();
      observer.disconnect();
    }
  });
  observer.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


# --- 1. the line -----------------------------------------------------------------------------
def fill_line(run_log: Any, count: int, engine: str) -> None:
    """Have `count` runs of as many students wait in the line for `engine` (one each)."""
    from mnist_core.modeling.presets import get_preset
    from mnist_core.runs.request import RunRequest, queue_runs
    from mnist_core.runs.users import User

    config = get_preset("softmax_regression").config
    already = sum(run.owner_id.startswith("bench-line-") for run in run_log.active_runs())
    for number in range(already, count):
        user = User(f"bench-line-{number:04d}", f"student {number}")
        queue_runs(run_log, [RunRequest(config)], user=user, engine=engine)


def page_seconds(
    app_test: Any, runs: int, pause_seconds: float, keep_alive: Any = None
) -> list[float]:
    """Script time of `runs` reruns of an AppTest page, `pause_seconds` apart (calling
    `keep_alive()` before each, if given)."""
    times = []
    for _ in range(runs):
        time.sleep(pause_seconds)
        if keep_alive is not None:
            keep_alive()
        started = time.perf_counter()
        app_test.run()
        times.append(time.perf_counter() - started)
        if app_test.exception:
            raise RuntimeError(f"the page failed: {[item.value for item in app_test.exception]}")
    return times


def open_as(user_token: str, page: str, **state: Any) -> Any:
    """The app in AppTest, as the browser holding `user_token`, on `page`."""
    from streamlit.testing.v1 import AppTest

    app_test = AppTest.from_file(str(REPOSITORY_ROOT / "app.py"), default_timeout=300)
    app_test.session_state["user_token"] = user_token
    app_test.run()
    for key, value in state.items():
        app_test.session_state[key] = value
    app_test.switch_page(f"app_pages/{page}.py").run()
    return app_test


def measure_line(sizes: tuple[int, ...], reruns: int) -> dict[int, dict[str, list[float]]]:
    """Class-page and waiting-Train-page script times for each line size."""
    with app_pages_on_a_class_log("mnist-bench-line-", MNIST_TEACHER_KEY=TEACHER_KEY) as (
        run_log,
        other_engine,
    ):
        return measure_line_sizes(run_log, other_engine, sizes, reruns)


def measure_line_sizes(
    run_log: Any, other_engine: str, sizes: tuple[int, ...], reruns: int
) -> dict[int, dict[str, list[float]]]:
    """The two pages' script times for each line size, the line's runs queued by
    `other_engine` (kept alive between reruns, so that the pages' own engine leaves them)."""
    from mnist_core.engine.engine import LINE_SNAPSHOT_SECONDS
    from mnist_core.modeling.presets import get_preset
    from mnist_core.runs.request import RunRequest, queue_runs
    from mnist_core.runs.users import User, new_token, user_id_of

    def keep_alive() -> None:
        run_log.heartbeat(other_engine)

    token = new_token()
    waiting_user = User(user_id_of(token), "the waiting student")
    class_page = open_as(new_token(), "classroom", teacher_unlocked=True)
    pause = LINE_SNAPSHOT_SECONDS + 0.1
    times: dict[int, dict[str, list[float]]] = {}
    for size in sizes:
        keep_alive()
        fill_line(run_log, size - 1, other_engine)
        mine = [run for run in run_log.active_runs() if run.owned_by(waiting_user)]
        for run in mine:
            run_log.cancel_run(run.id, "the benchmark moves it to the end")
        queue_runs(
            run_log, [RunRequest(get_preset("softmax_regression").config)],
            user=waiting_user, engine=other_engine,
        )  # fmt: skip
        train_page = open_as(token, "train")
        times[size] = {
            "class": page_seconds(class_page, reruns, pause, keep_alive),
            "train": page_seconds(train_page, reruns, pause, keep_alive),
        }
    return times


# --- 2. drawing while a huge picture is refused ----------------------------------------------
def draw_once(page: Any, index: int, box: dict[str, float]) -> tuple[float, dict[str, float]]:
    """Clear (after the first), draw a digit, wait for its answer; the browser's round trip
    and the next canvas box."""
    if index:
        box = browser_support.clear_drawing(page)
    browser_support.draw_digit(page, DIGITS[index % len(DIGITS)], box)
    browser_support.wait_for_prediction(page)
    return browser_support.round_trip_milliseconds(page), box


def measure_drawing(drawings: int, warm_up: int) -> dict[str, Any]:
    """Round trips alone, then while huge uploads are refused; refusal times; peak memory."""
    from playwright.sync_api import sync_playwright

    server = browser_support.StreamlitServer(
        browser_support.free_port(FIRST_PORT), BENCHMARK, launcher=browser_support.APP_LAUNCHER
    )
    with (
        tempfile.TemporaryDirectory(prefix="mnist-bench-huge-") as folder,
        server,
        sync_playwright() as playwright,
    ):
        pictures = Path(folder)
        server.start()
        server.wait_until_healthy(120)
        browser = browser_support.launch_chromium(playwright)
        drawer = browser_support.new_page(browser)
        uploader = browser_support.new_page(browser)
        try:
            for page in (drawer, uploader):
                page.goto(server.url + "/")
                browser_support.wait_for_title(page)
            uploader.get_by_text("Or upload a photo or scan of a digit").click()
            box = browser_support.canvas_box(drawer)
            alone, busy, refusals = [], [], []
            for index in range(warm_up + drawings):
                milliseconds, box = draw_once(drawer, index, box)
                if index >= warm_up:
                    alone.append(milliseconds)
            before = browser_support.peak_megabytes(server.process.pid)
            for index in range(drawings):
                side = OVERSIZED_SIDE + index  # a new file each time: each is read anew
                picture = pictures / f"huge-{side}.png"
                browser_support.write_oversized_png(picture, side)
                uploader.evaluate(ARM_REFUSAL_JS, f"{side:,} x {side:,} pixels")
                uploader.locator("input[type='file']").set_input_files(str(picture))
                milliseconds, box = draw_once(drawer, warm_up + drawings + index, box)
                busy.append(milliseconds)
                uploader.wait_for_function("() => window.__refusalShown !== null", timeout=30_000)
                armed, shown = uploader.evaluate(
                    "() => [window.__refusalArmed, window.__refusalShown]"
                )
                refusals.append((shown - armed) / 1000)
            growth = browser_support.peak_megabytes(server.process.pid) - before
        except Exception as error:
            shot = browser_support.save_screenshot(drawer, f"{BENCHMARK}-failure")
            raise RuntimeError(
                f"{error} (screenshot: {shot}; server log: {server.log_path})"
            ) from error
        finally:
            browser.close()
    return {"alone_ms": alone, "busy_ms": busy, "refusal_s": refusals, "memory_growth_mb": growth}


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark and return its result (see bench.common.benchmark_result).

    Args:
        quick: a line of 3 and 30, 2 reruns, 2 drawings each way; else 3 and 300, 7 reruns,
            8 drawings each way.
    """
    started, load_before = time.perf_counter(), load_average()
    sizes = QUICK_LINE_SIZES if quick else LINE_SIZES
    reruns, drawings, warm_up = (2, 2, 1) if quick else (7, 8, 2)
    line = measure_line(sizes, reruns)
    drawing = measure_drawing(drawings, warm_up)
    small, large = sizes
    figures = []
    for page, words in (("class", "Class page (teacher)"), ("train", "Train page, run waiting")):
        ratio = summarize(line[large][page]).median / summarize(line[small][page]).median
        figures.append(
            figure_from_samples(
                BENCHMARK,
                f"{words}: script time with {large} waiting",
                "ms",
                [seconds * 1000 for seconds in line[large][page]],
                reference=(
                    f"{small} waiting: {summarize(line[small][page]).median * 1000:.0f} ms; "
                    f"ratio {ratio:.2f}x"
                ),
                goal=f"<= {LINE_RATIO_GOAL:g}x the time with {small}",
                passed=ratio <= LINE_RATIO_GOAL,
            )
        )
    alone, busy = summarize(drawing["alone_ms"]).median, summarize(drawing["busy_ms"]).median
    figures += [
        figure_from_samples(
            BENCHMARK,
            "Draw round trip while a 13,000 x 13,000 PNG is refused",
            "ms",
            drawing["busy_ms"],
            reference=f"alone: {alone:.0f} ms; ratio {busy / alone:.2f}x",
            goal=f"<= {DRAW_RATIO_GOAL:g}x alone and <= {DRAW_GOAL_MILLISECONDS:g} ms",
            passed=busy <= DRAW_RATIO_GOAL * alone and busy <= DRAW_GOAL_MILLISECONDS,
        ),
        figure_from_samples(
            BENCHMARK,
            "file chosen -> refusal on screen (browser clock)",
            "s",
            drawing["refusal_s"],
            goal=f"every one <= {REFUSAL_GOAL_SECONDS:g} s",
            passed=max(drawing["refusal_s"]) <= REFUSAL_GOAL_SECONDS,
        ),
        figure_from_samples(
            BENCHMARK,
            "server's peak memory growth over the uploads",
            "MB",
            [drawing["memory_growth_mb"]],
            goal=f"< {MEMORY_GOAL_MEGABYTES:g} MB",
            passed=drawing["memory_growth_mb"] < MEMORY_GOAL_MEGABYTES,
        ),
    ]
    settings = {
        "line_sizes": list(sizes),
        "reruns": reruns,
        "drawings_each_way": drawings,
        "warm_up_drawings": warm_up,
        "oversized_picture": f"PNG of {OVERSIZED_SIDE:,}+ pixels a side, 1 bit a pixel",
    }
    details = {"line_seconds": {str(size): times for size, times in line.items()}, **drawing}
    return benchmark_result(
        BENCHMARK, TITLE, quick, settings, figures, details, started, load_before
    )


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
