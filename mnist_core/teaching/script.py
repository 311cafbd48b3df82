"""The standalone Keras script of a config, written as a lesson: data, network, training, test.

`ScriptWriter(config).script(...)` writes it; `export.training_script` and
`export.script_for_run` are how the rest of the project asks for one."""

from __future__ import annotations

import datetime

from mnist_core.data.format import DATASET_TITLES
from mnist_core.modeling import build as build_module
from mnist_core.modeling.config import (
    ModelConfig,
    uses_sparse_labels,
)
from mnist_core.teaching.script_network import (
    NetworkLines,
    join_sizes,
    number_text,
    percent_text,
    wrapped,
)

_OPTIMIZER_CLASSES = {
    "sgd": "SGD",
    "adam": "Adam",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
    "adamw": "AdamW",
}


_OPTIMIZER_WORDS = {
    "sgd": "Plain stochastic gradient descent moves every weight against its gradient, times "
    "the learning rate",
    "adam": "Adam gives each weight its own step size, from running averages of its gradients "
    "and of their squares",
    "rmsprop": "RMSprop divides each weight's step by a running average of its squared gradients",
    "adagrad": "Adagrad shrinks each weight's step as its squared gradients add up",
    "adamw": "AdamW is adam with weight decay, which pulls every weight a little towards zero",
}


_LOSS_WORDS = {
    "mse": "Mean squared error compares the ten probabilities with the one-hot label, number "
    "by number (the notebooks show how slowly it learns)",
    "binary_crossentropy": "Binary cross-entropy scores each of the ten outputs as its own "
    "yes-or-no question",
    "categorical_crossentropy": "Categorical cross-entropy is minus the log of the probability "
    "given to the right class",
    "sparse_categorical_crossentropy": "Sparse categorical cross-entropy is categorical "
    "cross-entropy for labels given as integers",
}


_DATASET_LOADERS = {"mnist": "mnist", "fashion_mnist": "fashion_mnist"}


