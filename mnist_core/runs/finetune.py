"""Fine-tuning as a run: the request that fine-tunes a saved model or a run's model on a user's
drawings, and where that base model is found (a saved model's name, or "run:<id>").

What happens on the worker is `training.finetune`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_core.data.format import base_dataset
from mnist_core.modeling.config import ModelConfig
from mnist_core.runs.record import run_id_of_model
from mnist_core.runs.saved_models import saved_model_records
from mnist_core.training.finetune import (
    DEFAULT_MNIST_IMAGES,
    FineTuneSpec,
    finetune_config,
    held_out_size,
    split_held_out,
)


def base_model_config(base_model: str, run_log: Any) -> ModelConfig:
    """The config of a saved model or of a run's model (`run:<id>`); ValueError if unusable.

    Args:
        base_model: a saved model's name or "run:<id>".
        run_log: the run log that knows the runs.
    """
    run_id = run_id_of_model(base_model)
    if run_id is not None:
        run = run_log.get_run(run_id)
        if not run.model_kept:
            raise ValueError(f"base_model {base_model!r} has no kept model to fine-tune.")
        config = run.config
    else:
        record = saved_model_records().get(base_model)
        if record is None:
            raise ValueError(f"base_model {base_model!r} is not a saved model that can be loaded.")
        if record.config is None:
            raise ValueError(
                f"base_model {base_model!r} has no usable config in its sidecar, so it cannot "
                "be rebuilt for fine-tuning; pick another model."
            )
        config = record.config
    if base_dataset(config.dataset) != "mnist":
        raise ValueError(
            f"base_model {base_model!r} learned {config.dataset!r}; only a model of digits "
            "(mnist) can learn your handwritten digits."
        )
    return config


def base_model_file(base_model: str, run_log: Any) -> Path:
    """The `.keras` file of a saved model or of a run's model; ValueError if it is gone."""
    run_id = run_id_of_model(base_model)
    if run_id is not None:
        run = run_log.get_run(run_id)
        path = Path(run.model_path or run_log.model_path_for(run.id))
    else:
        from mnist_core.base.paths import models_directory
        from mnist_core.modeling.store import (
            MODEL_SUFFIX,
            validate_model_name,
        )

        path = models_directory() / f"{validate_model_name(base_model)}{MODEL_SUFFIX}"
    if not path.is_file():
        raise ValueError(f"The base model {base_model!r} is no longer kept ({path} is missing).")
    return path


def finetune_request(
    base_model: str,
    drawings: Sequence[Any],
    *,
    run_log: Any,
    mnist_images: int = DEFAULT_MNIST_IMAGES,
    seed: int = 0,
) -> Any:
    """The engine's `RunRequest` that fine-tunes `base_model` on a user's drawings.

    Args:
        base_model: a saved model's name or "run:<id>".
        drawings: the user's `drawings.Drawing`s (enough of them: see `check_readiness`).
        run_log: the run log (to find a run's model).
        mnist_images: MNIST training images mixed in (default 6,000); the run's training_images.
        seed: seed of the held-out choice, the MNIST sample and the training (default 0).

    Raises:
        ValueError: not enough drawings, or a base model that cannot be fine-tuned.
    """
    from collections import Counter

    from mnist_core.runs.request import RunRequest

    labels = [int(drawing.label) for drawing in drawings]
    readiness = check_readiness(dict(Counter(labels)))
    if not readiness.ready:
        raise ValueError(readiness.reason)
    if (
        isinstance(mnist_images, bool)
        or not isinstance(mnist_images, int)
        or not (100 <= mnist_images <= 60000)
    ):
        raise ValueError(
            f"mnist_images must be an integer from 100 to 60000, got {mnist_images!r}."
        )
    config = finetune_config(base_model_config(base_model, run_log), seed=seed)
    base_model_file(base_model, run_log)  # refuse now, not on the worker
    _, held_out = split_held_out(labels, seed=seed)
    spec = FineTuneSpec(
        base_model=base_model,
        drawing_ids=tuple(drawing.id for drawing in drawings),
        labels=tuple(labels),
        images=np.stack([np.asarray(drawing.image, dtype=np.uint8) for drawing in drawings]),
        held_out=tuple(int(index) for index in held_out),
    )
    base_run_id = run_id_of_model(base_model)
    shown_name = base_model if base_run_id is None else f"run {base_run_id}"
    return RunRequest(
        config,
        label=f"{shown_name} + {len(labels)} drawings",
        parent_id=base_run_id,
        training_images=mnist_images,
        finetune=spec.to_dict(),
    )


DRAWINGS_NEEDED = 20


DRAWINGS_PER_DIGIT_NEEDED = 2


# --- Whether there is enough to learn from --------------------------------------------------
@dataclass(frozen=True)
class Readiness:
    """Whether a user's drawings are enough to fine-tune on, and what to do if not.

    Attributes:
        ready: at least DRAWINGS_NEEDED drawings, every digit among them at least
            DRAWINGS_PER_DIGIT_NEEDED times.
        reason: what is missing, or (when ready) what will happen, in one sentence.
        drawing_count: the drawings.
        per_digit: drawings of each digit 0 to 9 (0 for a digit not taught).
        held_out_count: how many would be held out to measure the result.
    """

    ready: bool
    reason: str
    drawing_count: int
    per_digit: dict[int, int]
    held_out_count: int


