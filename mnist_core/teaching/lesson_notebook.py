"""A lesson as a Jupyter notebook: its runs trained one after the other, compared, concluded.

The notebook opens with the lesson's "what to look for" and one cell of parameters (the
training images per run and the epochs, defaulting to the lesson's quick ones, each also read
from an environment variable). Then, once, the data; then one section per run: its settings
as a table and the code that trains it, from the same recipe as a run's own notebook
(`teaching.recipe`). At the end: the runs' curves overlaid in one figure, and the sentences
the app writes under the lesson, computed by the app's own code (`teaching.sentences`,
carried verbatim) from the notebook's results. Keras, numpy and matplotlib only.
"""

from __future__ import annotations

import dataclasses
import inspect
import json

from mnist_core.modeling.config import ModelConfig
from mnist_core.teaching import sentences
from mnist_core.teaching.compare import NOT_APPLICABLE, setting_name, setting_value
from mnist_core.teaching.export import check_exportable, file_stem
from mnist_core.teaching.lessons import Lesson, LessonRun
from mnist_core.teaching.notebook import (
    DATA_FILE_COMMENT,
    EPOCHS_VARIABLE,
    LIBRARIES_WHY,
    NEEDS,
    code_cell,
    markdown_cell,
    new_notebook,
    notebook_text,
    parameter_lines,
)
from mnist_core.teaching.recipe import Recipe, import_lines, network_words, run_recipe
from mnist_core.teaching.recipe_step import NOTEBOOK

# The environment variable of the training images per run (MNIST_NPZ and MNIST_EPOCHS too).
TRAINING_IMAGES_VARIABLE = "MNIST_TRAINING_IMAGES"
# The steps of a run's recipe that each run of a lesson goes through, by cell.
_DATA_STEPS = ("scale", "validation", "labels")
_NETWORK_STEPS = ("network", "compile", "summary")
_TRAINING_STEPS = ("fit", "test")
# Settings the table leaves out when they are off (they would only add rows of zeros).
_OFF_WHEN_ZERO = (
    "augment_shift",
    "augment_rotation",
    "augment_zoom",
    "augment_stroke",
    "redraw_fraction",
    "pen_digit_copies",
)


def lesson_notebook(lesson: Lesson) -> str:
    """The lesson as a Jupyter notebook (`.ipynb` text, nbformat 4, validated).

    Args:
        lesson: the lesson (see `teaching.lessons.LESSONS`).
    """
    configs = lesson.configs()
    for config in configs:
        check_exportable(config)
    recipes = [run_recipe(config, NOTEBOOK) for config in configs]
    steps = [step for recipe in recipes for step in recipe.for_medium(NOTEBOOK)]
    cells = [
        markdown_cell(_introduction(lesson), "intro"),
        code_cell(_parameters(lesson), "parameters"),
        markdown_cell(LIBRARIES_WHY, "imports-why"),
        code_cell(import_lines(steps, extra=("import math",)), "imports"),
    ]
    load = recipes[0].step("load")
    cells += [
        markdown_cell(f"## The data\n\n{load.why}", "load-why"),
        code_cell([*load.definitions, "", "", *load.code, *_KEEP_ALL], "load"),
        markdown_cell(_CHOOSING_WHY, "choose-why"),
        code_cell(_CHOOSE_CODE, "choose"),
        markdown_cell(_RESULTS_WHY, "results-why"),
        code_cell(_RESULTS_CODE, "results"),
    ]
    differing = _differing_fields(configs)
    for number, (lesson_run, config, recipe) in enumerate(
        zip(lesson.runs, configs, recipes), start=1
    ):
        cells.append(
            markdown_cell(_run_heading(number, lesson_run, config, differing), f"run{number}-why")
        )
        settings = [f"# Run {number}, {lesson_run.label}: its settings", *recipe.settings]
        epochs = (
            "epochs_per_run" if lesson.epochs is not None else f"epochs_per_run or {config.epochs}"
        )
        cells.append(code_cell([*settings, f"epochs = {epochs}"], f"run{number}-settings"))
        data = [
            f"# Run {number}'s training images: training_images of them, chosen with its seed.",
            "chosen = choose_training_images(all_y_train, training_images, SEED)",
            "x_train, y_train = all_x_train[chosen], all_y_train[chosen]",
            "x_test, y_test = all_x_test, all_y_test",
        ]
        for key in _DATA_STEPS:
            data += ["", f"# {recipe.step(key).title}", *recipe.step(key).code]
        cells.append(code_cell(data, f"run{number}-data"))
        cells.append(code_cell(_step_lines(recipe, _NETWORK_STEPS), f"run{number}-network"))
        training = _step_lines(recipe, _TRAINING_STEPS)
        label = json.dumps(lesson_run.label, ensure_ascii=False)
        training += [
            "",
            "# Keep its figures for the comparison at the end.",
            f"results[{label}] = run_result(",
            f"    {label}, history, epochs, test_accuracy, model.count_params(),",
            "    training_seconds, len(x_train),",
            ")",
        ]
        cells.append(code_cell(training, f"run{number}-training"))
    cells += [
        markdown_cell(_SIDE_BY_SIDE_WHY, "curves-why"),
        code_cell(_SIDE_BY_SIDE_CODE, "curves"),
        markdown_cell(_conclusions_why(lesson), "conclusions-why"),
        code_cell(inspect.getsource(sentences).splitlines(), "sentences"),
        code_cell(
            [
                f"LESSON_FOCUS = {list(lesson.focus)!r}  # what the lesson looks at besides accuracy",
                'print("What the lesson shows:")',
                "for sentence in lesson_sentences(list(results.values()), LESSON_FOCUS):",
                '    print("-", sentence)',
            ],
            "conclusions",
        ),
        markdown_cell(_next_steps(lesson), "next"),
    ]
    return notebook_text(new_notebook(cells))


