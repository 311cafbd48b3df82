"""Build and compile the Keras model a `ModelConfig` describes: layers, optimizer, schedule.

Every model takes scaled images of shape (28, 28) (float32 in [0, 1]) and returns the ten class
probabilities, so the app, the command line and the evaluation feed all models the same way."""

from __future__ import annotations

import random
from typing import Any

from mnist_core.data.format import (
    IMAGE_SHAPE,
    NUM_CLASSES,
)
from mnist_core.modeling.config import (
    ModelConfig,
    steps_per_epoch,
    uses_sparse_labels,
    validate_config,
)

# Keras' default 0.99 needs about a thousand steps before the running statistics used at
# test time settle; a class demo trains for a hundred, and its model then reads 15% of the
# test set. 0.9 settles in tens of steps. (The input normalisation keeps Keras' default,
# as in the notebook it reproduces.)
HIDDEN_BATCH_NORMALIZATION_MOMENTUM = 0.9
# Keras draws a layer's default seed as random.randint(1, this) (`make_default_seed`).
KERAS_DEFAULT_SEED_HIGH = 10**9


# The "one_cycle" schedule (Smith's one-cycle policy, as fastai's fit_one_cycle runs it):
# the learning rate climbs linearly from learning_rate / ONE_CYCLE_START_DIVISOR to
# learning_rate over the first ONE_CYCLE_WARMUP_FRACTION of the steps, then anneals along a
# cosine to zero. The climb lets a high peak rate be used without diverging at the start.
ONE_CYCLE_WARMUP_FRACTION = 0.25


ONE_CYCLE_START_DIVISOR = 25.0


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


def make_optimizer(config: ModelConfig, steps: int) -> Any:
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


def accuracy_metric(config: ModelConfig) -> Any:
    import keras

    # Keras' plain "accuracy" becomes binary accuracy with binary_crossentropy, which reads
    # about 98% for a model that is guessing: always measure the accuracy of the ten classes.
    if uses_sparse_labels(config):
        return keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    return keras.metrics.CategoricalAccuracy(name="accuracy")


class LayerSeeds:
    """The seeds of a network's random layers, drawn in the order the layers are made.

    Left to itself, Keras gives each new random initializer and dropout layer a seed drawn from
    Python's shared `random` module, which `keras.utils.set_random_seed` seeds. Any other thread
    of the process that draws from it meanwhile (a Dask worker's own, say) changes the network:
    with a thread calling `random.random()` beside it, `dense_fast` (1 epoch, 1,000 images)
    ended at 72.98%, 77.36% and 72.96% instead of 71.19% (2026-12-05), and one run in 22
    identical ones on the engine's workers came back different. These seeds come from a
    generator of the run's own, seeded alike and drawn the same way (`random.randint(1,
    10**9)`, Keras' `make_default_seed`), so the network is the one an undisturbed
    `keras.utils.set_random_seed(seed)` gives (the exported script's), whatever else the
    process does.
    """

    def __init__(self, seed: int) -> None:
        self._generator = random.Random(seed)

    def next_seed(self) -> int:
        """The next layer's seed."""
        return self._generator.randint(1, KERAS_DEFAULT_SEED_HIGH)

    def glorot(self) -> Any:
        """A Glorot-uniform kernel initializer (Keras' default) with the next seed."""
        import keras

        return keras.initializers.GlorotUniform(seed=self.next_seed())


def build_model(
    config: ModelConfig, training_images: int = 60000, *, freeze_batch_normalization: bool = False
) -> Any:
    """Build and compile the Keras model that `config` describes.

    Args:
        config: the model and training description; validated first.
        training_images: training images available (before the validation split); only the
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
    seeds = LayerSeeds(config.seed)
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
                hidden = layers.Dense(
                    units, use_bias=False, kernel_initializer=seeds.glorot(), name=f"dense_{number}"
                )(hidden)
                hidden = layers.BatchNormalization(
                    momentum=HIDDEN_BATCH_NORMALIZATION_MOMENTUM,
                    name=f"batch_normalization_{number}",
                )(hidden)
                hidden = layers.Activation(activation, name=f"{activation}_{number}")(hidden)
            else:
                hidden = layers.Dense(
                    units,
                    activation=activation,
                    kernel_initializer=seeds.glorot(),
                    name=f"dense_{number}",
                )(hidden)
            if dropout_rate > 0:
                hidden = layers.Dropout(
                    dropout_rate, seed=seeds.next_seed(), name=f"dropout_{number}"
                )(hidden)
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
                kernel_initializer=seeds.glorot(),
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
                hidden = layers.Dropout(
                    dropout_rate, seed=seeds.next_seed(), name=f"dropout_{number}"
                )(hidden)
        hidden = layers.Flatten(name="flatten")(hidden)
        if config.dense_units > 0:
            hidden = layers.Dense(
                config.dense_units,
                activation="relu",
                kernel_initializer=seeds.glorot(),
                name="dense",
            )(hidden)
            if config.dense_dropout_rate > 0:
                hidden = layers.Dropout(
                    config.dense_dropout_rate, seed=seeds.next_seed(), name="dense_dropout"
                )(hidden)
    outputs = layers.Dense(
        NUM_CLASSES, activation="softmax", kernel_initializer=seeds.glorot(), name="probabilities"
    )(hidden)
    model = keras.Model(inputs, outputs, name=f"{config.architecture}_model")
    if freeze_batch_normalization:
        for layer in model.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False  # Keras 3: a frozen layer also runs in inference mode
    model.compile(
        optimizer=make_optimizer(config, steps_per_epoch(config, training_images)),
        loss=config.loss,
        metrics=[accuracy_metric(config)],
    )
    return model
