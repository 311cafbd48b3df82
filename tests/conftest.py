"""Shared fixtures: the real datasets (loaded once per test session) and small subsets."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# The markers of the tests that start servers, browsers or Dask workers, or train for long
# (pyproject.toml): such a test is also marked `heavy`, which `make test-fast` leaves out.
HEAVY_MARKERS = ("browser", "cluster", "slow")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Marks the heavy tests `heavy`, and makes the units pytest-xdist hands out to its workers
    under `--dist loadgroup` (how `make test` runs the heavy tests): a heavy test is a unit of
    its own, unless it shares a fixture with the rest of its module; other tests go by module.
    A free worker takes the next unit, so the long tests spread over both workers, and a
    module's shared fixture (a Dask cluster, a trained model) is built on one worker only."""
    for item in items:
        if is_heavy(item):
            item.add_marker(pytest.mark.heavy)
        if not is_heavy(item) or shares_a_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(module_id(item)))


def is_heavy(item: pytest.Item) -> bool:
    """Whether `item` carries one of HEAVY_MARKERS."""
    return any(item.get_closest_marker(marker) for marker in HEAVY_MARKERS)


def module_id(item: pytest.Item) -> str:
    """The node id of the test module `item` is in."""
    return item.nodeid.split("::")[0]


def shares_a_module_fixture(item: pytest.Item) -> bool:
    """Whether `item` uses a fixture built once for several of its module's tests: one of
    module scope, or one of a wider scope defined in the test module itself."""
    fixture_info = getattr(item, "_fixtureinfo", None)
    if fixture_info is None:
        return False
    return any(
        definition.scope == "module"
        or (definition.scope != "function" and definition.baseid == module_id(item))
        for definitions in fixture_info.name2fixturedefs.values()
        for definition in definitions[-1:]
    )


@pytest.fixture(scope="session", autouse=True)
def isolated_run_log(tmp_path_factory):
    """Every training a test starts (the CLI's `train` records its run) goes to a run log of
    the test session, never to the one in the shared data directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MNIST_RUNS_DB", str(tmp_path_factory.mktemp("run_log") / "runs.sqlite3"))
        yield


@pytest.fixture(scope="session")
def mnist():
    """The full, verified MNIST dataset (from the project's cache)."""
    from mnist_core.data.datasets import load_dataset

    return load_dataset("mnist")


@pytest.fixture(scope="session")
def tiny_mnist(mnist):
    """A few hundred images: enough for one quick epoch."""
    return mnist.subset(training_images=600, test_images=200, seed=0)


@pytest.fixture
def record_trained_run():
    """A function that records a local training (a `TrainingResult`) in a run log as the
    engine would, through the runs' lifecycle: its epochs, then its end with the model kept.

    record_trained_run(log, result, *, user, preset=None, dataset=None, training_images=None):
    `user` is a `runs.users.User` or a name (the user known by that name alone);
    with `dataset`, the final figures are computed on its test set as a worker does; without,
    the training's own. `training_images` is what the run asked for (default: what it used).
    """
    return _record_trained_run


def _record_trained_run(
    log, result, *, user, preset: str | None = None, dataset=None, training_images=None
):
    from mnist_core.runs.lifecycle import RunEnding, end_run, model_file_bytes, run_ending
    from mnist_core.runs.record import RUNNING

    run = log.create_run(
        result.config,
        user=user,
        preset=preset,
        training_images=training_images or result.training_images_used,
        status=RUNNING,
    )
    for metrics, summary in zip(result.history, result.weight_summaries):
        log.record_epoch(run.id, metrics.to_dict(), summary)
    if dataset is not None:
        ending = run_ending(result, dataset)
    else:
        metrics = dict(result.metrics(), parameter_count=int(result.model.count_params()))
        ending = RunEnding("finished", result.message, metrics, model_file_bytes(result.model))
    return end_run(log, run.id, ending)


@pytest.fixture(scope="session")
def tiny_config():
    """The one small network the tests train: softmax regression (7,850 parameters), two
    epochs of batches of 64, which trains on `tiny_mnist` in about a second."""
    from mnist_core.modeling.presets import get_preset

    return get_preset("softmax_regression").config.replace(epochs=2, batch_size=64)


@pytest.fixture(scope="session")
def tiny_model(tiny_config):
    """`tiny_config` built (compiled, untrained, seeded): (28, 28) in, 10 probabilities out."""
    from mnist_core.base.keras_import import import_keras
    from mnist_core.modeling.build import build_model

    import_keras().utils.set_random_seed(0)
    return build_model(tiny_config)


@pytest.fixture(scope="session")
def share_class_drawings(mnist):
    """A function that gives students labelled drawings and shares them with the class:

    share_class_drawings(path, writer_ids, per_digit=3, start=0) -> {writer_id: [drawing ids]}:
    each writer keeps `per_digit` drawings of every digit (MNIST test digits, different for
    each writer, from index `start` on) in the drawings of the SQLite file `path`, and shares
    them.
    """
    from mnist_core.data.class_drawings import ClassDrawings
    from mnist_core.data.drawings import DrawingStore, image_id

    def share(path, writer_ids, per_digit: int = 3, start: int = 0):
        store = DrawingStore(path)
        class_drawings = ClassDrawings(store)
        by_digit = {digit: list(np.flatnonzero(mnist.y_test == digit)) for digit in range(10)}
        made = {}
        for number, writer in enumerate(writer_ids):
            entries = []
            for digit in range(10):
                for copy in range(per_digit):
                    index = by_digit[digit][start + number * per_digit + copy]
                    image = mnist.x_test[index]
                    entries.append((image_id(image), image, digit))
            store.add_drawings(writer, entries)
            class_drawings.set_sharing(writer, True)
            made[writer] = [entry[0] for entry in entries]
        return made

    return share
