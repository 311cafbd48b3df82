"""The benchmarks in bench/ still run: each on its tiny (quick) setting, results well formed.

These check that the scripts work, not the figures (tiny data, few repetitions). The browser
benchmarks start the app and drive Debian's chromium, so they are marked `browser`.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
FIGURE_KEYS = {
    "benchmark",
    "name",
    "unit",
    "median",
    "low",
    "high",
    "spread_kind",
    "count",
    "reference",
    "goal",
    "passed",
    "note",
    "status",
}


def check_result(result: dict, name: str) -> None:
    """A benchmark result as run_all.py expects it: figures with a status, strict JSON."""
    assert not result.get("error"), result.get("error")
    assert result["benchmark"] == name
    assert result["quick"] is True
    assert result["title"] and isinstance(result["settings"], dict)
    assert result["figures"], "a benchmark reports at least one figure"
    for figure in result["figures"]:
        assert set(figure) == FIGURE_KEYS
        assert figure["benchmark"] == name
        assert figure["status"] in ("PASS", "MISS", "-")
        assert (figure["status"] == "-") == (figure["passed"] is None)
        assert figure["count"] >= 1
        if figure["median"] is not None:
            assert math.isfinite(figure["median"])
    assert any(figure["goal"] for figure in result["figures"]), "every benchmark has a goal"
    json.dumps(result, allow_nan=False)


@pytest.mark.parametrize(
    "name",
    ["training_overhead", "time_to_accuracy", "lessons", "unsure", "not_a_digit", "attribution"],
)
@pytest.mark.slow
def test_core_benchmark_runs_on_its_quick_setting(name):
    import importlib

    module = importlib.import_module(f"bench.{name}")
    check_result(module.run(quick=True), name)


@pytest.mark.slow
def test_run_all_prints_one_table_and_writes_results(tmp_path):
    output = tmp_path / "results.json"
    completed = subprocess.run(
        [sys.executable, "bench/run_all.py", "--quick", "--only", "prediction"]
        + ["--output", str(output)],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "| Reference / ratio" in completed.stdout
    assert "prediction" in completed.stdout and (
        "PASS" in completed.stdout or "MISS" in completed.stdout
    )
    document = json.loads(output.read_text())
    assert document["quick"] is True
    assert document["machine"]["cpu_model"] and document["machine"]["python"]
    assert [result["benchmark"] for result in document["benchmarks"]] == ["prediction"]
    check_result(document["benchmarks"][0], "prediction")
    assert not output.with_name(output.name + ".tmp").exists()

    markdown = subprocess.run(
        [sys.executable, "bench/run_all.py", "--markdown", "--output", str(output)],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout.startswith("Taken ") and "| prediction |" in markdown.stdout


def test_a_failing_benchmark_is_reported_not_raised(monkeypatch, tmp_path, capsys):
    from bench import run_all

    def failing(name: str, quick: bool) -> dict:
        return run_all._error(name, quick, "exit status 1:\nboom")

    monkeypatch.setattr(run_all, "run_benchmark", failing)
    monkeypatch.setattr(run_all, "machine_info", lambda: {"cpu_model": "test", "python": "3"})
    output = tmp_path / "results.json"
    assert run_all.run_all(["prediction"], quick=True, output=output) == 1
    shown = capsys.readouterr().out
    assert "ERROR" in shown and "boom" in shown
    assert json.loads(output.read_text())["benchmarks"][0]["error"].endswith("boom")


@pytest.mark.browser
@pytest.mark.parametrize(
    "name",
    ["cold_start", "round_trip", "phone_drawing", "sessions", "class_load", "class_guard"],
)
def test_browser_benchmark_runs_on_its_quick_setting(name, tmp_path):
    # In a process of its own: the browser tests of this pytest run may hold Playwright's
    # event loop, and a second sync Playwright cannot start beside it.
    run_alone_on_quick_setting(name, tmp_path)


@pytest.mark.slow
@pytest.mark.cluster
def test_class_view_benchmark_runs_on_its_quick_setting(tmp_path):
    # In a process of its own: it points the run log and the teacher key elsewhere.
    run_alone_on_quick_setting("class_view", tmp_path, timeout=600)


def run_alone_on_quick_setting(name: str, tmp_path, timeout: float = 300) -> None:
    """`run_all.py --quick --only NAME` in a process of its own; its result well formed."""
    output = tmp_path / "results.json"
    completed = subprocess.run(
        [sys.executable, "bench/run_all.py", "--quick", "--only", name, "--output", str(output)],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    (result,) = json.loads(output.read_text())["benchmarks"]
    check_result(result, name)
