"""engine.compatibility: the cluster check's sentences and which workers get runs, on a
stand-in Dask client (the real clusters are in test_cluster_recipe.py)."""

from __future__ import annotations

import mnist_core
from mnist_core.engine.compatibility import ClusterCheck, software_problem
from mnist_core.engine.probe import project_here

OURS = {"packages": {"python": "3.11.7.final.0", "dask": "2026.8.0", "distributed": "2026.8.0"}}
PACKAGES = frozenset({"dask", "distributed"})
VERSION = mnist_core.__version__


def problem(theirs=OURS, answer=None):
    answer = answer if answer is not None else {"version": VERSION}
    return software_problem(
        "Worker tcp://10.0.0.7:4000", OURS, theirs, answer, packages=PACKAGES,
        restart="dask worker",
    )  # fmt: skip


def test_a_worker_like_the_app_passes():
    assert problem() is None
    # Another patch release of Python is fine; Dask's packages must match exactly.
    assert problem({"packages": dict(OURS["packages"], python="3.11.9.final.0")}) is None


def test_each_mismatch_is_one_sentence_naming_the_worker_and_the_fix():
    other_python = problem({"packages": dict(OURS["packages"], python="3.12.1.final.0")})
    assert other_python == (
        "Worker tcp://10.0.0.7:4000 runs Python 3.12 and this app Python 3.11: make its "
        "environment with Python 3.11 and the project at this version (see the README's "
        "cluster recipe), then restart `dask worker`."
    )
    other_dask = problem({"packages": dict(OURS["packages"], distributed="2026.1.0")})
    assert other_dask.startswith("Worker tcp://10.0.0.7:4000 runs distributed 2026.1.0 where")
    assert "`pip install distributed==2026.8.0`" in other_dask
    missing = problem(answer={"version": None, "import_error": "ModuleNotFoundError: x",
                              "python": "/opt/env/bin/python"})  # fmt: skip
    assert missing.startswith(
        "Worker tcp://10.0.0.7:4000 cannot import the project (ModuleNotFoundError: x, in "
        f"/opt/env/bin/python): install mnist-playground {VERSION} into that environment"
    )
    older = problem(answer={"version": "0.0.1"})
    assert older.startswith(
        f"Worker tcp://10.0.0.7:4000 has mnist-playground 0.0.1 and this app {VERSION}"
    )
    for sentence in (other_python, other_dask, missing, older):
        assert sentence.count(". ") == 0 and sentence.endswith("restart `dask worker`.")


class StandInClient:
    """Answers like a Dask client of a scheduler with the given workers."""

    def __init__(self, workers):
        self.workers = workers  # address -> (nthreads, probe answer)
        self.asked = []

    def scheduler_info(self, n_workers=-1):
        return {"address": "tcp://s:8786",
                "workers": {a: {"nthreads": n} for a, (n, _) in self.workers.items()}}  # fmt: skip

    def get_versions(self):
        from distributed.versions import get_versions

        here = get_versions()  # as this process reports them: the same everywhere
        return {"scheduler": here, "workers": {a: here for a in self.workers}}

    def run_on_scheduler(self, function, **options):
        return function(**options)

    def run(self, function, workers, on_error):
        self.asked.append(sorted(workers))
        return {address: self.workers[address][1] for address in workers}


def test_runs_go_only_to_workers_that_pass_and_have_the_dataset():
    here = project_here()
    assert here["version"] == VERSION
    client = StandInClient(
        {
            "tcp://a:1": (1, dict(here, datasets=["mnist"])),
            "tcp://b:1": (2, dict(here, datasets=["mnist", "fashion_mnist"])),
            "tcp://c:1": (1, {"version": None, "import_error": "No module", "python": "p"}),
            "tcp://d:1": (1, dict(here, datasets=[], data_directory="/d")),
        }
    )  # fmt: skip
    check = ClusterCheck(client)
    check.refresh()
    assert check.scheduler_problem is None
    assert check.usable() == {"tcp://a:1": 1, "tcp://b:1": 2, "tcp://d:1": 1}
    assert check.workers_for("mnist") == ["tcp://a:1", "tcp://b:1"]
    assert check.workers_for("fashion_mnist") == ["tcp://b:1"]
    assert list(check.worker_problems()) == ["tcp://c:1"]
    problems = check.problems()
    assert len(problems) == 2 and problems[0].startswith("Worker tcp://c:1 cannot import")
    assert problems[1] == (
        "Worker tcp://d:1 has no copy of MNIST (in /d): run `mnist-playground prepare-data` on "
        "that machine (see the README's cluster recipe)."
    )
    # Nothing new: nobody is asked again; a worker that leaves is forgotten.
    check.refresh()
    assert len(client.asked) == 1
    del client.workers["tcp://c:1"]
    check.refresh()
    assert check.worker_problems() == {} and len(client.asked) == 1
