"""The notebooks' lessons as one-click comparisons.

A `Lesson` is one request: its runs are queued together (the engine lets a request use every
free worker), overlaid on one chart, and followed by sentences computed from their results by
`lesson_conclusions` ("adam reached 97.1% test accuracy after 3 epochs, sgd 61.4%"), never
written in advance. Each run starts from a notebook preset and changes one thing.

By default a lesson trains on a subset of the training images for few epochs, so that on an
idle 2-core machine it ends within about 90 s (`make bench` measures each one,
bench/lessons.py); `requests(full_data=True)` trains on all 60,000 images for the presets' own
epochs. The test figures are always on the whole test set, so any two runs compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mnist_core.modeling.config import (
    ModelConfig,
    validate_config,
)
from mnist_core.modeling.presets import get_preset
from mnist_core.runs.request import RunRequest

# Conclusions a lesson asks for besides the accuracy of each run.
FOCUS_PARAMETERS = "parameters"  # parameter counts, and what they bought
FOCUS_GAP = "gap"  # training accuracy against validation accuracy (overfitting)
FOCUS_SPEED = "speed"  # training time and images a second
FOCUS_LOSS = "loss"  # how far the training loss fell
FOCUS_FIRST_EPOCH = "first_epoch"  # the first epoch that reached a validation accuracy
FOCUSES = (FOCUS_PARAMETERS, FOCUS_GAP, FOCUS_SPEED, FOCUS_LOSS, FOCUS_FIRST_EPOCH)


@dataclass(frozen=True)
class LessonRun:
    """One run of a lesson: a preset with some settings changed.

    Attributes:
        label: its name on the chart and in the sentences (e.g. "adam").
        preset: the notebook preset it starts from.
        changes: (config field, value) pairs applied to the preset's config.
    """

    label: str
    preset: str
    changes: tuple[tuple[str, Any], ...] = ()

    def config(self) -> ModelConfig:
        """The preset's config with the changes applied."""
        return get_preset(self.preset).config.replace(**dict(self.changes))


@dataclass(frozen=True)
class Lesson:
    """A comparison that teaches one thing.

    Attributes:
        name: short id (the runs' `lesson` tag).
        title: one line for the page.
        what_to_look_for: two or three lines saying what the chart shows.
        runs: the runs, in the order they are shown.
        training_images: training images of the quick default (before the validation split).
        epochs: epochs of the quick default (None: the presets' own).
        focus: which conclusions besides accuracy (see FOCUSES).
        notebook: the notebook it comes from, if any (e.g. "001").
    """

    name: str
    title: str
    what_to_look_for: str
    runs: tuple[LessonRun, ...]
    training_images: int
    epochs: int | None = None
    focus: tuple[str, ...] = ()
    notebook: str = ""

    def configs(self, full_data: bool = False) -> list[ModelConfig]:
        """The config of every run (the quick default, or the presets' own epochs)."""
        configs = []
        for lesson_run in self.runs:
            config = lesson_run.config()
            if not full_data and self.epochs is not None:
                config = config.replace(epochs=self.epochs)
            configs.append(config)
        return configs

    def requests(self, full_data: bool = False) -> list[RunRequest]:
        """The lesson's runs, to submit together as one request.

        Args:
            full_data: all 60,000 training images and the presets' own epochs (default False:
                `training_images` images and `epochs` epochs, about 90 s on an idle machine).
        """
        return [
            RunRequest(
                config,
                preset=lesson_run.preset,
                lesson=self.name,
                label=lesson_run.label,
                training_images=None if full_data else self.training_images,
            )
            for lesson_run, config in zip(self.runs, self.configs(full_data))
        ]


def _changes(**fields: Any) -> tuple[tuple[str, Any], ...]:
    return tuple(fields.items())


