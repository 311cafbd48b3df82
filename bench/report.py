"""The benchmark table: plain text for the terminal, Markdown for the README."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.common import Figure, figure_from_dict, format_spread, format_value

COLUMNS = ("Benchmark", "Figure", "Median", "Spread", "Reference / ratio", "Goal", "Result")


def table_rows(results: Sequence[dict[str, Any]]) -> list[tuple[str, ...]]:
    """One row of cells per figure (or per failed benchmark) of `results`.

    Args:
        results: benchmark results as `run(quick)` returns them.
    """
    rows = []
    for result in results:
        if result.get("error"):
            rows.append((result["benchmark"], "(benchmark failed)", "-", "-", "-", "-", "ERROR"))
            continue
        for data in result["figures"]:
            figure = figure_from_dict(data)
            rows.append(_cells(figure))
    return rows


def _cells(figure: Figure) -> tuple[str, ...]:
    name = figure.name + (f" [{figure.note}]" if figure.note else "")
    return (
        figure.benchmark,
        name,
        format_value(figure.median, figure.unit),
        format_spread(figure),
        figure.reference or "-",
        figure.goal or "-",
        figure.status,
    )


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """The results as one plain-text table, followed by the error of any failed benchmark.

    Args:
        results: benchmark results as `run(quick)` returns them.
    """
    rows = table_rows(results)
    widths = [max(len(row[index]) for row in [COLUMNS, *rows]) for index in range(len(COLUMNS))]

    def line(cells: Sequence[str]) -> str:
        return " | ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    lines = [line(COLUMNS), "-+-".join("-" * width for width in widths)]
    lines += [line(row) for row in rows]
    if any(result.get("quick") for result in results):
        lines.append("(quick run: tiny settings, only checks that the benchmarks run)")
    for result in results:
        if result.get("error"):
            lines.append(f"{result['benchmark']} failed: {result['error']}")
    return "\n".join(lines)


def format_markdown(document: dict[str, Any]) -> str:
    """A results file as Markdown for the README: when and where, then the table.

    Args:
        document: the contents of results.json (as bench/run_all.py writes it).
    """
    load = document.get("load_average_before") or ["?"]
    taken = (
        f"Taken {document.get('started_at', '')[:10]} on {machine_line(document['machine'])}; "
        f"1-minute load average {load[0]} at the start (the machine is shared)."
    )
    if document.get("quick"):
        taken += " QUICK RUN: tiny settings, not comparable to the goals."
    lines = [
        taken,
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    for row in table_rows(document["benchmarks"]):
        cells = [cell.replace("|", "\\|") for cell in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine_line(machine: dict[str, Any]) -> str:
    """The machine in one line: CPU, cores, RAM and versions.

    Args:
        machine: `bench.common.machine_info()`.
    """
    cores = machine.get("usable_cpus") or machine.get("logical_cpus")
    return (
        f"{machine.get('cpu_model')}, {cores} cores, {machine.get('memory_gib')} GiB RAM, "
        f"Python {machine.get('python')}, TensorFlow {machine.get('tensorflow')}, "
        f"Keras {machine.get('keras')}, Streamlit {machine.get('streamlit')}, "
        f"{machine.get('chromium') or 'no chromium'}"
    )
