"""The sentences the MNIST Playground writes under a lesson, computed from its runs' results.

Nothing is written in advance: every sentence comes from the figures ("adam reached 97.1% test
accuracy after 3 epochs, sgd 61.4%"). This code is Python alone (no numpy, no keras): the app's
Compare page runs it, and an exported lesson notebook carries it verbatim, so that both say the
same thing about the same figures.

`lesson_sentences(results, focus)` takes one dict per run, in the lesson's order:

    name                the run's name ("adam")
    status              "finished", "diverged" (the loss became NaN), "stopped", "failed",
                        "interrupted", "queued" or "running"
    reason              why it ended that way, in a sentence ("" when there is nothing to say)
    epochs              the epochs it was asked to train
    epochs_completed    the epochs it trained (None: the length of its history)
    history             one dict an epoch: epoch, loss, accuracy, val_loss, val_accuracy
    test_accuracy       on the test set, a fraction (None: not measured)
    parameter_count     weights and biases of its network
    training_seconds    time spent in training (None: not measured)
    samples_per_second  training images a second over the whole training (None: not measured)

and `focus`, what the lesson looks at besides the accuracy: any of "parameters" (what more
weights bought), "gap" (training against validation accuracy: overfitting), "speed" (time),
"loss" (how far the training loss fell), "first_epoch" (the first epoch at 90% validation
accuracy).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

# A test accuracy below this is a network that guesses (one digit in ten is 10%).
CHANCE_ACCURACY = 0.2
# A validation loss this many times its lowest, at the end, has risen (overfitting).
RISE_FACTOR = 1.05
# The validation accuracy whose first epoch the "first_epoch" focus reports.
FIRST_EPOCH_TARGET = 0.9


def lesson_sentences(results: Sequence[dict[str, Any]], focus: Sequence[str]) -> list[str]:
    """The lesson's conclusions: what the runs reached, what went wrong, what the focus shows.

    Args:
        results: one dict per run, in the lesson's order (see the module's docstring).
        focus: what the lesson looks at besides the accuracy ("parameters", "gap", ...).
    """
    if not results:
        return ["No run of this lesson has been recorded yet."]
    sentences = []
    pending = [run for run in results if run["status"] in ("queued", "running")]
    measured = [run for run in results if _finite(run.get("test_accuracy")) is not None]
    if pending:
        sentences.append(
            _join([f"{run['name']} is {run['status']}" for run in pending])
            + "; what follows covers the runs that ended."
        )
    if measured:
        sentences.append(_accuracy_sentence(measured))
    sentences += _trouble_sentences(results)
    chance = [
        run
        for run in measured
        if run["status"] != "diverged" and run["test_accuracy"] < CHANCE_ACCURACY
    ]
    if chance:
        sentences.append(
            _join([f"{run['name']} ({_pct(run['test_accuracy'])})" for run in chance])
            + (" is" if len(chance) == 1 else " are")
            + " at chance level, one digit in ten: "
            + ("it has" if len(chance) == 1 else "they have")
            + " learned next to nothing."
        )
    for name in focus:
        sentences += FOCUS_SENTENCES[name](results)
    return [sentence for sentence in sentences if sentence]


def _finite(value):
    """A float, or None when the value is missing or not a finite number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _number(value):
    """A number for a learner: no scientific notation, sensible digits ("15,900", "2.31",
    "0.0523", "0.000012")."""
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 0.01 or size == 0:
        return f"{value:.3g}"
    return f"{value:.{-math.floor(math.log10(size)) + 1}f}"


def _pct(fraction):
    return f"{fraction * 100:.1f}%"


def _points(difference):
    plural = "" if round(abs(difference) * 100, 1) == 1 else "s"
    return f"{abs(difference) * 100:.1f} point{plural}"


def _join(parts):
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _epochs_done(run):
    done = run.get("epochs_completed")
    return int(done) if _finite(done) is not None else len(run["history"])


def _epochs_words(count):
    return f"{count} epoch{'' if count == 1 else 's'}"


