"""The fair line of queued runs: which may start now, where each stands, and the expected waits.

One running request per user (a lesson, whose runs were asked for together, is one request);
a user's further requests wait behind it; across users, first come, first served."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from mnist_core.runs.record import (
    QUEUED,
    RUNNING,
    Run,
)

# Before any run has finished, how many training images a second a worker gets through.
DEFAULT_SAMPLES_PER_SECOND = {"cnn": 2500.0, "dense": 20000.0}


# What a run costs besides its epochs: building the model, the test set, sending it back.
FIXED_SECONDS_PER_RUN = 3.0


@dataclass(frozen=True)
class LinePlace:
    """Where a queued run stands: 1-based position, the users ahead, the expected wait."""

    position: int
    users_ahead: tuple[str, ...]
    expected_wait_seconds: float | None


@dataclass(frozen=True)
class LineSnapshot:
    """The line at one moment, worked out once for every run in it.

    Attributes:
        line: the active runs (queued and running), oldest first.
        places: where each queued run stands, by run id.
        workers: the runs the cluster trains at once.
        taken_at: when (time.monotonic()).
    """

    line: tuple[Run, ...]
    places: dict[str, LinePlace]
    workers: int
    taken_at: float

    @property
    def running(self) -> list[Run]:
        return [run for run in self.line if run.status == RUNNING]

    @property
    def queued(self) -> list[Run]:
        return [run for run in self.line if run.status == QUEUED]


def training_rates(finished: Sequence[Run]) -> dict[str, float]:
    """Training images a second by architecture: the median of recently finished runs, else
    DEFAULT_SAMPLES_PER_SECOND."""
    rates = dict(DEFAULT_SAMPLES_PER_SECOND)
    for architecture in rates:
        seen = sorted(
            run.metrics["samples_per_second"]
            for run in finished
            if run.config.architecture == architecture
            and isinstance(run.metrics.get("samples_per_second"), int | float)
        )
        if seen:
            rates[architecture] = seen[len(seen) // 2]
    return rates


def line_places(
    line: Sequence[Run], places: int, rates: dict[str, float], now: float | None = None
) -> dict[str, LinePlace]:
    """Where every queued run stands, in one pass over the line (the Class page and every
    waiting Train page cost the same with 3 or 300 runs waiting).

    Args:
        line: the active runs, oldest first.
        places: runs trained at once (the workers).
        rates: training images a second by architecture.
        now: the current time (default: time.time()).
    """
    waits = expected_start_times(line, places, rates, now)
    result: dict[str, LinePlace] = {}
    ahead_names: dict[str, str] = {}  # owner id -> name, in the order they are ahead
    for position, run in enumerate((run for run in line if run.status == QUEUED), start=1):
        users_ahead = tuple(name for owner, name in ahead_names.items() if owner != run.owner_id)
        result[run.id] = LinePlace(position, users_ahead, waits.get(run.id))
        ahead_names.setdefault(run.owner_id, run.user)
    return result


def eligible_runs(line: Sequence[Run]) -> list[Run]:
    """The queued runs that may start now, in order: each user's oldest request only.

    Args:
        line: the active runs (queued and running), oldest first.
    """
    current_request: dict[str, str] = {}
    for run in line:
        current_request.setdefault(run.owner_id, run.request_id)
    return [
        run
        for run in line
        if run.status == QUEUED and current_request[run.owner_id] == run.request_id
    ]


def estimate_run_seconds(run: Run, rates: dict[str, float]) -> float:
    """How long a run should train, from the speed of recent runs of its architecture."""
    images = run.training_images or 60000
    if run.config.validation == "split":
        images = images - int(round(images * run.config.validation_split))
    rate = rates.get(run.config.architecture) or DEFAULT_SAMPLES_PER_SECOND["dense"]
    return FIXED_SECONDS_PER_RUN + images * run.config.epochs / rate


def expected_start_times(
    line: Sequence[Run], places: int, rates: dict[str, float], now: float | None = None
) -> dict[str, float]:
    """Seconds until each queued run should start, by playing the line forward.

    Args:
        line: the active runs, oldest first.
        places: runs trained at once (the workers).
        rates: training images a second by architecture.
        now: the current time (default: time.time()).
    """
    now = time.time() if now is None else now
    # Each place is free at some time from now; running runs hold theirs until they end, and
    # hold their user's turn as long.
    free_at = []
    user_free_at: dict[str, float] = {}
    request_of_user: dict[str, str] = {}
    for run in line:
        if run.status != RUNNING:
            continue
        left = None
        if run.progress and isinstance(run.progress.get("seconds_left"), int | float):
            left = float(run.progress["seconds_left"])
        if left is None or not math.isfinite(left):
            elapsed = now - (run.started_at or now)
            left = max(1.0, estimate_run_seconds(run, rates) - elapsed)
        free_at.append(left)
        request_of_user.setdefault(run.owner_id, run.request_id)
        user_free_at[run.owner_id] = max(user_free_at.get(run.owner_id, 0.0), left)
    free_at = sorted(free_at)[:places]
    free_at += [0.0] * (places - len(free_at))
    waits: dict[str, float] = {}
    queued = [run for run in line if run.status == QUEUED]

    def ready_at(run: Run) -> float:
        held = request_of_user.get(run.owner_id)
        return 0.0 if held in (None, run.request_id) else user_free_at.get(run.owner_id, 0.0)

    while queued:
        free_at.sort()
        soonest = free_at[0]
        # The dispatcher takes the first run in line whose user may start at that moment;
        # when none may, the place waits for the first user whose turn comes.
        startable = [run for run in queued if ready_at(run) <= soonest]
        if startable:
            run, start = startable[0], soonest
        else:
            run = min(queued, key=ready_at)
            start = ready_at(run)
        queued.remove(run)
        end = start + estimate_run_seconds(run, rates)
        free_at[0] = end
        if request_of_user.get(run.owner_id) != run.request_id:
            user_free_at[run.owner_id] = 0.0
        request_of_user[run.owner_id] = run.request_id
        user_free_at[run.owner_id] = max(user_free_at.get(run.owner_id, 0.0), end)
        waits[run.id] = start
    return waits