def lesson_notebook_file_name(lesson: Lesson) -> str:
    """A file name for a lesson's notebook, e.g. `lesson_optimizers.ipynb`."""
    return f"lesson_{file_stem(lesson.name)}.ipynb"


def _introduction(lesson: Lesson) -> str:
    runs = "\n".join(
        f"{number}. **{lesson_run.label}** (from the preset `{lesson_run.preset}`)"
        for number, lesson_run in enumerate(lesson.runs, start=1)
    )
    origin = f" It comes from the Keras notebook(s) {lesson.notebook}." if lesson.notebook else ""
    return (
        f"# Lesson: {lesson.title}\n\n"
        f"**What to look for.** {lesson.what_to_look_for}\n\n"
        f"The lesson trains {len(lesson.runs)} networks on the same images, one after the "
        f"other, then puts their curves side by side and says what the figures show.{origin}\n\n"
        f"{runs}\n\n"
        "Run the cells one after the other (Shift+Enter), or all at once (Run All). The first "
        "code cell holds what you may change: the data file, how many training images each "
        f"run gets and how many epochs it trains. {NEEDS}\n\n"
        "*Exported by the MNIST Playground.*"
    )


def _parameters(lesson: Lesson) -> list[str]:
    full_epochs = ", ".join(str(config.epochs) for config in lesson.configs(full_data=True))
    if lesson.epochs is not None:
        epochs_default = str(lesson.epochs)
        epochs_comment = (
            f"Epochs per run (the lesson's quick default: {lesson.epochs}; the notebooks' "
            f"own: {full_epochs})."
        )
    else:
        epochs_default = "0"
        epochs_comment = f"Epochs per run (0: each run's own, {full_epochs})."
    return parameter_lines(
        DATA_FILE_COMMENT,
        [
            (
                "training_images",
                TRAINING_IMAGES_VARIABLE,
                str(lesson.training_images),
                f"Training images per run, chosen at random (the lesson's quick default: "
                f"{lesson.training_images:,}; 60000 for all of them).",
            ),
            ("epochs_per_run", EPOCHS_VARIABLE, epochs_default, epochs_comment),
        ],
    )


