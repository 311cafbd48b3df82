"""How to train a run again with Keras alone, as one ordered list of steps: the one description
that both the exported script (`teaching.script`) and the exported notebook
(`teaching.notebook`, `teaching.lesson_notebook`) are assembled from.

`run_recipe(config, medium)` gives, for one `ModelConfig`, the settings block and the steps in
order. A step has a title and a "why" (a notebook's markdown cell, a script's comment), the
imports it needs, the functions or classes it defines, and its code written at top level: a
notebook runs it as a cell, the script indents it into `main()`. Some steps only make sense in
a notebook (a figure with matplotlib); a step says in which media it appears.

The code reads two names a student changes before running it, `data_file` (an `.npz`, or ""
for Keras' own loader) and `epochs`, and the settings' CONSTANTS (BATCH_SIZE, SEED, ...).
The medium only changes wording: how to train offline ("--data FILE", or `data_file`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mnist_core.data.format import DATASET_TITLES, class_names_of
from mnist_core.modeling import build as build_module
from mnist_core.modeling.config import ModelConfig, uses_sparse_labels
from mnist_core.teaching import recipe_figures
from mnist_core.teaching.recipe_step import (
    SCRIPT,
    SCRIPT_ONLY,
    Step,
    check_medium,
)
from mnist_core.teaching.script_network import (
    LOSS_WORDS,
    OPTIMIZER_WORDS,
    augmentation_definition,
    compile_definition,
    join_sizes,
    network_definition,
    number_text,
    percent_text,
)

# The imports of the standard library, listed before keras, numpy and matplotlib.
_STANDARD_MODULES = ("argparse", "math", "os", "time")
_DATASET_LOADERS = {"mnist": "mnist", "fashion_mnist": "fashion_mnist"}


@dataclass(frozen=True)
class Recipe:
    """A config's steps, in order, with what they share.

    Attributes:
        config: what is trained.
        description: the whole run in one paragraph.
        settings: the settings block: CONSTANTS a student may change, commented.
        steps: every step, in order, for any medium (see `for_medium`).
    """

    config: ModelConfig
    description: str
    settings: tuple[str, ...]
    steps: tuple[Step, ...]

    def for_medium(self, medium: str) -> list[Step]:
        """The steps that appear in `medium` (SCRIPT or NOTEBOOK), in order."""
        check_medium(medium)
        return [step for step in self.steps if medium in step.media]

    def step(self, key: str) -> Step:
        """The step called `key` (ValueError naming the keys when there is none)."""
        for step in self.steps:
            if step.key == key:
                return step
        keys = ", ".join(step.key for step in self.steps)
        raise ValueError(f"step must be one of {keys}, got {key!r}.")


def run_recipe(config: ModelConfig, medium: str) -> Recipe:
    """The steps that train `config` again with keras, numpy (and matplotlib in a notebook).

    Args:
        config: what to build and train (the exporter checks it first).
        medium: SCRIPT or NOTEBOOK: only the wording of how to train offline differs.
    """
    check_medium(medium)
    steps = [
        _load_step(config, medium),
        recipe_figures.look_step(),
        _scale_step(config),
        _validation_step(config),
        _labels_step(config),
        _network_step(config),
        _compile_step(config),
        _build_model_step(),
        _summary_step(),
        _fit_step(config),
        recipe_figures.curves_step(),
        _test_step(),
        recipe_figures.one_digit_step(),
        recipe_figures.noise_step(),
        recipe_figures.confusion_step(),
        recipe_figures.confusion_figure_step(),
        recipe_figures.report_step(),
    ]
    return Recipe(config, describe(config), tuple(settings_lines(config)), tuple(steps))


def network_words(config: ModelConfig) -> str:
    """The network in words: "A dense network with hidden layers of 512 and 256 units"."""
    if config.architecture == "dense":
        if config.layer_sizes:
            return "A dense network with hidden layers of " + join_sizes(
                config.layer_sizes, "units"
            )
        return "Softmax regression (no hidden layer)"
    network = "A convolutional network with " + join_sizes(config.layer_sizes, "filters")
    if config.dense_units:
        network += f" and a dense layer of {config.dense_units} units"
    return network


def describe(config: ModelConfig) -> str:
    """The whole run in one sentence: network, data, optimizer, loss, epochs, validation."""
    network = network_words(config)
    schedule = {
        "constant": "",
        "cosine": ", cosine schedule",
        "one_cycle": ", one-cycle schedule",
    }[config.learning_rate_schedule]
    validation = (
        f"{percent_text(config.validation_split)} of the training images held out to validate"
        if config.validation == "split"
        else "validated on the test set, as the notebooks do"
    )
    return (
        f"{network}, trained on {DATASET_TITLES[config.dataset]} with {config.optimizer} "
        f"(learning rate {number_text(config.learning_rate)}{schedule}) and the {config.loss} "
        f"loss for {config.epochs} epoch(s) of batch {config.batch_size}, {validation}."
    )


def settings_lines(config: ModelConfig) -> list[str]:
    """The run's settings as commented CONSTANTS (the epochs are a parameter of their own)."""
    lines = [
        f"BATCH_SIZE = {config.batch_size}  # images per step of the optimizer",
        f"LEARNING_RATE = {number_text(config.learning_rate)}",
    ]
    if config.optimizer == "sgd":
        lines.append(
            f"MOMENTUM = {number_text(config.momentum)}  # 0: plain SGD; more: each step keeps "
            "some of the last one"
        )
    if config.validation == "split":
        lines.append(
            f"VALIDATION_SPLIT = {number_text(config.validation_split)}  # the last "
            f"{percent_text(config.validation_split)} of the training images validate"
        )
    lines.append(f"SEED = {config.seed}  # the same seed gives the same starting weights")
    if config.batch_normalization:
        lines.append(
            f"BATCH_NORMALIZATION_MOMENTUM = "
            f"{number_text(build_module.HIDDEN_BATCH_NORMALIZATION_MOMENTUM)}  # how fast the "
            "statistics used at test time follow the batches"
        )
    if config.augments:
        lines += [
            "# Random changes to the training images, 0 meaning off:",
            f"AUGMENT_SHIFT = {number_text(config.augment_shift)}  # fraction of the image size",
            f"AUGMENT_ROTATION = {number_text(config.augment_rotation)}  # degrees",
            f"AUGMENT_ZOOM = {number_text(config.augment_zoom)}  # fraction",
            f"AUGMENT_STROKE = {number_text(config.augment_stroke)}  # probability of a thicker "
            "or thinner stroke",
        ]
    return lines


