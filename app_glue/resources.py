"""What the server holds once for every session: datasets, the run log, the drawings, the engine.

Each is made on first use (`st.cache_resource`) and shared read-only; a failure shows an
error box and gives None, so that a page can say what is missing and go on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from mnist_core.data.datasets import Dataset


@st.cache_resource(show_spinner="Loading the dataset…")
def _cached_dataset(name: str) -> Dataset:
    from mnist_core.data.datasets import load_dataset

    return load_dataset(name)


def get_dataset(name: str = "mnist") -> Dataset | None:
    """The named dataset, loaded once per server; on failure an error box and None."""
    from mnist_core.data.datasets import DatasetUnavailableError

    try:
        return _cached_dataset(name)
    except (DatasetUnavailableError, ValueError) as error:
        st.error(f"The {name} dataset is not available. {error}")
        return None


def dataset_choices() -> list[str]:
    """Datasets that can be loaded here (Fashion-MNIST only when its files are present)."""
    from mnist_core.data.datasets import dataset_available

    return [name for name in ("mnist", "fashion_mnist") if dataset_available(name)]


@st.cache_resource(show_spinner=False)
def cached_run_log(path: str) -> Any:
    from mnist_core.runs.log import RunLog

    return RunLog(path)


def run_log() -> Any:
    """The server's run log (one object per database path)."""
    from mnist_core.base.paths import default_runs_path

    return cached_run_log(str(default_runs_path()))


@st.cache_resource(show_spinner=False)
def _user_directory(path: str) -> Any:
    from mnist_core.runs.users import UserDirectory

    return UserDirectory(cached_run_log(path).database)


def user_directory() -> Any:
    """The server's users and their names (in the run log's file)."""
    from mnist_core.base.paths import default_runs_path

    return _user_directory(str(default_runs_path()))


@st.cache_resource(show_spinner=False)
def unlock_throttle() -> Any:
    """The server's count of wrong teacher keys (one for every session)."""
    from mnist_core.runs.classroom import UnlockThrottle

    return UnlockThrottle()


@st.cache_resource(show_spinner=False)
def _drawing_store(path: str) -> Any:
    from mnist_core.data.drawings import DrawingStore
    from mnist_core.runs.limits import Limits

    return DrawingStore(path, max_per_user=Limits().drawings_per_user)


def drawing_store() -> Any:
    """The server's store of users' labelled drawings (beside the run log)."""
    from mnist_core.base.paths import default_runs_path

    return _drawing_store(str(default_runs_path()))


@dataclass
class EngineHolder:
    """Holds the engine (Streamlit refuses to cache a Dask client directly)."""

    engine: Any


# The engines connected so far, by (run log, address): what `connected_engine` reads.
_CONNECTED: dict[tuple[str, str | None], EngineHolder] = {}


@st.cache_resource(show_spinner="Connecting to the training cluster…")
def engine_holder(path: str, address: str | None) -> EngineHolder:
    from mnist_core.engine.engine import Engine

    holder = EngineHolder(Engine.connect(cached_run_log(path), address=address))
    _CONNECTED[(path, address)] = holder
    return holder


def connected_engine() -> Any:
    """The server's training engine if it is connected already (`serve.py` connects it at
    start, a first Train does otherwise), else None; never connects, never shows an error."""
    from mnist_core.base.paths import default_runs_path
    from mnist_core.engine.cluster import configured_scheduler_address

    holder = _CONNECTED.get((str(default_runs_path()), configured_scheduler_address()))
    if holder is None or holder.engine.closed:
        return None
    return holder.engine


def training_engine() -> Any:
    """The server's training engine (started once); on failure an error box and None.

    The Draw and Evaluate pages never call this: they keep working when the cluster is down.
    """
    from mnist_core.base.paths import default_runs_path
    from mnist_core.engine.cluster import (
        ClusterUnavailableError,
        configured_scheduler_address,
    )
    from mnist_core.runs.database import RunLogError

    try:
        return engine_holder(str(default_runs_path()), configured_scheduler_address()).engine
    except ClusterUnavailableError as error:
        st.error(f"Training is not available: {error}", icon=":material/cloud_off:")
    except RunLogError as error:
        st.error(f"Training is not available: {error}", icon=":material/database:")
    return None
