"""Importing TensorFlow and Keras without the noise their C++ side prints on import.

TensorFlow 2.21 writes absl and oneDNN start-up lines straight to file descriptor 2, past
`TF_CPP_MIN_LOG_LEVEL`. The command line and the app call `import_keras()` before their first
use of Keras so that a user sees only the project's own messages; `native_stderr_silenced()`
is the one place that knows how to silence them.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

_lock = threading.Lock()


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for a while, then restore it.

    C++ code (TensorFlow's start-up lines) writes to the descriptor itself, past
    `sys.stderr`; Python exceptions raised inside still propagate and can be printed after.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_keras() -> Any:
    """Import Keras (and TensorFlow under it) once, with their start-up lines silenced."""
    if "keras" in sys.modules and "tensorflow" in sys.modules:
        return sys.modules["keras"]
    with _lock:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with native_stderr_silenced():
            import keras
            import tensorflow  # noqa: F401 - the import is the point

            # The first op also logs once; run a trivial one while stderr is closed.
            keras.ops.convert_to_numpy(keras.ops.zeros((1,)))
    return keras
