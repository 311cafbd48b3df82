"""base.paths: where the data, the models and the database live, in a checkout or installed."""

from __future__ import annotations

from pathlib import Path

from mnist_core.base import paths


def test_in_a_checkout_the_data_and_models_live_in_it(monkeypatch):
    for name in ("MNIST_DATA_DIR", "MNIST_MODELS_DIR", "MNIST_RUNS_DB"):
        monkeypatch.delenv(name, raising=False)
    checkout = paths.checkout_directory()
    assert checkout is not None and (checkout / "app.py").is_file()
    assert paths.data_directory() == checkout / "data"
    assert paths.models_directory() == checkout / "models"
    assert paths.default_runs_path() == checkout / "data" / "runs.sqlite3"
    assert paths.shown_path(checkout / "models" / "x.keras") == "models/x.keras"
    assert paths.shown_path("/elsewhere/x.keras") == "/elsewhere/x.keras"


def test_an_installed_package_keeps_its_files_under_the_users_data_folder(monkeypatch, tmp_path):
    for name in ("MNIST_DATA_DIR", "MNIST_MODELS_DIR", "MNIST_RUNS_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(paths, "checkout_directory", lambda: None)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert paths.data_directory() == tmp_path / "share" / "mnist-playground"
    assert paths.models_directory() == tmp_path / "share" / "mnist-playground" / "models"


def test_the_environment_overrides_each(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("MNIST_MODELS_DIR", str(tmp_path / "m"))
    monkeypatch.setenv("MNIST_RUNS_DB", str(tmp_path / "r.sqlite3"))
    assert paths.data_directory() == (tmp_path / "d").resolve()
    assert paths.models_directory() == tmp_path / "m"
    assert paths.default_runs_path() == tmp_path / "r.sqlite3"
    assert Path(paths.package_directory()).name == "mnist_core"
