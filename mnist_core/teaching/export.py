"""Exports of a run: a standalone Keras script or a Jupyter notebook that trains it again, its
history, its model.

`training_script(config)` writes a Python script, readable as a lesson, that uses only keras
and numpy: it rebuilds exactly the network `model.build_model` builds for the config (layer by
layer, with the same names, seed, optimizer, learning-rate schedule, loss and accuracy
metric), loads MNIST (Keras' own loader, or a local `.npz` with `--data FILE` for machines
without the internet), trains it with the same settings (validation split or test set,
one-hot or integer labels, batch size, shuffling, augmentation), prints the model summary
with its parameter count, one line an epoch, and the test accuracy. `--epochs N` overrides
the epochs.

`script_for_run(run)` is that script for a recorded run, with a comment at the top for
whatever the run used that the script cannot reproduce with keras alone (a subset of the
training images chosen by the app, pen-drawn training data, fine-tuning on drawings): the
script then trains on the full dataset instead. `history_csv(run)` is the run's per-epoch
history as CSV; `copy_model(run, path)` copies its kept `.keras` file.

`notebook_for_run(run)` is the run as a Jupyter notebook (`.ipynb` text, nbformat 4) that
trains it again step by step, with figures (keras, numpy and matplotlib only). The script and
the notebook are assembled from one description of the steps, `teaching.recipe`.

The exporter knows every `ModelConfig` field (`EXPORTED_FIELDS`) and every learning-rate
schedule it can write (`SCRIPT_SCHEDULES`): a config it cannot reproduce raises ValueError
instead of giving a script that trains something else.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import shutil
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mnist_core.data.format import DATASET_TITLES, base_dataset, uses_class_digits
from mnist_core.modeling.config import (
    ModelConfig,
    validate_config,
)
from mnist_core.runs.record import (
    ENDED_STATUSES,
    FINISHED,
    Run,
)
from mnist_core.teaching.recipe import run_recipe
from mnist_core.teaching.recipe_step import NOTEBOOK, SCRIPT, check_medium
from mnist_core.teaching.script import script_text

# Every ModelConfig field the script generator reproduces. A field added to ModelConfig
# must be handled below (and added here) before the exporter accepts configs that use it.
EXPORTED_FIELDS = frozenset(
    {
        "dataset",
        "architecture",
        "layer_sizes",
        "layer_activations",
        "layer_dropout_rates",
        "kernel_sizes",
        "dense_units",
        "dense_dropout_rate",
        "input_batch_normalization",
        "batch_normalization",
        "loss",
        "optimizer",
        "learning_rate",
        "learning_rate_schedule",
        "momentum",
        "epochs",
        "batch_size",
        "validation",
        "validation_split",
        "shuffle",
        "seed",
        "augment_shift",
        "augment_rotation",
        "augment_zoom",
        "augment_stroke",
        # Drawn training digits: the script cannot draw them; it says so (script_caveats)
        # and trains on MNIST as scanned.
        "redraw_fraction",
        "pen_digit_copies",
    }
)
# The learning-rate schedules the script generator can write.
SCRIPT_SCHEDULES = ("constant", "cosine", "one_cycle")
HISTORY_COLUMNS = (
    "epoch",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "elapsed_seconds",
    "samples_per_second",
)
FULL_TRAINING_IMAGES = 60000


def check_exportable(config: ModelConfig) -> None:
    """Raise ValueError when the script generator cannot reproduce `config`.

    Args:
        config: the model and training description.
    """
    if not isinstance(config, ModelConfig):
        raise ValueError(f"config must be a ModelConfig, got {type(config).__name__}.")
    unknown_fields = sorted(
        field.name for field in dataclasses.fields(config) if field.name not in EXPORTED_FIELDS
    )
    defaults = ModelConfig()
    used = [name for name in unknown_fields if getattr(config, name) != getattr(defaults, name)]
    if used:
        raise ValueError(
            f"the exported script cannot reproduce the setting(s) {', '.join(used)} yet; "
            f"it knows {', '.join(sorted(EXPORTED_FIELDS))}. Export a run that leaves them "
            "at their defaults, or teach mnist_core/teaching/export.py the new setting."
        )
    if config.learning_rate_schedule not in SCRIPT_SCHEDULES:
        raise ValueError(
            f"learning_rate_schedule {config.learning_rate_schedule!r} cannot be written into "
            f"an exported script yet; it knows {', '.join(map(repr, SCRIPT_SCHEDULES))}. "
            "Teach mnist_core/teaching/export.py the schedule (see _schedule_lines)."
        )
    validate_config(config)


def script_caveats(run: Run) -> list[str]:
    """What a run used that the exported script does not reproduce, in sentences.

    Args:
        run: the recorded run.
    """
    return run_caveats(run, SCRIPT)


def run_caveats(run: Run, medium: str) -> list[str]:
    """What a run used that its exported script or notebook does not reproduce, in sentences.

    Args:
        run: the recorded run.
        medium: SCRIPT or NOTEBOOK (the sentences name it, and how to change the epochs).
    """
    check_medium(medium)
    this = "this script" if medium == SCRIPT else "this notebook"
    caveats = []
    title = DATASET_TITLES.get(base_dataset(run.config.dataset), run.config.dataset)
    if uses_class_digits(run.config.dataset):
        caveats.append(
            f"The run learned from {DATASET_TITLES[run.config.dataset]} (drawings the class "
            f"shared in the app), which Keras cannot load; {this} trains on {title} alone. "
            "The class's drawings come home as an .npz of the same four arrays (the app's "
            "Our digits page): name it as the data file to train on them."
        )
    if run.training_images is not None and run.training_images < FULL_TRAINING_IMAGES:
        caveats.append(
            f"The run trained on {run.training_images:,} training images chosen by the MNIST "
            f"Playground (a seeded subset); {this} trains on the full {title} training set "
            f"({FULL_TRAINING_IMAGES:,} images) instead, so its figures will be higher."
        )
    if run.dataset != run.config.dataset and not uses_class_digits(run.dataset):
        caveats.append(
            f"The run trained on {run.dataset!r} data (e.g. digits drawn with the pen in the "
            f"app), which Keras cannot load; {this} trains on {title} instead."
        )
    if run.status in ENDED_STATUSES and run.status != FINISHED:
        done = len(run.history)
        caveats.append(
            f"The run ended {run.status} after {done} of {run.config.epochs} epoch(s)"
            + (f" ({run.reason.rstrip('.')})" if run.reason else "")
            + f"; {this} trains all {run.config.epochs}."
        )
    if run.config.redraw_fraction > 0 or run.config.pen_digit_copies > 0:
        caveats.append(
            "The run also learned from digits drawn as on the canvas (MNIST digits re-drawn with "
            "a uniform pen, pendigits writers' digits), which keras alone cannot make; "
            f"{this} trains on MNIST as scanned instead."
        )
    if run.finetune is not None:
        base = run.finetune.get("base_model", "a saved model")
        count = run.finetune.get("drawing_count") or len(run.finetune.get("labels", []))
        caveats.append(
            f"The run fine-tuned the model {base!r} on {count} digits its user drew in the app "
            "(mixed with MNIST images), which keras alone cannot reproduce: neither the base "
            f"model's weights nor the drawings are in {this}. It trains the same network "
            "from scratch on MNIST with the fine-tuning's settings instead (a low learning "
            "rate and few epochs), so expect a much weaker model."
        )
    asked = run.limits.get("asked_epochs")
    if asked:
        how = (
            f"pass --epochs {asked}"
            if medium == SCRIPT
            else f"set epochs = {asked} in the first code cell"
        )
        caveats.append(
            f"Class mode capped the run at {run.config.epochs} epoch(s) (it asked for {asked}); "
            f"{how} to train as asked."
        )
    return caveats


def script_for_run(
    run: Run, *, extra_caveats: Sequence[str] = (), file_name: str | None = None
) -> str:
    """The standalone training script of a recorded run.

    Args:
        run: the recorded run.
        extra_caveats: further things the script does not reproduce (e.g. "The run fine-tuned
            a model on digits drawn in the app."), added to the comment at the top.
        file_name: the script's file name for its usage lines (default `script_file_name`).
    """
    name = run.display_name
    return training_script(
        run.config,
        title=f"Train the MNIST Playground's run {run.id} ({name}) again, with Keras alone.",
        caveats=[*script_caveats(run), *extra_caveats],
        parameter_count=run.parameter_count,
        file_name=file_name or script_file_name(run),
    )


def script_file_name(run: Run) -> str:
    """A file name for a run's script, named as people read it: its label or its preset's
    title, e.g. `quick_dense_network_past_98_3f9a1c.py`, `optimizer_adam_to_sgd_e76c89.py`."""
    return f"{file_stem(run.display_name)}_{run.id[:6]}.py"


def notebook_file_name(run: Run) -> str:
    """A file name for a run's notebook, like its script's (`script_file_name`)."""
    return f"{file_stem(run.display_name)}_{run.id[:6]}.ipynb"


def file_stem(name: str) -> str:
    """`name` in safe characters for a file name: lower-case letters, digits and "_" ("run"
    if none); an arrow reads "to" ("optimizer: adam → sgd" -> "optimizer_adam_to_sgd")."""
    name = name.replace("→", " to ").replace("+", " and ").lower()
    # "é" -> "e" and an accent, which is dropped.
    name = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    stem = "".join(
        character if character.isascii() and character.isalnum() else "_" for character in name
    )
    stem = "_".join(part for part in stem.split("_") if part)
    return stem[:60] or "run"


def notebook_for_run(run: Run) -> str:
    """The run as a Jupyter notebook (`.ipynb` text, nbformat 4, validated) that trains it
    again step by step; ValueError when its config cannot be reproduced.

    Args:
        run: the recorded run.
    """
    from mnist_core.teaching.notebook import notebook_text, run_notebook

    check_exportable(run.config)
    name = run.display_name
    notebook = run_notebook(
        run_recipe(run.config, NOTEBOOK),
        title=f"Train the MNIST Playground's run {run.id[:6]} ({name}) again, with Keras",
        caveats=run_caveats(run, NOTEBOOK),
        reached=reached_in_app(run),
        parameter_count=run.parameter_count,
    )
    return notebook_text(notebook)


def reached_in_app(run: Run) -> str:
    """What the run reached in the app, a sentence for the student to compare with: "In the
    app this run reached 97.8% test accuracy after 5 epochs, in 41 s."

    Args:
        run: the recorded run.
    """
    if run.test_accuracy is None:
        return f"In the app this run has no test accuracy to compare with (it is {run.status})."
    done = len(run.history)
    sentence = (
        f"In the app this run reached {run.test_accuracy:.1%} test accuracy after {done} "
        f"epoch{'' if done == 1 else 's'}"
    )
    if run.training_seconds is not None:
        sentence += f", in {run.training_seconds:.0f} s"
    used = run.metrics.get("training_images_used")
    if isinstance(used, int):
        sentence += f", training on {used:,} images"
    return (
        sentence + ". Compare with what this notebook printed above: the figures differ a "
        "little from one machine, backend and data set to another."
    )


def training_script(
    config: ModelConfig,
    *,
    title: str = "Train a network on MNIST with Keras alone.",
    caveats: Sequence[str] = (),
    parameter_count: int | None = None,
    file_name: str = "train_mnist.py",
) -> str:
    """A standalone, commented Python script (keras and numpy only) that trains `config`.

    Args:
        config: what to build and train (checked with `check_exportable`).
        title: the first line of the script's docstring.
        caveats: what the script does not reproduce, one sentence each (a comment at the top).
        parameter_count: the run's parameter count, quoted in a comment (default: none).
        file_name: the script's file name, shown in its usage lines (default train_mnist.py).
    """
    check_exportable(config)
    return script_text(
        run_recipe(config, SCRIPT),
        title=title,
        caveats=list(caveats),
        parameter_count=parameter_count,
        file_name=file_name,
    )


def history_csv(run: Run) -> str:
    """The run's per-epoch history as CSV text (one row an epoch, `HISTORY_COLUMNS`).

    Args:
        run: the recorded run (a run without epochs gives the header alone).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HISTORY_COLUMNS)
    for entry in run.history:
        writer.writerow([_csv_value(entry.get(column)) for column in HISTORY_COLUMNS])
    return buffer.getvalue()


def copy_model(run: Run, destination: str | Path) -> Path:
    """Copy the run's kept `.keras` file to `destination`; ValueError when none is kept.

    Args:
        run: the recorded run.
        destination: the file to write (its folder must exist).
    """
    if not run.model_kept:
        why = (
            "it is still training"
            if run.active
            else "it diverged"
            if run.status == "diverged"
            else "its model was not kept"
        )
        raise ValueError(f"run {run.id} has no model file to export: {why}.")
    destination = Path(destination)
    if destination.suffix != ".keras":
        raise ValueError(
            f"the model file must end in .keras (Keras refuses to load others), got "
            f"{str(destination)!r}."
        )
    shutil.copyfile(run.model_path, destination)
    return destination


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)