class ScriptWriter(NetworkLines):
    """Writes the script of one config, block by block."""

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self.sparse = uses_sparse_labels(config)
        self.dataset_title = DATASET_TITLES[config.dataset]

    # --- the whole script --------------------------------------------------------------------
    def script(
        self, title: str, caveats: list[str], parameter_count: int | None, file_name: str
    ) -> str:
        config = self.config
        command = f"python {file_name}"
        pad = " " * len(command)
        lines = [
            "#!/usr/bin/env python3",
            f'"""{title}',
            "",
            *wrapped(self._describe(), 92),
            "",
            "Run it:",
            "",
            f"    {command}                    # the data from Keras' own loader (internet)",
            f"    {command} --data mnist.npz   # offline: an .npz with x_train, y_train,",
            f"    {pad}                    # x_test and y_test (uint8, as Keras gives)",
            f"    {command} --epochs 2         # other than the run's {config.epochs} epoch(s)",
            "",
            "Needs only keras (3, with its TensorFlow, JAX or PyTorch backend) and numpy. It prints",
            "the model summary with its parameter count, one line an epoch, and the test accuracy.",
            "Exported by the MNIST Playground on " + datetime.date.today().isoformat() + ".",
            '"""',
        ]
        if caveats:
            lines += ["", "# What this script does not reproduce:"]
            for caveat in caveats:
                lines += wrapped(caveat, 90, first="# - ", rest="#   ")
        if parameter_count is not None:
            lines += [
                "",
                f"# The run's model had {parameter_count:,} parameters; so does this one.",
            ]
        lines += [
            "",
            "import argparse",
            "import math",
            "",
            "import keras",
            "import numpy as np",
            "from keras import layers",
            "",
            *self._settings(),
            "",
            "",
            *self._load_data(),
            "",
            "",
            *self._build_model(),
        ]
        if config.augments:
            lines += ["", "", *self._augmentation()]
        lines += ["", "", *self._main(), "", "", 'if __name__ == "__main__":', "    main()", ""]
        return "\n".join(lines)

    def _describe(self) -> str:
        config = self.config
        if config.architecture == "dense":
            if config.layer_sizes:
                network = "A dense network with hidden layers of " + join_sizes(
                    config.layer_sizes, "units"
                )
            else:
                network = "Softmax regression (no hidden layer)"
        else:
            network = "A convolutional network with " + join_sizes(config.layer_sizes, "filters")
            if config.dense_units:
                network += f" and a dense layer of {config.dense_units} units"
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
            f"{network}, trained on {self.dataset_title} with {config.optimizer} (learning "
            f"rate {number_text(config.learning_rate)}{schedule}) and the {config.loss} loss for "
            f"{config.epochs} epoch(s) of batch {config.batch_size}, {validation}."
        )

    # --- the settings block ------------------------------------------------------------------
    def _settings(self) -> list[str]:
        config = self.config
        lines = [
            "# The run's settings. Change one, train again, and see what it does.",
            f"EPOCHS = {config.epochs}",
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
                f"AUGMENT_STROKE = {number_text(config.augment_stroke)}  # probability of a thicker or "
                "thinner stroke",
            ]
        return lines

    # --- loading the data --------------------------------------------------------------------
    def _load_data(self) -> list[str]:
        loader = _DATASET_LOADERS[self.config.dataset]
        title = self.dataset_title
        return [
            "def load_data(path):",
            f'    """{title}: 60,000 training and 10,000 test images (uint8, 28x28) and labels 0-9.',
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
            "        raise SystemExit(",
            f'            f"error: Keras could not download {title} ({{error}}). Without the "',
            '            "internet, pass --data FILE: an .npz with x_train, y_train, x_test, y_test."',
            "        ) from None",
        ]

    # --- the network -------------------------------------------------------------------------
    def _main(self) -> list[str]:
        config = self.config
        title = self.dataset_title
        lines = [
            "def main():",
            "    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])",
            "    parser.add_argument(",
            '        "--epochs", type=int, default=EPOCHS, help=f"epochs to train (default {EPOCHS})"',
            "    )",
            "    parser.add_argument(",
            '        "--data",',
            '        metavar="FILE",',
            '        help="an .npz with x_train, y_train, x_test and y_test (default: Keras\' loader)",',
            "    )",
            "    args = parser.parse_args()",
            "    if args.epochs < 1:",
            '        parser.error(f"--epochs must be at least 1, got {args.epochs}")',
            "",
            f"    # The data: {title}'s images and labels.",
            "    (x_train, y_train), (x_test, y_test) = load_data(args.data)",
            "    # Grey levels 0-255 become floats in [0, 1]: small inputs keep the first steps calm.",
            '    x_train = x_train.astype("float32") / 255.0',
            '    x_test = x_test.astype("float32") / 255.0',
        ]
        if config.validation == "split":
            lines += [
                "    # Validation: the last VALIDATION_SPLIT of the training images are held out;",
                "    # the network never trains on them, so they measure how well it generalises.",
                "    held_out = max(1, int(round(len(x_train) * VALIDATION_SPLIT)))",
                "    x_val, y_val = x_train[-held_out:], y_train[-held_out:]",
                "    x_train, y_train = x_train[:-held_out], y_train[:-held_out]",
            ]
        else:
            lines += [
                "    # Validation on the test set, as the notebooks do (it then no longer measures",
                "    # images the choices were not made on).",
                "    x_val, y_val = x_test, y_test",
            ]
        if self.sparse:
            lines += [
                "    # Integer labels: the sparse loss takes the digit itself (3), no one-hot vector.",
                '    y_train, y_val, y_test = (y.astype("int64") for y in (y_train, y_val, y_test))',
            ]
        else:
            lines += [
                "    # One-hot labels: 3 becomes [0, 0, 0, 1, 0, 0, 0, 0, 0, 0], the ten",
                "    # probabilities the network should give.",
                "    y_train, y_val, y_test = (",
                "        keras.utils.to_categorical(y, 10) for y in (y_train, y_val, y_test)",
                "    )",
            ]
        lines += [
            "",
            "    model = build_model(len(x_train), args.epochs)",
            "    # Every layer with its output shape and its number of weights and biases.",
            "    model.summary()",
            '    print(f"parameters: {model.count_params()}")',
            "",
            "    # Training: EPOCHS passes over the training images in batches of BATCH_SIZE,",
            "    # one optimizer step per batch, with the validation loss and accuracy after",
            "    # every epoch.",
            "    keras.utils.set_random_seed(SEED)",
        ]
        if config.augments:
            lines += [
                "    history = model.fit(",
                "        AugmentedBatches(x_train, y_train),",
                "        epochs=args.epochs,",
                "        validation_data=(x_val, y_val),",
                "        verbose=2,",
                "    )",
            ]
        else:
            lines += [
                "    history = model.fit(",
                "        x_train,",
                "        y_train,",
                "        batch_size=BATCH_SIZE,",
                "        epochs=args.epochs,",
                f"        shuffle={config.shuffle},  # a new order of the images every epoch",
                "        validation_data=(x_val, y_val),",
                "        verbose=2,",
                "    )",
            ]
        lines += [
            "    # What the epochs reached, one line each.",
            '    for index in range(len(history.history["loss"])):',
            '        shown = ", ".join(',
            '            f"{key} {history.history[key][index]:.4f}"',
            '            for key in ("loss", "accuracy", "val_loss", "val_accuracy")',
            "        )",
            '        print(f"epoch {index + 1}: {shown}")',
            "",
            "    # The test set: 10,000 images the training never saw.",
            "    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)",
            '    print(f"test accuracy: {test_accuracy:.2%} (test loss {test_loss:.4f})")',
        ]
        return lines
