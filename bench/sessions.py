"""Benchmark 6, many sessions: server memory with one session, then with 20 at once.

One server; the resident memory (RSS) of the streamlit process and its children is read from
/proc. First one browser context opens the Draw page and gets a prediction (this loads the
model): the one-session reference. Then 19 more contexts in the same chromium open the page
at once, each draws a digit (without waiting for the others' answers), and every one must show
its prediction. All 20 sessions stay connected while the memory is read again (the median of
five reads, half a second apart).

Goal: at most 30 MB more per extra session, and every session answered.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # to run as a script

from typing import Any

import numpy as np

from bench import browser_support
from bench.common import Figure, benchmark_result, figure_from_samples, load_average, main

BENCHMARK = "sessions"
TITLE = "Many sessions: server RSS with 1 session, then 20 concurrent sessions (chromium)"
MEGABYTES_PER_SESSION_GOAL = 30.0
FIRST_PORT = 8660
DIGITS = (0, 1, 2, 3, 4, 7)
ANSWER_TIMEOUT_SECONDS = 180.0


def settled_rss(server: browser_support.StreamlitServer, reads: int = 5) -> float:
    """The median of a few RSS reads half a second apart, in MiB.

    Args:
        server: the running server.
        reads: how many reads.
    """
    values = []
    for index in range(reads):
        if index:
            time.sleep(0.5)
        values.append(server.rss_megabytes())
    return float(np.median(values))


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark and return its result (see bench.common.benchmark_result).

    Args:
        quick: 2 sessions instead of 20.
    """
    from playwright.sync_api import sync_playwright

    started, load_before = time.perf_counter(), load_average()
    session_count = 2 if quick else 20
    server = browser_support.StreamlitServer(browser_support.free_port(FIRST_PORT), BENCHMARK)
    pages: list[Any] = []
    with server, sync_playwright() as playwright:
        server.start()
        server.wait_until_healthy()
        rss_idle = settled_rss(server)
        browser = browser_support.launch_chromium(playwright)
        try:
            first = browser_support.new_page(browser)
            pages.append(first)
            first.goto(server.url + "/")
            browser_support.draw_digit(first, DIGITS[0], browser_support.canvas_box(first))
            browser_support.wait_for_prediction(first, ANSWER_TIMEOUT_SECONDS)
            rss_one = settled_rss(server)
            others = [browser_support.new_page(browser) for _ in range(session_count - 1)]
            pages.extend(others)
            opened = time.perf_counter()
            for page in others:
                page.goto(server.url + "/", wait_until="commit")
            for index, page in enumerate(others, start=1):
                box = browser_support.canvas_box(page, timeout_seconds=ANSWER_TIMEOUT_SECONDS)
                browser_support.draw_digit(page, DIGITS[index % len(DIGITS)], box)
            answered, round_trips, failures = 1, [], []
            for index, page in enumerate(others, start=2):
                try:
                    browser_support.wait_for_prediction(page, ANSWER_TIMEOUT_SECONDS)
                except Exception as error:  # noqa: BLE001 - counted as a session not answered
                    failures.append(f"session {index}: {str(error).splitlines()[0]}")
                    continue
                answered += 1
                round_trips.append(browser_support.round_trip_milliseconds(page))
            all_answered = time.perf_counter() - opened
            rss_all = settled_rss(server)
        except Exception as error:
            shot = (
                browser_support.save_screenshot(pages[-1], f"{BENCHMARK}-failure") if pages else ""
            )
            raise RuntimeError(
                f"{error} (screenshot: {shot}; server log: {server.log_path})"
            ) from error
        finally:
            browser.close()
    per_session = (rss_all - rss_one) / (session_count - 1)
    figures = [
        Figure(
            benchmark=BENCHMARK,
            name=f"server RSS growth per extra session ({session_count} sessions)",
            unit="MB",
            median=per_session,
            low=None,
            high=None,
            spread_kind="",
            count=1,
            reference=(
                f"idle {rss_idle:.0f} MB; 1 session {rss_one:.0f} MB (reference); "
                f"{session_count} sessions {rss_all:.0f} MB"
            ),
            goal=f"<= {MEGABYTES_PER_SESSION_GOAL:g} MB per session",
            passed=per_session <= MEGABYTES_PER_SESSION_GOAL,
            note="(RSS with all - with one) / extra sessions; MiB",
        ),
        Figure(
            benchmark=BENCHMARK,
            name="sessions that showed their prediction",
            unit="sessions",
            median=float(answered),
            low=None,
            high=None,
            spread_kind="",
            count=1,
            reference=f"{answered} of {session_count}",
            goal=f"all {session_count}",
            passed=answered == session_count,
        ),
    ]
    if round_trips:
        figures.append(
            figure_from_samples(
                BENCHMARK,
                f"mouse-up -> prediction with {session_count} sessions drawing at once",
                "ms",
                round_trips,
                reference=f"all answered {all_answered:.1f} s after the pages were opened",
            )
        )
    settings = {
        "sessions": session_count,
        "browser": "one chromium, one context per session",
        "memory": "VmRSS of the streamlit process and its children, median of 5 reads",
    }
    details = {
        "rss_idle_mib": rss_idle,
        "rss_one_session_mib": rss_one,
        "rss_all_sessions_mib": rss_all,
        "answered": answered,
        "failures": failures,
        "round_trip_ms": round_trips,
        "seconds_until_all_answered": all_answered,
    }
    return benchmark_result(
        BENCHMARK, TITLE, quick, settings, figures, details, started, load_before
    )


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
