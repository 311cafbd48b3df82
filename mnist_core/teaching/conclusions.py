"""A lesson's conclusions, computed from its runs' results, never written in advance: what the
runs reached, what went wrong, and what the lesson's focus (parameters, overfitting, speed,
loss, the first good epoch) shows in numbers.

The sentences themselves are written by `teaching.sentences`, plain Python that an exported
lesson notebook carries verbatim: here, the recorded runs become its figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mnist_core.modeling.summary import count_parameters
from mnist_core.runs.record import (
    Run,
    finite_or_none,
)
from mnist_core.teaching.lessons import Lesson
from mnist_core.teaching.sentences import lesson_sentences


def lesson_conclusions(lesson: Lesson, runs: Sequence[Run]) -> list[str]:
    """Sentences computed from the lesson's results: what the runs reached and why it matters.

    Args:
        lesson: the lesson the runs belong to.
        runs: its runs, in any order (matched to the lesson's by label; others follow).
    """
    ordered = _in_lesson_order(lesson, runs)
    return lesson_sentences([run_result(run) for run in ordered], lesson.focus)


def run_result(run: Run) -> dict[str, Any]:
    """A recorded run's figures as `teaching.sentences` takes them (one dict, plain values).

    Args:
        run: the recorded run.
    """
    return {
        "name": run.display_name,
        "status": run.status,
        "reason": run.reason,
        "epochs": run.config.epochs,
        "epochs_completed": run.metrics.get("epochs_completed"),
        "history": [dict(entry) for entry in run.history],
        "test_accuracy": run.test_accuracy,
        "parameter_count": run.parameter_count or count_parameters(run.config),
        "training_seconds": finite_or_none(run.metrics.get("training_seconds")),
        "samples_per_second": finite_or_none(run.metrics.get("samples_per_second")),
    }


def _in_lesson_order(lesson: Lesson, runs: Sequence[Run]) -> list[Run]:
    rank = {lesson_run.label: index for index, lesson_run in enumerate(lesson.runs)}
    return sorted(runs, key=lambda run: (rank.get(run.label or "", len(rank)), run.created_at))
