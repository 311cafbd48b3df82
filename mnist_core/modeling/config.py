"""Model configuration and construction.

`ModelConfig` is the one flat, frozen description of a model and of how it is trained. It holds
plain Python values only, round-trips through JSON, is saved beside every model and is enough to
rebuild it. `build_model(config)` turns it into a compiled Keras model.

Every model takes scaled images of shape (28, 28) (float32 in [0, 1]) and returns the ten class
probabilities, so the app, the CLI and the evaluation code feed all models the same way.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

from mnist_core.data.format import DATASET_NAMES

ARCHITECTURES = ("dense", "cnn")
ACTIVATIONS = ("relu", "sigmoid", "tanh", "elu", "gelu", "linear")
LOSSES = (
    "mse",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
)
OPTIMIZERS = ("sgd", "adam", "rmsprop", "adagrad", "adamw")
LEARNING_RATE_SCHEDULES = ("constant", "cosine", "one_cycle")
VALIDATIONS = ("split", "test")

# Limits that keep a configuration trainable on a laptop CPU; the app's sliders use the same.
MAX_HIDDEN_LAYERS = 8
MAX_LAYER_SIZE = 2048
MAX_EPOCHS = 200
MAX_BATCH_SIZE = 8192
KERNEL_SIZES = (1, 3, 5, 7)
MAX_PEN_DIGIT_COPIES = 20


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to build and train one model.

    Hidden layers are described by parallel tuples: `layer_sizes[i]` is the number of units
    (dense) or filters (cnn) of layer i, with `layer_activations[i]` and
    `layer_dropout_rates[i]`; `kernel_sizes[i]` is used by CNN layers only. An empty
    `layer_sizes` is softmax regression.
    """

    dataset: str = "mnist"
    architecture: str = "cnn"
    layer_sizes: tuple[int, ...] = (32, 64)
    layer_activations: tuple[str, ...] = ("relu", "relu")
    layer_dropout_rates: tuple[float, ...] = (0.0, 0.0)
    # CNN only: each convolution ("same" padding) is followed by 2x2 max pooling.
    kernel_sizes: tuple[int, ...] = (3, 3)
    # CNN only: units of the dense layer between the convolutions and the output (0: none).
    dense_units: int = 128
    dense_dropout_rate: float = 0.0
    # Batch-normalise the (flattened) input, as one notebook does before its sigmoid layers.
    input_batch_normalization: bool = False
    # Batch-normalise every hidden layer's output before its activation.
    batch_normalization: bool = False
    loss: str = "categorical_crossentropy"
    optimizer: str = "adam"
    learning_rate: float = 0.001
    # "cosine" lowers the learning rate smoothly to zero over the whole run: fast early
    # progress and a calm finish, which is what gets a CNN past 99% in a few epochs.
    # "one_cycle" first warms up from learning_rate / 25 to learning_rate over a quarter of
    # the run, then anneals like "cosine": it takes a high peak rate (1e-2 with adam) without
    # diverging, which gets a CNN past 99% in one epoch.
    learning_rate_schedule: str = "constant"
    # SGD only: 0 is plain stochastic gradient descent, as in the notebooks.
    momentum: float = 0.0
    epochs: int = 5
    batch_size: int = 128
    # "split": hold out `validation_split` of the training set; "test": validate on the test
    # set, as the notebooks do (it then no longer measures unseen data).
    validation: str = "split"
    validation_split: float = 0.1
    shuffle: bool = True
    seed: int = 0
    # Random training augmentation, 0 meaning off. Shift is a fraction of the image size,
    # rotation is in degrees, zoom a fraction, stroke the probability of thickening or
    # thinning the strokes of an image.
    augment_shift: float = 0.0
    augment_rotation: float = 0.0
    augment_zoom: float = 0.0
    augment_stroke: float = 0.0
    # Extra training data for reading drawn digits (MNIST only; 0 = off; made once before
    # training from `seed`, see mnist_core/training_data.py). redraw_fraction: that share of
    # the training images is re-drawn with a uniform pen of random width at a random size and
    # place, then preprocessed like a Draw-page drawing. pen_digit_copies: every digit of the
    # pendigits training writers (mnist_core/data/pendigits) that is not in the pen dev set is drawn
    # that many times (random size, place, pen, slant) and added to the training images.
    redraw_fraction: float = 0.0
    pen_digit_copies: int = 0

    def __post_init__(self) -> None:
        # JSON gives lists; the config is frozen and hashable, so keep tuples.
        for field in ("layer_sizes", "layer_activations", "layer_dropout_rates", "kernel_sizes"):
            value = getattr(self, field)
            if isinstance(value, list):
                object.__setattr__(self, field, tuple(value))

    @property
    def num_hidden_layers(self) -> int:
        """The number of hidden layers (0 for softmax regression)."""
        return len(self.layer_sizes)

    @property
    def augments(self) -> bool:
        """Whether any training augmentation is switched on."""
        return any(
            value > 0
            for value in (
                self.augment_shift,
                self.augment_rotation,
                self.augment_zoom,
                self.augment_stroke,
            )
        )

    def replace(self, **changes: Any) -> ModelConfig:
        """Return a copy with some fields changed (validated like any new config)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form: tuples become lists."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(self).items()
        }

    def to_json(self) -> str:
        """JSON text of `to_dict()`."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build a config from `to_dict()` output; unknown keys are an error."""
        if not isinstance(data, dict):
            raise ValueError(f"config must be a JSON object, got {type(data).__name__}.")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"config has unknown field(s) {', '.join(unknown)}; "
                f"allowed fields are {', '.join(sorted(known))}."
            )
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        """Parse `to_json()` output."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"config is not valid JSON: {error}") from None
        return cls.from_dict(data)


def _fail(field: str, value: Any, allowed: str) -> None:
    raise ValueError(f"{field} must be {allowed}, got {value!r}.")


def _check_choice(field: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        _fail(field, value, "one of " + ", ".join(repr(choice) for choice in choices))


def _check_int(field: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _fail(field, value, f"an integer from {low} to {high}")


def _check_number(
    field: str, value: Any, low: float, high: float, *, low_open: bool = False
) -> None:
    ok = (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and (low < value if low_open else low <= value)
        and value <= high
    )
    if not ok:
        bracket = "(" if low_open else "["
        _fail(field, value, f"a number in {bracket}{low}, {high}]")


def _check_bool(field: str, value: Any) -> None:
    if not isinstance(value, bool):
        _fail(field, value, "true or false")


def validate_config(config: ModelConfig) -> None:
    """Check every field; raise ValueError naming the field, the value and what is allowed."""
    if not isinstance(config, ModelConfig):
        raise ValueError(f"config must be a ModelConfig, got {type(config).__name__}.")
    _check_choice("dataset", config.dataset, DATASET_NAMES)
    _check_choice("architecture", config.architecture, ARCHITECTURES)
    for field in ("layer_sizes", "layer_activations", "layer_dropout_rates", "kernel_sizes"):
        if not isinstance(getattr(config, field), tuple):
            _fail(field, getattr(config, field), "a list")
    count = len(config.layer_sizes)
    if count > MAX_HIDDEN_LAYERS:
        _fail("layer_sizes", config.layer_sizes, f"at most {MAX_HIDDEN_LAYERS} hidden layers")
    for field in ("layer_activations", "layer_dropout_rates"):
        if len(getattr(config, field)) != count:
            _fail(field, getattr(config, field), f"a list of {count} values, one per hidden layer")
    for index, size in enumerate(config.layer_sizes):
        _check_int(f"layer_sizes[{index}]", size, 1, MAX_LAYER_SIZE)
    for index, activation in enumerate(config.layer_activations):
        _check_choice(f"layer_activations[{index}]", activation, ACTIVATIONS)
    for index, rate in enumerate(config.layer_dropout_rates):
        _check_number(f"layer_dropout_rates[{index}]", rate, 0.0, 0.9)
    if config.architecture == "cnn":
        # Each convolution halves the image with pooling: 28 -> 14 -> 7 -> 3.
        if count > 3:
            _fail("layer_sizes", config.layer_sizes, "at most 3 convolution layers for a cnn")
        if len(config.kernel_sizes) != count:
            _fail("kernel_sizes", config.kernel_sizes, f"a list of {count} values, one per layer")
        for index, kernel_size in enumerate(config.kernel_sizes):
            if kernel_size not in KERNEL_SIZES:
                _fail(f"kernel_sizes[{index}]", kernel_size, f"one of {KERNEL_SIZES}")
    _check_int("dense_units", config.dense_units, 0, MAX_LAYER_SIZE)
    _check_number("dense_dropout_rate", config.dense_dropout_rate, 0.0, 0.9)
    _check_bool("input_batch_normalization", config.input_batch_normalization)
    _check_bool("batch_normalization", config.batch_normalization)
    _check_choice("loss", config.loss, LOSSES)
    _check_choice("optimizer", config.optimizer, OPTIMIZERS)
    _check_number("learning_rate", config.learning_rate, 0.0, 10.0, low_open=True)
    _check_choice("learning_rate_schedule", config.learning_rate_schedule, LEARNING_RATE_SCHEDULES)
    _check_number("momentum", config.momentum, 0.0, 0.999)
    _check_int("epochs", config.epochs, 1, MAX_EPOCHS)
    _check_int("batch_size", config.batch_size, 1, MAX_BATCH_SIZE)
    _check_choice("validation", config.validation, VALIDATIONS)
    _check_number("validation_split", config.validation_split, 0.01, 0.5)
    _check_bool("shuffle", config.shuffle)
    _check_int("seed", config.seed, 0, 2**31 - 1)
    _check_number("augment_shift", config.augment_shift, 0.0, 0.3)
    _check_number("augment_rotation", config.augment_rotation, 0.0, 45.0)
    _check_number("augment_zoom", config.augment_zoom, 0.0, 0.5)
    _check_number("augment_stroke", config.augment_stroke, 0.0, 1.0)
    _check_number("redraw_fraction", config.redraw_fraction, 0.0, 1.0)
    _check_int("pen_digit_copies", config.pen_digit_copies, 0, MAX_PEN_DIGIT_COPIES)
    for field in ("redraw_fraction", "pen_digit_copies"):
        if getattr(config, field) > 0 and config.dataset != "mnist":
            _fail(field, getattr(config, field), "0 unless the dataset is 'mnist' (drawn digits)")


def uses_sparse_labels(config: ModelConfig) -> bool:
    """True when the loss takes integer labels; every other loss takes one-hot labels."""
    return config.loss == "sparse_categorical_crossentropy"


def steps_per_epoch(config: ModelConfig, training_images: int = 60000) -> int:
    """Batches in one epoch when `training_images` images are available before validation split.

    The pen-drawn digits that `pen_digit_copies` adds after the split count too
    (training_data.py), so that a learning-rate schedule ends with the last epoch.
    """
    from mnist_core.data.pen_digits import PEN_TRAINING_DIGIT_COUNT

    if config.validation == "split":
        training_images = training_images - int(round(training_images * config.validation_split))
    training_images += config.pen_digit_copies * PEN_TRAINING_DIGIT_COUNT
    return max(1, math.ceil(training_images / config.batch_size))
