"""Benchmark: a class of 30 presses Train at once, while somebody else draws.

The server is started the way `make run` starts it (`serve.py`: the embedded cluster, one
worker a core, the engine warmed up). Its run log is a fresh file of this benchmark's own.

1. **Alone.** One `cnn_fast` run on a 10,000-image subset, queued with nobody else in line,
   after one untimed run on every worker at once (warm-up); its time from being queued to
   being finished in the log, median of three such runs one after the other, is the run alone
   on one worker. Then, still before any browser opens, two runs a worker side by side (not
   in --quick): what the workers cost each other by themselves, told apart from what the
   class's browsers take.
2. **The class.** 30 users each ask for the same run at once: 5 of them from live Train pages
   in chromium (each its own browser context and user, `?training_images=10000`,
   the Train button pressed), which stay open and watch their run to the end (its "finished"
   message appears); the other 25 through the same submission code the page uses
   (`engine.queue_runs`, which the server's engine dispatches in the same fair line). The time
   runs from the first press to the last run finished in the log.
3. **Meanwhile, drawing.** Another browser context on the Draw page draws and clears digits,
   a new one every 3 s (a person's pace), from the first press until the class is done:
   mouse-up to the prediction on screen, as in the round-trip benchmark.

Goals: the class's time at most 1.15x the ideal (alone x 30 / workers); the Draw page's
median round trip at most 500 ms while the class trains. Where the CPU went is reported by
process kind (/proc/<pid>/stat) and for the whole machine (/proc/stat: idle cores, steal), and
so is the best ratio any engine could reach with the cores the other processes left.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # to run as a script

import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from bench import browser_support
from bench.common import (
    benchmark_result,
    figure_from_samples,
    format_value,
    load_average,
    main,
    summarize,
)

BENCHMARK = "class_load"
TITLE = "Class load: 30 users train cnn_fast on 10,000 images at once, one person draws"
PRESET_NAME = "cnn_fast"
TRAIN_IMAGES = 10_000
USERS, BROWSER_USERS = 30, 5
QUICK_USERS, QUICK_BROWSER_USERS, QUICK_TRAIN_IMAGES = 3, 1, 1_000
RATIO_GOAL = 1.15
DRAW_GOAL_MILLISECONDS = 500.0
# One person drawing: a new digit every 3 s (draw it, read the answer, clear). Drawn back to
# back, the chromium of this benchmark alone took 0.6 of the machine's 2 cores (a rerun costs
# it about 0.35 s of CPU here), which a student's own laptop or phone pays, not the server.
DRAW_EVERY_SECONDS = 3.0
FIRST_PORT = 8675
RUN_TIMEOUT_SECONDS = 1800.0
ALONE_REPETITIONS = 3
FINISHED_SELECTOR = "[data-testid='stAlertContentSuccess']"
TRAIN_BUTTON = ".st-key-train_start button"
DIGITS = (0, 1, 2, 3, 4, 7)


def wait_for_runs(run_log: Any, run_ids: list[str], timeout_seconds: float) -> list[Any]:
    """Poll the run log until every run has ended; returns them.

    Args:
        run_log: the benchmark's run log.
        run_ids: the runs to wait for.
        timeout_seconds: give up (RuntimeError) after this long.
    """
    deadline = time.time() + timeout_seconds
    while True:
        runs = [run_log.get_run(run_id) for run_id in run_ids]
        if all(run.ended for run in runs):
            return runs
        if time.time() > deadline:
            waiting = [run.id for run in runs if not run.ended]
            raise RuntimeError(f"{len(waiting)} run(s) did not end in {timeout_seconds:g} s.")
        time.sleep(0.5)


def queue_run(run_log: Any, config: Any, training_images: int, user: str) -> str:
    """Queue one `cnn_fast` run for `user` through the page's submission code; its id."""
    from mnist_core.runs.request import (
        RunRequest,
        queue_runs,
    )

    (queued,) = queue_runs(
        run_log,
        [RunRequest(config, preset=PRESET_NAME, training_images=training_images)],
        user=user,
    )
    return queued.id


def run_alone(run_log: Any, config: Any, training_images: int) -> Any:
    """Queue one run with nobody else in line and wait for it; returns it as finished."""
    run_id = queue_run(run_log, config, training_images, "alone")
    (finished,) = wait_for_runs(run_log, [run_id], RUN_TIMEOUT_SECONDS)
    if finished.status != "finished":
        raise RuntimeError(f"the lone run ended {finished.status}: {finished.reason}")
    return finished