def check_readiness(label_counts: dict[int, int]) -> Readiness:
    """Say whether the drawings (counted by digit) are enough to fine-tune on.

    Args:
        label_counts: drawings of each digit (as `DrawingStore.label_counts` gives them).
    """
    per_digit = {digit: int(label_counts.get(digit, 0)) for digit in range(10)}
    count = sum(per_digit.values())
    held_out = held_out_size(count)
    short = [digit for digit, number in per_digit.items() if 0 < number < DRAWINGS_PER_DIGIT_NEEDED]
    if count < DRAWINGS_NEEDED:
        missing = DRAWINGS_NEEDED - count
        reason = (
            f"{count} of the {DRAWINGS_NEEDED} drawings needed so far: label {missing} more "
            "on the Draw page (under “Was it right?”)."
        )
        return Readiness(False, reason, count, per_digit, held_out)
    if short:
        listed = ", ".join(str(digit) for digit in short)
        reason = (
            f"Every digit you teach needs at least {DRAWINGS_PER_DIGIT_NEEDED} drawings, one to "
            f"learn from and one to test on: {listed} "
            + ("has" if len(short) == 1 else "have")
            + " only 1. Draw another, or delete it (under “See your drawings”)."
        )
        return Readiness(False, reason, count, per_digit, held_out)
    digits = sum(1 for number in per_digit.values() if number)
    reason = (
        f"Ready: {count} drawings of {digits} digit(s); {held_out} of them are held out to "
        f"measure the result, the model learns from the other {count - held_out}."
    )
    return Readiness(True, reason, count, per_digit, held_out)


# Number words for the few more drawings a digit needs ("two more 9s").
_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five")


def teaching_progress(label_counts: dict[int, int]) -> str:
    """The way to a fine-tune in a few words: "13 of 20 — one more 4 and two more 9s".

    The way that always gets there is two drawings of every digit (20 in all). Named first are
    the digits drawn once (a fine-tune needs a second of each), then the digits not drawn yet,
    two at most; with 20 drawings or more, only the digits drawn once.

    Args:
        label_counts: drawings of each digit (as `DrawingStore.label_counts` gives them).
    """
    readiness = check_readiness(label_counts)
    count = readiness.drawing_count
    if count == 0:
        return f"0 of {DRAWINGS_NEEDED} — draw each digit twice and tap what you meant"
    if readiness.ready:
        return f"{count} of {DRAWINGS_NEEDED} — ready: teach a model your handwriting on Teach."
    # With enough drawings, only the digits drawn once stand in the way.
    fewest = 1 if count >= DRAWINGS_NEEDED else 0
    missing = sorted(
        (DRAWINGS_PER_DIGIT_NEEDED - drawn, digit)
        for digit, drawn in readiness.per_digit.items()
        if fewest <= drawn < DRAWINGS_PER_DIGIT_NEEDED
    )
    wanted = " and ".join(
        f"{_NUMBER_WORDS[more]} more {digit}" + ("s" if more > 1 else "")
        for more, digit in missing[:2]
    )
    if count < DRAWINGS_NEEDED:
        return f"{count} of {DRAWINGS_NEEDED} — {wanted}"
    return f"{count} drawings — {wanted} (every digit you teach needs {DRAWINGS_PER_DIGIT_NEEDED})"


def finetune_summary(figures: dict[str, Any]) -> tuple[str, str]:
    """The two figures a page shows: ("7 of 8 → 8 of 8", "99.12% → 99.05%"), rounded as the
    run's own summary (its banner) rounds them.

    Args:
        figures: a run's `metrics["finetune"]`.
    """
    count = figures.get("held_out_count") or 0
    before, after = figures.get("held_out_correct_before"), figures.get("held_out_correct_after")
    drawings = (
        f"{before} of {count} → {after} of {count}"
        if before is not None and after is not None
        else f"{before} of {count} → –"
    )
    mnist_before = figures.get("mnist_test_accuracy_before")
    mnist_after = figures.get("mnist_test_accuracy_after")
    return drawings, f"{percent_of_run(mnist_before)} → {percent_of_run(mnist_after)}"


def percent_of_run(value: Any) -> str:
    """An accuracy as a fine-tuning run's summary writes it ("99.29%"), or "–"."""
    return f"{value:.2%}" if isinstance(value, int | float) else "–"


def finetune_note(figures: dict[str, Any]) -> str | None:
    """What a fine-tuning's figures cannot show, in a sentence; None when they speak for
    themselves. When the base model already read every held-out drawing right, there was
    nothing to fix: the drawings' figure cannot go up, and the MNIST figure's small change is
    the cost (or luck) of learning, not a correction.

    Args:
        figures: a run's `metrics["finetune"]`.
    """
    from mnist_core.training.finetune import nothing_to_fix_note

    return nothing_to_fix_note(
        figures.get("held_out_correct_before"), figures.get("held_out_count") or 0
    )
