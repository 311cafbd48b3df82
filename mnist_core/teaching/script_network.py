"""The network part of a run's exported code: its layers, its learning-rate schedule, its
optimizer, its compile step and its augmentation, written out for one `ModelConfig`.

`teaching.recipe` puts these definitions into its steps; the script and the notebook of a run
both get them from there. Each function returns lines of Python at top level."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from mnist_core.modeling import build as build_module
from mnist_core.modeling.config import (
    ModelConfig,
    uses_sparse_labels,
)

_OPTIMIZER_CLASSES = {
    "sgd": "SGD",
    "adam": "Adam",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
    "adamw": "AdamW",
}


OPTIMIZER_WORDS = {
    "sgd": "Plain stochastic gradient descent moves every weight against its gradient, times "
    "the learning rate",
    "adam": "Adam gives each weight its own step size, from running averages of its gradients "
    "and of their squares",
    "rmsprop": "RMSprop divides each weight's step by a running average of its squared gradients",
    "adagrad": "Adagrad shrinks each weight's step as its squared gradients add up",
    "adamw": "AdamW is adam with weight decay, which pulls every weight a little towards zero",
}


LOSS_WORDS = {
    "mse": "Mean squared error compares the ten probabilities with the one-hot label, number "
    "by number (the notebooks show how slowly it learns)",
    "binary_crossentropy": "Binary cross-entropy scores each of the ten outputs as its own "
    "yes-or-no question",
    "categorical_crossentropy": "Categorical cross-entropy is minus the log of the probability "
    "given to the right class",
    "sparse_categorical_crossentropy": "Sparse categorical cross-entropy is categorical "
    "cross-entropy for labels given as integers",
}


def network_definition(config: ModelConfig) -> list[str]:
    """`def build_network()`: the layers, from the image to the ten probabilities.

    Args:
        config: the run's config (checked by the exporter first).
    """
    lines = [
        "def build_network():",
        '    """The network: its layers from the image to the ten probabilities (not compiled)."""',
        "    # The seed fixes the random starting weights: the same run every time.",
        "    keras.utils.set_random_seed(SEED)",
        "    # The input: one 28x28 image of grey levels in [0, 1].",
        '    inputs = keras.Input(shape=(28, 28), name="image")',
    ]
    lines += _dense_layers(config) if config.architecture == "dense" else _cnn_layers(config)
    lines += [
        "    # The output: ten units, one per class; softmax turns their scores into",
        "    # probabilities that add up to 1.",
        '    outputs = layers.Dense(10, activation="softmax", name="probabilities")(x)',
        f'    return keras.Model(inputs, outputs, name="{config.architecture}_model")',
    ]
    return lines


def compile_definition(config: ModelConfig) -> list[str]:
    """`def compile_model(model, training_images, epochs)`: schedule, optimizer, loss, metric.

    Args:
        config: the run's config (checked by the exporter first).
    """
    return [
        "def compile_model(model, training_images, epochs):",
        '    """Give the network its loss, its optimizer (with the learning-rate schedule) and its',
        "    accuracy metric.",
        "",
        "    Args:",
        "        model: the network from build_network().",
        "        training_images: the number of training images (the schedule counts steps).",
        "        epochs: the number of epochs it will train for.",
        '    """',
        *_schedule_lines(config),
        *_optimizer_lines(config),
        *_compile_lines(config),
    ]


def _dense_layers(config: ModelConfig) -> list[str]:
    lines = [
        "    # A dense layer takes a flat vector: the 28x28 image becomes 784 numbers.",
        '    x = layers.Flatten(name="flatten")(inputs)',
    ]
    if config.input_batch_normalization:
        lines += [
            "    # Batch normalisation of the input: every pixel is shifted and scaled to mean",
            "    # 0 and variance 1 over each batch (notebook 003).",
            '    x = layers.BatchNormalization(name="input_batch_normalization")(x)',
        ]
    inputs = 784
    for index, (units, activation, rate) in enumerate(
        zip(config.layer_sizes, config.layer_activations, config.layer_dropout_rates)
    ):
        number = index + 1
        lines.append(
            f"    # Hidden layer {number}: {units} units, each a weighted sum of the {inputs} "
            f"values before it, then {activation}."
        )
        if config.batch_normalization:
            lines += [
                "    # Batch normalisation sits between the sum and the activation (and",
                "    # replaces the bias, which it would cancel).",
                f'    x = layers.Dense({units}, use_bias=False, name="dense_{number}")(x)',
                "    x = layers.BatchNormalization(",
                f'        momentum=BATCH_NORMALIZATION_MOMENTUM, name="batch_normalization_{number}"',
                "    )(x)",
                f'    x = layers.Activation("{activation}", name="{activation}_{number}")(x)',
            ]
        else:
            lines.append(
                f'    x = layers.Dense({units}, activation="{activation}", name="dense_{number}")(x)'
            )
        if rate > 0:
            lines += [
                f"    # Dropout: during training, {percent_text(rate)} of these units are switched off at",
                "    # random, so that no unit can rely on another; at test time all are on.",
                f'    x = layers.Dropout({number_text(rate)}, name="dropout_{number}")(x)',
            ]
        inputs = units
    return lines