def warm_up_every_worker(run_log: Any, config: Any, training_images: int) -> None:
    """One untimed run on each worker at once (each from a user of its own, so that they run
    side by side): the run alone is then timed on a warm worker, whichever Dask picks."""
    from mnist_core.engine.cluster import default_worker_count

    run_ids = [
        queue_run(run_log, config, training_images, f"warm-up-{index + 1}")
        for index in range(default_worker_count())
    ]
    wait_for_runs(run_log, run_ids, RUN_TIMEOUT_SECONDS)


def side_by_side(run_log: Any, config: Any, training_images: int, workers: int) -> dict[str, Any]:
    """Two runs a worker, from users of their own, before any browser opens: what running the
    workers side by side costs by itself (TensorFlow leaves cores idle when its single-threaded
    processes share them), apart from what the class's browsers take."""
    machine_before, started = browser_support.machine_cpu_seconds(), time.time()
    run_ids = [
        queue_run(run_log, config, training_images, f"side-by-side-{index + 1}")
        for index in range(2 * workers)
    ]
    runs = wait_for_runs(run_log, run_ids, RUN_TIMEOUT_SECONDS)
    machine_after, window = browser_support.machine_cpu_seconds(), time.time() - started
    elapsed = max(run.finished_at for run in runs) - min(run.created_at for run in runs)
    return {
        "runs": len(runs),
        "seconds": elapsed,
        "seconds_per_run_per_worker": elapsed * workers / len(runs),
        "machine_cores": browser_support.machine_cores_between(
            machine_before, machine_after, window
        ),
    }


def memory_at_rest(server: browser_support.StreamlitServer) -> dict[str, Any]:
    """Resident memory of the server with its embedded cluster idle: all of it, and each worker.

    The workers are the processes Dask's nannies spawn (`multiprocessing.spawn`).
    """
    time.sleep(2.0)  # let the last run's clean-up settle
    workers = [
        browser_support.rss_kib(pid) / 1024
        for pid in server.process_ids()
        if browser_support.process_kind(pid) == browser_support.WORKER_KIND
    ]
    return {"total_mib": server.rss_megabytes(), "worker_mib": workers}


def open_train_page(browser: Any, url: str, training_images: int) -> Any:
    """A Train page in a browser of its own (a visitor of its own), the subset chosen by link,
    ready to press Train."""
    page = browser_support.new_page(browser)
    page.goto(f"{url}/train?training_images={training_images}")
    page.locator(TRAIN_BUTTON).first.wait_for(state="visible", timeout=120_000)
    browser_support.wait_until_idle(page, 120)
    return page


