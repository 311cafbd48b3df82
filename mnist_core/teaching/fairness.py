"""How much work a run did, so that a comparison says when it is not fair.

A run that was stopped after one epoch and 48 batches of three did less work than one that
trained all three: its training time is shorter and its accuracy lower for that reason alone.
A comparison shows how far each run got (`work_text`), says at the top when a run ended
short (`uneven_work_sentence`), and gives no ★ to such a run (`rankable`); "change one thing"
from such a run offers to train both in full.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mnist_core.runs.record import FINISHED, Run


@dataclass(frozen=True)
class WorkDone:
    """How far a run got.

    Attributes:
        epochs: the epochs it was to train.
        full_epochs: the epochs it completed.
        batches: batches of the epoch it was in when it ended (0 when it ended on an epoch).
        batches_per_epoch: batches in one epoch (None when it never began training).
        images_used: the training images it trained on (after the validation split, added
            pen-drawn digits included; None when it never began training).
        status: how it ended (or "queued", "running").
    """

    epochs: int
    full_epochs: int
    batches: int
    batches_per_epoch: int | None
    images_used: int | None
    status: str

    @property
    def complete(self) -> bool:
        """Whether it trained every epoch it was to."""
        return self.full_epochs >= self.epochs

    @property
    def epochs_done(self) -> float:
        """Epochs completed, the batches of an unfinished one as a fraction."""
        if not self.batches or not self.batches_per_epoch:
            return float(self.full_epochs)
        return self.full_epochs + self.batches / self.batches_per_epoch


def work_done(run: Run) -> WorkDone:
    """How far `run` got, from its record."""
    plan = run.plan or {}
    full = len(run.history)
    batches = 0
    progress = run.progress or {}
    if run.status != FINISHED and progress.get("epoch", 0) > full:
        batches = int(progress.get("batch", 0))
    return WorkDone(
        epochs=run.config.epochs,
        full_epochs=full,
        batches=batches,
        batches_per_epoch=plan.get("batches_per_epoch") or progress.get("batches_per_epoch"),
        images_used=plan.get("training_images_used"),
        status=run.status,
    )


def work_text(run: Run) -> str:
    """How far a run got, in words: "all 3 epochs", "1 of 3 epochs and 48 of 469 batches,
    stopped", "not begun, queued"."""
    work = work_done(run)
    if work.complete:
        return f"all {_epochs(work.epochs)}"
    if not work.full_epochs and not work.batches:
        return f"none of {_epochs(work.epochs)}, {work.status}"
    text = f"{work.full_epochs} of {_epochs(work.epochs)}"
    if work.batches:
        text += f" and {work.batches:,} of {work.batches_per_epoch:,} batches"
    return f"{text}, {work.status}"


def images_used_text(run: Run) -> str:
    """The training images a run trained on, in words ("54,000"; "—" before it began)."""
    used = work_done(run).images_used
    return "—" if used is None else f"{used:,}"


def ended_short(run: Run) -> bool:
    """Whether a run ended before training every epoch it was set to (stopped, failed, out of
    time); a run still training or waiting has not ended short (yet)."""
    return run.ended and not work_done(run).complete


def rankable(runs: Sequence[Run]) -> list[bool]:
    """For each run, whether a ranking may name it best: a run that ended short did less
    work than it was set to (its time is shorter, its accuracy lower for that alone)."""
    return [not ended_short(run) for run in runs]


def uneven_work_sentence(runs: Sequence[Run]) -> str | None:
    """One sentence when some of the runs ended short (None when none did): which, how far
    they got, and what to do about it."""
    short = [run for run in runs if ended_short(run)]
    if not short:
        return None
    named = "; ".join(f"{run.display_name}: {work_text(run)}" for run in short)
    one = len(short) == 1
    return (
        f"Not a fair comparison: {'one run' if one else f'{len(short)} runs'} ended before "
        f"{'its' if one else 'their'} last epoch ({named}), so {'its' if one else 'their'} "
        "time and accuracy come from less training. Train "
        f"{'it' if one else 'them'} again to the end (Change one thing on the Train page "
        "offers it) to compare like with like."
    )


def _epochs(count: int) -> str:
    return f"{count} epoch{'' if count == 1 else 's'}"
