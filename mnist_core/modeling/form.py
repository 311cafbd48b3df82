"""The Train page's controls as plain values, and the ModelConfig they describe.

A page holds one flat dict of form values (what each control shows): `form_values(config)`
fills it from a config (a preset), `config_from_form(values, dataset)` turns it back into a
validated `ModelConfig`. Per-layer controls exist for every possible hidden layer
(`MAX_HIDDEN_LAYERS`), so a layer that is hidden and shown again keeps its settings.

The choice lists hold every value the presets use, so loading a preset never needs a value the
controls cannot show.
"""

from __future__ import annotations

from typing import Any

from mnist_core.modeling.config import (
    MAX_HIDDEN_LAYERS,
    ModelConfig,
    validate_config,
)

# Units (dense) or filters (cnn) of a hidden layer.
LAYER_SIZE_CHOICES = (
    1, 2, 4, 8, 10, 16, 20, 30, 32, 48, 60, 64, 100, 128, 200, 256, 300, 400, 512, 784, 1024, 2048,
)  # fmt: skip
# Units of the dense layer after the convolutions (0: straight to the output).
DENSE_UNIT_CHOICES = (0, 16, 32, 64, 128, 256, 512, 1024)
LEARNING_RATE_CHOICES = (
    0.0001, 0.0002, 0.0003, 0.0005, 0.001, 0.002, 0.003, 0.005,
    0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0,
)  # fmt: skip
BATCH_SIZE_CHOICES = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
# Epochs of a run: the small values a class uses, and a few large ones the notebooks use.
EPOCH_CHOICES = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 75, 100, 150, 200)
# How many training images to use: fewer make a class demo train in seconds.
TRAINING_IMAGE_CHOICES = (1000, 5000, 10000, 30000, 60000)
# Test images used alongside a training subset: as many as the training images, at most all.
FULL_TEST_SIZE = 10000

# A hidden layer that a config does not have gets these values in the form.
DEFAULT_LAYER_SIZE = 64
DEFAULT_ACTIVATION = "relu"
DEFAULT_KERNEL_SIZE = 3
DEFAULT_DENSE_UNITS = 128


def choices_with(choices: tuple[Any, ...], value: Any, *, at_most: Any = None) -> tuple[Any, ...]:
    """A control's choices, with `value` added in its place when it is not one of them (a
    run's settings loaded again), and none above `at_most` (a cap) when one is given."""
    merged = sorted(set(choices) | {value})
    return tuple(choice for choice in merged if at_most is None or choice <= at_most)


def layer_key(field: str, index: int) -> str:
    """The form key of a per-layer value, e.g. layer_key("layer_size", 0) -> "layer_size_0".

    Args:
        field: one of "layer_size", "layer_activation", "layer_dropout_rate", "kernel_size".
        index: the 0-based hidden layer.
    """
    return f"{field}_{index}"


def form_values(config: ModelConfig) -> dict[str, Any]:
    """The value of every control for `config` (the dataset is chosen separately).

    Args:
        config: the configuration to show, e.g. a preset's.
    """
    values: dict[str, Any] = {
        "architecture": config.architecture,
        "num_hidden_layers": config.num_hidden_layers,
        "dense_units": config.dense_units if config.architecture == "cnn" else DEFAULT_DENSE_UNITS,
        "dense_dropout_rate": float(config.dense_dropout_rate),
        "input_batch_normalization": config.input_batch_normalization,
        "batch_normalization": config.batch_normalization,
        "loss": config.loss,
        "optimizer": config.optimizer,
        "learning_rate": config.learning_rate,
        "learning_rate_schedule": config.learning_rate_schedule,
        "momentum": float(config.momentum),
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "validation": config.validation,
        "validation_split": float(config.validation_split),
        "seed": config.seed,
        "augment_shift": float(config.augment_shift),
        "augment_rotation": float(config.augment_rotation),
        "augment_zoom": float(config.augment_zoom),
        "augment_stroke": float(config.augment_stroke),
        # No control of their own: a preset's drawn-digit training data carries through.
        "redraw_fraction": float(config.redraw_fraction),
        "pen_digit_copies": config.pen_digit_copies,
    }
    for index in range(MAX_HIDDEN_LAYERS):
        present = index < config.num_hidden_layers
        has_kernel = config.architecture == "cnn" and index < len(config.kernel_sizes)
        values[layer_key("layer_size", index)] = (
            config.layer_sizes[index] if present else DEFAULT_LAYER_SIZE
        )
        values[layer_key("layer_activation", index)] = (
            config.layer_activations[index] if present else DEFAULT_ACTIVATION
        )
        values[layer_key("layer_dropout_rate", index)] = (
            float(config.layer_dropout_rates[index]) if present else 0.0
        )
        values[layer_key("kernel_size", index)] = (
            config.kernel_sizes[index] if has_kernel else DEFAULT_KERNEL_SIZE
        )
    return values


