"""What every benchmark shares: summary statistics, the result layout, machine facts.

A benchmark's `run(quick)` returns `benchmark_result(...)`: a plain-JSON dict with its
settings, one `Figure` per line of the table, and details (raw samples, per-epoch accuracy...).
On a shared, noisy machine a single timing means little, so every figure is the median of
several repetitions with their spread, and a figure that has a reference (the naive way,
plain Keras) is measured interleaved with it in the same run and reported as a ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
# Below this many samples percentiles are guesses: show the whole range instead.
PERCENTILE_MIN_SAMPLES = 20


@dataclass(frozen=True)
class Spread:
    """Median and spread of repeated measurements.

    Attributes:
        median: the median.
        low: the low end of the spread (5th percentile, or the minimum for few samples).
        high: the high end (95th percentile, or the maximum).
        kind: "p5-p95" or "min-max".
        count: number of samples.
    """

    median: float
    low: float
    high: float
    kind: str
    count: int


def summarize(samples: Sequence[float]) -> Spread:
    """Median and spread of `samples`: p5-p95 from 20 samples on, min-max below.

    Args:
        samples: the measurements (at least one; inf counts as "never").
    """
    values = np.asarray(list(samples), dtype=np.float64)
    if values.size == 0:
        raise ValueError("samples is empty; expected at least one measurement.")
    median = float(np.median(values))
    if values.size >= PERCENTILE_MIN_SAMPLES:
        low, high = np.percentile(values, [5, 95])
        return Spread(median, float(low), float(high), "p5-p95", int(values.size))
    return Spread(median, float(values.min()), float(values.max()), "min-max", int(values.size))


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of `samples`, linear interpolation.

    Args:
        samples: the measurements.
        q: the percentile, 0 to 100.
    """
    return float(np.percentile(np.asarray(list(samples), dtype=np.float64), q))


@dataclass(frozen=True)
class Figure:
    """One line of the benchmark table.

    Attributes:
        benchmark: the benchmark's short name (the script's).
        name: what was measured.
        unit: unit of median/low/high ("ms", "s", "x", "MB", "%", "sessions").
        median: the headline value (a median unless `name` says otherwise).
        low: low end of the spread (None when there is no spread: a single measurement).
        high: high end of the spread.
        spread_kind: "p5-p95", "min-max" or "" (no spread).
        count: number of measurements behind the figure.
        reference: the side-by-side reference and the ratio to it, in words ("" if none).
        goal: the goal in words ("" if the figure has none).
        passed: True (PASS), False (MISS) or None (no goal).
        note: anything a reader must know to read the figure right.
    """

    benchmark: str
    name: str
    unit: str
    median: float
    low: float | None
    high: float | None
    spread_kind: str
    count: int
    reference: str = ""
    goal: str = ""
    passed: bool | None = None
    note: str = ""

    @property
    def status(self) -> str:
        """PASS, MISS or "-" (no goal)."""
        if self.passed is None:
            return "-"
        return "PASS" if self.passed else "MISS"


def figure_from_samples(
    benchmark: str,
    name: str,
    unit: str,
    samples: Sequence[float],
    *,
    reference: str = "",
    goal: str = "",
    passed: bool | None = None,
    note: str = "",
) -> Figure:
    """A `Figure` whose median and spread are those of `samples`.

    Args:
        benchmark: the benchmark's short name.
        name: what was measured.
        unit: the samples' unit.
        samples: the repeated measurements.
        reference: the reference and the ratio, in words (default none).
        goal: the goal in words (default none).
        passed: whether the goal is met (default None: no goal).
        note: a remark for the reader (default none).
    """
    spread = summarize(samples)
    single = spread.count == 1  # one measurement has no spread
    return Figure(
        benchmark=benchmark,
        name=name,
        unit=unit,
        median=spread.median,
        low=None if single else spread.low,
        high=None if single else spread.high,
        spread_kind="" if single else spread.kind,
        count=spread.count,
        reference=reference,
        goal=goal,
        passed=passed,
        note=note,
    )


