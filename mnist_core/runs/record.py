"""A run as the log holds it: the `Run` record, its statuses and what they mean.

A run is shaped like an MLflow run: an identity and a lifecycle (id, status and its reason,
created / started / finished times), its parameters (the whole `ModelConfig`), metrics by step
(one epoch's metrics each, plus a thinned curve of batch progress), tags (preset, lesson,
user) and an artifact (the trained model, a `.keras` file beside the log). `runs.lifecycle`
is the one place that moves a run from one status to the next."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnist_core.modeling.config import ModelConfig
from mnist_core.modeling.summary import architecture_summary
from mnist_core.runs.users import as_user, name_only_user_id
from mnist_core.training.progress import (
    BatchProgress,
    EpochMetrics,
)

QUEUED = "queued"
RUNNING = "running"
FINISHED = "finished"
STOPPED = "stopped"
FAILED = "failed"
DIVERGED = "diverged"
INTERRUPTED = "interrupted"
STATUSES = (QUEUED, RUNNING, FINISHED, STOPPED, FAILED, DIVERGED, INTERRUPTED)
ACTIVE_STATUSES = (QUEUED, RUNNING)
ENDED_STATUSES = (FINISHED, STOPPED, FAILED, DIVERGED, INTERRUPTED)
# A run's kept model is named "run:<id>" wherever a model is picked (a saved model's name
# cannot hold ":", so the two never collide).
RUN_MODEL_PREFIX = "run:"
# Keys an older version used in a run's metrics and plan, and their names now.
_OLD_METRIC_KEYS = {"wall_seconds": "training_seconds", "train_samples": "training_images_used"}
_OLD_PLAN_KEYS = {
    "train_samples": "training_images_used",
    "validation_samples": "validation_images",
}
_OLD_LIMIT_KEYS = {
    "max_train_images": "max_training_images",
    "asked_train_images": "asked_training_images",
    "max_wall_seconds": "max_seconds",
}


@dataclass(frozen=True)
class Run:
    """One training, as the log holds it.

    Attributes:
        id: short unique id (12 hex digits).
        user: the name of who started it (as it was then; "cli" for the command line).
        config: the whole model and training description.
        preset: the preset it came from, if any.
        lesson: the lesson it belongs to, if any.
        request_id: runs asked for together (a lesson) share it; a lone run has its own id.
        label: how the run is named in a comparison (e.g. "sgd"); may be empty.
        parent_id: the run this one varies ("change one thing"), if any.
        dataset: "mnist" or "fashion_mnist".
        training_images: training images asked for before the validation split (None: all).
        status: one of STATUSES; reason: why it ended (or is waiting).
        created_at, started_at, finished_at: seconds since the epoch (None until they happen).
        engine: the engine that schedules it; worker: the worker that trains it.
        plan: epochs, batches and samples once training begins.
        progress: the latest batch progress (a dict of `BatchProgress` fields).
        batch_curve: (fractional epoch, loss, accuracy) points, thinned.
        history: one dict of `EpochMetrics` fields an epoch.
        metrics: final figures: test_accuracy and test_loss (on the whole test set),
            parameter_count, training_seconds, samples_per_second, per_class_accuracy, ...
        model_path: the kept `.keras` file, if any; model_name: the store name it was saved as.
        hidden: hidden from the user's list (not deleted).
        stop_requested: somebody asked it to stop.
        limits: the caps it was held to: its time limit, and the class caps in class mode.
        finetune: for a fine-tuning run (`mnist_core.finetune`), what it fine-tunes and on
            what: the base model, the user's drawings and which are held out (a plain-JSON
            `FineTuneSpec`); None for a run trained from scratch.
        user_id: the id of the user who owns it (`runs.users`); None for a run recorded
            before runs had owners' ids (then `owner_id` is its name's).
        stop_reason: who stopped it and why, when somebody did (e.g. its user's teacher).
        phase: what its worker is doing before training begins (e.g. "loading MNIST").
    """

    id: str
    user: str
    config: ModelConfig
    preset: str | None
    lesson: str | None
    request_id: str
    label: str | None
    parent_id: str | None
    dataset: str
    training_images: int | None
    status: str
    reason: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    engine: str | None
    worker: str | None
    plan: dict[str, Any] | None
    progress: dict[str, Any] | None
    batch_curve: tuple[tuple[float, float, float], ...]
    history: tuple[dict[str, Any], ...]
    metrics: dict[str, Any]
    model_path: str | None
    model_name: str | None
    hidden: bool
    stop_requested: bool
    limits: dict[str, Any] = field(default_factory=dict)
    finetune: dict[str, Any] | None = None
    user_id: str | None = None
    stop_reason: str = ""
    phase: str | None = None

    @classmethod
    def unrecorded(
        cls,
        run_id: str,
        config: ModelConfig,
        *,
        user: Any,
        preset: str | None = None,
        training_images: int | None = None,
    ) -> Run:
        """A run that trains without a run log (one that cannot be used): same shape.

        Args:
            user: who trains it (a `runs.users.User`, or a name).
        """
        import time

        user = as_user(user)
        return cls(
            id=run_id, user=user.name, user_id=user.id, config=config, preset=preset, lesson=None, request_id=run_id,
            label=None, parent_id=None, dataset=config.dataset, training_images=training_images,
            status=RUNNING, reason="", created_at=time.time(), started_at=time.time(),
            finished_at=None, engine=None, worker=None, plan=None, progress=None,
            batch_curve=(), history=(), metrics={}, model_path=None, model_name=None,
            hidden=False, stop_requested=False,
        )  # fmt: skip

    @property
    def class_limited(self) -> bool:
        """Whether the run was held to the class caps (its limits name them)."""
        return bool(self.limits.get("class_mode") or "max_epochs" in self.limits)

    @property
    def owner_id(self) -> str:
        """The id of the user who owns the run (a run from before user ids: its name's)."""
        return self.user_id or name_only_user_id(self.user)

    def owned_by(self, user: Any) -> bool:
        """Whether `user` (a `runs.users.User`) owns this run."""
        return self.owner_id == user.id

    @property
    def display_name(self) -> str:
        """How the run is named for people: its label, else its preset's title, else its
        network in a few words."""
        from mnist_core.modeling.presets import preset_title

        if self.label:
            return self.label
        return preset_title(self.preset) if self.preset else architecture_summary(self.config)

    @property
    def display_label(self) -> str:
        """Its name with the start of its id, to tell two alike runs apart."""
        return f"{self.display_name} ({self.id[:6]})"

    @property
    def model_name_in_pickers(self) -> str:
        """How its kept model is named in the model pickers: "run:<id>"."""
        return run_model_name(self.id)

    @property
    def training_seconds(self) -> float | None:
        """Seconds of training (the fit itself), once measured."""
        value = self.metrics.get("training_seconds")
        return float(value) if isinstance(value, int | float) else None

    @property
    def fine_tuned(self) -> bool:
        """Whether this run fine-tunes a model on a user's drawings."""
        return self.finetune is not None

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.status in ACTIVE_STATUSES

    @property
    def ended(self) -> bool:
        """Finished, stopped, failed, diverged or interrupted."""
        return self.status in ENDED_STATUSES

    @property
    def test_accuracy(self) -> float | None:
        """Accuracy on the whole test set, once measured."""
        value = self.metrics.get("test_accuracy")
        return float(value) if isinstance(value, int | float) else None

    @property
    def parameter_count(self) -> int | None:
        """Weights and biases of the model."""
        value = self.metrics.get("parameter_count")
        return int(value) if isinstance(value, int | float) else None

    @property
    def run_seconds(self) -> float | None:
        """From started to finished (training and everything around it)."""
        if self.started_at is None or self.finished_at is None:
            return None
        return max(0.0, self.finished_at - self.started_at)

    @property
    def model_kept(self) -> bool:
        """Whether the trained model's file is there to open."""
        return bool(self.model_path) and Path(self.model_path).is_file()

    def epoch_metrics(self) -> list[Any]:
        """The history as `train.EpochMetrics` objects (what the curve helpers take)."""

        return [EpochMetrics(**entry) for entry in self.history]

    def batch_progress(self) -> Any:
        """The latest progress as a `train.BatchProgress`, or None."""

        return BatchProgress(**self.progress) if self.progress else None

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (the CLI's `runs --json`)."""
        return {
            "id": self.id,
            "user": self.user,
            "user_id": self.owner_id,
            "status": self.status,
            "reason": self.reason,
            "preset": self.preset,
            "lesson": self.lesson,
            "request_id": self.request_id,
            "label": self.label,
            "parent_id": self.parent_id,
            "dataset": self.dataset,
            "training_images": self.training_images,
            "config": self.config.to_dict(),
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "worker": self.worker,
            "metrics": self.metrics,
            "parameter_count": self.parameter_count,
            "history": list(self.history),
            "model_name": self.model_name,
            "model_kept": self.model_kept,
            "hidden": self.hidden,
            "limits": self.limits,
            # The drawings themselves stay out: they are images, not figures.
            "finetune": (
                {key: value for key, value in self.finetune.items() if key != "images"}
                if self.finetune is not None
                else None
            ),
        }


def run_model_name(run_id: str) -> str:
    """The name a run's kept model has in the model pickers: "run:<id>"."""
    return f"{RUN_MODEL_PREFIX}{run_id}"


def run_id_of_model(name: str) -> str | None:
    """The run id in a picker's model name ("run:<id>"), or None for a saved model's name."""
    return name[len(RUN_MODEL_PREFIX) :] if name.startswith(RUN_MODEL_PREFIX) else None


def upgraded_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """A run's metrics with the keys an older version wrote under their present names."""
    return {_OLD_METRIC_KEYS.get(key, key): value for key, value in metrics.items()}


def upgraded_limits(limits: dict[str, Any]) -> dict[str, Any]:
    """The class caps a run was held to, with an older version's keys under today's names."""
    return {_OLD_LIMIT_KEYS.get(key, key): value for key, value in limits.items()}


def upgraded_plan(plan: dict[str, Any] | None) -> dict[str, Any] | None:
    """A run's plan with the keys an older version wrote under their present names."""
    if plan is None:
        return None
    return {_OLD_PLAN_KEYS.get(key, key): value for key, value in plan.items()}


def new_id() -> str:
    """A fresh run (or request) id: 12 hex digits."""
    return uuid.uuid4().hex[:12]


def finite_or_none(value: Any) -> float | None:
    """A float for JSON and tables, or None when it is missing or not finite."""
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None