def draw_while(
    page: Any, keep_going: Callable[[int], bool], every_seconds: float = 0.0
) -> list[float]:
    """Draw digits on a Draw page, clearing before each, while `keep_going(drawings so far)`.

    Args:
        page: a Playwright page showing the Draw page.
        keep_going: called with the number of drawings so far before each one.
        every_seconds: start a drawing at most this often (0: one after the other).

    Returns the round trips (mouse-up to prediction on screen) in ms.
    """
    samples: list[float] = []
    next_start = time.monotonic()
    while keep_going(len(samples)):
        time.sleep(max(0.0, next_start - time.monotonic()))
        next_start = time.monotonic() + every_seconds
        if browser_support.predicted_text(page):
            box = browser_support.clear_drawing(page, 120)
        else:
            box = browser_support.canvas_box(page)
        browser_support.draw_digit(page, DIGITS[len(samples) % len(DIGITS)], box)
        try:
            browser_support.wait_for_prediction(page, 120)
        except RuntimeError as error:
            shot = browser_support.save_screenshot(page, f"{BENCHMARK}-draw-page-failed")
            raise RuntimeError(f"{error} After {len(samples)} drawings; see {shot}") from error
        samples.append(browser_support.round_trip_milliseconds(page))
    return samples


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark and return its result (see bench.common.benchmark_result).

    Args:
        quick: 3 users (1 in chromium) on 1,000 images instead of 30 (5) on 10,000, and
            no warm-up run before the run alone.
    """
    from playwright.sync_api import sync_playwright

    from mnist_core.engine.cluster import default_worker_count
    from mnist_core.modeling.presets import get_preset
    from mnist_core.runs.log import RunLog

    started, load_before = time.perf_counter(), load_average()
    users, browser_users, training_images = (
        (QUICK_USERS, QUICK_BROWSER_USERS, QUICK_TRAIN_IMAGES)
        if quick
        else (USERS, BROWSER_USERS, TRAIN_IMAGES)
    )
    config = get_preset(PRESET_NAME).config
    # The run log and the runs' models, removed at the end (the server is stopped by then).
    folder = tempfile.TemporaryDirectory(prefix="mnist-class-load-", ignore_cleanup_errors=True)
    directory = Path(folder.name)
    os.environ["MNIST_RUNS_DB"] = str(directory / "runs.db")  # the server inherits it
    run_log = RunLog(directory / "runs.db")
    server = browser_support.StreamlitServer(
        browser_support.free_port(FIRST_PORT), BENCHMARK, launcher=browser_support.APP_LAUNCHER
    )
    with folder, server, sync_playwright() as playwright:
        server.start()
        server.wait_until_healthy(180)
        if not quick:
            warm_up_every_worker(run_log, config, training_images)
        # The ideal rests on this figure: a median of three, not one run (one alone run on
        # 2026-12-03 took 8.2 s where the others took 6.7-6.9 s).
        alone_samples = []
        for _ in range(1 if quick else ALONE_REPETITIONS):
            alone = run_alone(run_log, config, training_images)
            alone_samples.append(alone.finished_at - alone.created_at)
        alone_seconds = statistics.median(alone_samples)
        pair = (
            None
            if quick
            else side_by_side(run_log, config, training_images, default_worker_count())
        )
        idle_memory = memory_at_rest(server)
        browser = browser_support.launch_chromium(playwright)
        try:
            drawer = browser_support.new_page(browser)
            drawer.goto(server.url + "/")
            browser_support.wait_for_canvas(drawer, 120)
            draw_while(drawer, lambda done: done < (1 if quick else 2))  # warm-up, not measured
            pages = [
                open_train_page(browser, server.url, training_images) for _ in range(browser_users)
            ]
            cpu_before = browser_support.cpu_seconds_by_pid()
            machine_before = browser_support.machine_cpu_seconds()
            # Each browser is a visitor of its own (a token, a name of its own): its run is
            # any run that is new and not one of the scripted students'.
            earlier = {run.id for run in run_log.list_runs(include_curves=False)}
            first_press = time.time()
            for page in pages:
                page.locator(TRAIN_BUTTON).first.click()
            scripted = [
                queue_run(run_log, config, training_images, f"student-{index + 1}")
                for index in range(browser_users, users)
            ]
            # The browser users' runs, once the pages have queued them.
            deadline = time.time() + 120
            while True:
                page_runs = [
                    run.id
                    for run in run_log.list_runs(include_curves=False)
                    if run.id not in earlier and run.id not in scripted
                ]
                if len(page_runs) >= browser_users or time.time() > deadline:
                    break
                time.sleep(0.2)
            if len(page_runs) != browser_users:
                raise RuntimeError(
                    f"only {len(page_runs)} of {browser_users} Train pages queued a run."
                )
            class_ids = page_runs + scripted

            def class_busy(_done: int) -> bool:
                return not all(run_log.get_run(run_id).ended for run_id in class_ids)

            draw_samples = draw_while(drawer, class_busy, DRAW_EVERY_SECONDS)
            runs = wait_for_runs(run_log, class_ids, RUN_TIMEOUT_SECONDS)
            cpu_used = browser_support.cpu_seconds_by_kind(
                cpu_before, browser_support.cpu_seconds_by_pid()
            )
            machine_after = browser_support.machine_cpu_seconds()
            cpu_window = time.time() - first_press
            # The watching pages show the end of their run.
            watched = 0
            for page in pages:
                page.locator(FINISHED_SELECTOR).first.wait_for(state="visible", timeout=60_000)
                watched += 1
            screenshot = browser_support.save_screenshot(pages[0], f"{BENCHMARK}-train-page")
            memory_mib = server.rss_megabytes()
        finally:
            browser.close()
    finished = [run for run in runs if run.status == "finished"]
    if len(finished) != len(runs):
        problems = {run.status + ": " + run.reason for run in runs if run.status != "finished"}
        raise RuntimeError(f"{len(runs) - len(finished)} class run(s) did not finish: {problems}")
    workers = len({run.worker for run in runs if run.worker}) or default_worker_count()
    class_seconds = max(run.finished_at for run in runs) - first_press
    ideal_seconds = alone_seconds * len(runs) / workers
    ratio = class_seconds / ideal_seconds
    # What the workers really had: this benchmark's own browsers share the machine's cores
    # (in a class they run on the students' devices).
    worker_cores = cpu_used.get(browser_support.WORKER_KIND, 0.0) / cpu_window
    ratio_for_the_cores_they_had = (
        class_seconds / (alone_seconds * len(runs) / worker_cores) if worker_cores else math.nan
    )
    # The best any engine could do with what the other processes left the workers: the ideal
    # assumes `workers` whole cores; the rest of the machine's work came first (the workers
    # are niced so that drawing stays quick).
    other_cores = (
        sum(value for kind, value in cpu_used.items() if kind != browser_support.WORKER_KIND)
        / cpu_window
    )
    cores_left = (os.cpu_count() or workers) - other_cores
    best_possible_ratio = max(1.0, workers / cores_left) if cores_left > 0 else math.inf
    pair_text = ""
    if pair is not None:
        pair_ratio = pair["seconds_per_run_per_worker"] / alone_seconds
        pair_text = (
            f"; before any browser, {pair['runs']} runs side by side took {pair_ratio:.2f}x "
            f"the ideal with {pair['machine_cores']['idle']:.2f} cores idle"
        )
    draw_spread = summarize(draw_samples) if draw_samples else None
    figures = [
        figure_from_samples(
            BENCHMARK,
            f"{len(runs)} runs at once: first press to last result",
            "s",
            [class_seconds],
            reference=f"ideal {format_value(ideal_seconds, 's')} (alone "
            f"{format_value(alone_seconds, 's')} x {len(runs)} / {workers} workers): "
            f"{ratio:.2f}x; the workers had {worker_cores:.2f} of the "
            f"{os.cpu_count()} cores (chromium "
            f"{cpu_used.get('chromium', 0.0) / cpu_window:.2f}, web server "
            f"{cpu_used.get('web server', 0.0) / cpu_window:.2f}): "
            f"{ratio_for_the_cores_they_had:.2f}x the ideal for those; everything else took "
            f"{other_cores:.2f} cores, so no engine could beat {best_possible_ratio:.2f}x here"
            + pair_text,
            goal=f"<= {RATIO_GOAL:g}x the ideal",
            passed=ratio <= RATIO_GOAL,
        ),
        figure_from_samples(
            BENCHMARK,
            "Draw page while the class trains: mouse-up -> prediction",
            "ms",
            draw_samples or [float("nan")],
            goal=f"median <= {DRAW_GOAL_MILLISECONDS:g} ms",
            passed=draw_spread is not None and draw_spread.median <= DRAW_GOAL_MILLISECONDS,
            note=f"{len(draw_samples)} drawings",
        ),
        figure_from_samples(
            BENCHMARK,
            "server memory, embedded cluster idle (web server, scheduler, workers)",
            "MiB",
            [idle_memory["total_mib"]],
            reference=f"per worker: {', '.join(f'{value:.0f} MiB' for value in idle_memory['worker_mib'])}"
            f" ({len(idle_memory['worker_mib'])} workers, TensorFlow and MNIST loaded)",
        ),
    ]
    waits = [run.started_at - run.created_at for run in runs]
    details = {
        "alone_seconds": alone_seconds,
        "alone_samples_seconds": [round(value, 2) for value in alone_samples],
        "class_seconds": class_seconds,
        "ideal_seconds": ideal_seconds,
        "ratio": ratio,
        "worker_cores": worker_cores,
        "ratio_for_the_cores_the_workers_had": ratio_for_the_cores_they_had,
        "cores_the_other_processes_took": other_cores,
        "side_by_side_before_the_browsers": pair,
        "best_possible_ratio_with_the_cores_left": best_possible_ratio,
        "workers": workers,
        "runs_finished": f"{len(finished)}/{len(runs)}",
        "browser_pages_that_saw_their_run_finish": f"{watched}/{browser_users}",
        "longest_wait_seconds": max(waits),
        # Where the machine's CPU went while the class trained (the workers' share is what
        # the ideal assumes they get: all of it).
        "cpu_seconds_during_the_class": {kind: round(value, 1) for kind, value in cpu_used.items()},
        "cpu_cores_during_the_class": {
            kind: round(value / cpu_window, 2) for kind, value in cpu_used.items()
        },
        # The machine's own account (/proc/stat): idle cores while the class trained, and time
        # the hypervisor took (steal); "nice" is the niced workers.
        "machine_cores_during_the_class": browser_support.machine_cores_between(
            machine_before, machine_after, cpu_window
        ),
        "run_seconds": [
            {
                "worker": run.worker,
                "waited": round(run.started_at - run.created_at, 1),
                "started_to_finished": round(run.finished_at - run.started_at, 1),
                "training": round(run.metrics.get("training_seconds") or 0.0, 1),
            }
            for run in sorted(runs, key=lambda run: run.started_at)
        ],
        "server_memory_mib_at_the_end": memory_mib,
        "server_memory_idle": idle_memory,
        "draw_round_trips_ms": [round(value, 1) for value in draw_samples],
        "screenshot": screenshot,
    }
    settings = {
        "preset": PRESET_NAME,
        "training_images": training_images,
        "users": users,
        "browser_users": browser_users,
        "drawing": f"a new digit every {DRAW_EVERY_SECONDS:g} s in another chromium page",
        "server": "serve.py (make run's launcher): embedded cluster, one worker a core",
    }
    return benchmark_result(
        BENCHMARK, TITLE, quick, settings, figures, details, started, load_before
    )


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