def format_value(value: float | None, unit: str) -> str:
    """A value with its unit and a sensible number of digits ("3.21 ms", "15.2x", "never").

    Args:
        value: the number (None gives "-", inf gives "never").
        unit: its unit.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if math.isinf(value):
        return "never"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "%":
        return f"{value:.2f}%"
    if unit in ("sessions", "count"):
        return f"{value:g}"
    magnitude = abs(value)
    digits = 0 if magnitude >= 100 else 1 if magnitude >= 10 else 2
    return f"{value:.{digits}f} {unit}"


def format_spread(figure: Figure) -> str:
    """The spread as "p5-p95 3.10-4.02 ms (n=200)", or "-" when there is none.

    Args:
        figure: the figure.
    """
    if figure.low is None or figure.high is None or not figure.spread_kind:
        return f"- (n={figure.count})"
    low = format_value(figure.low, figure.unit).removesuffix(f" {figure.unit}")
    return (
        f"{figure.spread_kind} {low} to {format_value(figure.high, figure.unit)} (n={figure.count})"
    )


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (how busy the shared machine was)."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return []


def benchmark_result(
    benchmark: str,
    title: str,
    quick: bool,
    settings: dict[str, Any],
    figures: Sequence[Figure],
    details: dict[str, Any],
    started: float,
    load_before: list[float],
) -> dict[str, Any]:
    """The plain-JSON result of one benchmark run.

    Args:
        benchmark: the short name (the script's).
        title: one line saying what it measures.
        quick: whether it ran on the tiny setting.
        settings: what it ran with (sizes, repetitions, models).
        figures: the table lines.
        details: raw samples and anything else worth keeping.
        started: `time.perf_counter()` when it began.
        load_before: `load_average()` when it began.
    """
    return {
        "benchmark": benchmark,
        "title": title,
        "quick": quick,
        "settings": settings,
        "figures": [_figure_to_dict(figure) for figure in figures],
        "details": json_safe(details),
        "training_seconds": round(time.perf_counter() - started, 2),
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }


def _figure_to_dict(figure: Figure) -> dict[str, Any]:
    data = asdict(figure)
    data["status"] = figure.status
    return {key: _json_number(value) for key, value in data.items()}


def _json_number(value: Any) -> Any:
    # JSON has no inf or NaN: "never reached" is stored as null with the status saying MISS.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_safe(value: Any) -> Any:
    """`value` with numpy numbers made plain and inf/NaN made None, ready for strict JSON.

    Args:
        value: nested dicts, lists, tuples and numbers.
    """
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    return _json_number(value)


def figure_from_dict(data: dict[str, Any]) -> Figure:
    """Rebuild a `Figure` from its results.json form.

    Args:
        data: one entry of a benchmark's "figures".
    """
    fields = {key: value for key, value in data.items() if key != "status"}
    if fields.get("median") is None:
        fields["median"] = math.inf
    return Figure(**fields)


def quiet_keras() -> Any:
    """Import Keras without TensorFlow's start-up noise (as the app and CLI do)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from mnist_core.base.keras_import import import_keras

    keras = import_keras()
    import tensorflow as tf

    # Each benchmark run builds fresh models, and TensorFlow warns about retracing them.
    tf.get_logger().setLevel("ERROR")
    return keras


@contextlib.contextmanager
def app_pages_on_a_class_log(prefix: str, **variables: str) -> Iterator[tuple[Any, str]]:
    """A block in which the app's pages, opened in AppTest in this process, use a new run log
    in a temporary folder (MNIST_RUNS_DB) and the other environment variables given. It yields
    the run log and the id of "another server's" engine, alive, whose runs the benchmark queues
    (a heartbeat now and then keeps them from the pages' own engine).

    At its end it closes the training engine the pages connected (the Class page's line and
    the Train page start one), with its cluster, puts the environment back, then removes the
    folder. Left running, the engine wrote into the folder while it was removed ("Directory
    not empty"); left set, MNIST_RUNS_DB sent the benchmark's next server to the removed folder.

    Args:
        prefix: the temporary folder's name starts with it.
    """
    from mnist_core.runs.log import RunLog, this_process_engine

    with (
        tempfile.TemporaryDirectory(prefix=prefix) as directory,
        mock.patch.dict(
            os.environ, MNIST_RUNS_DB=str(Path(directory) / "runs.sqlite3"), **variables
        ),
    ):
        try:
            run_log = RunLog(Path(directory) / "runs.sqlite3")
            other_engine = this_process_engine()
            run_log.heartbeat(other_engine)
            yield run_log, other_engine
        finally:
            from app_glue.resources import connected_engine

            engine = connected_engine()
            if engine is not None:
                engine.close()


def machine_info() -> dict[str, Any]:
    """What the figures were taken on: CPU, cores, RAM, Python and library versions."""
    info: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }
    for package in ("tensorflow", "keras", "numpy", "streamlit", "playwright"):
        info[package] = _package_version(package)
    info["chromium"] = _chromium_version()
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _package_version(name: str) -> str | None:
    from importlib import metadata

    candidates = {"tensorflow": ("tensorflow", "tensorflow-cpu")}.get(name, (name,))
    for candidate in candidates:
        try:
            return metadata.version(candidate)
        except metadata.PackageNotFoundError:
            continue
    return None


def _chromium_version() -> str | None:
    try:
        completed = subprocess.run(
            ["/usr/bin/chromium", "--version"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() or None


def main(run: Callable[[bool], dict[str, Any]], description: str) -> None:
    """Command line of a single benchmark script: run it, print its table and its JSON.

    Args:
        run: the script's `run(quick)`.
        description: the script's one-line description.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny setting, to check it runs")
    parser.add_argument("--json", action="store_true", help="also print the result as JSON")
    parser.add_argument(
        "--result-file", type=Path, help="write the result there as JSON instead of a table"
    )
    arguments = parser.parse_args()
    from bench.report import format_table

    result = run(arguments.quick)
    if arguments.result_file is not None:
        arguments.result_file.write_text(json.dumps(result, indent=2, allow_nan=False))
        return
    print(format_table([result]))
    if arguments.json:
        json.dump(result, sys.stdout, indent=2, allow_nan=False)
        print()