def import_lines(steps: Iterable[Step], extra: Sequence[str] = ()) -> list[str]:
    """The imports of `steps` (and `extra`), once each: the standard library, a blank line,
    then keras, numpy and matplotlib."""
    wanted = set(extra)
    for step in steps:
        wanted.update(step.imports)

    def module(line: str) -> str:
        return line.split()[1].split(".")[0]

    def order(line: str) -> tuple[bool, str]:
        return (line.startswith("from "), line)

    standard = sorted((line for line in wanted if module(line) in _STANDARD_MODULES), key=order)
    others = sorted((line for line in wanted if module(line) not in _STANDARD_MODULES), key=order)
    return standard + ([""] if standard and others else []) + others


# --- the steps ---------------------------------------------------------------------------------
def _load_step(config: ModelConfig, medium: str) -> Step:
    title = DATASET_TITLES[config.dataset]
    loader = _DATASET_LOADERS[config.dataset]
    if medium == SCRIPT:
        offline = "pass --data FILE: an .npz with x_train, y_train, x_test, y_test."
        where = "`--data FILE` names"
        failure = "raise SystemExit("
        prefix = "error: "
    else:
        offline = "set data_file (or MNIST_NPZ) to an .npz with x_train, y_train, x_test, y_test."
        where = "`data_file` (in the first code cell) names"
        failure = "raise RuntimeError("
        prefix = ""
    names = list(class_names_of(config.dataset))
    return Step(
        "load",
        "Load the data",
        f"Keras downloads {title} once: 60,000 training and 10,000 test images of 28x28 grey "
        "levels (0 to 255), each with its label. Without the internet, "
        f"{where} an `.npz` file with the same four arrays (`x_train`, `y_train`, `x_test`, "
        "`y_test`), such as the `mnist.npz` the MNIST Playground keeps in its data folder.",
        code=(
            "(x_train, y_train), (x_test, y_test) = load_data(data_file)",
            f"CLASS_NAMES = {json.dumps(names)}",
            'print(f"training images {x_train.shape}, test images {x_test.shape}, "',
            '      f"the first labels {y_train[:10]}")',
        ),
        definitions=(
            "def load_data(path):",
            f'    """{title}: training and test images (uint8, 28x28) and their labels 0-9.',
            "",
            "    From `path` (an .npz with x_train, y_train, x_test and y_test) when given, else",
            "    from Keras' own loader, which downloads the data once.",
            '    """',
            "    if path:",
            "        with np.load(path) as data:",
            '            return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])',
            "    try:",
            f"        return keras.datasets.{loader}.load_data()",
            "    except Exception as error:  # no internet: say how to train offline",
            f"        {failure}",
            f'            f"{prefix}Keras could not download {title} ({{error}}). Without the "',
            f'            "internet, {offline}"',
            "        ) from None",
        ),
        imports=("import keras", "import numpy as np"),
    )


