"""Training in the background, with a line for when more runs are asked for than there are cores.

The app keeps one `TrainingQueue` per server process and one `TrainingJob` per browser session.
A job trains in its own thread and records what the observer hears, so a page can redraw the
live curves from `job.snapshot()` while the training goes on. Nothing here knows Streamlit.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from mnist_core.data import Dataset
from mnist_core.model import ModelConfig, validate_config
from mnist_core.train import (
    BatchProgress,
    EpochMetrics,
    TrainingObserver,
    TrainingPlan,
    TrainingResult,
    train_model,
)

WAITING = "waiting"
RUNNING = "running"
FINISHED = "finished"
FAILED = "failed"


class TrainingQueue:
    """Admits at most `max_running` jobs at once; the others wait in line, first come first served.

    Args:
        max_running: jobs that may train at the same time (default: the number of CPU cores).
    """

    def __init__(self, max_running: int | None = None) -> None:
        self.max_running = max(1, max_running or os.cpu_count() or 1)
        self._condition = threading.Condition()
        self._waiting: deque[int] = deque()
        self._running: set[int] = set()

    def acquire(self, ticket: int, cancelled: threading.Event) -> bool:
        """Block until `ticket` may run (True) or is cancelled while waiting (False)."""
        with self._condition:
            self._waiting.append(ticket)
            while not (len(self._running) < self.max_running and self._waiting[0] == ticket):
                if cancelled.is_set():
                    self._waiting.remove(ticket)
                    self._condition.notify_all()
                    return False
                self._condition.wait(timeout=0.1)
            self._waiting.popleft()
            self._running.add(ticket)
            self._condition.notify_all()
            return True

    def release(self, ticket: int) -> None:
        """Free the place that `ticket` held."""
        with self._condition:
            self._running.discard(ticket)
            self._condition.notify_all()

    def position(self, ticket: int) -> int:
        """1-based place in line of a waiting ticket; 0 when it is not waiting."""
        with self._condition:
            try:
                return self._waiting.index(ticket) + 1
            except ValueError:
                return 0

    @property
    def running(self) -> int:
        """How many jobs are training now."""
        with self._condition:
            return len(self._running)


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of a job's state for drawing the page."""

    state: str
    place_in_line: int
    plan: TrainingPlan | None
    progress: BatchProgress | None
    history: tuple[EpochMetrics, ...]
    weight_summaries: tuple[list[dict[str, Any]], ...]
    batch_curve: tuple[tuple[float, float, float], ...]  # (fractional epoch, loss, accuracy)
    result: TrainingResult | None
    error: str | None
    stop_requested: bool

    @property
    def done(self) -> bool:
        """True once the job has finished or failed."""
        return self.state in (FINISHED, FAILED)


@dataclass
class _JobState:
    state: str = WAITING
    plan: TrainingPlan | None = None
    progress: BatchProgress | None = None
    history: list[EpochMetrics] = field(default_factory=list)
    weight_summaries: list[list[dict[str, Any]]] = field(default_factory=list)
    batch_curve: list[tuple[float, float, float]] = field(default_factory=list)
    result: TrainingResult | None = None
    error: str | None = None


_tickets = itertools.count(1)


class TrainingJob(TrainingObserver):
    """One training run in a background thread.

    Args:
        config: what to build and train.
        dataset: the data to train on.
        queue: the server's line of jobs.
        progress_interval_seconds: least time between in-epoch updates (default 0.25 s).
    """

    def __init__(
        self,
        config: ModelConfig,
        dataset: Dataset,
        queue: TrainingQueue,
        *,
        progress_interval_seconds: float = 0.25,
    ) -> None:
        validate_config(config)
        self.config = config
        self.dataset = dataset
        self.queue = queue
        self.ticket = next(_tickets)
        self.progress_interval_seconds = progress_interval_seconds
        self.created_at = time.time()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._state = _JobState()
        self._thread = threading.Thread(
            target=self._run, name=f"training-job-{self.ticket}", daemon=True
        )

    def start(self) -> TrainingJob:
        """Queue the job; it trains as soon as a place is free."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Leave the line, or end the training after the current batch keeping the model."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the job to end; True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def snapshot(self) -> JobSnapshot:
        """The job's state now, safe to read while training goes on."""
        with self._lock:
            state = self._state
            return JobSnapshot(
                state=state.state,
                place_in_line=self.queue.position(self.ticket) if state.state == WAITING else 0,
                plan=state.plan,
                progress=state.progress,
                history=tuple(state.history),
                weight_summaries=tuple(state.weight_summaries),
                batch_curve=tuple(state.batch_curve),
                result=state.result,
                error=state.error,
                stop_requested=self._stop.is_set(),
            )

    # TrainingObserver, called from the training thread.
    def on_train_begin(self, plan: TrainingPlan) -> None:
        with self._lock:
            self._state.plan = plan

    def on_batch(self, progress: BatchProgress) -> None:
        point = (
            progress.epoch - 1 + progress.batch / progress.batches_per_epoch,
            progress.loss,
            progress.accuracy,
        )
        with self._lock:
            self._state.progress = progress
            self._state.batch_curve.append(point)

    def on_epoch(self, metrics: EpochMetrics, weight_summary: list[dict[str, Any]]) -> None:
        with self._lock:
            self._state.history.append(metrics)
            self._state.weight_summaries.append(weight_summary)

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        if not self.queue.acquire(self.ticket, self._stop):
            with self._lock:
                self._state.state = FAILED
                self._state.error = "Cancelled while waiting in line."
            return
        try:
            with self._lock:
                self._state.state = RUNNING
            result = train_model(
                self.config,
                self.dataset,
                self,
                progress_interval_seconds=self.progress_interval_seconds,
            )
            with self._lock:
                self._state.result = result
                self._state.state = FINISHED
        except Exception as error:  # noqa: BLE001 - shown to the user, never raised in the page
            detail = "".join(traceback.format_exception_only(type(error), error)).strip()
            with self._lock:
                self._state.error = f"Training failed: {detail}"
                self._state.state = FAILED
        finally:
            self.queue.release(self.ticket)
