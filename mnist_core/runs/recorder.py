"""Recording a training as it goes: the events a worker sends (plan, progress, epoch), written
into the run log, and `RunRecorder`, the observer that writes them for a training of this
process."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

from mnist_core.runs.database import RunLogError
from mnist_core.runs.log import RunLog
from mnist_core.training.progress import (
    BatchProgress,
    EpochMetrics,
    TrainingObserver,
    TrainingPlan,
)

# --- Recording a training as it goes ----------------------------------------------------------
# How often a training recorded here (the command line) says that its process is alive, well
# within ENGINE_SILENCE_SECONDS, so that no engine takes its run for an orphan.
RECORDER_HEARTBEAT_SECONDS = 10.0


def record_event(run_log: RunLog, run_id: str, event: dict[str, Any]) -> None:
    """Write one training event into the log: what a worker sends, what `RunRecorder` makes.

    Args:
        run_log: the log.
        run_id: the run it belongs to.
        event: {"kind": "plan", "plan": {...}}, {"kind": "progress", "progress": {...}} or
            {"kind": "epoch", "metrics": {...}, "weight_summary": [...]}.
    """
    record_events(run_log, run_id, [event])


def record_events(run_log: RunLog, run_id: str, events: Sequence[dict[str, Any]]) -> None:
    """Write training events in order; consecutive progress reports go in one write.

    Args:
        run_log: the log.
        run_id: the run they belong to.
        events: events as `record_event` takes them, oldest first.
    """
    progress: list[dict[str, Any]] = []
    for event in events:
        kind = event.get("kind")
        if kind == "progress":
            progress.append(event["progress"])
            continue
        if progress:
            run_log.record_progress(run_id, *progress)
            progress = []
        if kind == "plan":
            run_log.record_plan(run_id, event["plan"])
        elif kind == "epoch":
            run_log.record_epoch(run_id, event["metrics"], event["weight_summary"])
        else:
            raise ValueError(f"event kind must be 'plan', 'progress' or 'epoch', got {kind!r}.")
    if progress:
        run_log.record_progress(run_id, *progress)


class RunRecorder(TrainingObserver):
    """A training observer that writes the run's plan, progress and epochs into the log.

    The writes happen on a thread of its own, so the training never waits for the database;
    every call is also passed on to `inner` (the command line's progress bar), which alone
    decides `should_stop`. The first problem with the log is kept in `problem` and ends the
    recording, never the training. Call `close()` when the training ends.

    Args:
        run_log: the log.
        run_id: the run being trained (created `running`).
        inner: the observer to pass every call on to (default none).
        engine: the engine name to keep alive with heartbeats while it trains (default none).
    """

    def __init__(
        self,
        run_log: RunLog,
        run_id: str,
        inner: TrainingObserver | None = None,
        *,
        engine: str | None = None,
    ) -> None:
        import queue
        import threading

        self.run_log = run_log
        self.run_id = run_id
        self.inner = inner
        self.engine = engine
        self.problem: str | None = None
        self._outbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._write, name="run-recorder", daemon=True)
        self._thread.start()

    def _write(self) -> None:
        import queue

        last_heartbeat = time.monotonic()
        done = False
        while not done:
            try:
                events = [self._outbox.get(timeout=RECORDER_HEARTBEAT_SECONDS)]
            except queue.Empty:
                events = []
            while True:  # take whatever else is waiting, to write it in one go
                try:
                    events.append(self._outbox.get_nowait())
                except queue.Empty:
                    break
            if None in events:
                done = True
                events = events[: events.index(None)]
            if self.problem is not None:
                continue
            try:
                if events:
                    record_events(self.run_log, self.run_id, events)
                if self.engine and time.monotonic() - last_heartbeat >= RECORDER_HEARTBEAT_SECONDS:
                    self.run_log.heartbeat(self.engine)
                    last_heartbeat = time.monotonic()
            except RunLogError as error:
                self.problem = str(error)

    def close(self) -> None:
        """Write what is left, then end the writer thread."""
        self._outbox.put(None)
        self._thread.join(timeout=60)

    def on_train_begin(self, plan: TrainingPlan) -> None:
        if self.inner is not None:
            self.inner.on_train_begin(plan)
        self._outbox.put({"kind": "plan", "plan": dataclasses.asdict(plan)})

    def on_batch(self, progress: BatchProgress) -> None:
        if self.inner is not None:
            self.inner.on_batch(progress)
        self._outbox.put({"kind": "progress", "progress": dataclasses.asdict(progress)})

    def on_epoch(self, metrics: EpochMetrics, weight_summary: list[dict[str, Any]]) -> None:
        if self.inner is not None:
            self.inner.on_epoch(metrics, weight_summary)
        self._outbox.put(
            {"kind": "epoch", "metrics": metrics.to_dict(), "weight_summary": weight_summary}
        )

    def should_stop(self) -> bool:
        return bool(self.inner is not None and self.inner.should_stop())