def _scale_step(config: ModelConfig) -> Step:
    if config.architecture == "dense":
        shape = (
            "The network takes each image as it is, 28x28: its first layer (`Flatten`) lays "
            "the rows end to end into a vector of 784 numbers, what the notebooks did with "
            "`x_train.reshape(60000, 784)`."
        )
    else:
        shape = (
            "The network takes each image as it is, 28x28: its first layer (`Reshape`) adds "
            "a channel axis, 28x28x1, the shape a convolution expects (one grey channel)."
        )
    return Step(
        "scale",
        "Reshape and scale the images",
        f"{shape} The grey levels 0-255 become floats in [0, 1]: small inputs keep the first "
        "steps of training calm.",
        code=(
            'x_train = x_train.astype("float32") / 255.0',
            'x_test = x_test.astype("float32") / 255.0',
            'print(f"pixels now from {x_train.min()} to {x_train.max()}; one image is "',
            '      f"{x_train[0].shape}, {x_train[0].size} numbers")',
        ),
    )


def _validation_step(config: ModelConfig) -> Step:
    if config.validation == "split":
        return Step(
            "validation",
            "Hold out images to validate on",
            f"The last {percent_text(config.validation_split)} of the training images "
            "(`VALIDATION_SPLIT`) are held out: the network never trains on them, so its "
            "accuracy on them after every epoch measures how well it generalises.",
            code=(
                "held_out = max(1, int(round(len(x_train) * VALIDATION_SPLIT)))",
                "x_val, y_val = x_train[-held_out:], y_train[-held_out:]",
                "x_train, y_train = x_train[:-held_out], y_train[:-held_out]",
                'print(f"{len(x_train)} images to train on, {len(x_val)} to validate on")',
            ),
        )
    return Step(
        "validation",
        "Validate on the test set",
        "As the notebooks do, the run validates on the test set after every epoch. It is "
        "quick to read, but the test set then no longer measures images the choices were not "
        "made on.",
        code=(
            "x_val, y_val = x_test, y_test",
            'print(f"{len(x_train)} images to train on, the {len(x_val)} test images to '
            'validate on")',
        ),
    )


def _labels_step(config: ModelConfig) -> Step:
    if uses_sparse_labels(config):
        return Step(
            "labels",
            "Keep the labels as digits",
            "The sparse loss takes the digit itself (3) as the label: no one-hot vector.",
            code=(
                "test_digits = y_test  # the labels as digits, for the figures at the end",
                'y_train, y_val, y_test = (y.astype("int64") for y in (y_train, y_val, y_test))',
                'print(f"the first training label stays the digit {y_train[0]}")',
            ),
        )
    return Step(
        "labels",
        "One-hot labels",
        f"The {config.loss} loss compares the network's ten probabilities with ten numbers: "
        "the label 3 becomes [0, 0, 0, 1, 0, 0, 0, 0, 0, 0] (`to_categorical`), the "
        "probabilities a perfect network would give.",
        code=(
            "test_digits = y_test  # the labels as digits, for the figures at the end",
            'print(f"the first training label, {y_train[0]}, becomes ", end="")',
            "y_train, y_val, y_test = (",
            "    keras.utils.to_categorical(y, 10) for y in (y_train, y_val, y_test)",
            ")",
            "print(y_train[0])",
        ),
        imports=("import keras",),
    )


def _network_step(config: ModelConfig) -> Step:
    if config.architecture == "dense" and not config.layer_sizes:
        how = "Each output is a weighted sum of the 784 pixels: the baseline to beat."
    elif config.architecture == "dense":
        how = (
            "Each hidden unit is a weighted sum of all the values before it, then an "
            "activation; dropout (when on) switches units off at random while training."
        )
    else:
        how = (
            "Each convolution slides small filters over the image and keeps, after 2x2 max "
            "pooling, the strongest response of each patch; dense layers then combine the "
            "features."
        )
    return Step(
        "network",
        "Build the network",
        f"{network_words(config)}. {how} The ten outputs are the "
        "probabilities of the ten classes (softmax). The layers carry the MNIST "
        "Playground's names, and `SEED` gives the run's starting weights.",
        code=("model = build_network()",),
        definitions=tuple(network_definition(config)),
        imports=("import keras", "from keras import layers"),
    )


