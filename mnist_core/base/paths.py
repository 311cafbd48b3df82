"""Where the project keeps its files: the data directory, the saved models, the package's own.

In a checkout (`make setup` installs the package in editable mode) the data directory is
`<checkout>/data` and the models are in `<checkout>/models`. A package installed elsewhere (a
worker of a school's cluster: `pip install mnist-playground`) has no checkout: its data
directory is `$XDG_DATA_HOME/mnist-playground` (default `~/.local/share/mnist-playground`),
models under it. `MNIST_DATA_DIR` and `MNIST_MODELS_DIR` override either.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIRECTORY_ENVIRONMENT_VARIABLE = "MNIST_DATA_DIR"
MODELS_DIRECTORY_ENVIRONMENT_VARIABLE = "MNIST_MODELS_DIR"
# The SQLite file of the run log, the users and their drawings.
RUNS_DB_ENVIRONMENT_VARIABLE = "MNIST_RUNS_DB"
RUNS_DB_FILE_NAME = "runs.sqlite3"
# The folder under $XDG_DATA_HOME of an installation without a checkout.
INSTALLED_DATA_FOLDER = "mnist-playground"


def package_directory() -> Path:
    """The `mnist_core` folder itself (its data files, such as the pen-drawn digits, live there)."""
    return Path(__file__).resolve().parent.parent


def checkout_directory() -> Path | None:
    """The repository the package runs from, or None for a package installed elsewhere."""
    root = package_directory().parent
    return root if (root / "pyproject.toml").is_file() and (root / "app.py").is_file() else None


def data_directory() -> Path:
    """`$MNIST_DATA_DIR`; else `<checkout>/data`; else `$XDG_DATA_HOME/mnist-playground`."""
    configured = os.environ.get(DATA_DIRECTORY_ENVIRONMENT_VARIABLE, "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    checkout = checkout_directory()
    if checkout is not None:
        return checkout / "data"
    base = os.environ.get("XDG_DATA_HOME", "").strip() or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / INSTALLED_DATA_FOLDER


def models_directory() -> Path:
    """`$MNIST_MODELS_DIR`; else `<checkout>/models`; else `models` in the data directory."""
    configured = os.environ.get(MODELS_DIRECTORY_ENVIRONMENT_VARIABLE, "").strip()
    if configured:
        return Path(configured).expanduser()
    checkout = checkout_directory()
    return checkout / "models" if checkout is not None else data_directory() / "models"


def default_runs_path() -> Path:
    """The server's database (the run log, users, drawings): `$MNIST_RUNS_DB`, else
    `runs.sqlite3` in the data directory."""
    configured = os.environ.get(RUNS_DB_ENVIRONMENT_VARIABLE, "").strip()
    if configured:
        return Path(configured).expanduser()
    return data_directory() / RUNS_DB_FILE_NAME


def shown_path(path: str | os.PathLike[str]) -> str:
    """A path for a message: relative to the checkout when inside it (``models/x.keras``)."""
    resolved = Path(path).resolve()
    checkout = checkout_directory()
    if checkout is not None:
        try:
            return str(resolved.relative_to(checkout))
        except ValueError:
            pass
    return str(resolved)
