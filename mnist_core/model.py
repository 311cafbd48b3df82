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
DATASETS = ("mnist", "fashion_mnist")
NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28)

# Limits that keep a configuration trainable on a laptop CPU; the app's sliders use the same.
MAX_HIDDEN_LAYERS = 8
MAX_LAYER_SIZE = 2048
MAX_EPOCHS = 200
MAX_BATCH_SIZE = 8192
KERNEL_SIZES = (1, 3, 5, 7)
MAX_PEN_DIGIT_COPIES = 20
# Keras' default 0.99 needs about a thousand steps before the running statistics used at
# test time settle; a class demo trains for a hundred, and its model then reads 15% of the
# test set. 0.9 settles in tens of steps. (The input normalisation keeps Keras' default,
# as in the notebook it reproduces.)
HIDDEN_BATCH_NORMALIZATION_MOMENTUM = 0.9
# The "one_cycle" schedule (Smith's one-cycle policy, as fastai's fit_one_cycle runs it):
# the learning rate climbs linearly from learning_rate / ONE_CYCLE_START_DIVISOR to
# learning_rate over the first ONE_CYCLE_WARMUP_FRACTION of the steps, then anneals along a
# cosine to zero. The climb lets a high peak rate be used without diverging at the start.
ONE_CYCLE_WARMUP_FRACTION = 0.25
ONE_CYCLE_START_DIVISOR = 25.0


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
    # pendigits training writers (datasets/pendigits) that is not in the pen dev set is drawn
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
    _check_choice("dataset", config.dataset, DATASETS)
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


def steps_per_epoch(config: ModelConfig, train_size: int = 60000) -> int:
    """Batches in one epoch when `train_size` images are available before validation split.

    The pen-drawn digits that `pen_digit_copies` adds after the split count too
    (training_data.py), so that a learning-rate schedule ends with the last epoch.
    """
    from mnist_core.pen_digits import PEN_TRAINING_DIGIT_COUNT

    if config.validation == "split":
        train_size = train_size - int(round(train_size * config.validation_split))
    train_size += config.pen_digit_copies * PEN_TRAINING_DIGIT_COUNT
    return max(1, math.ceil(train_size / config.batch_size))


def one_cycle_schedule(peak_learning_rate: float, total_steps: int) -> Any:
    """The "one_cycle" learning-rate schedule: a linear warm-up, then a cosine anneal to zero.

    It is Keras' own `CosineDecay` with its warm-up, so a saved model loads without custom
    objects.

    Args:
        peak_learning_rate: the rate reached at the end of the warm-up.
        total_steps: the optimizer steps of the whole run (batches per epoch times epochs).

    Returns:
        A `keras.optimizers.schedules.LearningRateSchedule`: from
        `peak_learning_rate / ONE_CYCLE_START_DIVISOR` up to `peak_learning_rate` over the
        first `ONE_CYCLE_WARMUP_FRACTION` of the steps, then down to 0 at the last step.
    """
    import keras

    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
        raise ValueError(f"total_steps must be an integer >= 1, got {total_steps!r}.")
    warmup_steps = int(total_steps * ONE_CYCLE_WARMUP_FRACTION)
    return keras.optimizers.schedules.CosineDecay(
        peak_learning_rate / ONE_CYCLE_START_DIVISOR,
        decay_steps=max(1, total_steps - warmup_steps),
        warmup_target=peak_learning_rate,
        warmup_steps=warmup_steps,
        name="OneCycle",
    )


def _make_optimizer(config: ModelConfig, steps: int) -> Any:
    import keras

    learning_rate: Any = config.learning_rate
    total_steps = steps * config.epochs
    if config.learning_rate_schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=total_steps
        )
    elif config.learning_rate_schedule == "one_cycle":
        learning_rate = one_cycle_schedule(config.learning_rate, total_steps)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=config.momentum)
    optimizers = {
        "adam": keras.optimizers.Adam,
        "rmsprop": keras.optimizers.RMSprop,
        "adagrad": keras.optimizers.Adagrad,
        "adamw": keras.optimizers.AdamW,
    }
    return optimizers[config.optimizer](learning_rate=learning_rate)


def _accuracy_metric(config: ModelConfig) -> Any:
    import keras

    # Keras' plain "accuracy" becomes binary accuracy with binary_crossentropy, which reads
    # about 98% for a model that is guessing: always measure the accuracy of the ten classes.
    if uses_sparse_labels(config):
        return keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    return keras.metrics.CategoricalAccuracy(name="accuracy")