_LESSONS = (
    Lesson(
        name="loss_and_optimizer",
        title="Mean squared error with SGD against binary cross-entropy with adam",
        what_to_look_for=(
            "The same network, trained two ways. With mean squared error and plain SGD the "
            "loss barely moves and the accuracy stays near chance for epochs; with a "
            "cross-entropy loss and adam it climbs past 90% within a few. The loss and the "
            "optimizer, not the layers, make the difference."
        ),
        runs=(
            LessonRun("mse + sgd", "sigmoid_mse_sgd"),
            LessonRun("binary cross-entropy + adam", "relu_binary_crossentropy_adam"),
        ),
        training_images=12000,
        epochs=5,
        focus=(FOCUS_LOSS, FOCUS_FIRST_EPOCH),
        notebook="000, 001",
    ),
    Lesson(
        name="optimizers",
        title="SGD against adam against RMSprop on the same network",
        what_to_look_for=(
            "Three optimizers, each at its usual learning rate, on the notebook's 512-512 relu "
            "network. Watch the first epoch: adam and RMSprop adapt each weight's step and "
            "get far ahead at once; plain SGD climbs steadily but slowly."
        ),
        runs=(
            LessonRun("sgd", "relu_512_512_rmsprop", _changes(optimizer="sgd", learning_rate=0.01)),
            LessonRun("adam", "relu_512_512_rmsprop", _changes(optimizer="adam")),
            LessonRun("rmsprop", "relu_512_512_rmsprop"),
        ),
        training_images=8000,
        epochs=3,
        focus=(FOCUS_FIRST_EPOCH, FOCUS_LOSS),
        notebook="001",
    ),
    Lesson(
        name="deeper_or_wider",
        title="A deeper network against a wider one",
        what_to_look_for=(
            "Two relu networks: two wide layers (784 and 128 units) against four narrower ones "
            "(256, 64, 64 and 32). Compare the parameter counts with the accuracies: more "
            "weights are not always more accuracy, and depth is not free either."
        ),
        runs=(
            LessonRun("wider 784-128", "relu_784_128_adam"),
            LessonRun(
                "deeper 256-64-64-32",
                "relu_deep_binary_crossentropy",
                _changes(loss="categorical_crossentropy"),
            ),
        ),
        training_images=12000,
        epochs=5,
        focus=(FOCUS_PARAMETERS, FOCUS_GAP),
        notebook="002",
    ),
    Lesson(
        name="dropout",
        title="Dropout off against on",
        what_to_look_for=(
            "A large network on few images learns them by heart: its training accuracy "
            "reaches 100%, its training loss falls to almost nothing, and its validation loss "
            "turns back up after a few epochs. Dropout switches half the units off at random "
            "in training: watch how it changes the gap between the curves."
        ),
        runs=(
            LessonRun(
                "no dropout",
                "relu_512_512_rmsprop",
                _changes(validation="split", validation_split=0.2, batch_size=64),
            ),
            LessonRun(
                "dropout 0.5",
                "relu_512_512_rmsprop",
                _changes(
                    validation="split",
                    validation_split=0.2,
                    batch_size=64,
                    layer_dropout_rates=(0.5, 0.5),
                ),
            ),
        ),
        training_images=3000,
        epochs=20,
        focus=(FOCUS_GAP,),
        notebook="002",
    ),
    Lesson(
        name="batch_normalization",
        title="Batch normalisation off against on",
        what_to_look_for=(
            "Four sigmoid layers trained with plain SGD, as in notebook 003. Without batch "
            "normalisation, and with only the input normalised as in the notebook (which "
            "trains 50 epochs), the first epochs stall near chance: the signal fades through "
            "the layers. Normalising every layer's output trains at once."
        ),
        runs=(
            LessonRun(
                "off", "batch_normalized_sigmoid_sgd", _changes(input_batch_normalization=False)
            ),
            LessonRun("input only", "batch_normalized_sigmoid_sgd"),
            LessonRun(
                "every layer",
                "batch_normalized_sigmoid_sgd",
                _changes(batch_normalization=True),
            ),
        ),
        training_images=8000,
        epochs=5,
        focus=(FOCUS_FIRST_EPOCH, FOCUS_LOSS),
        notebook="003",
    ),
    Lesson(
        name="dense_or_cnn",
        title="A dense network against a convolutional one",
        what_to_look_for=(
            "The quickest dense network against the CNN. The CNN's filters look at small "
            "patches wherever they are in the image, so it makes fewer mistakes with fewer "
            "parameters, but every image costs it more computation: compare the time."
        ),
        runs=(
            LessonRun("dense", "dense_fast"),
            LessonRun("cnn", "cnn_fast"),
        ),
        training_images=10000,
        epochs=3,
        focus=(FOCUS_PARAMETERS, FOCUS_SPEED),
    ),
    Lesson(
        name="learning_rate",
        title="A learning rate too small, about right, too large",
        what_to_look_for=(
            "The same network with three learning rates. Too small: the loss creeps down and "
            "the network is still poor when time runs out. Too large: the steps overshoot, "
            "the loss jumps or explodes and the accuracy stays near chance."
        ),
        runs=(
            LessonRun("tiny rate 0.00001", "relu_784_128_adam", _changes(learning_rate=1e-5)),
            LessonRun("good rate 0.001", "relu_784_128_adam", _changes(learning_rate=1e-3)),
            LessonRun("huge rate 1", "relu_784_128_adam", _changes(learning_rate=1.0)),
        ),
        training_images=8000,
        epochs=3,
        focus=(FOCUS_LOSS, FOCUS_FIRST_EPOCH),
    ),
)

LESSONS: dict[str, Lesson] = {lesson.name: lesson for lesson in _LESSONS}


def get_lesson(name: str) -> Lesson:
    """The lesson called `name`.

    Args:
        name: one of `LESSONS`.
    """
    try:
        return LESSONS[name]
    except KeyError:
        raise ValueError(f"lesson must be one of {', '.join(LESSONS)}, got {name!r}.") from None


def check_lessons() -> None:
    """Validate every lesson's configs (a test calls it; a bad lesson fails loudly)."""
    for lesson in LESSONS.values():
        labels = [lesson_run.label for lesson_run in lesson.runs]
        if len(set(labels)) != len(labels):
            raise ValueError(f"lesson {lesson.name!r} has repeated labels: {labels}.")
        unknown = sorted(set(lesson.focus) - set(FOCUSES))
        if unknown:
            raise ValueError(f"lesson {lesson.name!r} has unknown focus {unknown}.")
        for full_data in (False, True):
            for config in lesson.configs(full_data):
                validate_config(config)
