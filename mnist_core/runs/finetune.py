"""Fine-tuning as a run: the request that fine-tunes a saved model or a run's model on a user's
drawings, and where that base model is found (a saved model's name, or "run:<id>").

What happens on the worker is `training.finetune`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mnist_core.modeling.config import ModelConfig
from mnist_core.runs.record import run_id_of_model
from mnist_core.runs.saved_models import saved_model_records
from mnist_core.training.finetune import (
    DEFAULT_MNIST_IMAGES,
    FineTuneSpec,
    check_readiness,
    finetune_config,
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
    if config.dataset != "mnist":
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
    if isinstance(mnist_images, bool) or not isinstance(mnist_images, int) or not (
        100 <= mnist_images <= 60000
    ):
        raise ValueError(f"mnist_images must be an integer from 100 to 60000, got {mnist_images!r}.")
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
