"""What the engine asks a Dask scheduler or worker before any run goes there.

`project_here()` says whether this project imports on the machine it runs on, at which
version, from which Python, and which datasets it finds there. The engine sends it by value
(cloudpickle), so that it runs even where `mnist_core` cannot be imported: it imports nothing
of the project at module level, and nothing but the standard library until the project
imported.
"""

from __future__ import annotations

from typing import Any

DATASETS = ("mnist", "fashion_mnist")


def project_here(*, datasets: bool = True) -> dict[str, Any]:
    """This machine's answer: `python`, `host`, `version` (None: the project does not import,
    `import_error` says why), and with `datasets`, `data_directory` and `datasets` (the
    names of those it can load without the network)."""
    import importlib
    import socket
    import sys

    found: dict[str, Any] = {"python": sys.executable, "host": socket.gethostname()}
    try:
        package = importlib.import_module("mnist_core")
    except Exception as error:  # noqa: BLE001 - any failure to import is the answer
        found["version"] = None
        found["import_error"] = f"{type(error).__name__}: {error}"
        return found
    found["version"] = getattr(package, "__version__", "unknown")
    if not datasets:
        return found
    try:
        from mnist_core.base.paths import data_directory
        from mnist_core.data.datasets import dataset_available

        found["data_directory"] = str(data_directory())
        found["datasets"] = [name for name in DATASETS if dataset_available(name)]
    except Exception as error:  # noqa: BLE001 - another version of the project, say
        found["datasets"] = []
        found["data_error"] = f"{type(error).__name__}: {error}"
    return found
