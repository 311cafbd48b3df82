"""A lesson's conclusions, computed from its runs' results, never written in advance: what the
runs reached, what went wrong, and what the lesson's focus (parameters, overfitting, speed,
loss, the first good epoch) shows in numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mnist_core.modeling.summary import count_parameters
from mnist_core.runs.record import (
    DIVERGED,
    FAILED,
    INTERRUPTED,
    QUEUED,
    RUNNING,
    STOPPED,
    Run,
    finite_or_none,
)
from mnist_core.teaching.lessons import (
    FOCUS_FIRST_EPOCH,
    FOCUS_GAP,
    FOCUS_LOSS,
    FOCUS_PARAMETERS,
    FOCUS_SPEED,
    Lesson,
)

# A test accuracy below this is a network that guesses (one digit in ten is 10%).
CHANCE_ACCURACY = 0.2


# A validation loss this many times its lowest, at the end, has risen (overfitting).
RISE_FACTOR = 1.05


# The validation accuracy whose first epoch FOCUS_FIRST_EPOCH reports.
FIRST_EPOCH_TARGET = 0.9


# --- Conclusions --------------------------------------------------------------------------------
def lesson_conclusions(lesson: Lesson, runs: Sequence[Run]) -> list[str]:
    """Sentences computed from the lesson's results: what the runs reached and why it matters.

    Args:
        lesson: the lesson the runs belong to.
        runs: its runs, in any order (matched to the lesson's by label; others follow).
    """
    ordered = _in_lesson_order(lesson, runs)
    if not ordered:
        return ["No run of this lesson has been recorded yet."]
    sentences: list[str] = []
    pending = [run for run in ordered if run.status in (QUEUED, RUNNING)]
    measured = [run for run in ordered if run.test_accuracy is not None]
    if pending:
        sentences.append(
            _join([f"{_name(run)} is {run.status}" for run in pending])
            + "; what follows covers the runs that ended."
        )
    if measured:
        sentences.append(_accuracy_sentence(measured))
    sentences += _trouble_sentences(ordered)
    chance = [
        run for run in measured if run.status != DIVERGED and run.test_accuracy < CHANCE_ACCURACY
    ]
    if chance:
        sentences.append(
            _join([f"{_name(run)} ({_pct(run.test_accuracy)})" for run in chance])
            + (" is" if len(chance) == 1 else " are")
            + " at chance level, one digit in ten: "
            + ("it has" if len(chance) == 1 else "they have")
            + " learned next to nothing."
        )
    for focus in lesson.focus:
        sentences += _FOCUS_SENTENCES[focus](ordered)
    return [sentence for sentence in sentences if sentence]


def _in_lesson_order(lesson: Lesson, runs: Sequence[Run]) -> list[Run]:
    rank = {lesson_run.label: index for index, lesson_run in enumerate(lesson.runs)}
    return sorted(runs, key=lambda run: (rank.get(run.label or "", len(rank)), run.created_at))


def _name(run: Run) -> str:
    return run.label or run.preset or run.id


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.1f}%"


def _points(difference: float) -> str:
    return f"{abs(difference) * 100:.1f} point{'' if round(abs(difference) * 100, 1) == 1 else 's'}"


def _join(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _epochs_done(run: Run) -> int:
    done = run.metrics.get("epochs_completed")
    return int(done) if isinstance(done, int | float) else len(run.history)


def _epochs_words(count: int) -> str:
    return f"{count} epoch{'' if count == 1 else 's'}"


def _accuracy_sentence(measured: list[Run]) -> str:
    best_first = sorted(measured, key=lambda run: run.test_accuracy, reverse=True)
    same_epochs = len({_epochs_done(run) for run in best_first}) == 1
    parts = []
    for index, run in enumerate(best_first):
        text = f"{_name(run)} " + ("reached " if index == 0 else "") + _pct(run.test_accuracy)
        if index == 0:
            text += " test accuracy"
        if not same_epochs or index == 0:
            text += f" after {_epochs_words(_epochs_done(run))}"
        parts.append(text)
    sentence = (parts[0] + ", " + ", ".join(parts[1:])) if len(parts) > 1 else parts[0]
    sentence += "."
    if len(best_first) > 1:
        best, worst = best_first[0], best_first[-1]
        difference = best.test_accuracy - worst.test_accuracy
        if difference < 0.005:
            sentence += " They are within half a point of each other: no real difference here."
        else:
            sentence += (
                f" That is {_points(difference)} between {_name(best)} and {_name(worst)}"
                f" ({_error_ratio(best, worst)})."
            )
    return sentence


def _error_ratio(best: Run, worst: Run) -> str:
    best_error, worst_error = 1 - best.test_accuracy, 1 - worst.test_accuracy
    if best_error <= 0:
        return f"{_name(best)} makes no mistakes at all"
    ratio = worst_error / best_error
    return f"{_name(worst)} gets {ratio:.1f} times as many test images wrong"


def _trouble_sentences(runs: list[Run]) -> list[str]:
    sentences = []
    for run in runs:
        name = _name(run)
        epochs = run.config.epochs
        if run.status == DIVERGED:
            sentences.append(
                f"{name} diverged in epoch {len(run.history) + 1}: its loss became infinite "
                "or not a number, the steps were too large for this network. A smaller "
                "learning rate (or a gentler optimizer) trains it."
            )
        elif run.status == STOPPED:
            sentences.append(
                f"{name} was stopped after {_epochs_words(len(run.history))} of {epochs}"
                + (f" ({run.reason.rstrip('.')})" if run.reason else "")
                + ": its figures are those of a shorter run."
            )
        elif run.status == FAILED:
            sentences.append(
                f"{name} failed and has no results: {run.reason or 'no reason was given.'}"
            )
        elif run.status == INTERRUPTED:
            sentences.append(
                f"{name} was interrupted (the server stopped) and has no results; run the "
                "lesson again to see it."
            )
    return sentences


def _last_epoch(run: Run) -> dict[str, Any] | None:
    return run.history[-1] if run.history else None


def _parameter_count(run: Run) -> int:
    return run.parameter_count or count_parameters(run.config)


def _parameter_sentences(runs: list[Run]) -> list[str]:
    if not runs:
        return []
    counts = [f"{_name(run)} has {_parameter_count(run):,}" for run in runs]
    sentence = "Parameters: " + _join(counts) + "."
    most = max(runs, key=_parameter_count)
    fewest = min(runs, key=_parameter_count)
    if most is not fewest and _parameter_count(fewest) > 0:
        ratio = _parameter_count(most) / _parameter_count(fewest)
        sentence += f" {_name(most)} has {ratio:.1f} times as many as {_name(fewest)}"
        if most.test_accuracy is not None and fewest.test_accuracy is not None:
            difference = most.test_accuracy - fewest.test_accuracy
            if abs(difference) < 0.005:
                sentence += ", for the same accuracy (within half a point)."
            elif difference > 0:
                sentence += f", and {_points(difference)} more test accuracy."
            else:
                sentence += f", yet {_points(difference)} less test accuracy."
        else:
            sentence += "."
    return [sentence]


def _gap_sentences(runs: list[Run]) -> list[str]:
    gaps = []
    for run in runs:
        last = _last_epoch(run)
        if last is None:
            continue
        train, validation = (
            finite_or_none(last.get("accuracy")),
            finite_or_none(last.get("val_accuracy")),
        )
        if train is None or validation is None:
            continue
        gaps.append((run, train, validation, train - validation))
    if not gaps:
        return []
    parts = [
        f"{_name(run)} ended at {_pct(train)} on its training images and {_pct(validation)} on "
        f"validation, "
        + (f"a gap of {_points(gap)}" if gap >= 0 else f"{_points(gap)} higher on validation")
        for run, train, validation, gap in gaps
    ]
    sentences = ["Training against validation accuracy: " + "; ".join(parts) + "."]
    rises = [text for run in runs if (text := _validation_loss_rise(run))]
    if rises:
        sentences.append(
            "Validation loss: "
            + "; ".join(rises)
            + ". A validation loss that climbs while the training loss falls is overfitting."
        )
    if len(gaps) > 1:
        widest = max(gaps, key=lambda entry: entry[3])
        narrowest = min(gaps, key=lambda entry: entry[3])
        if widest[3] - narrowest[3] >= 0.005:
            sentences.append(
                f"The gap is widest for {_name(widest[0])}: it learns its training images "
                f"better than it generalises; {_name(narrowest[0])} overfits the least."
            )
    return sentences


def _validation_loss_rise(run: Run) -> str:
    """ "no dropout was lowest in epoch 5 (0.302) and ended at 0.432", or "" if it did not rise."""
    points = [
        (int(entry.get("epoch", index + 1)), loss)
        for index, entry in enumerate(run.history)
        if (loss := finite_or_none(entry.get("val_loss"))) is not None
    ]
    if len(points) < 2:
        return ""
    best_epoch, lowest = min(points, key=lambda point: point[1])
    last = points[-1][1]
    if best_epoch == points[-1][0] or last <= lowest * RISE_FACTOR:
        return ""
    return f"{_name(run)} was lowest in epoch {best_epoch} ({lowest:.3g}) and ended at {last:.3g}"


def _speed_sentences(runs: list[Run]) -> list[str]:
    timed = [
        (run, seconds, finite_or_none(run.metrics.get("samples_per_second")))
        for run in runs
        if (seconds := finite_or_none(run.metrics.get("training_seconds"))) is not None
    ]
    if not timed:
        return []
    parts = [
        f"{_name(run)} trained for {seconds:.1f} s"
        + (f" ({rate:,.0f} images a second)" if rate else "")
        for run, seconds, rate in timed
    ]
    sentence = "Time: " + _join(parts) + "."
    if len(timed) > 1:
        slowest = max(timed, key=lambda entry: entry[1])
        fastest = min(timed, key=lambda entry: entry[1])
        if fastest[1] > 0 and slowest[0] is not fastest[0]:
            sentence += (
                f" {_name(slowest[0])} took {slowest[1] / fastest[1]:.1f} times as long as "
                f"{_name(fastest[0])}."
            )
    return [sentence]


def _loss_sentences(runs: list[Run]) -> list[str]:
    parts = []
    for run in runs:
        losses = [finite_or_none(entry.get("loss")) for entry in run.history]
        losses = [loss for loss in losses if loss is not None]
        if not losses:
            continue
        if len(losses) == 1:
            parts.append(f"{_name(run)} {losses[0]:.3g} after its only epoch")
            continue
        first, last = losses[0], losses[-1]
        text = f"{_name(run)} {first:.3g} → {last:.3g}"
        if last >= first:
            text += " (it did not fall)"
        elif first > 0 and (first - last) / first < 0.1:
            text += " (it hardly fell)"
        parts.append(text)
    if not parts:
        return []
    return ["Training loss from the first epoch to the last: " + "; ".join(parts) + "."]


def _first_epoch_sentences(runs: list[Run]) -> list[str]:
    reached, never = [], []
    for run in runs:
        if not run.history:
            continue
        epoch = next(
            (
                entry.get("epoch", index + 1)
                for index, entry in enumerate(run.history)
                if (finite_or_none(entry.get("val_accuracy")) or 0.0) >= FIRST_EPOCH_TARGET
            ),
            None,
        )
        if epoch is None:
            never.append(run)
        else:
            reached.append((run, int(epoch)))
    if not reached and not never:
        return []
    target = _pct(FIRST_EPOCH_TARGET).replace(".0%", "%")
    parts = [f"{_name(run)} in epoch {epoch}" for run, epoch in sorted(reached, key=lambda e: e[1])]
    if parts:
        sentence = f"{target} validation accuracy was reached by " + _join(parts)
        if never:
            sentence += "; " + _join([_name(run) for run in never]) + " never got there."
        else:
            sentence += "."
    else:
        sentence = (
            f"No run reached {target} validation accuracy in "
            f"{_epochs_words(max(len(run.history) for run in never))}."
        )
    return [sentence]


_FOCUS_SENTENCES = {
    FOCUS_PARAMETERS: _parameter_sentences,
    FOCUS_GAP: _gap_sentences,
    FOCUS_SPEED: _speed_sentences,
    FOCUS_LOSS: _loss_sentences,
    FOCUS_FIRST_EPOCH: _first_epoch_sentences,
}
