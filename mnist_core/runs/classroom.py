"""Class mode, its caps, the teacher key, and who may replace which saved model.

Class mode keeps a class's runs short. It is a server-wide setting, kept in the run log (so
every session and server process sharing the log agrees): on at start-up with
`MNIST_CLASS_MODE=1`, switched by the teacher in the app. While it is on, the engine holds
every run to `ClassLimits` whatever the page asked for: a student who edits a link still gets
the caps.

The teacher key (`MNIST_TEACHER_KEY`, or `teacher_key` in Streamlit's secrets) unlocks what
affects others: the whole line with names, cancelling anyone's run, class mode on and off,
clearing the class's runs, replacing or deleting models that other users saved. With no key
set (a single-user install at home) those are open to the one user. A key that is set but
cannot be used (a secrets file that does not parse, a key that is not text) fails closed:
`configured_teacher_key` raises, the server does not start, and the app unlocks nothing.
Wrong keys are throttled (`UnlockThrottle`). Nobody replaces or deletes `default` from the
app, key or not; the command line (the machine's owner) keeps `--overwrite`.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mnist_core.modeling.config import ModelConfig
from mnist_core.runs.limits import ClassLimits

CLASS_MODE_ENVIRONMENT_VARIABLE = "MNIST_CLASS_MODE"
TEACHER_KEY_ENVIRONMENT_VARIABLE = "MNIST_TEACHER_KEY"
CLASS_MODE_SETTING = "class_mode"
PROTECTED_MODEL_NAMES = ("default",)
# The name the whole server's wrong keys are counted under (besides each session's).
SERVER = "the whole server"
# In class mode, the dataset's own images a run keeps however many pen-drawn digits it adds.
MIN_DATASET_IMAGES = 1000
# How a run the teacher stopped or took out of the line says so to its student.
TEACHER_STOPPED_REASON = "Your teacher stopped this run."
logger = logging.getLogger(__name__)


def apply_class_limits(
    config: ModelConfig, training_images: int | None, limits: ClassLimits
) -> tuple[ModelConfig, int, dict[str, Any]]:
    """Hold a run to the class caps. Every image the run trains on counts against the images
    cap, the pen-drawn digits a config adds (`pen_digit_copies`) included: they leave room
    for at least MIN_DATASET_IMAGES of the dataset's own, and the dataset's share shrinks.

    Args:
        config: the asked-for config.
        training_images: the dataset's training images asked for; None ("all", the default
            of a run that did not choose) is the cap, and is not a request for more.
        limits: the class caps.

    Returns:
        The capped config, the capped number of the dataset's training images, and the caps
        in force to keep beside the run, with `asked_*` only where a request was cut.
    """
    from mnist_core.data.pen_digits import PEN_TRAINING_DIGIT_COUNT

    cap = limits.max_training_images
    applied: dict[str, Any] = {
        "class_mode": True,
        "max_epochs": limits.max_epochs,
        "max_training_images": cap,
        "max_seconds": limits.max_seconds,
    }
    if config.epochs > limits.max_epochs:
        applied["asked_epochs"] = config.epochs
        config = config.replace(epochs=limits.max_epochs)
    copies = config.pen_digit_copies
    while copies and copies * PEN_TRAINING_DIGIT_COUNT > cap - MIN_DATASET_IMAGES:
        copies -= 1
    if copies != config.pen_digit_copies:
        applied["asked_pen_digit_copies"] = config.pen_digit_copies
        config = config.replace(pen_digit_copies=copies)
    room = cap - copies * PEN_TRAINING_DIGIT_COUNT
    if copies:
        applied["pen_digit_images"] = copies * PEN_TRAINING_DIGIT_COUNT
    images = room if training_images is None else training_images
    if images > room:
        applied["asked_training_images"] = training_images
        images = room
    return config, images, applied


def class_limits_text(limits: dict[str, Any]) -> str:
    """The class caps a run was held to, in words, and what was cut (only where it was).

    Args:
        limits: a run's `limits` (see `apply_class_limits`).
    """
    text = (
        f"at most {limits['max_epochs']} epochs, {limits['max_training_images']:,} training "
        f"images and {limits['max_seconds']:.0f} s"
    )
    cuts = []
    if "asked_epochs" in limits:
        cuts.append(f"{limits['asked_epochs']} epochs asked for, {limits['max_epochs']} trained")
    if "asked_training_images" in limits:
        asked = limits["asked_training_images"]
        cuts.append(f"{asked:,} training images asked for" if asked else "all images asked for")
    if "asked_pen_digit_copies" in limits:
        cuts.append("fewer pen-drawn digits added than the preset adds")
    if cuts:
        text += f" (cut to the caps: {'; '.join(cuts)})"
    if limits.get("pen_digit_images"):
        text += (
            f"; {limits['pen_digit_images']:,} of its images are pen-drawn digits, counted "
            "against the cap"
        )
    return text


def class_mode_on(run_log: Any) -> bool:
    """Whether class mode is on: the run log's setting, else `MNIST_CLASS_MODE` at start-up."""
    value = run_log.get_setting(CLASS_MODE_SETTING)
    if value is None:
        return os.environ.get(CLASS_MODE_ENVIRONMENT_VARIABLE, "").strip() in ("1", "true", "on")
    return value == "on"


