"""A lesson's conclusions, computed from its runs' results, never written in advance: what the
runs reached, what went wrong, and what the lesson's focus (parameters, overfitting, speed,
loss, the first good epoch) shows in numbers.

The sentences themselves are written by `teaching.sentences`, plain Python that an exported
lesson notebook carries verbatim: here, the recorded runs become its figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mnist_core.modeling.summary import count_parameters
from mnist_core.runs.record import (
    Run,
    finite_or_none,
)
from mnist_core.teaching import class_lesson
from mnist_core.teaching.lessons import LESSONS, Lesson
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


@dataclass(frozen=True)
class ComparedLesson:
    """What the Compare page says of the lesson among the compared runs.

    Attributes:
        title: the lesson's title ("" when the runs come from several lessons).
        sentences: its conclusions, when the compared runs are exactly one start of it.
        why_none: otherwise, why there is no conclusion and what to tick instead.
    """

    title: str
    sentences: tuple[str, ...] = ()
    why_none: str = ""


def compared_lesson(runs: Sequence[Run]) -> ComparedLesson | None:
    """The lesson's conclusions when the compared runs are all the runs of one start of one
    lesson and nothing else; else why not. None when no compared run belongs to a lesson this
    version knows.

    A conclusion from part of a lesson would still carry the lesson's heading and speak for
    all of it: "adam against RMSprop" is not the lesson "SGD against adam against RMSprop".

    Args:
        runs: the compared runs (any order).
    """
    lesson_runs = [run for run in runs if run.lesson]
    names = {run.lesson for run in lesson_runs}
    if not lesson_runs or not names <= {*LESSONS, class_lesson.LESSON_NAME}:
        return None
    if len(names) > 1:
        return ComparedLesson(
            "", why_none="These runs come from different lessons: tick the runs of one lesson, "
            "and only them, to read its conclusion.",
        )  # fmt: skip
    (name,) = names
    if name == class_lesson.LESSON_NAME:
        title, labels = class_lesson.TITLE, [label for label, _ in class_lesson.RUNS]
    else:
        title, labels = LESSONS[name].title, [run.label for run in LESSONS[name].runs]
    starts = len({run.request_id for run in lesson_runs})
    others = len(runs) - len(lesson_runs)
    if starts == 1 and not others and sorted(run.label or "" for run in runs) == sorted(labels):
        if name == class_lesson.LESSON_NAME:
            sentences = class_lesson.lesson_conclusions(lesson_runs)
        else:
            sentences = lesson_conclusions(LESSONS[name], lesson_runs)
        return ComparedLesson(title, tuple(sentences))
    ticked = f"{len(lesson_runs)} of its runs" + (f" from {starts} starts" if starts > 1 else "")
    if others:
        ticked += f" and {others} other run{'s' if others > 1 else ''}"
    return ComparedLesson(
        title, why_none=f"Its conclusion is written from its {len(labels)} runs started "
        f"together, compared on their own; ticked now: {ticked}. Tick just those "
        f"{len(labels)} to read it.",
    )  # fmt: skip