def build_model(
    config: ModelConfig, train_size: int = 60000, *, freeze_batch_normalization: bool = False
) -> Any:
    """Build and compile the Keras model that `config` describes.

    Args:
        config: the model and training description; validated first.
        train_size: training images available (before the validation split); only the
            cosine and one-cycle learning-rate schedules use it, to know how many steps the
            run has.
        freeze_batch_normalization: keep every batch-normalisation layer in inference mode,
            its statistics and scales fixed (default False). Fine-tuning a trained model
            needs it: with momentum 0.9 the running statistics follow a few dozen batches of
            new data and the model forgets how MNIST looks (0.3 points lost at a learning
            rate of 1e-7).

    Returns:
        A compiled `keras.Model` taking (batch, 28, 28) float32 images in [0, 1] and returning
        (batch, 10) class probabilities.
    """
    validate_config(config)
    import keras
    from keras import layers

    keras.utils.set_random_seed(config.seed)
    inputs = keras.Input(shape=IMAGE_SHAPE, name="image")
    if config.architecture == "dense":
        hidden = layers.Flatten(name="flatten")(inputs)
        if config.input_batch_normalization:
            hidden = layers.BatchNormalization(name="input_batch_normalization")(hidden)
        for index, (units, activation, dropout_rate) in enumerate(
            zip(config.layer_sizes, config.layer_activations, config.layer_dropout_rates)
        ):
            number = index + 1
            if config.batch_normalization:
                hidden = layers.Dense(units, use_bias=False, name=f"dense_{number}")(hidden)
                hidden = layers.BatchNormalization(
                    momentum=HIDDEN_BATCH_NORMALIZATION_MOMENTUM,
                    name=f"batch_normalization_{number}",
                )(hidden)
                hidden = layers.Activation(activation, name=f"{activation}_{number}")(hidden)
            else:
                hidden = layers.Dense(units, activation=activation, name=f"dense_{number}")(hidden)
            if dropout_rate > 0:
                hidden = layers.Dropout(dropout_rate, name=f"dropout_{number}")(hidden)
    else:
        hidden = layers.Reshape((*IMAGE_SHAPE, 1), name="add_channel")(inputs)
        if config.input_batch_normalization:
            hidden = layers.BatchNormalization(name="input_batch_normalization")(hidden)
        for index, (filters, kernel_size, activation, dropout_rate) in enumerate(
            zip(
                config.layer_sizes,
                config.kernel_sizes,
                config.layer_activations,
                config.layer_dropout_rates,
            )
        ):
            number = index + 1
            hidden = layers.Conv2D(
                filters,
                kernel_size,
                padding="same",
                use_bias=not config.batch_normalization,
                activation=None if config.batch_normalization else activation,
                name=f"conv_{number}",
            )(hidden)
            if config.batch_normalization:
                hidden = layers.BatchNormalization(
                    momentum=HIDDEN_BATCH_NORMALIZATION_MOMENTUM,
                    name=f"batch_normalization_{number}",
                )(hidden)
                hidden = layers.Activation(activation, name=f"{activation}_{number}")(hidden)
            hidden = layers.MaxPooling2D(2, name=f"pool_{number}")(hidden)
            if dropout_rate > 0:
                hidden = layers.Dropout(dropout_rate, name=f"dropout_{number}")(hidden)
        hidden = layers.Flatten(name="flatten")(hidden)
        if config.dense_units > 0:
            hidden = layers.Dense(config.dense_units, activation="relu", name="dense")(hidden)
            if config.dense_dropout_rate > 0:
                hidden = layers.Dropout(config.dense_dropout_rate, name="dense_dropout")(hidden)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(hidden)
    model = keras.Model(inputs, outputs, name=f"{config.architecture}_model")
    if freeze_batch_normalization:
        for layer in model.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False  # Keras 3: a frozen layer also runs in inference mode
    model.compile(
        optimizer=_make_optimizer(config, steps_per_epoch(config, train_size)),
        loss=config.loss,
        metrics=[_accuracy_metric(config)],
    )
    return model


def summarize_architecture(config: ModelConfig) -> list[dict[str, Any]]:
    """The model summary worked out from the config alone, without building the model.

    One row per layer, exactly as Keras' summary gives it: name, type, output shape (without
    the batch dimension) and parameter count. Cheap enough to rerun on every slider move.

    Args:
        config: the model description; validated first.
    """
    validate_config(config)
    rows: list[dict[str, Any]] = []

    def add(name: str, layer_type: str, shape: tuple[int, ...], parameters: int = 0) -> None:
        rows.append(
            {"name": name, "type": layer_type, "output_shape": shape, "parameters": parameters}
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
            add(f"dense_{number}", "Dense", (units,), width * units + (0 if batch_norm else units))
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
            )
            if config.dense_dropout_rate > 0:
                add("dense_dropout", "Dropout", (config.dense_units,))
            width = config.dense_units
    add("probabilities", "Dense", (NUM_CLASSES,), width * NUM_CLASSES + NUM_CLASSES)
    return rows


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
