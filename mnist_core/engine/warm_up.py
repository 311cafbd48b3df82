"""The Dask worker plugin that keeps a training worker warm between runs.

Registered by the engine on every worker of the cluster (those that join later too): when a
worker starts it imports TensorFlow (one thread for its math: the workers are the
parallelism) and loads MNIST once, so that a student's run starts training at once instead of
spending seconds on imports and files. This module imports `distributed` (Dask requires a
plugin to be a `WorkerPlugin`), so the engine imports it only where it needs it.

The engine sends the plugin by value (cloudpickle), so that a worker without the project can
still unpickle it: nothing of the project is imported here at module level.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Any

from distributed import WorkerPlugin

PLUGIN_NAME = "mnist-warm-up"


def import_single_threaded_keras() -> Any:
    """Import Keras with TensorFlow limited to one thread for its math; returns `keras`.

    A process that already imported TensorFlow keeps its threading as it is.
    """
    for name, value in (("TF_NUM_INTRAOP_THREADS", "1"), ("TF_NUM_INTEROP_THREADS", "1")):
        os.environ.setdefault(name, value)
    from mnist_core.base.keras_import import import_keras

    first = "tensorflow" not in sys.modules
    keras = import_keras()
    if first:
        import tensorflow as tf

        with contextlib.suppress(RuntimeError):  # already initialised: keep its setting
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(2)
    return keras


class WarmUp(WorkerPlugin):
    """Imports TensorFlow once per worker and keeps the datasets it loads.

    It travels to the workers empty (a lock and arrays do not pickle, nor should they be
    sent): each worker loads its own copy.
    """

    name = PLUGIN_NAME

    def __init__(self) -> None:
        self._empty()

    def _empty(self) -> None:
        self.datasets: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        del state
        self._empty()

    def setup(self, worker: Any = None) -> None:
        """Called by Dask when the worker starts (or the plugin is registered). It never
        raises: Dask would not start the worker, and nobody would see why; the engine's
        cluster check names a worker that cannot train instead."""
        del worker
        try:
            import_single_threaded_keras()
        except Exception:  # noqa: BLE001 - no project or no TensorFlow here: checked elsewhere
            return
        with contextlib.suppress(Exception):  # a worker without MNIST still trains others
            self.dataset("mnist")

    def dataset(self, name: str) -> Any:
        """The named dataset, loaded once by this worker."""
        with self._lock:
            if name not in self.datasets:
                from mnist_core.data.datasets import load_dataset

                self.datasets[name] = load_dataset(name)
            return self.datasets[name]