def _accuracy_sentence(measured):
    best_first = sorted(measured, key=lambda run: run["test_accuracy"], reverse=True)
    same_epochs = len({_epochs_done(run) for run in best_first}) == 1
    parts = []
    for index, run in enumerate(best_first):
        text = f"{run['name']} " + ("reached " if index == 0 else "") + _pct(run["test_accuracy"])
        if index == 0:
            text += " test accuracy"
        if not same_epochs or index == 0:
            text += f" after {_epochs_words(_epochs_done(run))}"
        parts.append(text)
    sentence = (parts[0] + ", " + ", ".join(parts[1:])) if len(parts) > 1 else parts[0]
    sentence += "."
    if len(best_first) > 1:
        best, worst = best_first[0], best_first[-1]
        difference = best["test_accuracy"] - worst["test_accuracy"]
        if difference < 0.005:
            sentence += " They are within half a point of each other: no real difference here."
        else:
            sentence += (
                f" That is {_points(difference)} between {best['name']} and {worst['name']}: "
                f"{_error_ratio(best, worst)}."
            )
    return sentence


def _error_ratio(best, worst):
    best_error, worst_error = 1 - best["test_accuracy"], 1 - worst["test_accuracy"]
    if best_error <= 0:
        return f"{best['name']} makes no mistakes at all"
    return f"{worst['name']} gets {worst_error / best_error:.1f} times as many test images wrong"


def _trouble_sentences(results):
    sentences = []
    for run in results:
        name, reason = run["name"], run.get("reason") or ""
        if run["status"] == "diverged":
            sentences.append(
                f"{name} diverged in epoch {len(run['history']) + 1}: its loss became infinite "
                "or not a number, the steps were too large for this network. A smaller "
                "learning rate (or a gentler optimizer) trains it."
            )
        elif run["status"] == "stopped":
            sentences.append(
                f"{name} was stopped after {_epochs_words(len(run['history']))} of "
                f"{run['epochs']}"
                + ": its figures are those of a shorter run."
                + (f" {reason}" if reason else "")
            )
        elif run["status"] == "failed":
            sentences.append(
                f"{name} failed and has no results: {reason or 'no reason was given.'}"
            )
        elif run["status"] == "interrupted":
            sentences.append(
                f"{name} was interrupted (the server stopped) and has no results; run the "
                "lesson again to see it."
            )
    return sentences


def _parameter_sentences(results):
    if not results:
        return []
    counts = [f"{run['name']} has {run['parameter_count']:,}" for run in results]
    sentence = "Parameters: " + _join(counts) + "."
    most = max(results, key=lambda run: run["parameter_count"])
    fewest = min(results, key=lambda run: run["parameter_count"])
    if most is not fewest and fewest["parameter_count"] > 0:
        ratio = most["parameter_count"] / fewest["parameter_count"]
        sentence += f" {most['name']} has {ratio:.1f} times as many as {fewest['name']}"
        most_accuracy, fewest_accuracy = (
            _finite(most.get("test_accuracy")),
            _finite(fewest.get("test_accuracy")),
        )
        if most_accuracy is not None and fewest_accuracy is not None:
            difference = most_accuracy - fewest_accuracy
            if abs(difference) < 0.005:
                sentence += ", for the same accuracy (within half a point)."
            elif difference > 0:
                sentence += f", and {_points(difference)} more test accuracy."
            else:
                sentence += f", yet {_points(difference)} less test accuracy."
        else:
            sentence += "."
    return [sentence]


