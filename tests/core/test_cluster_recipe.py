"""The README's cluster recipe, followed: a worker or a scheduler without the project is named
in one sentence and gets no run; the TLS recipe trains a run and refuses a client without the
cluster's certificate; the embedded cluster is TLS on 127.0.0.1 with its key in memory only.

Schedulers and workers are started as tests/core/conftest.py says (the README's commands,
outside the repository, without PYTHONPATH)."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from dask_recipe import (
    free_port,
    outside_directory,
    recipe_environment,
    start_scheduler,
    start_worker,
    stop,
    wait_for_worker_named,
    without_project,
)

import mnist_core
from mnist_core import cli
from mnist_core.engine.cluster import ClusterUnavailableError, start_embedded_cluster
from mnist_core.engine.engine import Engine
from mnist_core.modeling.presets import get_preset
from mnist_core.runs.log import RunLog
from mnist_core.runs.record import FINISHED, QUEUED
from mnist_core.runs.request import RunRequest

pytestmark = pytest.mark.cluster

TINY = get_preset("dense_fast").config.replace(
    layer_sizes=(32,), layer_activations=("relu",), layer_dropout_rates=(0.0,), epochs=1
)


def wait_for(condition, timeout=120.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not reached within {timeout} s")


def ended(log, run_id):
    run = log.get_run(run_id)
    return run if run.ended else None


def test_a_worker_without_the_project_is_named_and_gets_no_run(
    recipe_cluster, tmp_path, monkeypatch, capsys
):
    address, good_worker, directory = recipe_cluster
    environment = without_project(tmp_path / "hide-project")
    stray = start_worker(address, directory, "no-project", environment=environment)
    log = RunLog(tmp_path / "runs.sqlite3")
    engine = None
    try:
        stray_address = wait_for_worker_named(address, "no-project")
        engine = Engine.connect(log, address=address)
        sentence = wait_for(
            lambda: next((s for s in engine.cluster_problems if stray_address in s), None),
            timeout=60,
        )
        assert sentence.startswith(f"Worker {stray_address} cannot import the project")
        assert "No module named 'mnist_core'" in sentence
        assert (
            f"install mnist-playground {mnist_core.__version__} into that environment" in sentence
        )
        assert sentence.endswith("then restart `dask worker`.")
        assert engine.cluster_problems == (sentence,)  # the good worker and the scheduler pass
        assert engine.worker_threads() == 1

        # Two users' runs at once: both train, one after the other, on the good worker.
        runs = [
            engine.submit([RunRequest(TINY, training_images=1000)], user=user)[0]
            for user in ("ann", "ben")
        ]
        for run in runs:
            done = wait_for(lambda run=run: ended(log, run.id))
            assert done.status == FINISHED, done.reason
            assert done.worker == good_worker
        engine.close()
        engine = None

        # The command line says the same sentence, as a warning, and trains on the good worker.
        monkeypatch.setenv("MNIST_RUNS_DB", str(tmp_path / "cli-runs.sqlite3"))
        monkeypatch.setenv("MNIST_MODELS_DIR", str(tmp_path / "models"))
        status = cli.main(
            ["train", "--preset", "dense_fast", "--epochs", "1", "--training-images", "400",
             "--name", "beside-a-stray", "--scheduler", address]
        )  # fmt: skip
        captured = capsys.readouterr()
        assert status == 0, captured.err
        assert captured.err.splitlines() == [f"warning: {sentence}"]
    finally:
        if engine is not None:
            engine.close()
        stop(stray)


def test_a_scheduler_without_the_project_stops_the_cli_with_one_sentence(
    tmp_path, monkeypatch, capsys
):
    directory = outside_directory(tmp_path / "cluster")
    port = free_port()
    scheduler = start_scheduler(
        port, directory, environment=without_project(tmp_path / "hide-project")
    )
    address = f"tcp://127.0.0.1:{port}"
    monkeypatch.setenv("MNIST_RUNS_DB", str(tmp_path / "runs.sqlite3"))
    try:
        wait_for(lambda: _answers(address), timeout=60, interval=0.5)
        status = cli.main(
            ["train", "--preset", "dense_fast", "--epochs", "1", "--scheduler", address]
        )
        error = capsys.readouterr().err.strip()
        assert status == cli.ERROR_EXIT_STATUS
        assert error.startswith(f"error: The scheduler at {address} cannot import the project")
        assert error.endswith("then restart `dask scheduler`.") and "\n" not in error
        # The run was never sent: nothing is left queued for this cluster.
        assert RunLog(tmp_path / "runs.sqlite3").list_runs(statuses=(QUEUED,)) == []
    finally:
        stop(scheduler)


def _answers(address):
    from distributed import Client

    try:
        Client(address, timeout=2, set_as_default=False).close()
        return True
    except (OSError, TimeoutError):
        return False


# --- TLS ------------------------------------------------------------------------------------
# The README's TLS recipe: a certificate authority, then a certificate for each role.
OPENSSL_RECIPE = """
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=mnist-playground cluster CA" \
  -keyout ca.key -out ca.pem
