"""What every command of the command line shares: one-line errors, tables, JSON, loading."""

from __future__ import annotations

import argparse
import datetime
import math
import sys
import warnings
from collections.abc import Callable, Collection, Sequence
from typing import Any, NoReturn

from mnist_core.base.keras_import import (
    import_keras,
    native_stderr_silenced,
)
from mnist_core.data.datasets import (
    Dataset,
    DatasetUnavailableError,
    load_dataset,
)
from mnist_core.modeling.store import ModelStoreError
from mnist_core.runs.database import RunLogError

ERROR_EXIT_STATUS = 2


# 128 + SIGINT, what a shell reports for a program stopped by Ctrl-C.
INTERRUPTED_EXIT_STATUS = 130
# 128 + SIGPIPE, what a shell reports for a program whose reader went away (`| head`).
BROKEN_PIPE_EXIT_STATUS = 141


class CommandError(Exception):
    """A command could not do what was asked; the message is one line for the user."""

    def __init__(self, message: str, exit_status: int = ERROR_EXIT_STATUS) -> None:
        super().__init__(message)
        self.exit_status = exit_status


# Errors that a user can cause or fix: reported in one line. Anything else is a bug.
USER_ERRORS = (ValueError, DatasetUnavailableError, OSError, ModelStoreError, RunLogError)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with usage errors in the one-line form of every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(ERROR_EXIT_STATUS, f"error: {message}; see `{self.prog} --help`.\n")


def load_keras_file(path: str) -> Any:
    """Load a `.keras` file quietly (a keras.Model)."""
    keras = import_keras()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return keras.saving.load_model(path)


def format_timestamp(text: str) -> str:
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.utcoffset() == datetime.timedelta(0):
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return moment.strftime("%Y-%m-%d %H:%M %z")


def json_ready(value: Any) -> Any:
    """`value` with every float that is not finite made None: strict JSON."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def format_epoch_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M")


def format_number(value: Any, spec: str) -> str:
    if isinstance(value, int | float) and math.isfinite(value):
        return format(value, spec)
    return "-"


def load_dataset_quietly(name: str) -> tuple[Dataset, list[str]]:
    """Load a dataset with TensorFlow's start-up lines silenced; return it and any warnings."""
    with warnings.catch_warnings(record=True) as caught, native_stderr_silenced():
        warnings.simplefilter("always")
        dataset = load_dataset(name)
    return dataset, [str(warning.message) for warning in caught]


def load_dataset_noting_problems(name: str) -> Dataset:
    """Load a dataset; its warnings (a cache that could not be written) become notes."""
    dataset, notes = load_dataset_quietly(name)
    for note in notes:
        print(f"note: {one_line(note)}", file=sys.stderr)
    return dataset


def find_stored_model(name: str) -> Any:
    """Return the usable store entry `name` (a StoredModel), without loading TensorFlow.

    Raises ModelNotFoundError or BrokenModelError with a message that says what to do.
    """
    from mnist_core.base.paths import models_directory
    from mnist_core.modeling.store import (
        BrokenModelError,
        ModelNotFoundError,
        list_models,
        validate_model_name,
    )

    validate_model_name(name)
    entries = {entry.name: entry for entry in list_models()}
    if name not in entries:
        usable = [entry_name for entry_name, entry in entries.items() if entry.is_valid]
        listing = f"stored models: {', '.join(usable)}" if usable else "no models are stored"
        raise ModelNotFoundError(
            f"no model named {name!r} in {models_directory()} ({listing}); see "
            "`python -m mnist_core models`, or train one with "
            f"`python -m mnist_core train --preset cnn_fast --name {name}`."
        )
    entry = entries[name]
    if entry.error is not None:
        raise BrokenModelError(
            f"model {name!r} is broken: {entry.error}; retrain it with "
            f"`python -m mnist_core train --preset PRESET --name {name} --overwrite`."
        )
    return entry


def load_stored_model(name: str) -> Any:
    """Import Keras quietly and load a stored model (a keras.Model)."""
    import_keras()
    from mnist_core.modeling.store import load_model

    with warnings.catch_warnings():
        # Keras warns about optimizer variables it does not restore: nothing for a user.
        warnings.simplefilter("ignore")
        return load_model(name).model


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right_aligned: Collection[int] = (),
    spanning: Callable[[Sequence[str]], bool] | None = None,
) -> None:
    """Print rows in columns; `spanning(row)` marks rows whose second cell runs to the end."""
    measured = [row for row in rows if not (spanning and spanning(row))]
    widths = [
        max([len(header)] + [len(row[column]) for row in measured])
        for column, header in enumerate(headers)
    ]
    last = len(headers) - 1

    def format_row(row: Sequence[str]) -> str:
        if spanning and spanning(row):
            return f"{row[0]:<{widths[0]}}  {row[1]}"
        cells = [
            cell.rjust(widths[column])
            if column in right_aligned
            else (cell if column == last else cell.ljust(widths[column]))
            for column, cell in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    print(format_row(headers))
    for row in rows:
        print(format_row(row))


def check_output_files(paths: Sequence[str], *, overwrite: bool, command: str) -> None:
    """Refuse, before anything is written, output files that cannot be written as asked.

    Args:
        paths: the files a command will write (the same file twice is refused).
        overwrite: whether files that exist may be replaced.
        command: the command's name, for the messages ("runs export").
    """
    import os
    from pathlib import Path

    if len({os.path.abspath(path) for path in paths}) != len(paths):
        raise ValueError(f"{command} got the same FILE twice; give each export its own file.")
    for path in paths:
        if not overwrite and os.path.exists(path):
            raise ValueError(f"{path} exists; choose another file or pass --overwrite.")
        folder = Path(path).resolve().parent
        if not folder.is_dir():
            raise ValueError(f"the folder of {path} does not exist ({folder}).")


def check_notebook_path(path: str) -> None:
    """Refuse a notebook file whose name does not end in .ipynb (Jupyter would not open it)."""
    if not path.endswith(".ipynb"):
        raise ValueError(
            f"--notebook must name a file ending in .ipynb (Jupyter and Colab open those), "
            f"got {path!r}."
        )


def one_line(error: BaseException | str) -> str:
    return " ".join(str(error).split()) or type(error).__name__