def _cnn_layers(config: ModelConfig) -> list[str]:
    lines = [
        "    # A convolution wants a channel axis: (28, 28) becomes (28, 28, 1).",
        '    x = layers.Reshape((28, 28, 1), name="add_channel")(inputs)',
    ]
    if config.input_batch_normalization:
        lines += [
            "    # Batch normalisation of the input image, over each batch.",
            '    x = layers.BatchNormalization(name="input_batch_normalization")(x)',
        ]
    side = 28
    for index, (filters, kernel_size, activation, rate) in enumerate(
        zip(
            config.layer_sizes,
            config.kernel_sizes,
            config.layer_activations,
            config.layer_dropout_rates,
        )
    ):
        number = index + 1
        lines.append(
            f"    # Convolution {number}: {filters} filters of {kernel_size}x{kernel_size} "
            f"pixels slide over the {side}x{side} image"
        )
        lines.append(
            '    # ("same" padding keeps its size), then '
            + ("batch normalisation and " if config.batch_normalization else "")
            + f"{activation}."
        )
        if config.batch_normalization:
            lines += [
                "    x = layers.Conv2D(",
                f'        {filters}, {kernel_size}, padding="same", use_bias=False, '
                f'activation=None, name="conv_{number}"',
                "    )(x)",
                "    x = layers.BatchNormalization(",
                f'        momentum=BATCH_NORMALIZATION_MOMENTUM, name="batch_normalization_{number}"',
                "    )(x)",
                f'    x = layers.Activation("{activation}", name="{activation}_{number}")(x)',
            ]
        else:
            lines += [
                "    x = layers.Conv2D(",
                f'        {filters}, {kernel_size}, padding="same", activation="{activation}", '
                f'name="conv_{number}"',
                "    )(x)",
            ]
        side //= 2
        lines += [
            f"    # 2x2 max pooling keeps the strongest response of each 2x2 patch: {side}x{side}.",
            f'    x = layers.MaxPooling2D(2, name="pool_{number}")(x)',
        ]
        if rate > 0:
            lines += [
                f"    # Dropout: {percent_text(rate)} of these values are switched off at random in training.",
                f'    x = layers.Dropout({number_text(rate)}, name="dropout_{number}")(x)',
            ]
    lines += [
        "    # The feature maps, flattened into one vector for the dense layers.",
        '    x = layers.Flatten(name="flatten")(x)',
    ]
    if config.dense_units > 0:
        lines += [
            f"    # A dense layer of {config.dense_units} relu units combines the features.",
            f'    x = layers.Dense({config.dense_units}, activation="relu", name="dense")(x)',
        ]
        if config.dense_dropout_rate > 0:
            lines += [
                f"    # Dropout of {percent_text(config.dense_dropout_rate)} of those units in training.",
                f'    x = layers.Dropout({number_text(config.dense_dropout_rate)}, name="dense_dropout")(x)',
            ]
    return lines


def _schedule_lines(config: ModelConfig) -> list[str]:
    schedule = config.learning_rate_schedule
    if schedule == "constant":
        return [
            "    # The learning rate stays the same for the whole run.",
            "    learning_rate = LEARNING_RATE",
        ]
    lines = [
        "    # The optimizer's steps in the whole run: batches per epoch times epochs.",
        "    total_steps = math.ceil(training_images / BATCH_SIZE) * epochs",
    ]
    if schedule == "cosine":
        return lines + [
            "    # The learning rate falls along a cosine from LEARNING_RATE to zero: big",
            "    # steps early, a calm finish.",
            "    learning_rate = keras.optimizers.schedules.CosineDecay(",
            "        LEARNING_RATE, decay_steps=total_steps",
            "    )",
        ]
    if schedule == "one_cycle":
        warmup = number_text(build_module.ONE_CYCLE_WARMUP_FRACTION)
        divisor = number_text(build_module.ONE_CYCLE_START_DIVISOR)
        return lines + [
            f"    # One cycle: the learning rate climbs from LEARNING_RATE / {divisor} to",
            f"    # LEARNING_RATE over the first {warmup} of the steps, then falls along a",
            "    # cosine to zero; the climb lets a high peak rate work without diverging.",
            f"    warmup_steps = int(total_steps * {warmup})",
            "    learning_rate = keras.optimizers.schedules.CosineDecay(",
            f"        LEARNING_RATE / {divisor},",
            "        decay_steps=max(1, total_steps - warmup_steps),",
            "        warmup_target=LEARNING_RATE,",
            "        warmup_steps=warmup_steps,",
            '        name="OneCycle",',
            "    )",
        ]
    raise ValueError(  # check_exportable refuses these first
        f"learning_rate_schedule {schedule!r} cannot be written into an exported script."
    )