for role in scheduler worker app; do
  openssl req -newkey rsa:2048 -nodes -subj "/CN=mnist-playground $role" \
    -keyout $role.key -out $role.csr
  openssl x509 -req -in $role.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 \
    -out $role.pem
done
"""


def test_the_tls_recipe_trains_and_refuses_a_client_without_the_certificate(tmp_path, monkeypatch):
    from distributed import Client, Security

    if shutil.which("openssl") is None:
        pytest.fail("openssl is missing: as root run `apt-get install openssl`")
    certificates = tmp_path / "tls"
    certificates.mkdir()
    subprocess.run(
        ["bash", "-euo", "pipefail", "-c", OPENSSL_RECIPE], cwd=certificates, check=True,
        capture_output=True, timeout=120,
    )  # fmt: skip
    directory = outside_directory(tmp_path / "cluster")
    port = free_port()
    address = f"tls://127.0.0.1:{port}"

    def files(role):
        return ["--tls-ca-file", str(certificates / "ca.pem"),
                "--tls-cert", str(certificates / f"{role}.pem"),
                "--tls-key", str(certificates / f"{role}.key")]  # fmt: skip

    scheduler = start_scheduler(port, directory, "--protocol", "tls", *files("scheduler"))
    worker = start_worker(address, directory, "tls-1", *files("worker"))
    engine = None
    try:
        # Without the app's certificate: one sentence naming the variables, nothing sent.
        with pytest.raises(ClusterUnavailableError, match="MNIST_DASK_TLS_CERT"):
            Engine.connect(RunLog(tmp_path / "runs.sqlite3"), address=address)
        monkeypatch.setenv("MNIST_DASK_TLS_CA_FILE", str(certificates / "ca.pem"))
        monkeypatch.setenv("MNIST_DASK_TLS_CERT", str(certificates / "app.pem"))
        monkeypatch.setenv("MNIST_DASK_TLS_KEY", str(certificates / "app.key"))
        app_security = Security(
            require_encryption=True,
            tls_ca_file=str(certificates / "ca.pem"),
            tls_client_cert=str(certificates / "app.pem"),
            tls_client_key=str(certificates / "app.key"),
        )
        wait_for_worker_named(address, "tls-1", security=app_security)
        log = RunLog(tmp_path / "runs.sqlite3")
        engine = Engine.connect(log, address=address)
        assert engine.cluster_problems == ()
        wait_for(lambda: engine.worker_threads() == 1, timeout=60)
        (run,) = engine.submit([RunRequest(TINY, training_images=1000)], user="tess")
        done = wait_for(lambda: ended(log, run.id))
        assert done.status == FINISHED and done.model_kept and done.worker.startswith("tls://")

        # A client with another certificate (not signed by the cluster's CA), or none.
        for security, plain_address in (
            (Security.temporary(), address),
            (None, address.replace("tls://", "tcp://")),
        ):
            with pytest.raises(OSError):
                Client(plain_address, security=security, timeout=5, set_as_default=False)
        monkeypatch.setenv("MNIST_DASK_TLS_CERT", str(certificates / "worker.pem"))
        monkeypatch.setenv("MNIST_DASK_TLS_KEY", str(certificates / "app.key"))  # not its key
        with pytest.raises(ClusterUnavailableError):
            Engine.connect(log, address=address)
    finally:
        if engine is not None:
            engine.close()
        stop(worker, scheduler)


def test_the_embedded_cluster_is_tls_on_localhost_and_its_key_is_never_on_a_command_line(
    tmp_path,
):
    from distributed import Client, Security

    cluster = start_embedded_cluster(1)
    try:
        assert cluster.address.startswith("tls://127.0.0.1:")
        with Client(cluster.address, security=cluster.security, set_as_default=False) as client:
            assert all(w.startswith("tls://127.0.0.1:") for w in client.scheduler_info()["workers"])
        for security, address in (
            (Security.temporary(), cluster.address),
            (None, cluster.address.replace("tls://", "tcp://")),
        ):
            with pytest.raises(OSError):
                Client(address, security=security, timeout=5, set_as_default=False)
        pid = cluster.process.pid
        for place in ("cmdline", "environ"):
            seen = open(f"/proc/{pid}/{place}", "rb").read()  # noqa: SIM115
            assert b"PRIVATE KEY" not in seen and b"CERTIFICATE" not in seen
        assert "PRIVATE KEY" not in "".join(recipe_environment().values())
    finally:
        cluster.close()