def class_caps(run_log: Any) -> ClassLimits | None:
    """What class mode holds a run to while it is on (the Train page's sliders stop there);
    None while it is off."""
    return ClassLimits() if class_mode_on(run_log) else None


def set_class_mode(run_log: Any, on: bool) -> None:
    """Switch class mode on or off for every session of the server."""
    run_log.set_setting(CLASS_MODE_SETTING, "on" if on else "off")


def teacher_key_matches(configured_key: str | None, typed_key: str | None) -> bool:
    """Whether the typed key is the configured one (compared in constant time)."""
    if not configured_key or not typed_key:
        return False
    return hmac.compare_digest(configured_key.encode(), typed_key.strip().encode())


class TeacherKeyError(ValueError):
    """A teacher key is set but cannot be used; the message names the place, the problem and
    the fix. The server does not start with it (it would leave every student the teacher)."""


def secrets_files(project_directory: Path | None = None) -> tuple[Path, ...]:
    """Where Streamlit reads secrets from, in its order (a later file wins): the user's
    `~/.streamlit/secrets.toml`, then the project's `.streamlit/secrets.toml`."""
    project = project_directory if project_directory is not None else Path.cwd()
    return (Path.home() / ".streamlit" / "secrets.toml", project / ".streamlit" / "secrets.toml")


def configured_teacher_key(
    environment: Mapping[str, str] | None = None, files: Sequence[Path] | None = None
) -> str | None:
    """The teacher key: `teacher_key` in Streamlit's secrets files, else `MNIST_TEACHER_KEY`;
    None when neither sets one (a single user at home).

    A number is taken as its text (`teacher_key = 4711` is the key "4711").

    Raises:
        TeacherKeyError: a secrets file that does not parse, a `teacher_key` that is not text
            or a number, or a key that is empty: the server must not run open to everyone.
    """
    environment = os.environ if environment is None else environment
    key = None
    for path in secrets_files() if files is None else files:
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as error:
            raise TeacherKeyError(
                f"{path} cannot be read as TOML ({error}), so the teacher key it may hold "
                'cannot be checked. Fix the file (the key is a line `teacher_key = "..."`), '
                "or move it aside, and start the server again."
            ) from None
        if "teacher_key" in data:
            key = _key_text(data["teacher_key"], f"teacher_key in {path}")
    if key is None and TEACHER_KEY_ENVIRONMENT_VARIABLE in environment:
        key = _key_text(
            environment[TEACHER_KEY_ENVIRONMENT_VARIABLE], TEACHER_KEY_ENVIRONMENT_VARIABLE
        )
    return key


