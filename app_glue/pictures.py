"""Pictures of 28x28 images for the pages, enlarged so that their pixels stay sharp."""

from __future__ import annotations

from typing import Any


def enlarged_picture(image: Any, pixels: int) -> Any:
    """A 28x28 image (uint8, or floats in [0, 1]) enlarged so that its pixels stay sharp."""
    import numpy as np
    from PIL import Image

    if image.dtype != np.uint8:
        image = (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)
    return Image.fromarray(image).resize((pixels, pixels), Image.Resampling.NEAREST)
