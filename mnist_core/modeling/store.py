"""Save, list, load and delete trained models: ``<models_dir>/<name>.keras`` + ``<name>.json``.

The ``.json`` sidecar holds what is needed to understand a model without loading it (the run
that trained it: `runs.saved_models`), and the store adds its name and versions. Writes are
atomic: both files are first written to temporaries in the same directory and then moved into
place with ``os.replace``, the ``.keras`` first and the ``.json`` last, so an entry that has a
``.json`` always has its model. Keras is imported inside functions.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_core.base.paths import models_directory, shown_path

DEFAULT_MODEL_NAME = "default"
MAX_NAME_LENGTH = 64
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
NAME_RULE = "1 to 64 characters, each a letter, a digit, '-' or '_'"

MODEL_SUFFIX = ".keras"
METADATA_SUFFIX = ".json"
# Temporaries are named ".<name>.<random>.tmp.keras" / ".tmp.json": never a valid entry name.
TEMPORARY_MARKER = ".tmp"

# Sidecar keys and the JSON type each must have.
# (What else a sidecar holds is the saved model's record: `runs.saved_models`.)
REQUIRED_METADATA_KEYS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "keras_version": str,
    "parameter_count": int,
}


class ModelStoreError(RuntimeError):
    """A model could not be saved, found or loaded; the message is one line for the user."""


class ModelExistsError(ModelStoreError, ValueError):
    """A model with that name exists and overwrite was not requested."""


class ModelNotFoundError(ModelStoreError, LookupError):
    """No model with that name is stored."""


class BrokenModelError(ModelStoreError):
    """The stored files of a model are missing, incomplete or cannot be loaded."""


@dataclass(frozen=True)
class StoredModel:
    """One entry of the models directory, as ``list_models`` finds it.

    ``error`` is None for a usable entry, otherwise the reason it cannot be loaded.
    ``metadata`` is the parsed sidecar when it could be read (even if incomplete), else None.
    """

    name: str
    model_path: Path
    metadata_path: Path
    metadata: dict[str, Any] | None
    error: str | None

    @property
    def is_valid(self) -> bool:
        """True when both files are present and the metadata is complete."""
        return self.error is None


@dataclass(frozen=True)
class LoadedModel:
    """A model loaded from the store together with its sidecar metadata."""

    name: str
    model: Any  # keras.Model
    metadata: dict[str, Any]


def validate_model_name(name: str) -> str:
    """Return ``name`` if it can name a stored model, else raise ValueError.

    Args:
        name: letters, digits, '-' and '_', 1 to 64 characters.
    """
    if not isinstance(name, str) or NAME_PATTERN.fullmatch(name) is None:
        raise ValueError(f"name must be {NAME_RULE}; got {name!r}.")
    return name


def model_exists(name: str, models_dir: str | os.PathLike[str] | None = None) -> bool:
    """Return True if a ``.keras`` or ``.json`` file is stored under this name (even a broken one).

    Args:
        name: the model name.
        models_dir: the models directory (default: ``models_directory()``).
    """
    model_path, metadata_path = _entry_paths(validate_model_name(name), _directory(models_dir))
    return model_path.exists() or metadata_path.exists()


def save_model(
    model: Any,
    name: str,
    metadata: Mapping[str, Any],
    *,
    models_dir: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
) -> StoredModel:
    """Save a Keras model and its JSON sidecar atomically.

    Args:
        model: the trained keras.Model.
        name: letters, digits, '-' and '_', 1 to 64 characters.
        metadata: what the sidecar holds (a JSON object: `runs.saved_models` gives the
            run's record); the store adds the name, the Keras version, the parameter count
            and the time it was saved. NaN and infinities become null.
        models_dir: the models directory (default: ``models_directory()``).
        overwrite: replace an existing model of that name (default False: raise
            ModelExistsError).
    """
    import keras

    name = validate_model_name(name)
    directory = _directory(models_dir)
    sidecar = {
        **_check_mapping("metadata", metadata),
        "name": name,
        "saved_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "keras_version": keras.__version__,
        "parameter_count": int(model.count_params()),
    }
    # Serialize before touching the disk, so unserializable metadata leaves nothing behind.
    try:
        metadata_text = (
            json.dumps(_finite(sidecar), indent=2, default=_json_default, allow_nan=False) + "\n"
        )
    except (TypeError, ValueError) as error:
        raise ValueError(f"metadata for model {name!r} is not JSON-serializable: {error}") from None

    model_path, metadata_path = _entry_paths(name, directory)
    _refuse_existing(name, model_path, metadata_path, overwrite)
    try:
        _write_entry(model, model_path, metadata_path, metadata_text, overwrite)
    except ModelStoreError:
        raise
    except Exception as error:
        raise ModelStoreError(
            f"model {name!r} could not be saved to {shown_path(model_path)}: {_one_line(error)}"
        ) from error
    return StoredModel(name, model_path, metadata_path, json.loads(metadata_text), None)


def list_models(models_dir: str | os.PathLike[str] | None = None) -> list[StoredModel]:
    """List the stored models sorted by name, broken entries included with their error.

    Temporary files of unfinished saves and files whose names are not model names are ignored.

    Args:
        models_dir: the models directory (default: ``models_directory()``).
    """
    directory = _directory(models_dir)
    if not directory.is_dir():
        return []
    try:
        paths = list(directory.iterdir())
    except OSError as error:
        raise ModelStoreError(
            f"models directory {shown_path(directory)} could not be read: {_one_line(error)}"
        ) from error
    names = {
        path.stem
        for path in paths
        if path.suffix in (MODEL_SUFFIX, METADATA_SUFFIX) and NAME_PATTERN.fullmatch(path.stem)
    }
    return [_inspect_entry(name, directory) for name in sorted(names)]


def load_model(name: str, models_dir: str | os.PathLike[str] | None = None) -> LoadedModel:
    """Load a stored model with Keras' safe mode (no arbitrary code from Lambda layers).

    Raises ModelNotFoundError for unknown names and BrokenModelError for broken entries, both
    subclasses of ModelStoreError with a one-line message.

    Args:
        name: the model name.
        models_dir: the models directory (default: ``models_directory()``).
    """
    name = validate_model_name(name)
    directory = _directory(models_dir)
    model_path, metadata_path = _entry_paths(name, directory)
    if not model_path.exists() and not metadata_path.exists():
        available = [entry.name for entry in list_models(directory)]
        listing = f"available: {', '.join(available)}" if available else "no models are saved yet"
        raise ModelNotFoundError(f"no model named {name!r} in {shown_path(directory)} ({listing}).")
    entry = _inspect_entry(name, directory)
    if entry.error is not None:
        raise BrokenModelError(
            f"{shown_path(model_path)} could not be loaded: {entry.error}. Delete it or retrain."
        )
    # Only now, with the entry known to be whole, pay for importing TensorFlow.
    from mnist_core.base.keras_import import import_keras

    keras = import_keras()
    try:
        model = keras.saving.load_model(model_path, safe_mode=True)
    except Exception as error:
        raise BrokenModelError(
            f"{shown_path(model_path)} could not be loaded: {_load_failure_reason(error)}. "
            "Delete it or retrain."
        ) from error
    return LoadedModel(name=name, model=model, metadata=entry.metadata)


def delete_model(name: str, models_dir: str | os.PathLike[str] | None = None) -> None:
    """Delete a stored model's files (a broken entry too).

    Args:
        name: the model name.
        models_dir: the models directory (default: ``models_directory()``).
    """
    name = validate_model_name(name)
    directory = _directory(models_dir)
    model_path, metadata_path = _entry_paths(name, directory)
    if not model_path.exists() and not metadata_path.exists():
        raise ModelNotFoundError(f"no model named {name!r} in {shown_path(directory)}.")
    # The sidecar goes first so that an interrupted delete never leaves a .json without model.
    metadata_path.unlink(missing_ok=True)
    model_path.unlink(missing_ok=True)


def _write_entry(
    model: Any, model_path: Path, metadata_path: Path, metadata_text: str, overwrite: bool
) -> None:
    """Write both files through temporaries; on failure remove them and leave no new entry."""
    directory = model_path.parent
    directory.mkdir(parents=True, exist_ok=True)
    name = model_path.stem
    temporary_paths: list[Path] = []
    try:
        temporary_model = _new_temporary(directory, name, MODEL_SUFFIX, temporary_paths)
        model.save(temporary_model)
        _fsync_file(temporary_model)
        temporary_metadata = _new_temporary(directory, name, METADATA_SUFFIX, temporary_paths)
        _write_text(temporary_metadata, metadata_text)

        # Check again just before the move: another session may have used the name meanwhile.
        _refuse_existing(name, model_path, metadata_path, overwrite)
        had_model = model_path.exists()
        os.replace(temporary_model, model_path)
        try:
            os.replace(temporary_metadata, metadata_path)
        except BaseException:
            # The new model is in place without its sidecar. Remove it when it was the only
            # one; otherwise drop the old sidecar, so the entry is reported as broken instead
            # of describing a model it no longer holds.
            with contextlib.suppress(OSError):
                (metadata_path if had_model else model_path).unlink()
            raise
    finally:
        for path in temporary_paths:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
    _fsync_directory(directory)


def _inspect_entry(name: str, directory: Path) -> StoredModel:
    """Check one entry's files without loading the model; see StoredModel.error."""
    model_path, metadata_path = _entry_paths(name, directory)
    metadata, metadata_error = _read_metadata(metadata_path)
    model_error = _check_model_file(model_path)
    if not model_path.exists():
        error = f"{model_path.name} is missing (only {metadata_path.name} was found)"
    elif not metadata_path.exists():
        error = f"{metadata_path.name} is missing (only {model_path.name} was found)"
    else:
        error = model_error or metadata_error
    return StoredModel(name, model_path, metadata_path, metadata, error)


def _read_metadata(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """Return (metadata or None, error or None) for a sidecar file."""
    if not path.exists():
        return None, f"{path.name} is missing"
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        return None, f"{path.name} could not be read: {_one_line(error)}"
    except json.JSONDecodeError as error:
        return None, f"{path.name} is not valid JSON: {_one_line(error)}"
    if not isinstance(metadata, dict):
        return None, f"{path.name} does not hold a JSON object"
    missing = [key for key in REQUIRED_METADATA_KEYS if key not in metadata]
    if missing:
        return metadata, f"{path.name} lacks required keys: {', '.join(missing)}"
    for key, expected_type in REQUIRED_METADATA_KEYS.items():
        value = metadata[key]
        if isinstance(value, bool) or not isinstance(value, expected_type):
            return metadata, f"{path.name} has a {type(value).__name__} for {key!r}"
    return metadata, None


def _check_model_file(path: Path) -> str | None:
    """Return why a .keras file is unusable, or None when it looks like a Keras archive."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return f"{path.name} is missing"
    except OSError as error:
        return f"{path.name} could not be read: {_one_line(error)}"
    if size == 0:
        return f"{path.name} is empty (0 bytes)"
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile) as error:
        return f"{path.name} is not a Keras archive ({_one_line(error)})"
    if "config.json" not in names:
        return f"{path.name} is not a Keras archive (no config.json inside)"
    return None


def _load_failure_reason(error: BaseException) -> str:
    message = _one_line(error)
    if "safe_mode" in message:
        return (
            "it contains Python code (such as a Lambda layer), which Keras' safe mode does not "
            "load because that code could do anything"
        )
    return message


def _refuse_existing(name: str, model_path: Path, metadata_path: Path, overwrite: bool) -> None:
    if not overwrite and (model_path.exists() or metadata_path.exists()):
        raise ModelExistsError(
            f"name {name!r} is already used by a saved model in "
            f"{shown_path(model_path.parent)}; choose another name or allow overwriting."
        )


def _new_temporary(directory: Path, name: str, suffix: str, created: list[Path]) -> Path:
    """Create an empty temporary file beside the entry and record it for clean-up."""
    handle, path_text = tempfile.mkstemp(
        dir=directory, prefix=f".{name}.", suffix=f"{TEMPORARY_MARKER}{suffix}"
    )
    os.close(handle)
    path = Path(path_text)
    # mkstemp makes the file private (0600); a saved model is as readable as any other file.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
    created.append(path)
    return path


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as file:
        os.fsync(file.fileno())


def _fsync_directory(directory: Path) -> None:
    # Makes the renames durable on POSIX; not possible (nor needed) everywhere.
    with contextlib.suppress(OSError):
        handle = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _directory(models_dir: str | os.PathLike[str] | None) -> Path:
    return Path(models_dir) if models_dir is not None else models_directory()


def _entry_paths(name: str, directory: Path) -> tuple[Path, Path]:
    return directory / f"{name}{MODEL_SUFFIX}", directory / f"{name}{METADATA_SUFFIX}"


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _check_mapping(field: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise ValueError(f"{field} must be a dict with string keys, got {value!r:.200}.")
    return dict(value)


def _finite(value: Any) -> Any:
    """Replace NaN and infinities (a diverged run's loss) by None: strict JSON has neither."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    if hasattr(value, "tolist") and not isinstance(value, str):
        return _finite(value.tolist())
    return value


def _json_default(value: Any) -> Any:
    """Convert numpy scalars and arrays (as found in Keras histories) to plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} {value!r:.80} is not JSON-serializable")
