"""What a page, a lesson or the command line asks to train: `RunRequest`, and `queue_runs`,
which records requests asked for together as queued runs (the class caps applied)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mnist_core.modeling.config import (
    ModelConfig,
    validate_config,
)
from mnist_core.runs.classroom import (
    ClassLimits,
    apply_class_limits,
)
from mnist_core.runs.log import (
    RunLog,
)
from mnist_core.runs.record import (
    Run,
)


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
    user: str,
    engine: str | None = None,
    class_limits: ClassLimits | None = None,
) -> list[Run]:
    """Record runs asked for together (one request) as queued; returns them as recorded.

    `Engine.submit` calls this with its own engine. Another process that shares the run log
    (a script, a benchmark's simulated class) calls it with the default `engine=None`: the
    engine of a running server on that log dispatches such runs in the same fair line, as if
    they had been submitted there (within its dispatch interval, 0.2 s).

    Args:
        run_log: the run log the engine serves.
        requests: the runs (at least one); each config is validated first.
        user: who asks.
        engine: the engine that schedules them (default None: whichever engine serves the log).
        class_limits: the caps applied when class mode is on (default `ClassLimits()`).
    """
    if not requests:
        raise ValueError("requests must hold at least one run to train.")
    from mnist_core.runs.classroom import class_mode_on

    limits = (class_limits or ClassLimits()) if class_mode_on(run_log) else None
    request_id = None
    runs = []
    for request in requests:
        validate_config(request.config)
        config, training_images, applied = request.config, request.training_images, {}
        if limits is not None:
            config, training_images, applied = apply_class_limits(config, training_images, limits)
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
