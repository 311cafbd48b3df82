"""The limits the server keeps, in one place: the class caps, a network's size, the time a run
may take, the line, and what each user may keep.

`Limits()` holds the defaults; `Limits.from_environment()` what the server was started with
(`MNIST_MAX_RUN_SECONDS`: the longest run outside class mode, default 30 minutes). Every
run's size is checked here before it is queued (`check_run_size`), in class mode and out of
it: its parameters and the multiply-adds one image costs, against limits every preset fits
(the largest, `handwriting_cnn`, has 242,218 parameters and 7.6 million multiply-adds an image).
A refusal names the setting, the value, the limit and a size that would fit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from mnist_core.modeling.config import ModelConfig
from mnist_core.modeling.form import LAYER_SIZE_CHOICES
from mnist_core.modeling.summary import summarize_architecture

MAX_RUN_SECONDS_ENVIRONMENT_VARIABLE = "MNIST_MAX_RUN_SECONDS"


class RunRefused(ValueError):  # noqa: N818 - a refusal, said to the user as it is
    """The server will not queue this run; the message says why and what to change."""


@dataclass(frozen=True)
class ClassLimits:
    """The caps on one run while class mode is on.

    Attributes:
        max_epochs: epochs (default 3).
        max_training_images: training images, before the validation split, every image the
            run trains on counted (default 10,000).
        max_seconds: the whole task on the worker (training, test passes, the model to
            bytes); a run over it stops and keeps its model (default 120 s).
        max_parameters: weights and biases of the network (default 1 million).
        max_multiply_adds: multiply-adds of one image's forward pass (default 10 million;
            `cnn_fast` needs 2.0 million, `handwriting_cnn` 7.6 million).
    """

    max_epochs: int = 3
    max_training_images: int = 10000
    max_seconds: float = 120.0
    max_parameters: int = 1_000_000
    max_multiply_adds: int = 10_000_000

    def describe(self) -> str:
        """One line for the pages."""
        return (
            f"at most {self.max_epochs} epochs, {self.max_training_images:,} training images "
            f"and {self.max_seconds:.0f} s per run, and networks of at most "
            f"{_count(self.max_parameters)} parameters and {_count(self.max_multiply_adds)} "
            "multiply-adds an image"
        )


@dataclass(frozen=True)
class Limits:
    """Everything the server holds runs and users to.

    Attributes:
        class_limits: the caps while class mode is on.
        max_parameters, max_multiply_adds: a network's size outside class mode (5 million
            parameters, 50 million multiply-adds an image).
        max_run_seconds: the longest a run may take outside class mode (30 minutes).
        waiting_requests_per_user: requests a user may have waiting behind their running one.
        saved_models_per_user: models a user may keep saved (20).
        drawings_per_user: labelled drawings a user may keep (2,000).
    """

    class_limits: ClassLimits = field(default_factory=ClassLimits)
    max_parameters: int = 5_000_000
    max_multiply_adds: int = 50_000_000
    max_run_seconds: float = 1800.0
    waiting_requests_per_user: int = 1
    saved_models_per_user: int = 20
    drawings_per_user: int = 2000

    @classmethod
    def from_environment(cls) -> Limits:
        """The defaults, with `MNIST_MAX_RUN_SECONDS` when it is set (ValueError if it is not a
        positive number of seconds)."""
        text = os.environ.get(MAX_RUN_SECONDS_ENVIRONMENT_VARIABLE, "").strip()
        if not text:
            return cls()
        try:
            seconds = float(text)
        except ValueError:
            seconds = -1.0
        if not seconds > 0:
            raise ValueError(
                f"{MAX_RUN_SECONDS_ENVIRONMENT_VARIABLE} must be a number of seconds above 0, "
                f"got {text!r}."
            )
        return cls(max_run_seconds=seconds)

    def size_limits(self, class_mode: bool) -> tuple[int, int]:
        """(parameters, multiply-adds an image) a network may have."""
        if class_mode:
            return self.class_limits.max_parameters, self.class_limits.max_multiply_adds
        return self.max_parameters, self.max_multiply_adds

    def describe(self) -> str:
        """The limits outside class mode, in one line for the pages."""
        return (
            f"networks of at most {_count(self.max_parameters)} parameters and "
            f"{_count(self.max_multiply_adds)} multiply-adds an image, "
            f"{self.max_run_seconds / 60:.0f} minutes a run, one run waiting a person, "
            f"{self.saved_models_per_user} saved models and {self.drawings_per_user:,} "
            "drawings a person"
        )


def check_run_size(config: ModelConfig, limits: Limits, *, class_mode: bool) -> None:
    """Refuse a network too large for the server, before it is queued.

    Raises:
        RunRefused: its parameters or its multiply-adds an image are over the limit; the
            message names the layer that costs most, the figures and a size that fits.
    """
    max_parameters, max_multiply_adds = limits.size_limits(class_mode)
    rows = summarize_architecture(config)
    parameters = sum(row["parameters"] for row in rows)
    multiply_adds = sum(row["multiply_adds"] for row in rows)
    where = "in class mode" if class_mode else "on this server"
    if multiply_adds > max_multiply_adds:
        costly = max(rows, key=lambda row: row["multiply_adds"])
        raise RunRefused(
            f"This network is too costly to train {where}: it needs {_count(multiply_adds)} "
            f"multiply-adds for each image, and the limit is {_count(max_multiply_adds)}. "
            f"{_layer_words(costly, config)} does {_count(costly['multiply_adds'])} of them."
            + _what_fits(config, costly, "multiply_adds", max_multiply_adds)
        )
    if parameters > max_parameters:
        costly = max(rows, key=lambda row: row["parameters"])
        raise RunRefused(
            f"This network is too large to train {where}: it has {parameters:,} parameters, "
            f"and the limit is {max_parameters:,}. {_layer_words(costly, config)} has "
            f"{costly['parameters']:,} of them."
            + _what_fits(config, costly, "parameters", max_parameters)
        )


def _layer_index(row: dict[str, Any]) -> int | None:
    """The hidden layer (0-based) a summary row belongs to, or None (the output, a dense
    layer after the convolutions)."""
    name = row["name"]
    for prefix in ("dense_", "conv_"):
        if name.startswith(prefix) and name[len(prefix) :].isdigit():
            return int(name[len(prefix) :]) - 1
    return None


def _layer_words(row: dict[str, Any], config: ModelConfig) -> str:
    index = _layer_index(row)
    if index is not None:
        unit = "filters" if config.architecture == "cnn" else "units"
        return f"Layer {index + 1} ({config.layer_sizes[index]:,} {unit})"
    if row["name"] == "dense":
        return f"The dense layer after the convolutions ({config.dense_units:,} units)"
    return "The output layer"


def _what_fits(config: ModelConfig, row: dict[str, Any], figure: str, limit: int) -> str:
    """A sentence with the largest size of the costliest layer that fits, if one does."""
    index = _layer_index(row)
    for size in sorted(LAYER_SIZE_CHOICES, reverse=True):
        if index is not None:
            if size >= config.layer_sizes[index]:
                continue
            sizes = list(config.layer_sizes)
            sizes[index] = size
            smaller = config.replace(layer_sizes=tuple(sizes))
        elif row["name"] == "dense":
            if size >= config.dense_units:
                continue
            smaller = config.replace(dense_units=size)
        else:
            return " Use fewer or smaller layers before it."
        total = sum(item[figure] for item in summarize_architecture(smaller))
        if total <= limit:
            unit = "filters" if index is not None and config.architecture == "cnn" else "units"
            where = f"layer {index + 1}" if index is not None else "the dense layer"
            return f" With {size:,} {unit} in {where} it would fit."
    unit = "filters" if config.architecture == "cnn" else "units"
    for size in sorted(LAYER_SIZE_CHOICES, reverse=True):
        capped = config.replace(
            layer_sizes=tuple(min(layer, size) for layer in config.layer_sizes),
            dense_units=min(config.dense_units, size),
        )
        if sum(item[figure] for item in summarize_architecture(capped)) <= limit:
            return f" With at most {size:,} {unit} in each layer it would fit."
    return " Use fewer layers."


def _count(number: int) -> str:
    """A count for people: "12,345"; a round million as "10 million"."""
    if number >= 1_000_000 and number % 1_000_000 == 0:
        return f"{number // 1_000_000:,} million"
    return f"{number:,}"
