"""Whether a cluster's scheduler and workers can take this app's runs, said in sentences.

The engine checks when it connects, and again whenever workers join (`ClusterCheck.refresh`,
from a thread of its own):

- Dask's own version check: the packages Dask needs to match across a cluster
  (`distributed.versions.required_packages`: dask, distributed, cloudpickle, msgpack...) and
  Python's major.minor version, as Dask reports them (`Client.get_versions`);
- the project itself: `mnist_core` importable on each machine, at this app's version
  (`probe.project_here`, sent by value so that it runs where the project is missing);
- the datasets each worker finds (MNIST, Fashion-MNIST).

A worker that fails either of the first two is named in one sentence (what is missing, how
to fix it) and no run is sent to it; the others train. A scheduler that fails stops every run
(it could not read them) until it is fixed. A worker without a dataset is named too; runs of
that dataset go to the workers that have it (to it only when none has: the run then fails
with the worker's own sentence).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mnist_core.data.format import DATASET_TITLES
from mnist_core.engine import probe

PROJECT = "mnist-playground"
# A machine with a problem is asked again this often (it may have been fixed and restarted
# under the same address, or had its data prepared).
RECHECK_SECONDS = 30.0
RECIPE = "see the README's cluster recipe"


@dataclass(frozen=True)
class WorkerState:
    """What the check found on one worker."""

    threads: int
    problem: str | None  # no run goes there while it has one
    datasets: frozenset[str]
    data_notice: str | None
    checked: float


def missing_data_sentence(who: str, dataset: str, directory: str) -> str:
    """`who` (a worker) has no copy of `dataset` in `directory`: what to run there."""
    title = DATASET_TITLES.get(dataset, dataset)
    if dataset == "fashion_mnist":
        how = "as root run `apt-get install dataset-fashion-mnist` on that machine"
    else:
        how = "run `mnist-playground prepare-data` on that machine"
    return f"{who} has no copy of {title} (in {directory}): {how} ({RECIPE})."


def python_minor(version: str | None) -> str:
    return ".".join(str(version).split(".")[:2])


def software_problem(
    who: str,
    ours: Mapping[str, Any],
    theirs: Mapping[str, Any] | None,
    answer: Any,
    *,
    packages: frozenset[str],
    restart: str,
) -> str | None:
    """One sentence on why `who` cannot take this app's runs, or None when it can.

    Args:
        who: "Worker tcp://..." or "The scheduler at tls://...".
        ours, theirs: Dask's version reports ({"packages": {...}}) here and there.
        answer: what `probe.project_here` returned there (or the exception it raised).
        packages: the Dask packages that must match.
        restart: the command to restart ("dask worker" or "dask scheduler").
    """
    ours_packages = ours.get("packages", {})
    theirs_packages = (theirs or {}).get("packages", {})
    ours_python = python_minor(ours_packages.get("python"))
    theirs_python = python_minor(theirs_packages.get("python")) if theirs else ours_python
    if theirs_python != ours_python:
        return (
            f"{who} runs Python {theirs_python} and this app Python {ours_python}: make its "
            f"environment with Python {ours_python} and the project at this version ({RECIPE}), "
            f"then restart `{restart}`."
        )
    differing = [
        name
        for name in sorted(packages)
        if theirs is not None and theirs_packages.get(name) != ours_packages.get(name)
    ]
    if differing:
        there = ", ".join(f"{name} {theirs_packages.get(name)}" for name in differing)
        here = ", ".join(f"{ours_packages.get(name)}" for name in differing)
        pins = " ".join(f"{name}=={ours_packages.get(name)}" for name in differing)
        return (
            f"{who} runs {there} where this app runs {here} (Dask needs the same versions "
            f"everywhere): run `pip install {pins}` in its environment, then restart "
            f"`{restart}`."
        )
    if not isinstance(answer, dict):
        return (
            f"{who} could not answer the app's check ({type(answer).__name__}: {answer}): "
            f"install the project at this version there ({RECIPE}), then restart `{restart}`."
        )
    ours_version = probe.project_here(datasets=False)["version"]
    if answer.get("version") is None:
        return (
            f"{who} cannot import the project ({answer.get('import_error')}, in "
            f"{answer.get('python')}): install {PROJECT} {ours_version} into that environment "
            f"(`pip install .` in a copy of this version, {RECIPE}), then restart `{restart}`."
        )
    if answer["version"] != ours_version:
        return (
            f"{who} has {PROJECT} {answer['version']} and this app {ours_version}: install "
            f"{ours_version} there (`pip install .` in a copy of this version, {RECIPE}), then "
            f"restart `{restart}`."
        )
    return None


class ClusterCheck:
    """What is known of a cluster's scheduler and workers; `refresh()` checks new ones."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.scheduler_problem: str | None = None
        self._scheduler_checked = 0.0
        self._workers: dict[str, WorkerState] = {}
        self._lock = threading.Lock()

    # --- what the engine reads (no network) -----------------------------------------------
    def usable(self) -> dict[str, int]:
        """The workers runs may go to, with their threads (none while the scheduler fails)."""
        if self.scheduler_problem is not None:
            return {}
        with self._lock:
            return {
                address: state.threads
                for address, state in self._workers.items()
                if state.problem is None
            }

    def workers_for(self, dataset: str) -> list[str]:
        """The workers a run of `dataset` may go to: the usable ones that have it, else every
        usable one (where the run then fails with the worker's own sentence on its data)."""
        usable = self.usable()
        with self._lock:
            having = sorted(
                address for address in usable if dataset in self._workers[address].datasets
            )
        return having or sorted(usable)

    def worker_problems(self) -> dict[str, str]:
        """Address -> the sentence of each worker no run goes to."""
        with self._lock:
            return {a: s.problem for a, s in self._workers.items() if s.problem is not None}

    def problems(self) -> tuple[str, ...]:
        """Every sentence: the scheduler's, the workers' that get no run, missing data."""
        with self._lock:
            states = [self._workers[address] for address in sorted(self._workers)]
        sentences = [self.scheduler_problem] if self.scheduler_problem else []
        sentences += [state.problem for state in states if state.problem]
        sentences += [state.data_notice for state in states if state.data_notice]
        return tuple(sentences)

    # --- asking the cluster ----------------------------------------------------------------
    def refresh(self) -> None:
        """Check the scheduler once, and the workers that joined (or failed a while ago)."""
        info = self.client.scheduler_info(n_workers=-1)
        present = {
            address: worker.get("nthreads", 1) for address, worker in info["workers"].items()
        }
        scheduler = info.get("address", "?")
        now = time.monotonic()
        with self._lock:
            for gone in set(self._workers) - set(present):
                del self._workers[gone]
            known = dict(self._workers)
        stale = (
            self.scheduler_problem is not None and now - self._scheduler_checked > RECHECK_SECONDS
        )
        to_check = [
            address
            for address in present
            if address not in known
            or (
                (known[address].problem or known[address].data_notice)
                and now - known[address].checked > RECHECK_SECONDS
            )
        ]
        if not to_check and self._scheduler_checked and not stale:
            return
        import cloudpickle
        from distributed.versions import (
            get_versions,
            required_packages,
            scheduler_relevant_packages,
        )

        cloudpickle.register_pickle_by_value(probe)  # it must run where the project is missing
        versions = self.client.get_versions()
        ours = get_versions()
        if not self._scheduler_checked or stale:
            try:
                answer: Any = self.client.run_on_scheduler(probe.project_here, datasets=False)
            except Exception as error:  # noqa: BLE001 - said in the sentence
                answer = error
            self.scheduler_problem = software_problem(
                f"The scheduler at {scheduler}",
                ours,
                versions.get("scheduler"),
                answer,
                packages=frozenset(scheduler_relevant_packages) - {"python", "lz4"},
                restart="dask scheduler",
            )
            self._scheduler_checked = now
        if not to_check:
            return
        try:
            answers = self.client.run(probe.project_here, workers=to_check, on_error="return")
        except Exception:  # noqa: BLE001 - a worker left meanwhile: asked again next time
            return
        checked = {}
        for address in to_check:
            answer = answers.get(address, RuntimeError("the worker left before it answered"))
            who = f"Worker {address}"
            problem = software_problem(
                who,
                ours,
                versions.get("workers", {}).get(address),
                answer,
                packages=frozenset(required_packages),
                restart="dask worker",
            )
            datasets = (
                frozenset(answer.get("datasets", ())) if isinstance(answer, dict) else frozenset()
            )
            notice = None
            if problem is None and "mnist" not in datasets:
                notice = missing_data_sentence(who, "mnist", answer.get("data_directory", "?"))
            checked[address] = WorkerState(present[address], problem, datasets, notice, now)
        with self._lock:
            for address, state in checked.items():
                if address in present:
                    self._workers[address] = state