_KEEP_ALL = (
    "# Every run starts from these (the sections below choose, scale and encode their own).",
    "all_x_train, all_y_train, all_x_test, all_y_test = x_train, y_train, x_test, y_test",
)
_CHOOSING_WHY = (
    "## The training images\n\n"
    "To end in about a minute, each run trains on `training_images` images chosen at random, "
    "the way the app chooses them: one image of each class first, then the rest, all in "
    "their original order, from the run's seed. The test figures are always on the whole "
    "test set."
)
_CHOOSE_CODE = (
    "def choose_training_images(labels, count, seed):",
    '    """The indices of `count` training images chosen at random with `seed`, in order."""',
    "    if count >= len(labels):",
    "        return np.arange(len(labels))",
    "    random = np.random.default_rng(seed)",
    "    classes = np.unique(labels)",
    "    if count < len(classes):",
    "        return np.sort(random.choice(len(labels), size=count, replace=False))",
    "    one_per_class = np.array(",
    "        [random.choice(np.flatnonzero(labels == label)) for label in classes], dtype=np.int64",
    "    )",
    "    others = np.setdiff1d(np.arange(len(labels)), one_per_class, assume_unique=True)",
    "    rest = random.choice(others, size=count - len(one_per_class), replace=False)",
    "    return np.sort(np.concatenate([one_per_class, rest]))",
)
_RESULTS_WHY = (
    "## Keeping the results\n\n"
    "After training, each run keeps its figures here, as the app records them: its epochs, "
    "its test accuracy, its size and its time. A loss that became infinite or not a number "
    "means the run diverged; the epoch it diverged in never ended, so it is left out."
)
_RESULTS_CODE = (
    "def run_result(name, history, epochs, test_accuracy, parameter_count, training_seconds,",
    "               training_images):",
    '    """One run\'s figures, as the sentences at the end take them."""',
    '    keys = [key for key in ("loss", "accuracy", "val_loss", "val_accuracy")',
    "            if key in history.history]",
    "    rows = [",
    '        {"epoch": index + 1, **{key: float(history.history[key][index]) for key in keys}}',
    '        for index in range(len(history.history["loss"]))',
    "    ]",
    '    diverged = bool(rows) and not math.isfinite(rows[-1]["loss"])',
    "    if diverged:",
    "        rows = rows[:-1]",
    "    done = len(rows)",
    "    return {",
    '        "name": name,',
    '        "status": "diverged" if diverged else "finished",',
    '        "reason": "",',
    '        "epochs": epochs,',
    '        "epochs_completed": done,',
    '        "history": rows,',
    '        "test_accuracy": float(test_accuracy),',
    '        "parameter_count": int(parameter_count),',
    '        "training_seconds": training_seconds,',
    '        "samples_per_second": (',
    "            training_images * max(1, done) / training_seconds if training_seconds > 0 else None",
    "        ),",
    "    }",
    "",
    "",
    "results = {}  # run name -> its figures (running a run's cells again replaces them)",
)
_SIDE_BY_SIDE_WHY = (
    "## The runs side by side\n\n"
    "Every run's curves on one figure, one colour a run: training (solid) and validation "
    "(dashed). The loss is on a log scale, so that the differences after the first epochs "
    "stay visible. Then the figures in a table."
)
_SIDE_BY_SIDE_CODE = (
    "figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(12, 4))",
    "for number, result in enumerate(results.values()):",
    '    epoch_numbers = [row["epoch"] for row in result["history"]]',
    '    for axis, metric in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):',
    '        for key, style, split in ((metric, "o-", "training"), (f"val_{metric}", "o--", "validation")):',
    '            values = [row.get(key, float("nan")) for row in result["history"]]',
    '            axis.plot(epoch_numbers, values, style, color=f"C{number}",',
    "                      label=f\"{result['name']} ({split})\")",
    'loss_axis.set_yscale("log")',
    'loss_axis.set_title("loss")',
    'accuracy_axis.set_title("accuracy")',
    "for axis in (loss_axis, accuracy_axis):",
    '    axis.set_xlabel("epoch")',
    "    axis.legend(fontsize=8)",
    "plt.show()",
    "",
    "print(f\"{'run':<30}{'test accuracy':>14}{'parameters':>12}{'seconds':>9}  status\")",
    "for result in results.values():",
    "    print(f\"{result['name']:<30}{result['test_accuracy']:>14.2%}\"",
    "          f\"{result['parameter_count']:>12,}{result['training_seconds']:>9.1f}  {result['status']}\")",
)


def _conclusions_why(lesson: Lesson) -> str:
    return (
        "## What the lesson shows\n\n"
        "The app writes these sentences under the lesson, from its runs' figures; nothing in "
        "them is written in advance. The first cell is the app's own code for them (plain "
        "Python), the second gives it this notebook's figures. With the lesson's quick "
        f"default ({lesson.training_images:,} images"
        + (f", {lesson.epochs} epochs" if lesson.epochs is not None else "")
        + ") they should tell the same story as the app."
    )


def _next_steps(lesson: Lesson) -> str:
    full_epochs = ", ".join(str(config.epochs) for config in lesson.configs(full_data=True))
    return (
        "## What next\n\n"
        'Read "what to look for" at the top again: do the figures say it? Then run the '
        "lesson in full (`training_images = 60000`, "
        f"`epochs_per_run` as the notebooks: {full_epochs}) and see which conclusions change. "
        "Or change one setting of one run and predict, before running, what it will do."
    )


def _step_lines(recipe: Recipe, keys: tuple[str, ...]) -> list[str]:
    lines: list[str] = []
    for key in keys:
        step = recipe.step(key)
        if lines:
            lines += ["", ""] if step.definitions else [""]
        lines.append(f"# {step.title}")
        if step.definitions:
            lines += [*step.definitions, "", ""]
        lines += step.code
    return lines


def _differing_fields(configs: list[ModelConfig]) -> set[str]:
    return {
        field.name
        for field in dataclasses.fields(ModelConfig)
        if len({setting_value(config, field.name) for config in configs}) > 1
    }


def _run_heading(
    number: int, lesson_run: LessonRun, config: ModelConfig, differing: set[str]
) -> str:
    changes = ", ".join(
        f"{setting_name(field)}: {setting_value(config, field)}" for field, _ in lesson_run.changes
    )
    origin = f"From the preset `{lesson_run.preset}`" + (f", with {changes}" if changes else "")
    rows = ["| setting | value |", "|---|---|"]
    for field in dataclasses.fields(ModelConfig):
        value = setting_value(config, field.name)
        if value == NOT_APPLICABLE or (
            field.name in _OFF_WHEN_ZERO and not getattr(config, field.name)
        ):
            continue
        name = setting_name(field.name)
        if field.name in differing:
            name, value = f"**{name}**", f"**{value}**"
        rows.append(f"| {name} | {value} |")
    return (
        f"## Run {number}: {lesson_run.label}\n\n"
        f"{origin}. {network_words(config)}. In bold, what differs between the lesson's runs.\n\n"
        + "\n".join(rows)
    )
