"""What a page, a lesson or the command line asks to train: `RunRequest`, and `queue_runs`,
which records requests asked for together as queued runs, once the server's rules allow them
(one waiting request a user, networks within the size limits; the class caps applied)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mnist_core.modeling.config import (
    ModelConfig,
    validate_config,
)
from mnist_core.runs.classroom import (
    apply_class_limits,
)
from mnist_core.runs.limits import Limits, RunRefused, check_run_size
from mnist_core.runs.log import (
    RunLog,
)
from mnist_core.runs.record import (
    QUEUED,
    Run,
)
from mnist_core.runs.users import User, as_user


@dataclass(frozen=True)
class RunRequest:
    """One run to train, as a page or the command line asks for it.

    Args:
        config: what to build and train.
        preset: the preset it came from, if any.
        lesson: the lesson it belongs to, if any.
        label: its name in a comparison (e.g. "sgd").
        parent_id: the run it varies ("change one thing").
        training_images: training images before the validation split (None: all); for a
            fine-tuning run, the MNIST training images mixed with the drawings.
        finetune: what a fine-tuning run fine-tunes (`finetune.FineTuneSpec.to_dict()`;
            made by `finetune.finetune_request`); None trains from scratch.
    """

    config: ModelConfig
    preset: str | None = None
    lesson: str | None = None
    label: str | None = None
    parent_id: str | None = None
    training_images: int | None = None
    finetune: dict[str, Any] | None = None


def queue_runs(
    run_log: RunLog,
    requests: Sequence[RunRequest],
    *,
    user: User | str,
    engine: str | None = None,
    limits: Limits | None = None,
) -> list[Run]:
    """Record runs asked for together (one request) as queued; returns them as recorded.

    Before anything is recorded, the server's rules are checked: a user has at most one
    request waiting (besides the one that trains), and every network is within the size
    limits (`limits.check_run_size`). In class mode the class caps are applied, whatever was
    asked for; every run gets its time limit (the class's, or the server's).

    `Engine.submit` calls this with its own engine. Another process that shares the run log
    (a script, a benchmark's simulated class) calls it with the default `engine=None`: the
    engine of a running server on that log dispatches such runs in the same fair line, as if
    they had been submitted there (within its dispatch interval, 0.2 s).

    Args:
        run_log: the run log the engine serves.
        requests: the runs (at least one); each config is validated first.
        user: who asks (a `User`; a plain name stands for a user known by it alone).
        engine: the engine that schedules them (default None: whichever engine serves the log).
        limits: the server's limits (default `Limits()`).

    Raises:
        RunRefused: a request of this user already waits, or a network is too large; the
            message says what to do.
        ValueError: a config that is not valid.
    """
    if not requests:
        raise ValueError("requests must hold at least one run to train.")
    from mnist_core.runs.classroom import class_mode_on

    user = as_user(user)
    limits = limits or Limits()
    class_mode = class_mode_on(run_log)
    _refuse_a_second_waiting_request(run_log, user, limits)
    for request in requests:
        validate_config(request.config)
        check_run_size(request.config, limits, class_mode=class_mode)
    request_id = None
    runs = []
    for request in requests:
        config, training_images = request.config, request.training_images
        if class_mode:
            config, training_images, applied = apply_class_limits(
                config, training_images, limits.class_limits
            )
        else:
            applied = {"max_seconds": limits.max_run_seconds}
        run = run_log.create_run(
            config,
            user=user,
            preset=request.preset,
            lesson=request.lesson,
            request_id=request_id,
            label=request.label,
            parent_id=request.parent_id,
            training_images=training_images,
            engine=engine,
            limits=applied,
            finetune=request.finetune,
        )
        request_id = run.request_id
        runs.append(run)
    return runs


def _refuse_a_second_waiting_request(run_log: RunLog, user: User, limits: Limits) -> None:
    """A user has one request training (or about to) and at most
    `limits.waiting_requests_per_user` waiting behind it; a further one is refused."""
    line = run_log.active_runs()
    mine = list(dict.fromkeys(run.request_id for run in line if run.owner_id == user.id))
    if len(mine) < 1 + limits.waiting_requests_per_user:
        return
    queued = [run for run in line if run.status == QUEUED]
    place = next(
        (index for index, run in enumerate(queued, 1) if run.request_id == mine[-1]), len(queued)
    )
    raise RunRefused(
        f"Your run is already waiting ({_ordinal(place)} in line): it starts as soon as your "
        "other run is done, and this one was not added. Wait for it, or take it out of the "
        "line first."
    )


def _ordinal(number: int) -> str:
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th') }"
