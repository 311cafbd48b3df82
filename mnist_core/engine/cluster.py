"""The Dask cluster that trains: an existing one by address, or an embedded one of our own.

`MNIST_DASK_SCHEDULER=tcp://host:8786` (or `--scheduler` on the command line) points at an
existing cluster. Without it, `start_embedded_cluster()` starts `python -m mnist_core.engine.cluster`
as a child process: a `LocalCluster` of worker processes (one per core by default, one thread
each, TensorFlow limited to one thread), no dashboard unless asked, at a lower OS priority so
that the web server stays quick while a class trains. The app then connects to it by address,
the same code path as a real cluster.

A process-based `LocalCluster` cannot be started from inside a Streamlit script (its spawned
workers re-import the script as their main module), which is one reason the cluster lives in
a process of its own. That process reads its standard input: when the process that started
it ends, for whatever reason, the pipe closes and the cluster shuts down with it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass

from mnist_core.base.paths import package_directory

SCHEDULER_ENVIRONMENT_VARIABLE = "MNIST_DASK_SCHEDULER"
WORKERS_ENVIRONMENT_VARIABLE = "MNIST_DASK_WORKERS"
DASHBOARD_ENVIRONMENT_VARIABLE = "MNIST_DASK_DASHBOARD"
# Workers run at this niceness: drawing on the web server comes before training.
WORKER_NICENESS = 10
START_TIMEOUT_SECONDS = 60.0
# One thread for TensorFlow's math in each worker: the workers are the parallelism.
SINGLE_THREAD_ENVIRONMENT = {
    "OMP_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
}


class ClusterUnavailableError(RuntimeError):
    """The cluster cannot be reached or started; the message says what to do."""


def configured_scheduler_address() -> str | None:
    """The address in `MNIST_DASK_SCHEDULER`, if one is set."""
    address = os.environ.get(SCHEDULER_ENVIRONMENT_VARIABLE, "").strip()
    return address or None


def default_worker_count() -> int:
    """`MNIST_DASK_WORKERS` if set, else one worker per CPU core."""
    configured = os.environ.get(WORKERS_ENVIRONMENT_VARIABLE, "").strip()
    if configured:
        if not configured.isdigit() or int(configured) < 1:
            raise ValueError(
                f"{WORKERS_ENVIRONMENT_VARIABLE} must be a whole number of at least 1, "
                f"got {configured!r}."
            )
        return int(configured)
    return max(1, os.cpu_count() or 1)


@dataclass
class EmbeddedCluster:
    """A cluster running in a child process; `close()` (or our exit) ends it."""

    address: str
    process: subprocess.Popen
    workers: int

    def close(self, timeout: float = 20.0) -> None:
        """Shut the cluster down and wait for its process."""
        if self.process.poll() is not None:
            return
        try:
            if self.process.stdin:
                self.process.stdin.close()
            self.process.wait(timeout=timeout)
        except (subprocess.TimeoutExpired, OSError):
            self.process.kill()
            self.process.wait(timeout=5)

    @property
    def running(self) -> bool:
        """Whether its process is still there."""
        return self.process.poll() is None


def start_embedded_cluster(
    workers: int | None = None, *, dashboard: bool = False, niceness: int = WORKER_NICENESS
) -> EmbeddedCluster:
    """Start a LocalCluster in a child process and return its address once it answers.

    Args:
        workers: worker processes (default: `default_worker_count()`).
        dashboard: serve Dask's dashboard on :8787 (default off, or `MNIST_DASK_DASHBOARD=1`).
        niceness: how much lower the workers' OS priority is (default 10).
    """
    workers = workers or default_worker_count()
    dashboard = dashboard or os.environ.get(DASHBOARD_ENVIRONMENT_VARIABLE) == "1"
    project_root = str(package_directory().parent)
    environment = dict(os.environ, **SINGLE_THREAD_ENVIRONMENT)
    environment["PYTHONPATH"] = os.pathsep.join(
        part for part in (project_root, os.environ.get("PYTHONPATH", "")) if part
    )
    command = [sys.executable, "-m", "mnist_core.engine.cluster", "--workers", str(workers)]
    if dashboard:
        command.append("--dashboard")
    command += ["--niceness", str(niceness)]
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=environment,
        cwd=project_root,
        text=True,
    )
    found: dict[str, str] = {}

    def read_address() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("{"):
                found.update(json.loads(line))
                return

    reader = threading.Thread(target=read_address, daemon=True)
    reader.start()
    reader.join(START_TIMEOUT_SECONDS)
    if "address" not in found:
        process.kill()
        raise ClusterUnavailableError(
            f"The embedded Dask cluster did not start within {START_TIMEOUT_SECONDS:.0f} s "
            f"(exit status {process.poll()}). Check that the `distributed` package is "
            f"installed (`make setup`), or point {SCHEDULER_ENVIRONMENT_VARIABLE} at a running "
            "scheduler."
        )
    return EmbeddedCluster(address=found["address"], process=process, workers=workers)


def _serve(workers: int, dashboard: bool, niceness: int) -> int:
    """The child process: start a LocalCluster, print its address, live until stdin closes."""
    if niceness:
        os.nice(niceness)  # inherited by every worker process
    os.environ.update(SINGLE_THREAD_ENVIRONMENT)
    import dask
    from distributed import LocalCluster

    dask.config.set(
        {
            # A worker that dies in the middle of a run fails that run (the engine says why)
            # instead of starting it over on another worker behind everybody's back.
            "distributed.scheduler.allowed-failures": 0,
            "distributed.worker.daemon": False,
            "logging.distributed": "error",
        }
    )
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":8787" if dashboard else None,
        host="127.0.0.1",
        silence_logs=40,
    )
    print(json.dumps({"address": cluster.scheduler_address}), flush=True)
    try:
        sys.stdin.read()  # returns when the parent closes the pipe or exits
    except KeyboardInterrupt:
        pass
    finally:
        cluster.close(timeout=10)
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m mnist_core.engine.cluster`: run an embedded cluster until standard input closes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--dashboard", action="store_true")
    parser.add_argument("--niceness", type=int, default=WORKER_NICENESS)
    args = parser.parse_args(argv)
    return _serve(args.workers or default_worker_count(), args.dashboard, args.niceness)


if __name__ == "__main__":
    sys.exit(main())
