"""The Train page's settings as a link: query parameters that restore every control.

A link names the preset and only the settings that differ from it, with the config's own field
names (`?preset=cnn_fast&optimizer=sgd&learning_rate=0.01&layer_sizes=32,64`), so that it reads
like the settings it carries. `settings_from_query` takes any query a person may have typed or
edited: unknown names and values the controls cannot show are reported (one sentence each) and
ignored, never an error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mnist_core.data.format import TRAINING_DATASET_NAMES
from mnist_core.modeling.config import (
    ModelConfig,
    validate_config,
)
from mnist_core.modeling.form import (
    BATCH_SIZE_CHOICES,
    DENSE_UNIT_CHOICES,
    EPOCH_CHOICES,
    LAYER_SIZE_CHOICES,
    LEARNING_RATE_CHOICES,
    TRAINING_IMAGE_CHOICES,
)
from mnist_core.modeling.presets import (
    DEFAULT_PRESET_NAME,
    PRESETS,
    get_preset,
)

CUSTOM_PRESET = "custom"
PRESET_PARAMETER = "preset"
TRAINING_IMAGES_PARAMETER = "training_images"
MODE_PARAMETER = "mode"
CLASS_MODE = "class"
# Parameters the link may carry besides the config's fields (the user's name never: a link
# shared with a classmate must not make them you).
OTHER_PARAMETERS = (PRESET_PARAMETER, TRAINING_IMAGES_PARAMETER, MODE_PARAMETER)
# Values the page's sliders can show; a link with another value would break the control.
_CONTROL_CHOICES: dict[str, tuple[Any, ...]] = {
    "learning_rate": LEARNING_RATE_CHOICES,
    "batch_size": BATCH_SIZE_CHOICES,
    "dense_units": DENSE_UNIT_CHOICES,
    "epochs": EPOCH_CHOICES,
}
_TUPLE_FIELDS = {
    "layer_sizes": int,
    "layer_activations": str,
    "layer_dropout_rates": float,
    "kernel_sizes": int,
}


@dataclass(frozen=True)
class LinkSettings:
    """What a settings link restores.

    Attributes:
        config: the configuration (the preset's, with the link's changes that were valid).
        preset: the preset named, or "custom" when the link changes it.
        training_images: training images, one of the page's choices.
        class_mode: the link asks for the simple controls only.
        problems: one sentence for each part of the link that was ignored, and why.
    """

    config: ModelConfig
    preset: str
    training_images: int
    class_mode: bool
    problems: tuple[str, ...]


def settings_query(
    config: ModelConfig, preset: str, training_images: int, *, class_mode: bool = False
) -> dict[str, str]:
    """The query parameters of a link to these settings (only what differs from the preset).

    Args:
        config: the settings.
        preset: the preset they started from ("custom": the default preset's).
        training_images: training images chosen.
        class_mode: add `mode=class`.
    """
    base_name = preset if preset in PRESETS else DEFAULT_PRESET_NAME
    base = get_preset(base_name).config
    query: dict[str, str] = {PRESET_PARAMETER: base_name}
    for field in dataclasses.fields(ModelConfig):
        value = getattr(config, field.name)
        if value != getattr(base, field.name):
            query[field.name] = _format(value)
    if training_images != TRAINING_IMAGE_CHOICES[-1]:
        query[TRAINING_IMAGES_PARAMETER] = str(training_images)
    if class_mode:
        query[MODE_PARAMETER] = CLASS_MODE
    return query


def _format(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(_format(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _parse(field: str, text: str, kind: type) -> Any:
    if field in _TUPLE_FIELDS:
        item_type = _TUPLE_FIELDS[field]
        parts = [part.strip() for part in text.split(",") if part.strip()]
        return tuple(_parse_one(field, part, item_type) for part in parts)
    return _parse_one(field, text, kind)


def _parse_one(field: str, text: str, kind: type) -> Any:
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"{field} must be true or false, got {text!r}")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{field} must be a whole number, got {text!r}") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{field} must be a number, got {text!r}") from None
    return text.strip()


def _field_kinds() -> dict[str, type]:
    kinds: dict[str, type] = {}
    for field in dataclasses.fields(ModelConfig):
        default = field.default
        kinds[field.name] = type(default) if not isinstance(default, tuple) else tuple
    return kinds


def settings_from_query(
    query: Mapping[str, Any],
    *,
    max_epochs: int | None = None,
    max_training_images: int | None = None,
) -> LinkSettings:
    """Read a settings link; what cannot be used is reported in `problems` and ignored.

    Args:
        query: the page's query parameters (a value may be a list: the last one counts).
        max_epochs, max_training_images: caps (class mode's): the page's sliders, and so the
            values a link may ask for and the sentences that list them, stop there.
    """
    problems: list[str] = []
    caps = {"epochs": max_epochs}

    def value_of(name: str) -> str:
        raw = query[name]
        if isinstance(raw, list | tuple):
            raw = raw[-1] if raw else ""
        return str(raw)

    preset = DEFAULT_PRESET_NAME
    if PRESET_PARAMETER in query:
        named = value_of(PRESET_PARAMETER)
        if named in PRESETS:
            preset = named
        elif named != CUSTOM_PRESET:
            problems.append(
                f"The link names a preset {named!r} that does not exist; "
                f"{DEFAULT_PRESET_NAME} is used instead."
            )
    config = get_preset(preset).config
    kinds = _field_kinds()
    changed = False
    for name in query:
        if name in OTHER_PARAMETERS or name == "user":
            continue
        if name not in kinds:
            problems.append(f"The link's setting {name!r} is not a setting of this page; ignored.")
            continue
        text = value_of(name)
        try:
            value = _parse(name, text, kinds[name])
            if name == "dataset" and value not in TRAINING_DATASET_NAMES:
                allowed = ", ".join(TRAINING_DATASET_NAMES)
                raise ValueError(f"dataset must be one of {allowed}, got {text!r}")
            choices = _CONTROL_CHOICES.get(name)
            if choices is not None and caps.get(name) is not None:
                choices = tuple(choice for choice in choices if choice <= caps[name])
            if choices is not None and value not in choices:
                raise ValueError(
                    f"{name} must be one of the slider's values "
                    f"({', '.join(f'{choice:g}' for choice in choices)}), got {text!r}"
                )
            if name == "layer_sizes" and any(size not in LAYER_SIZE_CHOICES for size in value):
                raise ValueError(f"layer_sizes must use the slider's values, got {text!r}")
            candidate = config.replace(**{name: value})
            _validate_partly(candidate, name)
        except (ValueError, TypeError) as error:
            problems.append(f"The link's {name} was ignored: {str(error).rstrip('.')}.")
            continue
        config = candidate
        changed = True
    config = _fit_layer_lists(config)
    try:
        validate_config(config)
    except ValueError as error:
        problems.append(
            f"The link's settings do not fit together ({str(error).rstrip('.')}); the preset "
            f"{preset} is used unchanged."
        )
        config, changed = get_preset(preset).config, False
    image_choices = tuple(
        choice
        for choice in TRAINING_IMAGE_CHOICES
        if max_training_images is None or choice <= max_training_images
    )
    training_images = image_choices[-1]
    if TRAINING_IMAGES_PARAMETER in query:
        text = value_of(TRAINING_IMAGES_PARAMETER)
        if text.isdigit() and int(text) in image_choices:
            training_images = int(text)
        else:
            problems.append(
                f"The link's training_images {text!r} is not one of "
                f"{', '.join(str(choice) for choice in image_choices)}; {training_images:,} are "
                "used."
            )
    class_mode = MODE_PARAMETER in query and value_of(MODE_PARAMETER) == CLASS_MODE
    return LinkSettings(
        config=config,
        preset=CUSTOM_PRESET if changed else preset,
        training_images=training_images,
        class_mode=class_mode,
        problems=tuple(problems),
    )


def _validate_partly(config: ModelConfig, changed_field: str) -> None:
    """Validate a config after one change, tolerating lists whose lengths another parameter
    of the same link will fix (e.g. layer_sizes before layer_activations)."""
    try:
        validate_config(config)
    except ValueError as error:
        text = str(error)
        length_problem = "one per hidden layer" in text or "one per layer" in text
        if length_problem and changed_field in (
            "layer_sizes",
            "layer_activations",
            "layer_dropout_rates",
            "kernel_sizes",
            "architecture",
        ):
            return
        raise


def _fit_layer_lists(config: ModelConfig) -> ModelConfig:
    """Per-layer lists as long as `layer_sizes` (a link that only adds a layer gets the
    page's defaults for it: relu, no dropout, 3x3 kernels for a CNN)."""
    from mnist_core.modeling.form import (
        DEFAULT_ACTIVATION,
        DEFAULT_KERNEL_SIZE,
    )

    count = len(config.layer_sizes)

    def fit(values: tuple[Any, ...], filler: Any) -> tuple[Any, ...]:
        return tuple(values[:count]) + (filler,) * max(0, count - len(values))

    return config.replace(
        layer_activations=fit(config.layer_activations, DEFAULT_ACTIVATION),
        layer_dropout_rates=fit(config.layer_dropout_rates, 0.0),
        kernel_sizes=(
            fit(config.kernel_sizes, DEFAULT_KERNEL_SIZE) if config.architecture == "cnn" else ()
        ),
    )
