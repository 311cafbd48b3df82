"""App-test fixtures: one run log for the whole session (so the pages' engine, and the embedded
cluster it starts, are made once), and runs recorded without a cluster for pages that only read
them."""

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def app_run_log(tmp_path_factory):
    """The run log every page of this test session uses (MNIST_RUNS_DB)."""
    from mnist_core.runs.log import RunLog

    path = tmp_path_factory.mktemp("app_runs") / "runs.sqlite3"
    previous = os.environ.get("MNIST_RUNS_DB")
    os.environ["MNIST_RUNS_DB"] = str(path)
    yield RunLog(path)
    if previous is None:
        os.environ.pop("MNIST_RUNS_DB", None)
    else:
        os.environ["MNIST_RUNS_DB"] = previous


@pytest.fixture
def record_trained_run():
    """A function that records a local training in a run log (see `_record_trained_run`)."""
    return _record_trained_run


def _record_trained_run(log, result, *, user: str, preset: str | None = None, dataset=None):
    """Put a finished local training (a `TrainingResult`) into the run log, model kept, as
    the engine would."""
    from mnist_core.engine.worker import model_bytes
    from mnist_core.runs.record import FINISHED

    run = log.create_run(result.config, user=user, preset=preset, train_images=result.train_samples)
    log.mark_running(run.id, worker="test")
    for metrics, summary in zip(result.history, result.weight_summaries):
        log.record_epoch(run.id, metrics.to_dict(), summary)
    path = log.model_path_for(run.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model_bytes(result.model))
    if dataset is not None:
        from mnist_core.engine.worker import run_metrics

        metrics = run_metrics(result, dataset)
    else:
        metrics = dict(result.metrics(), parameter_count=int(result.model.count_params()))
    return log.finish_run(run.id, FINISHED, result.message, metrics=metrics, model_path=str(path))
