"""Run every benchmark, print one table and write bench/results.json (`make bench`).

Each benchmark runs in a fresh Python process of its own (`python bench/<name>.py
--result-file ...`), so that none inherits another's TensorFlow state, caches or memory.
A benchmark that fails is reported as ERROR and the others still run; a missed goal is a
MISS in the table, not a failure. The exit status is 1 when a benchmark failed, else 0.

    python bench/run_all.py                 # full run -> bench/results.json
    python bench/run_all.py --quick         # tiny settings -> bench/results.quick.json
    python bench/run_all.py --only prediction round_trip
    python bench/run_all.py --markdown      # the README table from bench/results.json
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # to run as a script

import argparse
import datetime
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from bench.common import REPOSITORY_ROOT, json_safe, load_average, machine_info
from bench.report import format_markdown, format_table, machine_line

BENCH_DIRECTORY = Path(__file__).resolve().parent
# In the order they run: the CPU-bound core benchmarks first, then the browser ones.
BENCHMARKS = (
    "prediction",
    "unsure",
    "not_a_digit",
    "attribution",
    "training_overhead",
    "time_to_accuracy",
    "lessons",
    "compare_page",
    "cold_start",
    "round_trip",
    "phone_drawing",
    "sessions",
    "class_load",
    "class_guard",
    "class_view",
    "runner_settings",
)
FULL_RESULTS = BENCH_DIRECTORY / "results.json"
QUICK_RESULTS = BENCH_DIRECTORY / "results.quick.json"
# A benchmark that takes longer than this is stuck (a full run of the slowest takes minutes).
TIMEOUT_SECONDS = 30 * 60


def run_benchmark(name: str, quick: bool) -> dict[str, Any]:
    """Run one benchmark script in a fresh process; its result, or an error record.

    Args:
        name: one of BENCHMARKS.
        quick: run it on its tiny setting.
    """
    with tempfile.TemporaryDirectory(prefix="mnist-bench-") as directory:
        result_file = Path(directory) / f"{name}.json"
        command = [
            sys.executable,
            str(BENCH_DIRECTORY / f"{name}.py"),
            "--result-file",
            str(result_file),
        ]
        if quick:
            command.append("--quick")
        environment = dict(os.environ)
        environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        started = time.perf_counter()
        try:
            completed = subprocess.run(
                command,
                cwd=REPOSITORY_ROOT,
                env=environment,
                stderr=subprocess.PIPE,
                text=True,
                timeout=TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            return _error(name, quick, f"did not finish within {TIMEOUT_SECONDS} s")
        if completed.returncode != 0 or not result_file.exists():
            tail = "\n".join(completed.stderr.strip().splitlines()[-15:])
            return _error(name, quick, f"exit status {completed.returncode}:\n{tail}")
        result = json.loads(result_file.read_text())
    print(f"  {name} done in {time.perf_counter() - started:.0f} s", flush=True)
    return result


def _error(name: str, quick: bool, message: str) -> dict[str, Any]:
    print(f"  {name} FAILED: {message}", flush=True)
    return {"benchmark": name, "quick": quick, "error": message, "figures": []}


def write_results(path: Path, document: dict[str, Any]) -> None:
    """Write `document` as JSON to `path` atomically (a temporary file, then a rename).

    Args:
        path: the results file.
        document: the run's results.
    """
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(json_safe(document), indent=2, allow_nan=False) + "\n")
    os.replace(temporary, path)


def run_all(names: Sequence[str], quick: bool, output: Path) -> int:
    """Run the benchmarks, print the table, write `output`; the exit status.

    Args:
        names: the benchmarks to run, in order.
        quick: tiny settings.
        output: where to write the results.
    """
    machine = machine_info()
    started_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    load_before = load_average()
    print(f"Benchmarks{' (quick)' if quick else ''} on {machine_line(machine)}", flush=True)
    print(f"Load average before: {load_before} (the machine is shared: figures are noisy)")
    results = []
    for name in names:
        print(f"== {name} ==", flush=True)
        results.append(run_benchmark(name, quick))
    document = {
        "started_at": started_at,
        "finished_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "machine": machine,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "benchmarks": results,
    }
    write_results(output, document)
    print()
    print(format_table(results))
    print(f"\nLoad average after: {document['load_average_after']}. Results: {_shown(output)}")
    return 1 if any(result.get("error") for result in results) else 0


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPOSITORY_ROOT))
    except ValueError:
        return str(path)


def main(arguments: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status.

    Args:
        arguments: the command-line arguments (default: sys.argv[1:]).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings, to check they run")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=BENCHMARKS,
        metavar="NAME",
        help=f"run only these: {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help=f"results file (default {_shown(FULL_RESULTS)}, or {_shown(QUICK_RESULTS)} with --quick)",
    )
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="run nothing: print the README's table from the results file",
    )
    options = parser.parse_args(arguments)
    output = options.output or (QUICK_RESULTS if options.quick else FULL_RESULTS)
    if options.markdown:
        if not output.exists():
            print(
                f"error: {_shown(output)} does not exist; run the benchmarks first.",
                file=sys.stderr,
            )
            return 2
        document = json.loads(output.read_text())
        print(format_markdown(document))
        return 0
    names = [name for name in BENCHMARKS if not options.only or name in options.only]
    return run_all(names, options.quick, output)


if __name__ == "__main__":
    sys.exit(main())
