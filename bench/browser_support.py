"""Start the app, drive its Draw page in Debian's chromium, and measure the server.

What the browser benchmarks (cold_start, round_trip, sessions) share. The Draw page
(pages/draw.py) renders the model's answer as an `st.metric` inside
`st.container(key="draw_prediction")`; before there is ink the container holds only a prompt.
A prediction is "on screen" when that metric's value is in the page.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import REPOSITORY_ROOT

CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT = {"width": 1400, "height": 1000}
# The benchmarks' own ports, so that they never meet another server on this machine; each
# benchmark starts looking at a port of its own (its FIRST_PORT), so that two benchmarks
# started at once (the test suite runs them on two workers) do not pick the same one.
PORT_RANGE = range(8620, 8691)
# How a server is started (python arguments before the options): plain Streamlit, or the
# app's launcher that loads TensorFlow and the default model at start (`make run`).
STREAMLIT_RUN = ("-m", "streamlit", "run", "app.py")
APP_LAUNCHER = ("serve.py",)

DRAW_TITLE = "Draw a digit"
CANVAS_SELECTOR = "canvas.upper-canvas"
PREDICTION_SELECTOR = '.st-key-draw_prediction [data-testid="stMetricValue"]'
CLEAR_BUTTON = "Clear"
APP_SELECTOR = "[data-testid='stApp']"
# Armed before a drawing: notes the browser's clock at the next mouse-up (capture phase, before
# Fabric.js sees it) and when a prediction's value next appears on the page.
ARM_JS = """() => {
  window.__benchMouseUp = null;
  window.__benchMouseUpOnCanvas = null;
  window.__benchShown = null;
  document.addEventListener('mouseup', (event) => {
    window.__benchMouseUp = performance.now();
    window.__benchMouseUpOnCanvas = event.composedPath().some(
      (element) => element.classList !== undefined && element.classList.contains('upper-canvas'));
  }, {capture: true, once: true});
  const shown = () => {
    const value = document.querySelector('__SELECTOR__');
    return value !== null && value.textContent.trim() !== '';
  };
  const observer = new MutationObserver(() => {
    if (window.__benchShown === null && shown()) {
      window.__benchShown = performance.now();
      observer.disconnect();
    }
  });
  observer.observe(document.body, {subtree: true, childList: true, characterData: true});
}""".replace("__SELECTOR__", PREDICTION_SELECTOR)

# Strokes of a few digits, as (x, y) fractions of the canvas; each digit is a list of strokes.
# fmt: off
DIGIT_STROKES: dict[int, list[list[tuple[float, float]]]] = {
    0: [[(0.5, 0.18), (0.36, 0.24), (0.3, 0.4), (0.3, 0.6), (0.36, 0.76), (0.5, 0.82),
         (0.64, 0.76), (0.7, 0.6), (0.7, 0.4), (0.64, 0.24), (0.5, 0.18), (0.45, 0.2)]],
    1: [[(0.48, 0.18), (0.52, 0.82)]],
    2: [[(0.3, 0.32), (0.38, 0.21), (0.5, 0.18), (0.62, 0.21), (0.68, 0.32), (0.64, 0.45),
         (0.3, 0.8), (0.72, 0.8)]],
    3: [[(0.3, 0.24), (0.48, 0.17), (0.64, 0.24), (0.64, 0.38), (0.46, 0.48), (0.66, 0.57),
         (0.68, 0.72), (0.52, 0.83), (0.3, 0.77)]],
    4: [[(0.58, 0.82), (0.58, 0.18), (0.28, 0.6), (0.74, 0.6)]],
    7: [[(0.28, 0.2), (0.72, 0.2), (0.44, 0.82)]],
}
# fmt: on
# Pixels between two mouse positions of a stroke: small enough for a smooth Fabric.js path,
# large enough that drawing a digit takes few mouse events (about 25).
STROKE_STEP_PIXELS = 12


def scratch_directory() -> Path:
    """Where server logs and failure screenshots go: $BENCH_SCRATCH_DIR or <tmp>/mnist-bench."""
    configured = os.environ.get("BENCH_SCRATCH_DIR", "").strip()
    directory = Path(configured) if configured else Path(tempfile.gettempdir()) / "mnist-bench"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def free_port(first: int) -> int:
    """The first port from `first` on, within PORT_RANGE, that nothing listens on.

    Args:
        first: where to start looking (inside PORT_RANGE).
    """
    for port in range(first, PORT_RANGE.stop):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port from {first} to {PORT_RANGE.stop - 1} for the app server.")


class StreamlitServer:
    """`streamlit run app.py` in a subprocess, on its own port, stopped by its own handle.

    Args:
        port: the port to serve on.
        name: a name for its log file (under `scratch_directory()`).
        launcher: how to start it (default STREAMLIT_RUN; APP_LAUNCHER for `make run`'s way).
    """

    def __init__(self, port: int, name: str, launcher: Sequence[str] = STREAMLIT_RUN) -> None:
        # $BENCH_APP_DIR runs the app of another checkout (default: this repository).
        self.app_directory = Path(os.environ.get("BENCH_APP_DIR") or REPOSITORY_ROOT)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = scratch_directory() / f"server-{name}-{port}.log"
        self.launcher = tuple(launcher)
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> float:
        """Start the server; returns `time.perf_counter()` just before the process began."""
        command = [
            sys.executable, *self.launcher,
            "--server.headless", "true",
            "--server.port", str(self.port),
            "--server.address", "127.0.0.1",
            "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",
        ]  # fmt: skip
        environment = dict(os.environ)
        environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with open(self.log_path, "wb") as log:
            self.started_at = time.perf_counter()
            self.process = subprocess.Popen(
                command,
                cwd=self.app_directory,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return self.started_at

    def wait_until_healthy(self, timeout_seconds: float = 60.0) -> float:
        """Poll /_stcore/health until it answers "ok"; returns seconds since `start`.

        Args:
            timeout_seconds: give up (RuntimeError) after this long.
        """
        deadline = time.perf_counter() + timeout_seconds
        while time.perf_counter() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"the app server exited with status {self.process.returncode}; "
                    f"see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1) as reply:
                    if reply.status == 200 and reply.read().strip() == b"ok":
                        return time.perf_counter() - self.started_at
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.01)
        raise RuntimeError(
            f"the app server did not answer in {timeout_seconds:g} s; see {self.log_path}"
        )

    def get_page_status(self) -> int:
        """GET / (the app's HTML) and return the HTTP status."""
        with urllib.request.urlopen(f"{self.url}/", timeout=10) as reply:
            reply.read()
            return reply.status

    def stop(self) -> None:
        """Terminate the server (kill it if it does not stop within 10 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def process_ids(self) -> list[int]:
        """The server's process and all its descendants."""
        if self.process is None:
            return []
        return process_tree(self.process.pid)

    def rss_megabytes(self) -> float:
        """Resident memory of the server and its children, from /proc, in MiB."""
        return sum(rss_kib(pid) for pid in self.process_ids()) / 1024

    def __enter__(self) -> StreamlitServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def process_tree(root: int) -> list[int]:
    """`root` and every process descending from it, read from /proc.

    Args:
        root: the top process id.
    """
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name is in parentheses and may hold spaces: split after it.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


# What each process on the machine is, for `cpu_seconds_by_kind`: the first match wins.
WORKER_KIND = "training workers"
PROCESS_KINDS = (
    (WORKER_KIND, b"spawn_main"),  # the processes Dask's nannies spawn
    ("scheduler (embedded cluster)", b"mnist_core.engine.cluster"),
    ("web server", b"serve.py"),
    ("web server", b"streamlit"),
    ("chromium", b"chrom"),
    ("benchmark and Playwright", b"playwright"),
    ("benchmark and Playwright", b"bench/"),
)


def process_kind(pid: int) -> str:
    """What a process is (see PROCESS_KINDS; "other" when none matches, or it is gone)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return "other"
    return next((name for name, mark in PROCESS_KINDS if mark in command), "other")


def cpu_seconds_by_pid() -> dict[int, tuple[str, float]]:
    """Every process's kind (see PROCESS_KINDS; "other" when none matches) and the CPU time
    it has used so far (user + system), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        seconds = (int(fields[11]) + int(fields[12])) / ticks
        found[int(entry.name)] = (process_kind(int(entry.name)), seconds)
    return found


def cpu_seconds_by_kind(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU seconds each kind of process used between two `cpu_seconds_by_pid` readings
    (a process started in between counts from zero; one that ended is missing)."""
    used: dict[str, float] = {}
    for pid, (kind, seconds) in after.items():
        earlier = before.get(pid)
        start = earlier[1] if earlier is not None and earlier[0] == kind else 0.0
        used[kind] = used.get(kind, 0.0) + max(0.0, seconds - start)
    return dict(sorted(used.items(), key=lambda item: -item[1]))


# The columns of /proc/stat's "cpu" line, in order (all in clock ticks).
MACHINE_CPU_COLUMNS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def machine_cpu_seconds() -> dict[str, float]:
    """The whole machine's CPU time so far by kind (user, nice, idle, steal...), from /proc/stat:
    what no process accounts for (idle cores, time the hypervisor took) shows here."""
    ticks = os.sysconf("SC_CLK_TCK")
    line = Path("/proc/stat").read_text().splitlines()[0].split()
    return {
        column: int(value) / ticks
        for column, value in zip(MACHINE_CPU_COLUMNS, line[1 : 1 + len(MACHINE_CPU_COLUMNS)])
    }


def machine_cores_between(
    before: dict[str, float], after: dict[str, float], seconds: float
) -> dict[str, float]:
    """Cores spent on each kind of CPU time between two `machine_cpu_seconds` readings
    `seconds` apart (idle 0.25: a quarter of a core sat idle on average)."""
    return {
        column: round((after[column] - before[column]) / seconds, 2)
        for column in MACHINE_CPU_COLUMNS
    }


def rss_kib(pid: int) -> int:
    """Resident memory of one process in KiB, from /proc (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def launch_chromium(playwright: Any) -> Any:
    """Debian's chromium, headless, through Playwright.

    Args:
        playwright: the object `sync_playwright().start()` returns.
    """
    return playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=list(CHROMIUM_ARGS))


def new_page(browser: Any) -> Any:
    """A page in a context of its own (its own Streamlit session).

    Args:
        browser: a Playwright browser.
    """
    return browser.new_context(viewport=VIEWPORT).new_page()


def wait_for_title(page: Any, timeout_seconds: float = 60.0) -> None:
    """Wait until the Draw page's title is visible.

    Args:
        page: a Playwright page showing the app.
        timeout_seconds: give up after this long.
    """
    page.get_by_role("heading", name=DRAW_TITLE).wait_for(
        state="visible", timeout=timeout_seconds * 1000
    )


def wait_for_canvas(
    page: Any, timeout_seconds: float = 60.0, canvas_key: str | None = None
) -> dict[str, float]:
    """Wait until the drawing canvas is on screen; returns its bounding box.

    Args:
        page: a Playwright page showing the Draw page.
        timeout_seconds: give up after this long.
        canvas_key: wait for the canvas with this Streamlit key (draw_canvas_<n>: the page
            gives the canvas a new key when it is cleared); default: any canvas.
    """
    scope = f".st-key-{canvas_key} " if canvas_key else ""
    canvas = page.locator(scope + CANVAS_SELECTOR).first
    canvas.wait_for(state="visible", timeout=timeout_seconds * 1000)
    box = canvas.bounding_box()
    if box is None or box["width"] < 50:
        raise RuntimeError(f"the canvas has no usable size on screen: {box}")
    return box


def canvas_box(
    page: Any, canvas_key: str | None = None, timeout_seconds: float = 60.0
) -> dict[str, float]:
    """The canvas' bounding box once the script run has finished and the layout has settled.

    Elements rendered later in a run can move the canvas down the page: strokes aimed at an
    old position would miss it.

    Args:
        page: a Playwright page showing the Draw page.
        canvas_key: as for `wait_for_canvas`.
        timeout_seconds: give up after this long.
    """
    wait_for_canvas(page, timeout_seconds, canvas_key)
    wait_until_idle(page, timeout_seconds)
    scope = f".st-key-{canvas_key} " if canvas_key else ""
    canvas = page.locator(scope + CANVAS_SELECTOR).first
    # After Clear the old canvas lingers for a moment and pushes the new one down the page.
    deadline = time.perf_counter() + timeout_seconds
    while page.locator(CANVAS_SELECTOR).count() != 1:
        if time.perf_counter() > deadline:
            raise RuntimeError("more than one canvas stayed on the page.")
        page.wait_for_timeout(50)
    # The same position over three reads 100 ms apart counts as settled.
    same_reads, box = 0, canvas.bounding_box()
    deadline = time.perf_counter() + 10
    while same_reads < 3 and time.perf_counter() < deadline:
        page.wait_for_timeout(100)
        again = canvas.bounding_box()
        same_reads = same_reads + 1 if again == box else 0
        box = again
    if box is None:
        raise RuntimeError("the canvas left the page while its position was being read.")
    return box


def canvas_key(page: Any) -> str:
    """The Streamlit key of the canvas on screen (draw_canvas_<n>).

    Args:
        page: a Playwright page showing the Draw page.
    """
    classes = page.evaluate(
        "() => { const element = document.querySelector(\"[class*='st-key-draw_canvas_']\");"
        " return element ? element.className : ''; }"
    )
    match = re.search(r"st-key-(draw_canvas_\d+)", classes)
    if match is None:
        raise RuntimeError("no canvas with a key draw_canvas_<n> on the page.")
    return match.group(1)


def wait_until_idle(page: Any, timeout_seconds: float = 60.0) -> None:
    """Wait until the app's script run has finished.

    Args:
        page: a Playwright page showing the app.
        timeout_seconds: give up after this long.
    """
    page.locator(f"{APP_SELECTOR}[data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=timeout_seconds * 1000
    )


def stroke_points(
    stroke: Sequence[tuple[float, float]], box: dict[str, float]
) -> list[tuple[float, float]]:
    """Page coordinates along a stroke, STROKE_STEP_PIXELS apart.

    Args:
        stroke: (x, y) fractions of the canvas.
        box: the canvas' bounding box.
    """
    corners = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
    points = [corners[0]]
    for (x0, y0), (x1, y1) in zip(corners, corners[1:]):
        steps = max(1, round(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 / STROKE_STEP_PIXELS))
        points += [
            (x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps) for i in range(1, steps + 1)
        ]
    return points


def draw_digit(page: Any, digit: int, box: dict[str, float]) -> float:
    """Draw `digit` with mouse strokes on the canvas; returns perf_counter() after mouse-up.

    The page is armed first (ARM_JS), so `round_trip_milliseconds` can then read the browser's
    own clock at the mouse-up and at the prediction's appearance. Draw on a page that shows
    no prediction (a fresh or cleared canvas).

    Args:
        page: a Playwright page showing the Draw page.
        digit: a key of DIGIT_STROKES (single strokes, so only the last mouse-up counts).
        box: the canvas' bounding box (`canvas_box`).
    """
    page.evaluate(ARM_JS)
    lifted = time.perf_counter()
    for stroke in DIGIT_STROKES[digit]:
        points = stroke_points(stroke, box)
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point)
        page.mouse.up()
        lifted = time.perf_counter()
    return lifted


def wait_for_prediction(page: Any, timeout_seconds: float = 60.0) -> None:
    """Wait until the prediction of the drawing made by `draw_digit` is on screen.

    Args:
        page: a Playwright page drawn on with `draw_digit`.
        timeout_seconds: give up after this long.
    """
    try:
        page.wait_for_function(
            "() => window.__benchShown !== null", polling=5, timeout=timeout_seconds * 1000
        )
    except Exception as error:
        on_canvas = page.evaluate("() => window.__benchMouseUpOnCanvas")
        where = "on the canvas" if on_canvas else "NOT on the canvas (did the layout move?)"
        raise RuntimeError(
            f"no prediction within {timeout_seconds:g} s of drawing; the mouse-up was {where}."
        ) from error


def round_trip_milliseconds(page: Any) -> float:
    """Browser time from the last mouse-up of `draw_digit` to the prediction on screen.

    Args:
        page: a page on which `wait_for_prediction` has returned.
    """
    mouse_up, shown = page.evaluate("() => [window.__benchMouseUp, window.__benchShown]")
    if mouse_up is None or shown is None:
        raise RuntimeError("the page did not record the mouse-up and the prediction.")
    return float(shown) - float(mouse_up)


def predicted_text(page: Any) -> str:
    """The prediction on screen ("" if none).

    Args:
        page: a Playwright page showing the Draw page.
    """
    values = page.locator(PREDICTION_SELECTOR)
    return values.first.inner_text().strip() if values.count() else ""


def clear_drawing(page: Any, timeout_seconds: float = 60.0) -> dict[str, float]:
    """Press the page's Clear button and wait for the new, empty canvas; returns its box.

    Args:
        page: a Playwright page showing the Draw page with a prediction.
        timeout_seconds: give up after this long.
    """
    number = int(canvas_key(page).rsplit("_", 1)[1])
    page.get_by_role("button", name=CLEAR_BUTTON).click()
    page.locator(PREDICTION_SELECTOR).first.wait_for(
        state="detached", timeout=timeout_seconds * 1000
    )
    wait_until_idle(page, timeout_seconds)
    # Clearing gives the canvas a new key: draw on the new component, not the old one.
    return canvas_box(page, f"draw_canvas_{number + 1}", timeout_seconds)


def peak_megabytes(pid: int) -> float:
    """A process's peak resident memory so far (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def write_oversized_png(path: Path, side: int = 13_000) -> None:
    """Write a black PNG of side x side pixels, 1 bit a pixel: a few hundred kB on disk, far
    too large to decode (13,000 a side: 645 MB as the Draw page would read it)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    row = b"\x00" * (1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def save_screenshot(page: Any, name: str) -> str:
    """Save a screenshot of `page` in the scratch directory (after a failure); returns its path.

    Args:
        page: a Playwright page.
        name: the file's name without suffix.
    """
    path = scratch_directory() / f"{name}.png"
    try:
        page.screenshot(path=str(path), full_page=True)
    except Exception as error:  # noqa: BLE001 - a failed screenshot must not hide the failure
        return f"(no screenshot: {error})"
    return str(path)