def _compile_step(config: ModelConfig) -> Step:
    schedule = {
        "constant": "The learning rate stays the same for the whole run.",
        "cosine": "The learning rate falls along a cosine from `LEARNING_RATE` to zero over "
        "the run: big steps early, a calm finish.",
        "one_cycle": "The learning rate first climbs to `LEARNING_RATE` over a quarter of the "
        "run, then falls along a cosine to zero: the climb lets a high peak rate work.",
    }[config.learning_rate_schedule]
    return Step(
        "compile",
        "Choose the loss and the optimizer",
        f"The loss says how wrong the network is. {LOSS_WORDS[config.loss]}. The optimizer "
        f"says how to change the weights. {OPTIMIZER_WORDS[config.optimizer]}, here at "
        f"learning rate {number_text(config.learning_rate)}. {schedule}",
        code=("compile_model(model, len(x_train), epochs)",),
        definitions=tuple(compile_definition(config)),
        imports=("import keras",)
        + (("import math",) if config.learning_rate_schedule != "constant" else ()),
    )


def _build_model_step() -> Step:
    return Step(
        "build_model",
        "Build and compile in one call",
        "`build_model` is the two steps above in one function.",
        definitions=(
            "def build_model(training_images, epochs):",
            '    """The network, compiled: build_network() and compile_model() in one call.',
            "",
            "    Args:",
            "        training_images: the number of training images (the schedule counts steps).",
            "        epochs: the number of epochs it will train for.",
            '    """',
            "    model = build_network()",
            "    compile_model(model, training_images, epochs)",
            "    return model",
        ),
        media=SCRIPT_ONLY,
    )


def _summary_step() -> Step:
    return Step(
        "summary",
        "The model summary",
        "Every layer with the shape of its output and its number of weights and biases "
        "(parameters); their total is the size of the network.",
        code=("model.summary()", 'print(f"parameters: {model.count_params()}")'),
    )


def _fit_step(config: ModelConfig) -> Step:
    if config.augments:
        fit = (
            "    AugmentedBatches(x_train, y_train),",
            "    epochs=epochs,",
        )
        how = (
            " Every batch is changed at random first (shifted, rotated, zoomed, strokes "
            "thickened or thinned), so the network never sees the same image twice."
        )
    else:
        fit = (
            "    x_train,",
            "    y_train,",
            "    batch_size=BATCH_SIZE,",
            "    epochs=epochs,",
            f"    shuffle={config.shuffle},  # a new order of the images every epoch",
        )
        how = ""
    return Step(
        "fit",
        "Train",
        "`epochs` passes over the training images in batches of `BATCH_SIZE`, one step of "
        f"the optimizer per batch, with the validation loss and accuracy after every epoch.{how} "
        "A loss that becomes infinite or not a number stops the training, as in the app.",
        code=(
            "keras.utils.set_random_seed(SEED)",
            "started = time.perf_counter()",
            "history = model.fit(",
            *fit,
            "    validation_data=(x_val, y_val),",
            "    callbacks=[keras.callbacks.TerminateOnNaN()],",
            "    verbose=2,",
            ")",
            "training_seconds = time.perf_counter() - started",
            "# What the epochs reached, one line each.",
            'for index in range(len(history.history["loss"])):',
            '    shown = ", ".join(',
            '        f"{key} {history.history[key][index]:.4f}"',
            '        for key in ("loss", "accuracy", "val_loss", "val_accuracy")',
            "    )",
            '    print(f"epoch {index + 1}: {shown}")',
            'print(f"trained in {training_seconds:.0f} s")',
        ),
        definitions=tuple(augmentation_definition(config)) if config.augments else (),
        imports=("import keras", "import time")
        + (
            ("import math", "import numpy as np", "from keras import layers")
            if config.augments
            else ()
        ),
    )


def _test_step() -> Step:
    return Step(
        "test",
        "Test accuracy",
        "The test set: images the training never saw. Its accuracy is what the network is "
        "worth on new images.",
        code=(
            "test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)",
            'print(f"test accuracy: {test_accuracy:.2%} (test loss {test_loss:.4f})")',
        ),
    )
