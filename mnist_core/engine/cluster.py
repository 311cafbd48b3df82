"""The Dask cluster that trains: an existing one by address, or an embedded one of our own.

`MNIST_DASK_SCHEDULER=tls://host:8786` (or `tcp://`; `--scheduler` on the command line) points
at an existing cluster (the README's cluster recipe). For a `tls://` scheduler, the app's
client presents the certificate and key named by `MNIST_DASK_TLS_CERT` and
`MNIST_DASK_TLS_KEY`, and trusts the certificate authority in `MNIST_DASK_TLS_CA_FILE` (or
Dask's own `distributed.comm.tls` configuration).

Without an address, `start_embedded_cluster()` starts `python -m mnist_core.engine.cluster`
as a child process: a `LocalCluster` of worker processes (one per core by default, one thread
each, TensorFlow limited to one thread), no dashboard unless asked, at a lower OS priority so
that the web server stays quick while a class trains. It listens on 127.0.0.1 only and speaks
TLS with a temporary certificate made here (`Security.temporary()`): another account of the
machine cannot submit work to it. The certificate and its key live in memory: they reach the
child process through its standard input and this process's client through
`client_security()`, never a file or a command line another account could read. The app then
connects to it by address, the same code path as a real cluster.

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
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEDULER_ENVIRONMENT_VARIABLE = "MNIST_DASK_SCHEDULER"
WORKERS_ENVIRONMENT_VARIABLE = "MNIST_DASK_WORKERS"
DASHBOARD_ENVIRONMENT_VARIABLE = "MNIST_DASK_DASHBOARD"
# The files of the app's client certificate for a `tls://` scheduler (the README's TLS recipe).
TLS_CA_FILE_VARIABLE = "MNIST_DASK_TLS_CA_FILE"
TLS_CERT_VARIABLE = "MNIST_DASK_TLS_CERT"
TLS_KEY_VARIABLE = "MNIST_DASK_TLS_KEY"
EMBEDDED_HOST = "127.0.0.1"
# Workers run at this niceness: drawing on the web server comes before training.
WORKER_NICENESS = 10
START_TIMEOUT_SECONDS = 60.0
CONNECT_TIMEOUT_SECONDS = 5.0
# One thread for TensorFlow's math in each worker: the workers are the parallelism.
SINGLE_THREAD_ENVIRONMENT = {
    "OMP_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
}


class ClusterUnavailableError(RuntimeError):
    """The cluster cannot be reached or started; the message says what to do."""


# The in-memory certificates of the embedded clusters this process started, by address.
_EMBEDDED_SECURITY: dict[str, Any] = {}


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


def client_security(address: str) -> Any | None:
    """The `distributed.Security` this process's client connects to `address` with.

    An embedded cluster this process started: its temporary certificate. Else, with
    `MNIST_DASK_TLS_CA_FILE` and `MNIST_DASK_TLS_CERT` (and `MNIST_DASK_TLS_KEY` unless the
    key is in the certificate's file) set: those files. Else, for a `tls://` address, Dask's
    own TLS configuration; for a `tcp://` one, None (plain TCP).

    Raises:
        ClusterUnavailableError: a `tls://` address without a certificate, files that cannot be
            read, or certificate files for a `tcp://` address; the message says what to set.
    """
    if address in _EMBEDDED_SECURITY:
        return _EMBEDDED_SECURITY[address]
    from distributed import Security

    files = {
        name: os.environ.get(name, "").strip()
        for name in (TLS_CA_FILE_VARIABLE, TLS_CERT_VARIABLE, TLS_KEY_VARIABLE)
    }
    if not any(files.values()):
        if not address.startswith("tls://"):
            return None
        security = Security()  # DASK_DISTRIBUTED__COMM__TLS__... or Dask's config files
        if security.tls_ca_file and security.tls_client_cert:
            return security
        raise ClusterUnavailableError(
            f"The Dask scheduler at {address} speaks TLS and this app has no certificate for "
            f"it: set {TLS_CA_FILE_VARIABLE} to the cluster's CA certificate, and "
            f"{TLS_CERT_VARIABLE} and {TLS_KEY_VARIABLE} to the app's certificate and key "
            "(the README's TLS recipe), then start again."
        )
    missing = [name for name in (TLS_CA_FILE_VARIABLE, TLS_CERT_VARIABLE) if not files[name]]
    if missing:
        raise ClusterUnavailableError(
            f"{' and '.join(missing)} must be set too: the app's client needs the cluster's CA "
            "certificate and its own certificate (the README's TLS recipe)."
        )
    for name, path in files.items():
        if path and not (Path(path).is_file() and os.access(path, os.R_OK)):
            raise ClusterUnavailableError(
                f"{name} names {path}, which is not a file this account can read; copy the "
                "file there (the README's TLS recipe) or fix the variable."
            )
    if not address.startswith("tls://"):
        raise ClusterUnavailableError(
            f"{TLS_CERT_VARIABLE} is set but the scheduler address {address} is not a TLS one: "
            f"write it tls://{address.split('://')[-1]} (or unset the TLS variables)."
        )
    return Security(
        require_encryption=True,
        tls_ca_file=files[TLS_CA_FILE_VARIABLE],
        tls_client_cert=files[TLS_CERT_VARIABLE],
        tls_client_key=files[TLS_KEY_VARIABLE] or None,
    )


def connect_client(address: str, security: Any | None) -> Any:
    """A `distributed.Client` of the scheduler at `address` (with its TLS `security`, if any).

    Raises:
        ClusterUnavailableError: it does not answer, or refuses this app's certificate.
    """
    from distributed import Client
    from distributed.versions import VersionMismatchWarning

    try:
        with warnings.catch_warnings():
            # Dask's own version check prints a table here; the engine's check names each
            # worker that cannot train, in a sentence (`compatibility`).
            warnings.simplefilter("ignore", VersionMismatchWarning)
            return Client(
                address, security=security, timeout=CONNECT_TIMEOUT_SECONDS, set_as_default=False
            )
    except (OSError, TimeoutError) as error:
        certificate = (
            ", or does not accept this app's certificate (MNIST_DASK_TLS_CERT, signed by the "
            "CA in MNIST_DASK_TLS_CA_FILE)"
            if address.startswith("tls://")
            else ""
        )
        raise ClusterUnavailableError(
            f"The Dask scheduler at {address} does not answer ({type(error).__name__})"
            f"{certificate}. Start it (`dask scheduler`, then `dask worker <address>`), or "
            "fix MNIST_DASK_SCHEDULER (or --scheduler); unset it to use the embedded cluster."
        ) from None


@dataclass
class EmbeddedCluster:
    """A cluster running in a child process; `close()` (or our exit) ends it."""

    address: str
    process: subprocess.Popen
    workers: int
    # Its temporary certificate and key (in memory): what a client connects with.
    security: Any = field(default=None, repr=False)

    def close(self, timeout: float = 20.0) -> None:
        """Shut the cluster down and wait for its process."""
        _EMBEDDED_SECURITY.pop(self.address, None)
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


def temporary_security() -> Any:
    """A new self-signed certificate and key, in memory, for every role of a cluster."""
    from distributed import Security

    try:
        return Security.temporary()
    except ImportError:
        raise ClusterUnavailableError(
            "The embedded Dask cluster needs the `cryptography` package for its TLS "
            "certificate: run `make setup` (or `pip install cryptography`)."
        ) from None


def start_embedded_cluster(
    workers: int | None = None, *, dashboard: bool = False, niceness: int = WORKER_NICENESS
) -> EmbeddedCluster:
    """Start a LocalCluster in a child process and return its address once it answers.

    The cluster listens on 127.0.0.1 and speaks TLS with a certificate made here (see the
    module's docstring); `EmbeddedCluster.security` and `client_security(address)` give it.

    Args:
        workers: worker processes (default: `default_worker_count()`).
        dashboard: serve Dask's dashboard on :8787 (default off, or `MNIST_DASK_DASHBOARD=1`).
        niceness: how much lower the workers' OS priority is (default 10).
    """
    workers = workers or default_worker_count()
    dashboard = dashboard or os.environ.get(DASHBOARD_ENVIRONMENT_VARIABLE) == "1"
    security = temporary_security()
    environment = dict(os.environ, **SINGLE_THREAD_ENVIRONMENT)
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
        text=True,
    )
    assert process.stdin is not None
    # The certificate and key: the first line of the child's standard input, nowhere else.
    certificate = {
        "ca": security.tls_ca_file,
        "cert": security.tls_scheduler_cert,
        "key": security.tls_scheduler_key,
    }
    try:
        process.stdin.write(json.dumps(certificate) + "\n")
        process.stdin.flush()
    except OSError:
        pass  # the child is gone already: said below
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
            f"(exit status {process.poll()}). Check that the project is installed with its "
            f"dependencies (`make setup`), or point {SCHEDULER_ENVIRONMENT_VARIABLE} at a "
            "running scheduler."
        )
    _EMBEDDED_SECURITY[found["address"]] = security
    return EmbeddedCluster(
        address=found["address"], process=process, workers=workers, security=security
    )


def _serve(workers: int, dashboard: bool, niceness: int) -> int:
    """The child process: read the certificate (the first line of stdin), start a TLS
    LocalCluster on 127.0.0.1, print its address, live until stdin closes."""
    certificate = json.loads(sys.stdin.readline() or "{}")
    if niceness:
        os.nice(niceness)  # inherited by every worker process
    os.environ.update(SINGLE_THREAD_ENVIRONMENT)
    import dask
    from distributed import LocalCluster, Security

    dask.config.set(
        {
            # A worker that dies in the middle of a run fails that run (the engine says why)
            # instead of starting it over on another worker behind everybody's back.
            "distributed.scheduler.allowed-failures": 0,
            "distributed.worker.daemon": False,
            "logging.distributed": "error",
            # An idle cluster wakes less: Dask checks its event loop every 20 ms, samples its
            # processes every 500 ms (for a dashboard we seldom serve) and each worker's
            # memory every 100 ms. An idle engine with two warm workers took 2.25 CPU
            # seconds a minute with those, 0.63 with these (2026-12-04, 2 cores): a server
            # that waits for its class all day keeps that core for its students.
            "distributed.admin.tick.interval": "1s",
            "distributed.admin.system-monitor.interval": "500ms" if dashboard else "5s",
            "distributed.worker.memory.monitor-interval": "500ms",
        }
    )
    roles = ("client", "scheduler", "worker")
    security = Security(
        require_encryption=True,
        tls_ca_file=certificate["ca"],
        **{f"tls_{role}_cert": certificate["cert"] for role in roles},
        **{f"tls_{role}_key": certificate["key"] for role in roles},
    )
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":8787" if dashboard else None,
        host=EMBEDDED_HOST,
        protocol="tls://",
        security=security,
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