def _key_text(value: object, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TeacherKeyError(
            f"{where} is {type(value).__name__} {value!r:.40}, not a key; write it as text in "
            'quotes (teacher_key = "...") and start the server again.'
        )
    text = str(value).strip()
    if not text:
        raise TeacherKeyError(
            f"{where} is empty; give it a key, or remove it for a single user at home, and "
            "start the server again."
        )
    return text


class UnlockThrottle:
    """Wrong teacher keys, counted per session and for the whole server.

    After `allowed` wrong keys within `window_seconds` (5 a minute), the next try waits
    `wait_seconds`, and every further wrong key doubles the wait. A wrong key is logged with
    the time, never the key. One throttle serves the whole server (the app caches it).
    """

    def __init__(
        self, allowed: int = 5, window_seconds: float = 60.0, wait_seconds: float = 30.0
    ) -> None:
        self.allowed = allowed
        self.window_seconds = window_seconds
        self.wait_seconds = wait_seconds
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}
        self._blocked_until: dict[str, float] = {}
        self._next_wait: dict[str, float] = {}

    def seconds_to_wait(self, session: str, *, now: float | None = None) -> float:
        """How long this session (or, when the whole server is blocked, anyone) must wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            until = max(self._blocked_until.get(session, 0.0), self._blocked_until.get(SERVER, 0.0))
        return max(0.0, until - now)

    def wrong_key(self, session: str, *, now: float | None = None) -> None:
        """Count a wrong key from this session (and for the server); log the time only."""
        now = time.monotonic() if now is None else now
        logger.warning("a wrong teacher key was typed at %s", time.strftime("%Y-%m-%d %H:%M:%S"))
        with self._lock:
            for who, allowed in ((session, self.allowed), (SERVER, self.allowed * 6)):
                recent = [t for t in self._failures.get(who, []) if now - t < self.window_seconds]
                recent.append(now)
                self._failures[who] = recent
                if len(recent) >= allowed:
                    wait = self._next_wait.get(who, self.wait_seconds)
                    self._blocked_until[who] = now + wait
                    self._next_wait[who] = wait * 2

    def right_key(self, session: str) -> None:
        """The key was right: this session starts afresh."""
        with self._lock:
            for table in (self._failures, self._blocked_until, self._next_wait):
                table.pop(session, None)


class ModelProtectedError(ValueError):
    """A saved model may not be replaced or deleted by this user; the message says why."""


def check_model_change_allowed(
    name: str,
    *,
    user_id: str,
    saved_by: str | None,
    saved_by_id: str | None,
    exists: bool,
    teacher: bool,
    deleting: bool = False,
) -> None:
    """Refuse replacing (or deleting) a saved model that this user may not touch.

    Args:
        name: the model's name.
        user_id: the id of who asks.
        saved_by: the name of who saved the existing model (None: unknown, e.g. the CLI).
        saved_by_id: their id (None: unknown); only they may replace or delete it.
        exists: whether a model of that name exists.
        teacher: whether the teacher key is unlocked in this session (or none is set).
        deleting: the model is to be deleted (else replaced): the advice differs.
    """
    if name in PROTECTED_MODEL_NAMES:
        raise ModelProtectedError(
            f"“{name}” is the model every Draw page uses, so it cannot be "
            + (
                "deleted from the app. Pick one of your own models to delete."
                if deleting
                else "replaced from the app. Save yours under another name."
            )
        )
    if exists and (saved_by_id is None or saved_by_id != user_id) and not teacher:
        owner = saved_by or "someone else"
        raise ModelProtectedError(
            f"“{name}” was saved by {owner}; only they or the teacher can "
            + (
                "delete it. Pick one of your own models to delete, or ask your teacher."
                if deleting
                else "replace it. Save yours under another name."
            )
        )
