""" "Change one thing": the settings of a run that can be varied, and the varied run.

Every lesson of the notebooks changes one setting and compares. From a finished run a user
picks one setting here and a new value; `vary` gives the run's config with that one change
(same seed, same data, everything else equal), ready to queue beside the original.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mnist_core.modeling.config import (
    ACTIVATIONS,
    LOSSES,
    OPTIMIZERS,
    ModelConfig,
)
from mnist_core.modeling.form import (
    BATCH_SIZE_CHOICES,
    EPOCH_CHOICES,
    LAYER_SIZE_CHOICES,
    LEARNING_RATE_CHOICES,
    TRAINING_IMAGE_CHOICES,
)

DROPOUT_CHOICES = (0.0, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5)


@dataclass(frozen=True)
class Setting:
    """One setting a variant may change.

    Attributes:
        name: its key ("optimizer", "layer_sizes[0]", "training_images", ...).
        label: how the page names it ("Layer 1 units").
        choices: the values it may take.
        current: the run's value.
    """

    name: str
    label: str
    choices: tuple[Any, ...]
    current: Any


def changeable_settings(config: ModelConfig, training_images: int | None) -> list[Setting]:
    """The settings of a run that "change one thing" offers, with the run's values.

    Args:
        config: the run's config.
        training_images: the run's training images (None: all).
    """
    images = training_images or TRAINING_IMAGE_CHOICES[-1]
    settings = [
        Setting("optimizer", "Optimizer", OPTIMIZERS, config.optimizer),
        Setting("loss", "Loss", LOSSES, config.loss),
        Setting("learning_rate", "Learning rate", LEARNING_RATE_CHOICES, config.learning_rate),
        Setting("epochs", "Epochs", _with(EPOCH_CHOICES, config.epochs), config.epochs),
        Setting("batch_size", "Batch size", BATCH_SIZE_CHOICES, config.batch_size),
        Setting(
            "batch_normalization",
            "Batch normalisation between layers",
            (False, True),
            config.batch_normalization,
        ),
        Setting(
            "training_images", "Training images", _with(TRAINING_IMAGE_CHOICES, images), images
        ),
    ]
    unit = "filters" if config.architecture == "cnn" else "units"
    for index in range(config.num_hidden_layers):
        number = index + 1
        settings += [
            Setting(
                f"layer_sizes[{index}]",
                f"Layer {number} {unit}",
                _with(LAYER_SIZE_CHOICES, config.layer_sizes[index]),
                config.layer_sizes[index],
            ),
            Setting(
                f"layer_activations[{index}]",
                f"Layer {number} activation",
                ACTIVATIONS,
                config.layer_activations[index],
            ),
            Setting(
                f"layer_dropout_rates[{index}]",
                f"Layer {number} dropout",
                _with(DROPOUT_CHOICES, config.layer_dropout_rates[index]),
                config.layer_dropout_rates[index],
            ),
        ]
    return settings


def _with(choices: tuple[Any, ...], value: Any) -> tuple[Any, ...]:
    return choices if value in choices else tuple(sorted((*choices, value)))


def vary(
    config: ModelConfig, training_images: int | None, setting: str, value: Any
) -> tuple[ModelConfig, int | None]:
    """The run's config and training images with one setting changed (validated).

    Args:
        config: the run's config.
        training_images: the run's training images (None: all).
        setting: a `Setting.name` from `changeable_settings`.
        value: its new value.

    Raises:
        ValueError: unknown setting, or a value the model does not allow (the message says).
    """
    known = {entry.name: entry for entry in changeable_settings(config, training_images)}
    if setting not in known:
        raise ValueError(f"setting must be one of {', '.join(known)}, got {setting!r}.")
    if setting == "training_images":
        if value not in known[setting].choices:
            raise ValueError(
                f"training_images must be one of {known[setting].choices}, got {value!r}."
            )
        return config, (None if value >= TRAINING_IMAGE_CHOICES[-1] else int(value))
    if "[" in setting:
        field, _, rest = setting.partition("[")
        index = int(rest.rstrip("]"))
        values = list(getattr(config, field))
        values[index] = value
        changed = config.replace(**{field: tuple(values)})
    else:
        changed = config.replace(**{setting: value})
    if setting == "optimizer" and value != "sgd":
        changed = changed.replace(momentum=0.0)
    from mnist_core.modeling.config import validate_config

    validate_config(changed)
    return changed, training_images


def describe_change(setting: Setting, value: Any) -> str:
    """A label for the varied run, e.g. "optimizer: adam → sgd"."""
    return f"{setting.label}: {_show(setting.current)} → {_show(value)}"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int) and value >= 1000:
        return f"{value:,}"
    return str(value)
