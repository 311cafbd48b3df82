"""Dask clusters started as the README's cluster recipe says: `dask scheduler` and
`dask worker` commands from this environment's bin folder, run from a directory outside the
repository and without PYTHONPATH, so that they import the project as it is installed
(`make setup-dev` installs it editable) and nothing else. (conftest.py's `recipe_cluster`
is one, for the whole test session.)"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Makes `mnist_core` unimportable in a process (and the processes it spawns): a worker in an
# environment without the project, from the same interpreter.
HIDE_PROJECT = textwrap.dedent(
    """
    import sys


    class HideProject:
        def find_spec(self, name, path=None, target=None):
            if name == "mnist_core" or name.startswith("mnist_core."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None


    sys.meta_path.insert(0, HideProject())
    """
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def recipe_environment(**variables: str) -> dict[str, str]:
    """This environment without PYTHONPATH (nothing points at the repository)."""
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    environment.update(TF_CPP_MIN_LOG_LEVEL="3", **variables)
    return environment


def without_project(folder: Path) -> dict[str, str]:
    """The recipe's environment, with `mnist_core` hidden (a `sitecustomize` in `folder`)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(HIDE_PROJECT)
    return recipe_environment(PYTHONPATH=str(folder))


def outside_directory(base: Path) -> Path:
    assert not base.resolve().is_relative_to(REPOSITORY)
    base.mkdir(parents=True, exist_ok=True)
    return base


def start_scheduler(port: int, cwd: Path, *options: str, environment=None) -> subprocess.Popen:
    """`dask scheduler --host 127.0.0.1 --port PORT --no-dashboard [options]`."""
    return subprocess.Popen(
        [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--no-dashboard", *options],
        cwd=cwd, env=environment or recipe_environment(),
        stdout=subprocess.DEVNULL, stderr=open(cwd / f"scheduler-{port}.log", "w"),  # noqa: SIM115
    )  # fmt: skip


def start_worker(address: str, cwd: Path, name: str, *options: str, environment=None):
    """The recipe's `nice -n 10 dask worker ADDRESS --nworkers 1 --nthreads 1 ...`."""
    return subprocess.Popen(
        ["nice", "-n", "10", str(BIN / "dask"), "worker", address, "--name", name,
         "--nworkers", "1", "--nthreads", "1", "--memory-limit", "4GiB",
         "--local-directory", str(cwd / f"dask-{name}"), "--host", "127.0.0.1",
         "--no-dashboard", *options],
        cwd=cwd, env=environment or recipe_environment(),
        stdout=subprocess.DEVNULL, stderr=open(cwd / f"worker-{name}.log", "w"),  # noqa: SIM115
    )  # fmt: skip


def stop(*processes: subprocess.Popen) -> None:
    """Stop processes we started, by their id: SIGTERM, then SIGKILL after 20 s."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def wait_for_worker_named(address: str, name: str, security=None, timeout: float = 120.0) -> str:
    """The address of the worker called `name` once it joined the scheduler at `address`."""
    from distributed import Client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError, TimeoutError),
            Client(address, security=security, timeout=5, set_as_default=False) as client,
        ):
            while time.monotonic() < deadline:
                workers = client.scheduler_info(n_workers=-1)["workers"]
                for worker_address, worker in workers.items():
                    if worker.get("name") == name:
                        return worker_address
                time.sleep(0.5)
        time.sleep(0.5)
    raise AssertionError(f"worker {name} did not join {address} within {timeout} s")
