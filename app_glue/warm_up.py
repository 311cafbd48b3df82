"""What `serve.py` does before the first visit: the default model loaded and run once, the
first visit's imports, the training engine connected."""

from __future__ import annotations

import contextlib

from app_glue.models import cached_stored_model
from app_glue.resources import engine_holder

# What the first visit of the Draw page imports that the model's warm-up does not (measured
# with `python -X importtime serve.py` and one visit: about 0.15 s, mostly the emoji and icon
# tables Streamlit reads the first time a button has an icon). A name that a later version no
# longer has is skipped: this only moves work earlier.
FIRST_VISIT_MODULES = (
    "streamlit.emojis",
    "streamlit.material_icon_names",
    "pyarrow.pandas_compat",
    "mnist_core.reading.tally",
    "mnist_core.runs.users",
)


def warm_up_first_visit() -> None:
    """Import what the first visit's page run would import, and Pillow's image plugins (see
    `FIRST_VISIT_MODULES`); called by `serve.py` after the model's warm-up."""
    import importlib
    import io

    from PIL import Image, ImageDraw

    from mnist_core.reading.images import load_image_file
    from mnist_core.reading.preprocess import preprocess_drawing_steps

    for name in FIRST_VISIT_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    Image.init()
    # A canvas-like PNG (a white stroke on transparent) through the Draw page's own path.
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).line([(140, 60), (140, 220)], fill=(255, 255, 255, 255), width=20)
    png = io.BytesIO()
    canvas.save(png, format="PNG")
    png.seek(0)
    preprocess_drawing_steps(load_image_file(png))


def warm_up_training_engine() -> None:
    """Connect the server's training engine before any visit (see `serve.py`)."""
    from mnist_core.base.paths import default_runs_path
    from mnist_core.engine.cluster import configured_scheduler_address

    engine_holder(str(default_runs_path()), configured_scheduler_address())


def warm_up_default_model() -> None:
    """Load the default model into the shared model cache and run it once, before any visit.

    Called by `serve.py` in a thread of its own when the server starts (there is no
    session then). The first prediction and the first "why" of a model each trace a
    TensorFlow function: both are done here on a blank image, so that the first visitor's
    drawing is answered as fast as every later one.
    """
    import numpy as np

    from mnist_core.base.paths import models_directory
    from mnist_core.data.format import IMAGE_SHAPE
    from mnist_core.modeling.store import DEFAULT_MODEL_NAME
    from mnist_core.reading.attribution import explain_drawing
    from mnist_core.reading.predict import predict_image

    path = models_directory() / f"{DEFAULT_MODEL_NAME}.keras"
    loaded = cached_stored_model(DEFAULT_MODEL_NAME, path.stat().st_mtime_ns)
    blank = np.zeros(IMAGE_SHAPE, dtype=np.float32)
    predict_image(loaded.model, blank)
    explain_drawing(loaded.model, blank, 0)