def _gap_sentences(results):
    gaps = []
    for run in results:
        if not run["history"]:
            continue
        last = run["history"][-1]
        train, validation = _finite(last.get("accuracy")), _finite(last.get("val_accuracy"))
        if train is None or validation is None:
            continue
        gaps.append((run, train, validation, train - validation))
    if not gaps:
        return []
    parts = [
        f"{run['name']} ended at {_pct(train)} on its training images and {_pct(validation)} on "
        "validation, "
        + (f"a gap of {_points(gap)}" if gap >= 0 else f"{_points(gap)} higher on validation")
        for run, train, validation, gap in gaps
    ]
    sentences = ["Training against validation accuracy: " + "; ".join(parts) + "."]
    rises = [text for run in results if (text := _validation_loss_rise(run))]
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
                f"The gap is widest for {widest[0]['name']}: it learns its training images "
                f"better than it generalises; {narrowest[0]['name']} overfits the least."
            )
    return sentences


def _validation_loss_rise(run):
    """ "no dropout was lowest in epoch 5 (0.302) and ended at 0.432", or "" if it did not rise."""
    points = [
        (int(entry.get("epoch", index + 1)), loss)
        for index, entry in enumerate(run["history"])
        if (loss := _finite(entry.get("val_loss"))) is not None
    ]
    if len(points) < 2:
        return ""
    best_epoch, lowest = min(points, key=lambda point: point[1])
    last = points[-1][1]
    if best_epoch == points[-1][0] or last <= lowest * RISE_FACTOR:
        return ""
    return (
        f"{run['name']} was lowest in epoch {best_epoch}, at {_number(lowest)}, and ended at "
        f"{_number(last)}"
    )


def _speed_sentences(results):
    timed = [
        (run, seconds, _finite(run.get("samples_per_second")))
        for run in results
        if (seconds := _finite(run.get("training_seconds"))) is not None
    ]
    if not timed:
        return []
    parts = [
        f"{run['name']} trained for {seconds:.1f} s"
        + (f" ({rate:,.0f} images a second)" if rate else "")
        for run, seconds, rate in timed
    ]
    sentence = "Time: " + _join(parts) + "."
    if len(timed) > 1:
        slowest = max(timed, key=lambda entry: entry[1])
        fastest = min(timed, key=lambda entry: entry[1])
        if fastest[1] > 0 and slowest[0] is not fastest[0]:
            sentence += (
                f" {slowest[0]['name']} took {slowest[1] / fastest[1]:.1f} times as long as "
                f"{fastest[0]['name']}."
            )
    return [sentence]


def _loss_sentences(results):
    parts = []
    for run in results:
        losses = [_finite(entry.get("loss")) for entry in run["history"]]
        losses = [loss for loss in losses if loss is not None]
        if not losses:
            continue
        if len(losses) == 1:
            parts.append(f"{run['name']} {_number(losses[0])} after its only epoch")
            continue
        first, last = losses[0], losses[-1]
        text = f"{run['name']} {_number(first)} → {_number(last)}"
        if last >= first:
            text += ", it did not fall"
        elif first > 0 and (first - last) / first < 0.1:
            text += ", it hardly fell"
        parts.append(text)
    if not parts:
        return []
    return ["Training loss from the first epoch to the last: " + "; ".join(parts) + "."]


def _first_epoch_sentences(results):
    reached, never = [], []
    for run in results:
        if not run["history"]:
            continue
        epoch = next(
            (
                entry.get("epoch", index + 1)
                for index, entry in enumerate(run["history"])
                if (_finite(entry.get("val_accuracy")) or 0.0) >= FIRST_EPOCH_TARGET
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
    parts = [
        f"{run['name']} in epoch {epoch}" for run, epoch in sorted(reached, key=lambda e: e[1])
    ]
    if parts:
        sentence = f"{target} validation accuracy was reached by " + _join(parts)
        if never:
            sentence += "; " + _join([run["name"] for run in never]) + " never got there."
        else:
            sentence += "."
    else:
        longest = max(len(run["history"]) for run in never)
        sentence = f"No run reached {target} validation accuracy in {_epochs_words(longest)}."
    return [sentence]


# What each focus adds, by its name.
FOCUS_SENTENCES = {
    "parameters": _parameter_sentences,
    "gap": _gap_sentences,
    "speed": _speed_sentences,
    "loss": _loss_sentences,
    "first_epoch": _first_epoch_sentences,
}
