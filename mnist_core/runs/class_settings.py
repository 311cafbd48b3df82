"""What the teacher puts in front of the whole class: settings suggested to everyone, and
whether the students see the class board (with names, or as "student 1…n").

Both are server-wide settings in the run log (`Database.set_setting`), so every session and
every server process on that log agrees, and a student's Train page reads the suggestion with
one small query on its refresh. A suggestion never changes anyone's settings: each student's
Train page offers it with a button ("Load these settings"); the teacher can withdraw it.
While class mode is on, a suggestion is held to its caps (epochs, training images), when it is
made and when it is read: what the teacher and the students are told is what the Train page
loads.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from mnist_core.data.format import dataset_title
from mnist_core.modeling.config import ModelConfig, validate_config
from mnist_core.modeling.form import TRAINING_IMAGE_CHOICES
from mnist_core.modeling.summary import architecture_summary
from mnist_core.runs.classroom import class_caps

SUGGESTION_SETTING = "class_suggestion"
BOARD_SETTING = "class_board"


@dataclass(frozen=True)
class Suggestion:
    """Settings the teacher suggests to everyone.

    Attributes:
        id: changes with every new suggestion (a student who loaded one is offered the next).
        config: the settings.
        preset: the preset they are (or start from); "custom" for the teacher's own.
        training_images: training images, one of the Train page's choices.
        suggested_at: when (seconds since the epoch).
    """

    id: str
    config: ModelConfig
    preset: str
    training_images: int
    suggested_at: float

    def describe(self) -> str:
        """The settings in a few words: "cnn_fast (cnn 32-64 k3 + 128), 3 epochs, adam,
        10,000 training images of MNIST"."""
        network = architecture_summary(self.config)
        name = network if self.preset == "custom" else f"{self.preset} ({network})"
        images = (
            "all training images"
            if self.training_images >= TRAINING_IMAGE_CHOICES[-1]
            else f"{self.training_images:,} training images"
        )
        epochs = self.config.epochs
        return (
            f"{name}, {epochs} epoch{'s' if epochs != 1 else ''}, {self.config.optimizer}, "
            f"{images} of {dataset_title(self.config.dataset)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (the settings table)."""
        return {
            "id": self.id,
            "config": self.config.to_dict(),
            "preset": self.preset,
            "training_images": self.training_images,
            "suggested_at": self.suggested_at,
        }


def suggest(run_log: Any, config: ModelConfig, preset: str, training_images: int) -> Suggestion:
    """Suggest these settings to everyone (replacing any earlier suggestion).

    Raises:
        ValueError: settings that cannot be trained, or training images the Train page cannot
            show.
    """
    validate_config(config)
    if training_images not in TRAINING_IMAGE_CHOICES:
        raise ValueError(
            f"training_images must be one of {', '.join(map(str, TRAINING_IMAGE_CHOICES))}, "
            f"got {training_images!r}."
        )
    suggestion = held_to_class_mode(
        run_log, Suggestion(uuid.uuid4().hex[:12], config, preset, training_images, time.time())
    )
    run_log.set_setting(SUGGESTION_SETTING, json.dumps(suggestion.to_dict()))
    return suggestion


def current_suggestion(run_log: Any) -> Suggestion | None:
    """The teacher's suggestion now (held to class mode's caps while it is on), or None (none
    made, withdrawn, or unreadable)."""
    text = run_log.get_setting(SUGGESTION_SETTING)
    if not text:
        return None
    try:
        data = json.loads(text)
        suggestion = Suggestion(
            id=str(data["id"]),
            config=ModelConfig.from_dict(data["config"]),
            preset=str(data["preset"]),
            training_images=int(data["training_images"]),
            suggested_at=float(data["suggested_at"]),
        )
    except (ValueError, KeyError, TypeError):
        return None  # a suggestion of another version: as if none
    return held_to_class_mode(run_log, suggestion)


def held_to_class_mode(run_log: Any, suggestion: Suggestion) -> Suggestion:
    """The suggestion with no more epochs and training images than class mode allows, while it
    is on (the Train page offers no more); as it is otherwise.

    Args:
        run_log: where class mode is switched.
        suggestion: the teacher's suggestion.
    """
    caps = class_caps(run_log)
    if caps is None:
        return suggestion
    epochs = min(suggestion.config.epochs, caps.max_epochs)
    images = min(suggestion.training_images, caps.max_training_images)
    if (epochs, images) == (suggestion.config.epochs, suggestion.training_images):
        return suggestion
    return dataclasses.replace(
        suggestion, config=suggestion.config.replace(epochs=epochs), training_images=images
    )


def withdraw_suggestion(run_log: Any) -> None:
    """Take the suggestion back: the Train pages stop offering it."""
    run_log.set_setting(SUGGESTION_SETTING, "")


@dataclass(frozen=True)
class BoardVisibility:
    """Whether the students see the class board, and how.

    Attributes:
        shown: the students see it (off by default: the teacher alone does).
        names: with names; else each student is "student 1…n" (their own row says "you").
    """

    shown: bool = False
    names: bool = False


def board_visibility(run_log: Any) -> BoardVisibility:
    """What the students see of the class board now."""
    try:
        data = json.loads(run_log.get_setting(BOARD_SETTING) or "{}")
        return BoardVisibility(shown=bool(data.get("shown")), names=bool(data.get("names")))
    except (ValueError, AttributeError):
        return BoardVisibility()


def set_board_visibility(run_log: Any, visibility: BoardVisibility) -> None:
    """Show the class board to the students (with names or without), or hide it again."""
    run_log.set_setting(
        BOARD_SETTING, json.dumps({"shown": visibility.shown, "names": visibility.names})
    )