def form_fields() -> tuple[str, ...]:
    """The names of all form values, per-layer ones included."""
    return tuple(form_values(ModelConfig()))


def _rate(value: Any) -> Any:
    # Sliders return floats such as 0.30000000000000004; keep what the user meant.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return round(float(value), 6)


def config_from_form(values: dict[str, Any], dataset: str) -> ModelConfig:
    """The validated ModelConfig that the controls describe.

    Args:
        values: the form values, as `form_values` returns them (extra keys are ignored).
        dataset: the dataset to train on, "mnist" or "fashion_mnist".

    Raises:
        ValueError: a value is missing, or the combination is not allowed (the message names
            the field, the value and what is allowed).
    """
    try:
        num_layers = values["num_hidden_layers"]
        if (
            isinstance(num_layers, bool)
            or not isinstance(num_layers, int)
            or not (0 <= num_layers <= MAX_HIDDEN_LAYERS)
        ):
            raise ValueError(
                f"num_hidden_layers must be an integer from 0 to {MAX_HIDDEN_LAYERS}, "
                f"got {num_layers!r}."
            )
        layers = range(num_layers)
        architecture = values["architecture"]
        is_cnn = architecture == "cnn"
        is_mnist = dataset == "mnist"
        optimizer = values["optimizer"]
        config = ModelConfig(
            dataset=dataset,
            architecture=architecture,
            layer_sizes=tuple(values[layer_key("layer_size", index)] for index in layers),
            layer_activations=tuple(
                values[layer_key("layer_activation", index)] for index in layers
            ),
            layer_dropout_rates=tuple(
                _rate(values[layer_key("layer_dropout_rate", index)]) for index in layers
            ),
            kernel_sizes=(
                tuple(values[layer_key("kernel_size", index)] for index in layers) if is_cnn else ()
            ),
            dense_units=values["dense_units"] if is_cnn else 0,
            dense_dropout_rate=_rate(values["dense_dropout_rate"]) if is_cnn else 0.0,
            input_batch_normalization=values["input_batch_normalization"],
            batch_normalization=values["batch_normalization"],
            loss=values["loss"],
            optimizer=optimizer,
            learning_rate=values["learning_rate"],
            learning_rate_schedule=values["learning_rate_schedule"],
            # Only SGD uses momentum; a value left on the slider must not pretend otherwise.
            momentum=_rate(values["momentum"]) if optimizer == "sgd" else 0.0,
            epochs=values["epochs"],
            batch_size=values["batch_size"],
            validation=values["validation"],
            validation_split=_rate(values["validation_split"]),
            seed=values["seed"],
            augment_shift=_rate(values["augment_shift"]),
            augment_rotation=_rate(values["augment_rotation"]),
            augment_zoom=_rate(values["augment_zoom"]),
            augment_stroke=_rate(values["augment_stroke"]),
            # Drawn digits exist for MNIST only: a preset's must not block Fashion-MNIST.
            redraw_fraction=_rate(values["redraw_fraction"]) if is_mnist else 0.0,
            pen_digit_copies=values["pen_digit_copies"] if is_mnist else 0,
        )
    except KeyError as error:
        raise ValueError(f"the form has no value for {error.args[0]!r}.") from None
    validate_config(config)
    return config


def subset_sizes(training_images: int, available_train: int) -> tuple[int | None, int | None]:
    """The (training_images, test_images) to pass to `Dataset.subset`; None means all.

    A subset is tested on as many test images as it has training images (at most all
    10,000), so a quick demo also evaluates quickly.

    Args:
        training_images: how many training images the user asked for, >= 1.
        available_train: how many training images the dataset has.
    """
    if (
        isinstance(training_images, bool)
        or not isinstance(training_images, int)
        or (training_images < 1)
    ):
        raise ValueError(f"training_images must be an integer >= 1; got {training_images!r}.")
    if training_images >= available_train:
        return None, None
    return training_images, min(training_images, FULL_TEST_SIZE)
