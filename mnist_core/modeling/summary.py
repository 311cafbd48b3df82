"""A network in numbers and words, from its config alone: layers, shapes, parameter counts.

Cheap enough for every slider move: no Keras model is built (`describe_model` reads a built
one)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mnist_core.data.format import (
    IMAGE_SHAPE,
    NUM_CLASSES,
)
from mnist_core.modeling.config import (
    ModelConfig,
    validate_config,
)


def summarize_architecture(config: ModelConfig) -> list[dict[str, Any]]:
    """The model summary worked out from the config alone, without building the model.

    One row per layer, exactly as Keras' summary gives it: name, type, output shape (without
    the batch dimension) and parameter count; and the multiply-adds the layer does for one
    image (what a run's cost grows with). Cheap enough to rerun on every slider move.

    Args:
        config: the model description; validated first.
    """
    validate_config(config)
    rows: list[dict[str, Any]] = []

    def add(
        name: str,
        layer_type: str,
        shape: tuple[int, ...],
        parameters: int = 0,
        multiply_adds: int = 0,
    ) -> None:
        rows.append(
            {
                "name": name,
                "type": layer_type,
                "output_shape": shape,
                "parameters": parameters,
                "multiply_adds": multiply_adds,
            }
        )

    add("image", "InputLayer", IMAGE_SHAPE)
    batch_norm = config.batch_normalization
    if config.architecture == "dense":
        width = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
        add("flatten", "Flatten", (width,))
        if config.input_batch_normalization:
            add("input_batch_normalization", "BatchNormalization", (width,), 4 * width)
        for index, (units, activation, rate) in enumerate(
            zip(config.layer_sizes, config.layer_activations, config.layer_dropout_rates)
        ):
            number = index + 1
            add(
                f"dense_{number}",
                "Dense",
                (units,),
                width * units + (0 if batch_norm else units),
                width * units,
            )
            if batch_norm:
                add(f"batch_normalization_{number}", "BatchNormalization", (units,), 4 * units)
                add(f"{activation}_{number}", "Activation", (units,))
            if rate > 0:
                add(f"dropout_{number}", "Dropout", (units,))
            width = units
    else:
        side, channels = IMAGE_SHAPE[0], 1
        add("add_channel", "Reshape", (side, side, 1))
        if config.input_batch_normalization:
            add("input_batch_normalization", "BatchNormalization", (side, side, 1), 4)
        for index, (filters, kernel_size, activation, rate) in enumerate(
            zip(
                config.layer_sizes,
                config.kernel_sizes,
                config.layer_activations,
                config.layer_dropout_rates,
            )
        ):
            number = index + 1
            weights = kernel_size * kernel_size * channels * filters
            add(
                f"conv_{number}",
                "Conv2D",
                (side, side, filters),
                weights + (0 if batch_norm else filters),
                weights * side * side,  # "same" padding: one kernel pass a position
            )
            if batch_norm:
                add(
                    f"batch_normalization_{number}",
                    "BatchNormalization",
                    (side, side, filters),
                    4 * filters,
                )
                add(f"{activation}_{number}", "Activation", (side, side, filters))
            side //= 2
            add(f"pool_{number}", "MaxPooling2D", (side, side, filters))
            if rate > 0:
                add(f"dropout_{number}", "Dropout", (side, side, filters))
            channels = filters
        width = side * side * channels
        add("flatten", "Flatten", (width,))
        if config.dense_units > 0:
            add(
                "dense",
                "Dense",
                (config.dense_units,),
                width * config.dense_units + config.dense_units,
                width * config.dense_units,
            )
            if config.dense_dropout_rate > 0:
                add("dense_dropout", "Dropout", (config.dense_units,))
            width = config.dense_units
    add(
        "probabilities",
        "Dense",
        (NUM_CLASSES,),
        width * NUM_CLASSES + NUM_CLASSES,
        width * NUM_CLASSES,
    )
    return rows


def count_multiply_adds(config: ModelConfig) -> int:
    """The multiply-adds of one forward pass of one image (the dense and convolution layers')."""
    return sum(row["multiply_adds"] for row in summarize_architecture(config))


def count_parameters(config: ModelConfig) -> int:
    """Total parameters of the model `config` describes (trainable and not), without building it."""
    return sum(row["parameters"] for row in summarize_architecture(config))


def describe_model(model: Any) -> list[dict[str, Any]]:
    """One row per layer of a built model: name, type, output shape and parameter count.

    Args:
        model: a built Keras model.
    """
    rows = []
    for layer in model.layers:
        output = getattr(layer, "output", None)
        shape = tuple(output.shape[1:]) if output is not None else ()
        rows.append(
            {
                "name": layer.name,
                "type": type(layer).__name__,
                "output_shape": tuple(int(d) for d in shape),
                "parameters": int(layer.count_params()),
            }
        )
    return rows


def architecture_summary(config: ModelConfig) -> str:
    """The network in a few words: "dense 512-256 relu", "cnn 16-32 k5 + 128".

    Args:
        config: the model description.
    """
    sizes = "-".join(str(size) for size in config.layer_sizes)
    activations = _same_or_listed(config.layer_activations, "/")
    if config.architecture == "dense":
        if not config.layer_sizes:
            return "softmax regression"
        return f"dense {sizes} {activations}"
    if not config.layer_sizes:
        summary = "cnn without convolutions"
    else:
        summary = f"cnn {sizes} k{_same_or_listed([str(k) for k in config.kernel_sizes], '-')}"
        if set(config.layer_activations) != {"relu"}:
            summary += f" {activations}"
    if config.dense_units:
        summary += f" + {config.dense_units}"
    return summary


def _same_or_listed(values: Sequence[str], separator: str) -> str:
    return values[0] if len(set(values)) == 1 else separator.join(values)
