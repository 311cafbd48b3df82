"""A saved model's record: the run that trained it, plus its name. One shape, one loader.

A model is saved (`save_run_model`) with a JSON sidecar that holds the run's own record
(`Run.to_dict()`, as `runs show --json` prints it), the name it is saved under, who saved it
and its weight summaries per epoch. `ModelRecord` reads any sidecar back, this shape or the
older one (format 1: config, metrics, history and dataset at the top, the preset there or under
`extras`, the user and the run id under `extras`), and a run's kept model the same way
(`ModelRecord.from_run`): the pages, the command line and fine-tuning read every model
through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mnist_core.data.format import class_names_of
from mnist_core.modeling.config import ModelConfig
from mnist_core.modeling.store import StoredModel, list_models, save_model
from mnist_core.runs.limits import Limits, RunRefused
from mnist_core.runs.record import Run, upgraded_metrics
from mnist_core.runs.users import User, name_only_user_id
from mnist_core.training.extra_digits import describe_training_data

SIDECAR_FORMAT_VERSION = 2


@dataclass(frozen=True)
class ModelRecord:
    """What is known of a model without loading it.

    Attributes:
        name: its name in the pickers (a saved model's name, or "run:<id>").
        config: the config that rebuilds it; None when the sidecar has no usable one.
        dataset: "mnist" or "fashion_mnist".
        metrics: its final figures (test_accuracy, ...).
        history: one dict of epoch metrics an epoch.
        preset, label: what it was trained from and called.
        saved_by: the name of who saved it (None: the command line, or unknown).
        saved_by_id: the id of who saved it, who may replace or delete it (an older
            sidecar, which knew only a name: the id of that name alone).
        run_id: the run that trained it, when known.
        training_images: training images asked for (None: all).
        weight_summaries: one list of layer summaries an epoch, when kept.
        training_data: what it learned from, in one sentence.
        saved_at: when it was saved (ISO 8601), for a saved model.
        parameter_count: its weights and biases.
        finetune: what a fine-tuning run fine-tuned (without the drawings), if it was one.
    """

    name: str
    config: ModelConfig | None
    dataset: str
    metrics: dict[str, Any] = field(default_factory=dict)
    history: tuple[dict[str, Any], ...] = ()
    preset: str | None = None
    label: str | None = None
    saved_by: str | None = None
    saved_by_id: str | None = None
    run_id: str | None = None
    training_images: int | None = None
    weight_summaries: Any = None
    training_data: str | None = None
    saved_at: str | None = None
    parameter_count: int | None = None
    finetune: dict[str, Any] | None = None

    @property
    def test_accuracy(self) -> float | None:
        """Accuracy on the whole test set, when measured (not NaN)."""
        value = self.metrics.get("test_accuracy")
        return float(value) if isinstance(value, int | float) and value == value else None

    @property
    def class_names(self) -> tuple[str, ...]:
        """The names of its ten classes."""
        return class_names_of(self.dataset)

    @classmethod
    def from_run(cls, run: Run, weight_summaries: Any = None) -> ModelRecord:
        """The record of a run's kept model ("run:<id>")."""
        return cls._from_run_dict(run.to_dict(), name=run.model_name_in_pickers).with_extras(
            weight_summaries=weight_summaries
        )

    @classmethod
    def from_sidecar(cls, metadata: dict[str, Any]) -> ModelRecord:
        """The record of a saved model, from its sidecar (either format)."""
        name = str(metadata.get("name") or "")
        saved_by = metadata.get("saved_by")
        extras = {
            "saved_by": saved_by,
            "saved_by_id": metadata.get("saved_by_id")
            or (name_only_user_id(saved_by) if saved_by else None),
            "saved_at": metadata.get("saved_at") or metadata.get("created_at"),
            "parameter_count": metadata.get("parameter_count"),
            "weight_summaries": metadata.get("weight_summaries"),
        }
        if isinstance(metadata.get("run"), dict):
            return cls._from_run_dict(metadata["run"], name=name).with_extras(**extras)
        old_extras = metadata.get("extras") if isinstance(metadata.get("extras"), dict) else {}
        config = _config_or_none(metadata.get("config"))
        metrics = upgraded_metrics(_mapping(metadata.get("metrics")))
        metrics.setdefault("training_seconds", metadata.get("training_seconds"))
        return cls(
            name=name,
            config=config,
            dataset=str(metadata.get("dataset") or (config.dataset if config else "mnist")),
            metrics=metrics,
            history=tuple(
                entry for entry in metadata.get("history") or () if isinstance(entry, dict)
            ),
            preset=metadata.get("preset") or old_extras.get("preset"),
            saved_by=old_extras.get("user"),
            saved_by_id=name_only_user_id(old_extras["user"]) if old_extras.get("user") else None,
            run_id=old_extras.get("run_id"),
            weight_summaries=old_extras.get("weight_summaries"),
            training_data=metadata.get("training_data") or _described(config, metrics),
            saved_at=extras["saved_at"],
            parameter_count=extras["parameter_count"],
        )

    @classmethod
    def _from_run_dict(cls, run: dict[str, Any], *, name: str) -> ModelRecord:
        config = _config_or_none(run.get("config"))
        metrics = upgraded_metrics(_mapping(run.get("metrics")))
        return cls(
            name=name,
            config=config,
            dataset=str(run.get("dataset") or (config.dataset if config else "mnist")),
            metrics=metrics,
            history=tuple(entry for entry in run.get("history") or () if isinstance(entry, dict)),
            preset=run.get("preset"),
            label=run.get("label"),
            saved_by=None,
            run_id=run.get("id"),
            training_images=run.get("training_images", run.get("train_images")),
            training_data=_described(config, metrics),
            parameter_count=run.get("parameter_count"),
            finetune=run.get("finetune"),
        )

    def with_extras(self, **changes: Any) -> ModelRecord:
        """A copy with the given fields set where they are not None."""
        import dataclasses

        return dataclasses.replace(
            self, **{key: value for key, value in changes.items() if value is not None}
        )


def sidecar_of(run: Run, *, saved_by: User | None, weight_summaries: Any) -> dict[str, Any]:
    """What a saved model's sidecar holds besides what the store adds (name, versions)."""
    return {
        "format_version": SIDECAR_FORMAT_VERSION,
        "saved_by": saved_by.name if saved_by is not None else None,
        "saved_by_id": saved_by.id if saved_by is not None else None,
        "run": run.to_dict(),
        "weight_summaries": weight_summaries or [],
    }


def save_run_model(
    model: Any,
    run: Run,
    name: str,
    *,
    saved_by: User | None,
    weight_summaries: Any = None,
    overwrite: bool = False,
    models_dir: Any = None,
) -> StoredModel:
    """Save a run's model under `name`, its sidecar the run's record (see the module).

    Raises:
        ValueError: a name the store does not take; ModelStoreError: it cannot be written
            (ModelExistsError: the name is taken and `overwrite` is False).
    """
    return save_model(
        model,
        name,
        sidecar_of(run, saved_by=saved_by, weight_summaries=weight_summaries),
        overwrite=overwrite,
        models_dir=models_dir,
    )


def keep_run_model(
    run_log: Any,
    run: Run,
    name: str,
    *,
    user: User,
    teacher: bool,
    overwrite: bool,
    limits: Limits | None = None,
) -> StoredModel:
    """Save a run's kept model under `name` for `user` (the app's "Keep this model").

    Args:
        run_log: the run log (the run's weight summaries; the name it was saved as).
        run: the run, ended with its model kept.
        name: the name to save it under.
        user: who saves it (kept as `saved_by`).
        teacher: whether the teacher key is unlocked (or none is set).
        overwrite: replace a model of that name that this user may replace.
        limits: the server's limits (how many models a user keeps; default `Limits()`).

    Raises:
        ValueError: no name, a name the store does not take, a name this user may not
            replace (`ModelProtectedError`), or a run whose model is no longer kept.
        ModelExistsError: the name is taken and `overwrite` is False.
        ModelStoreError, RunLogError: the model or the log cannot be written.
    """
    from mnist_core.modeling.store import ModelExistsError, model_exists, validate_model_name
    from mnist_core.runs.classroom import check_model_change_allowed

    if not name:
        raise ValueError("Type a name for the model first (letters, digits, '-' or '_').")
    try:
        name = validate_model_name(name)
    except ValueError as error:
        raise ValueError(
            f"The model was not saved: {error} Choose another name and try again."
        ) from None
    exists = model_exists(name)
    records = saved_model_records()
    existing = records.get(name)
    check_model_change_allowed(
        name,
        user_id=user.id,
        saved_by=existing.saved_by if existing is not None else None,
        saved_by_id=existing.saved_by_id if existing is not None else None,
        exists=exists,
        teacher=teacher,
    )
    if exists and not overwrite:
        raise ModelExistsError(f"A model called “{name}” already exists.")
    limit = (limits or Limits()).saved_models_per_user
    mine = [record for record in records.values() if record.saved_by_id == user.id]
    if not exists and len(mine) >= limit:
        raise RunRefused(
            f"You keep {len(mine)} saved models, the most a person keeps on this server "
            f"({limit}). Delete one you no longer need (Class page, “Delete a saved model”), or "
            "save over one of yours by its name."
        )
    if not run.model_kept:
        raise ValueError("This run's model is no longer kept, so it cannot be saved.")
    from mnist_core.training.finetune import load_model_file

    stored = save_run_model(
        load_model_file(run.model_path),
        run,
        name,
        saved_by=user,
        weight_summaries=run_log.weight_summaries(run.id),
        overwrite=overwrite,
    )
    run_log.set_model_name(run.id, name)
    return stored


def delete_saved_model(name: str, *, user: User, teacher: bool) -> None:
    """Delete a saved model, if this user may (its owner, or the teacher; never `default`).

    Raises:
        ModelProtectedError: not this user's to delete; ModelStoreError: it cannot be.
    """
    from mnist_core.modeling.store import delete_model
    from mnist_core.runs.classroom import check_model_change_allowed

    record = saved_model_records().get(name)
    check_model_change_allowed(
        name,
        user_id=user.id,
        saved_by=record.saved_by if record is not None else None,
        saved_by_id=record.saved_by_id if record is not None else None,
        exists=True,
        teacher=teacher,
        deleting=True,
    )
    delete_model(name)


def saved_model_records() -> dict[str, ModelRecord]:
    """The records of every usable saved model, by name."""
    return {
        entry.name: ModelRecord.from_sidecar(entry.metadata or {"name": entry.name})
        for entry in list_models()
        if entry.is_valid
    }


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _config_or_none(value: Any) -> ModelConfig | None:
    try:
        return ModelConfig.from_dict(value) if isinstance(value, dict) else None
    except (TypeError, ValueError):
        return None


def _described(config: ModelConfig | None, metrics: dict[str, Any]) -> str | None:
    if config is None:
        return None
    used = metrics.get("training_images_used")
    return describe_training_data(config, used if isinstance(used, int) else None)
