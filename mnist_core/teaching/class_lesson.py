"""The lesson "Our own digits": how would you adapt a model trained on MNIST for the real world?

The notebooks leave it as an open question. The class answers it with its own drawings: one
click trains the same network three ways, on MNIST alone, on the class's digits alone, and on
both together, and scores each on MNIST's test set and on the class's held-out writers
(classmates whose drawings none of the three ever learned from). The result is a three-by-two
table (`lesson_table`) and sentences computed from its numbers (`lesson_conclusions`), never
written in advance.

The three runs are one request (`lesson_requests`): they share one split of the class's data,
taken when the lesson is queued, so the held-out classmates are the same for all three.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mnist_core.data.format import CLASS_DIGITS, MNIST_AND_CLASS
from mnist_core.modeling.config import ModelConfig
from mnist_core.modeling.presets import get_preset
from mnist_core.runs.record import Run
from mnist_core.runs.request import RunRequest

LESSON_NAME = "our_own_digits"
TITLE = "Our own digits: MNIST alone, our digits alone, and both"
WHAT_TO_LOOK_FOR = (
    "MNIST's digits were written on paper by American Census Bureau employees and high-school "
    "students around 1990; ours are drawn with a finger or a mouse. One network is trained three ways and "
    "tested on MNIST's own test digits and on classmates whose drawings it never saw. Look "
    "at the right-hand column: which training reads our classmates best, and what does it "
    "cost on MNIST?"
)
PRESET = "cnn_fast"
EPOCHS = 2
# MNIST images of the runs that learn from MNIST; the class-only run's epoch shows its
# drawings about as many times over (`training.class_digits`).
TRAINING_IMAGES = 10000
# (label, dataset) of the three runs, in the table's order.
RUNS = (
    ("MNIST alone", "mnist"),
    ("our digits alone", CLASS_DIGITS),
    ("MNIST + our digits", MNIST_AND_CLASS),
)
# Within this many points, two accuracies are "the same".
SAME_POINTS = 0.5


def lesson_config(dataset: str) -> ModelConfig:
    """The network every run of the lesson trains, on `dataset`."""
    return get_preset(PRESET).config.replace(dataset=dataset, epochs=EPOCHS)


def lesson_requests() -> list[RunRequest]:
    """The lesson's three runs, to submit together as one request (each scored on the class's
    held-out writers)."""
    return [
        RunRequest(
            lesson_config(dataset),
            preset=PRESET,
            lesson=LESSON_NAME,
            label=label,
            training_images=TRAINING_IMAGES,
            class_test=True,
        )
        for label, dataset in RUNS
    ]


@dataclass(frozen=True)
class LessonRow:
    """One row of the lesson's table: a run and its two scores.

    Attributes:
        label: how the run trained ("MNIST alone", ...).
        status: the run's status (None: not queued).
        mnist: accuracy on MNIST's test set (None: not measured).
        classmates: accuracy on the class's held-out writers (None: not measured).
        classmates_correct, classmates_count: right answers among their drawings.
    """

    label: str
    status: str | None
    mnist: float | None
    classmates: float | None
    classmates_correct: int | None
    classmates_count: int | None


def lesson_table(runs: Sequence[Run]) -> list[LessonRow]:
    """The three-by-two table: a row a training, MNIST's test set and our held-out classmates.

    Args:
        runs: the lesson's runs (matched by label; the newest of a label counts).
    """
    by_label: dict[str, Run] = {}
    for run in sorted(runs, key=lambda run: run.created_at):
        if run.lesson == LESSON_NAME and run.label:
            by_label[run.label] = run
    rows = []
    for label, _ in RUNS:
        run = by_label.get(label)
        figures = (run.metrics.get("class_digits") or {}) if run is not None else {}
        rows.append(
            LessonRow(
                label=label,
                status=run.status if run is not None else None,
                mnist=run.test_accuracy if run is not None else None,
                classmates=_fraction(figures.get("test_accuracy")),
                classmates_correct=figures.get("test_correct"),
                classmates_count=figures.get("test_count"),
            )
        )
    return rows


def _fraction(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and value == value else None


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _points(difference: float) -> str:
    return f"{abs(difference) * 100:.1f} point{'' if round(abs(difference) * 100, 1) == 1 else 's'}"


def _noise(accuracy: float, count: int | None) -> float:
    """How far an accuracy on `count` drawings moves by chance alone: its standard error
    (sqrt(p (1 - p) / n)), at least SAME_POINTS; 120 drawings at 90% give 2.7 points."""
    if not count:
        return SAME_POINTS / 100
    return max(SAME_POINTS / 100, math.sqrt(max(accuracy * (1 - accuracy), 0.0) / count))


def _change(before: float, after: float, *, word: str, noise: float = SAME_POINTS / 100) -> str:
    """ "stays at 98.9%", "rises to 97.0% (+4.1 points)", "drops to 95.0% (−3.9 points)";
    a change within `noise` stays."""
    difference = after - before
    if abs(difference) < noise:
        return f"{word} stays at {_pct(after)}"
    direction = "rises" if difference > 0 else "drops"
    sign = "+" if difference > 0 else "−"
    return f"{word} {direction} to {_pct(after)} ({sign}{_points(difference)})"


def lesson_conclusions(runs: Sequence[Run], *, held_out_writers: int | None = None) -> list[str]:
    """Sentences computed from the lesson's table, never written in advance.

    Args:
        runs: the lesson's runs.
        held_out_writers: how many classmates were held out (default: as the runs say).
    """
    rows = lesson_table(runs)
    pending = [row.label for row in rows if row.status in ("queued", "running")]
    failed = [
        row for row in rows if row.status not in (None, "queued", "running", "finished", "stopped")
    ]
    measured = {
        row.label: row for row in rows if row.mnist is not None and row.classmates is not None
    }
    sentences = []
    if pending:
        sentences.append(
            f"{_join(pending)} {'is' if len(pending) == 1 else 'are'} still training; what "
            "follows covers the runs that ended."
        )
    for row in failed:
        sentences.append(f"{row.label} ended {row.status}: it has no scores to compare.")
    if held_out_writers is None:
        held_out_writers = max(
            [int((run.metrics.get("class_digits") or {}).get("test_writers") or 0) for run in runs]
            or [0]
        )
    mnist_alone = measured.get(RUNS[0][0])
    ours_alone = measured.get(RUNS[1][0])
    both = measured.get(RUNS[2][0])
    who = (
        f"our {held_out_writers} held-out classmate{'s' if held_out_writers != 1 else ''}"
        if held_out_writers
        else "our held-out classmates"
    )
    if mnist_alone is not None:
        sentences.append(
            f"Trained on MNIST alone, the network reads {who} at {_pct(mnist_alone.classmates)}"
            f"{_of(mnist_alone)}, and MNIST's own test digits at {_pct(mnist_alone.mnist)}."
        )
        gap = mnist_alone.mnist - mnist_alone.classmates
        if gap * 100 >= SAME_POINTS:
            sentences.append(
                f"That is {_points(gap)} worse on our drawings than on MNIST's: a test set "
                "written like the training set promises more than the real world gives."
            )
    if ours_alone is not None:
        sentences.append(
            f"Trained on our digits alone, it reads {who} at {_pct(ours_alone.classmates)}"
            f"{_of(ours_alone)}, and MNIST's test digits at {_pct(ours_alone.mnist)}."
        )
    if both is not None and mnist_alone is not None:
        noise = _noise(mnist_alone.classmates, mnist_alone.classmates_count)
        sentences.append(
            "With our digits added to MNIST, "
            + _change(
                mnist_alone.classmates, both.classmates, word="reading our classmates", noise=noise
            )
            + ", while "
            + _change(mnist_alone.mnist, both.mnist, word="MNIST")
            + "."
        )
    elif both is not None:
        sentences.append(
            f"Trained on MNIST and our digits, it reads {who} at {_pct(both.classmates)} and "
            f"MNIST's test digits at {_pct(both.mnist)}."
        )
    if len(measured) >= 2:
        best = max(measured.values(), key=lambda row: (row.classmates, row.mnist))
        others = [row for row in measured.values() if row is not best]
        runner_up = max(others, key=lambda row: row.classmates)
        margin = best.classmates - runner_up.classmates
        if margin < _noise(best.classmates, best.classmates_count):
            apart = _drawings_apart(best, runner_up)
            sentences.append(
                f"{_capital(best.label)} and {runner_up.label} read our classmates about as "
                f"well ({_pct(best.classmates)} and {_pct(runner_up.classmates)}{apart}): too "
                "close to call with this many drawings."
            )
        else:
            sentences.append(
                f"{_capital(best.label)} reads our classmates best, {_points(margin)} ahead of "
                f"{runner_up.label}."
            )
    if not sentences:
        sentences.append("No run of this lesson has been recorded yet.")
    return sentences


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _drawings_apart(first: LessonRow, second: LessonRow) -> str:
    if first.classmates_correct is None or second.classmates_correct is None:
        return ""
    apart = abs(first.classmates_correct - second.classmates_correct)
    return f", {apart} drawing{'' if apart == 1 else 's'} apart of {first.classmates_count}"


def _of(row: LessonRow) -> str:
    if row.classmates_correct is None or not row.classmates_count:
        return ""
    return f" ({row.classmates_correct} of {row.classmates_count} drawings)"


def _join(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
