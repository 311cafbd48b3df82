"""Class mode, its caps, the teacher key, and who may replace which saved model.

Class mode keeps a class's runs short. It is a server-wide setting, kept in the run log (so
every session and server process sharing the log agrees): on at start-up with
`MNIST_CLASS_MODE=1`, switched by the teacher in the app. While it is on, the engine holds
every run to `ClassLimits` whatever the page asked for: a student who edits a link still gets
the caps.

The teacher key (`MNIST_TEACHER_KEY`, or `teacher_key` in Streamlit's secrets) unlocks what
affects others: the whole line with names, cancelling anyone's run, class mode on and off,
clearing the class's runs, replacing or deleting models that other users saved. With no key
set (a single-user install at home) those are open to the one user. Nobody replaces or
deletes `default` from the app, key or not; the command line (the machine's owner) keeps
`--overwrite`.
"""

from __future__ import annotations

import hmac
import os
from typing import Any

from mnist_core.modeling.config import ModelConfig
from mnist_core.runs.limits import ClassLimits

CLASS_MODE_ENVIRONMENT_VARIABLE = "MNIST_CLASS_MODE"
TEACHER_KEY_ENVIRONMENT_VARIABLE = "MNIST_TEACHER_KEY"
CLASS_MODE_SETTING = "class_mode"
PROTECTED_MODEL_NAMES = ("default",)


def apply_class_limits(
    config: ModelConfig, training_images: int | None, limits: ClassLimits
) -> tuple[ModelConfig, int, dict[str, Any]]:
    """Hold a run to the class caps.

    Returns:
        The capped config, the capped number of training images, and the caps in force
        (with what was asked for where it was cut) to keep beside the run.
    """
    applied: dict[str, Any] = {
        "class_mode": True,
        "max_epochs": limits.max_epochs,
        "max_training_images": limits.max_training_images,
        "max_seconds": limits.max_seconds,
    }
    if config.epochs > limits.max_epochs:
        applied["asked_epochs"] = config.epochs
        config = config.replace(epochs=limits.max_epochs)
    images = training_images if training_images is not None else 60000
    if images > limits.max_training_images:
        applied["asked_training_images"] = training_images
        images = limits.max_training_images
    return config, images, applied


def class_mode_on(run_log: Any) -> bool:
    """Whether class mode is on: the run log's setting, else `MNIST_CLASS_MODE` at start-up."""
    value = run_log.get_setting(CLASS_MODE_SETTING)
    if value is None:
        return os.environ.get(CLASS_MODE_ENVIRONMENT_VARIABLE, "").strip() in ("1", "true", "on")
    return value == "on"


def set_class_mode(run_log: Any, on: bool) -> None:
    """Switch class mode on or off for every session of the server."""
    run_log.set_setting(CLASS_MODE_SETTING, "on" if on else "off")


def teacher_key_matches(configured_key: str | None, typed_key: str | None) -> bool:
    """Whether the typed key is the configured one (compared in constant time)."""
    if not configured_key or not typed_key:
        return False
    return hmac.compare_digest(configured_key.encode(), typed_key.strip().encode())


def configured_teacher_key(secrets: Any = None) -> str | None:
    """The teacher key from Streamlit's secrets (`teacher_key`) or `MNIST_TEACHER_KEY`."""
    key = None
    if secrets is not None:
        try:
            key = secrets.get("teacher_key")
        except Exception:  # noqa: BLE001 - no secrets file is the usual case
            key = None
    key = key or os.environ.get(TEACHER_KEY_ENVIRONMENT_VARIABLE)
    return key.strip() if isinstance(key, str) and key.strip() else None


class ModelProtectedError(ValueError):
    """A saved model may not be replaced or deleted by this user; the message says why."""


def check_model_change_allowed(
    name: str, *, user: str, saved_by: str | None, exists: bool, teacher: bool
) -> None:
    """Refuse replacing (or deleting) a saved model that this user may not touch.

    Args:
        name: the model's name.
        user: who asks.
        saved_by: who saved the existing model (None: unknown, e.g. the command line).
        exists: whether a model of that name exists.
        teacher: whether the teacher key is unlocked in this session (or none is set).
    """
    if name in PROTECTED_MODEL_NAMES:
        raise ModelProtectedError(
            f"“{name}” is the model every Draw page uses, so it cannot be replaced or deleted "
            "from the app. Choose another name."
        )
    if exists and saved_by != user and not teacher:
        raise ModelProtectedError(
            f"“{name}” was saved by {saved_by or 'someone else'}; only its owner or the teacher can replace or "
            "delete it. Choose another name."
        )