def _optimizer_lines(config: ModelConfig) -> list[str]:
    class_name = _OPTIMIZER_CLASSES[config.optimizer]
    lines = wrapped(f"The optimizer. {OPTIMIZER_WORDS[config.optimizer]}.", 88, "    # ", "    # ")
    if config.optimizer == "sgd":
        lines.append(
            "    optimizer = keras.optimizers.SGD(learning_rate=learning_rate, momentum=MOMENTUM)"
        )
    else:
        lines.append(f"    optimizer = keras.optimizers.{class_name}(learning_rate=learning_rate)")
    return lines


def _compile_lines(config: ModelConfig) -> list[str]:
    metric = "SparseCategoricalAccuracy" if uses_sparse_labels(config) else "CategoricalAccuracy"
    lines = wrapped(f"The loss. {LOSS_WORDS[config.loss]}.", 88, "    # ", "    # ")
    lines += [
        '    # The accuracy is that of the ten classes (Keras\' plain "accuracy" would turn',
        "    # into a per-output binary accuracy with binary cross-entropy, near 98% for a guess).",
        "    model.compile(",
        "        optimizer=optimizer,",
        f'        loss="{config.loss}",',
        f'        metrics=[keras.metrics.{metric}(name="accuracy")],',
        "    )",
    ]
    return lines


def augmentation_definition(config: ModelConfig) -> list[str]:
    """`class AugmentedBatches`: training batches shifted, rotated, zoomed, restroked at random.

    Args:
        config: the run's config (one that augments).
    """
    shuffle = "self.random.shuffle(self.order)" if config.shuffle else "pass"
    return [
        "class AugmentedBatches(keras.utils.PyDataset):",
        '    """Batches of training images, each changed at random: shifted, rotated, zoomed,',
        "    strokes thickened or thinned. The network never sees the same image twice, which",
        "    teaches it to read digits that are not centred and upright. (The same kinds and",
        '    amounts of change as the app; the random draws themselves differ.)"""',
        "",
        "    def __init__(self, images, labels):",
        "        super().__init__()",
        "        self.images, self.labels = images, labels",
        "        self.order = np.arange(len(images))",
        "        self.random = np.random.default_rng(SEED)",
        "        self.transforms = []",
        "        if AUGMENT_SHIFT > 0:",
        "            self.transforms.append(",
        "                layers.RandomTranslation(",
        '                    AUGMENT_SHIFT, AUGMENT_SHIFT, fill_mode="constant", seed=SEED',
        "                )",
        "            )",
        "        if AUGMENT_ROTATION > 0:",
        "            self.transforms.append(",
        '                layers.RandomRotation(AUGMENT_ROTATION / 360, fill_mode="constant", seed=SEED + 1)',
        "            )",
        "        if AUGMENT_ZOOM > 0:",
        "            self.transforms.append(",
        '                layers.RandomZoom(AUGMENT_ZOOM, fill_mode="constant", seed=SEED + 2)',
        "            )",
        "        self.on_epoch_end()",
        "",
        "    def __len__(self):",
        "        return math.ceil(len(self.images) / BATCH_SIZE)",
        "",
        "    def __getitem__(self, index):",
        "        chosen = self.order[index * BATCH_SIZE : (index + 1) * BATCH_SIZE]",
        "        x = self.images[chosen][..., np.newaxis]",
        "        for transform in self.transforms:",
        "            x = keras.ops.convert_to_numpy(transform(x, training=True))",
        "        if AUGMENT_STROKE > 0:",
        "            # A 3x3 maximum thickens the strokes, a 3x3 minimum thins them.",
        '            thicker = keras.ops.convert_to_numpy(keras.ops.max_pool(x, 3, 1, "same"))',
        '            thinner = -keras.ops.convert_to_numpy(keras.ops.max_pool(-x, 3, 1, "same"))',
        "            draw = self.random.uniform(size=(len(x), 1, 1, 1))",
        "            x = np.where(draw < AUGMENT_STROKE / 2, thicker, x)",
        "            x = np.where((draw >= AUGMENT_STROKE / 2) & (draw < AUGMENT_STROKE), thinner, x)",
        "        return x[..., 0], self.labels[chosen]",
        "",
        "    def on_epoch_end(self):",
        f"        {shuffle}",
    ]


def join_sizes(sizes: Sequence[int], unit: str) -> str:
    if len(sizes) == 1:
        return f"{sizes[0]} {unit}"
    return ", ".join(str(size) for size in sizes[:-1]) + f" and {sizes[-1]} {unit}"


def number_text(value: float) -> str:
    """A float literal that reads well and round-trips (0.001, 0.25, 3e-05)."""
    return repr(float(value))


def percent_text(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def wrapped(text: str, width: int, first: str = "", rest: str = "") -> list[str]:
    """Wrap `text` into lines of at most `width` characters, the first after `first`."""
    return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest)
