"""Look inside a trained network: first-layer weights, every layer's activations, weight histograms.

What the "Inside the network" page shows, as plain functions that run without Streamlit:

- `first_layer_weights(model)`: the first layer's weights as small images. A dense unit's 784
  incoming weights, reshaped to 28x28, show which pixels push that unit up (positive) or down
  (negative); a convolution's kernels are the little patterns it slides over the image.
- `layer_activations(model, image28)`: what every layer outputs for one image, read from one
  extra Keras model (`build_activation_model`) whose outputs are all the layers' outputs. Build
  it once per model and pass it in: building costs far more than calling it.
- `tile_images(...)`: many small arrays laid out as one coloured, upscaled grid image.
- `weight_histogram_rows(...)`, `weight_statistics_rows(...)`: the per-epoch weight summaries
  of `mnist_core.train.summarize_weights` as table rows, ready for a chart or a table.

Keras is imported inside the functions that need it; models are called directly
(`model(x, training=False)`), never through `model.predict`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from mnist_core.data.format import IMAGE_SHAPE

KIND_DENSE = "dense"
KIND_CONVOLUTION = "convolution"
WEIGHT_PARTS = ("kernel", "bias")
SCALE_EACH = "each"  # every tile stretched to its own range: shows each tile's pattern
SCALE_SHARED = "shared"  # one range for all tiles: shows which tiles are strong or silent
SCALES = (SCALE_EACH, SCALE_SHARED)


class LayerActivation(NamedTuple):
    """One layer's output for one image (the batch dimension removed)."""

    layer_name: str
    layer_type: str  # the Keras class name: "Conv2D", "Dense", "MaxPooling2D", ...
    values: np.ndarray  # float32, the layer's output shape without the batch dimension


@dataclass(frozen=True, eq=False)
class ActivationModel:
    """A Keras model that returns every layer's output of another model, with the layers' names.

    Build it with `build_activation_model`; it shares the original model's weights.
    """

    model: Any  # keras.Model with one output per entry of layer_names
    layer_names: tuple[str, ...]
    layer_types: tuple[str, ...]


def first_layer_weights(model: Any) -> tuple[str, np.ndarray]:
    """Return the first weighted layer's weights as a stack of small images.

    Args:
        model: a Keras model built by `mnist_core.model.build_model` (or any model whose first
            layer with a kernel is a Dense layer on the 784 pixels or a Conv2D layer on the
            one-channel image).

    Returns:
        ("dense", array (units, 28, 28)): each unit's incoming weights, one per pixel; or
        ("convolution", array (filters, k, k)): each filter's kernel. float32.
    """
    layer = _first_weighted_layer(model)
    kernel = np.asarray(_to_numpy(layer.kernel), dtype=np.float32)
    layer_type = type(layer).__name__
    pixels = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    if kernel.ndim == 2 and kernel.shape[0] == pixels:
        return KIND_DENSE, np.ascontiguousarray(kernel.T.reshape(-1, *IMAGE_SHAPE))
    if kernel.ndim == 4 and kernel.shape[2] == 1:
        return KIND_CONVOLUTION, np.ascontiguousarray(np.transpose(kernel[:, :, 0, :], (2, 0, 1)))
    raise ValueError(
        f"model's first weighted layer {layer.name!r} ({layer_type}) has a kernel of shape "
        f"{tuple(kernel.shape)}; only a Dense layer on the {pixels} pixels (kernel ({pixels}, "
        "units)) or a Conv2D layer on the one-channel image (kernel (k, k, 1, filters)) can be "
        "shown as images."
    )


def build_activation_model(model: Any) -> ActivationModel:
    """Build the model that returns every layer's output (the input layer left out).

    Args:
        model: a built functional Keras model with one input.
    """
    import keras

    inputs = getattr(model, "inputs", None)
    if not inputs or len(inputs) != 1:
        raise ValueError(
            f"model must be a built Keras model with one input, got "
            f"{len(inputs) if inputs else 0} inputs."
        )
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    if not layers:
        raise ValueError("model has no layers besides its input; there is nothing to look at.")
    probe = keras.Model(inputs=inputs[0], outputs=[layer.output for layer in layers])
    return ActivationModel(
        model=probe,
        layer_names=tuple(layer.name for layer in layers),
        layer_types=tuple(type(layer).__name__ for layer in layers),
    )


def layer_activations(
    model: Any, image28: np.ndarray, activation_model: ActivationModel | None = None
) -> list[LayerActivation]:
    """Run one image through the model and return every layer's output, in order.

    The last entry is the model's output: the class probabilities.

    Args:
        model: a Keras model taking (N, 28, 28) float32 images in [0, 1].
        image28: (28, 28) image, float in [0, 1] or uint8 pixels 0..255 (scaled by 1/255).
        activation_model: `build_activation_model(model)`, built once and reused; None builds
            it now (slow: pass it in when calling repeatedly).
    """
    image = _check_image(image28)
    probe = activation_model if activation_model is not None else build_activation_model(model)
    outputs = probe.model(image[None], training=False)
    if not isinstance(outputs, list | tuple):
        outputs = [outputs]
    return [
        LayerActivation(name, layer_type, np.asarray(_to_numpy(output), dtype=np.float32)[0])
        for name, layer_type, output in zip(
            probe.layer_names, probe.layer_types, outputs, strict=True
        )
    ]


def feature_maps(values: np.ndarray) -> np.ndarray:
    """Return a convolution-style output (height, width, channels) as (channels, height, width).

    Args:
        values: one layer's output for one image, shape (height, width, channels).
    """
    array = np.asarray(values)
    if array.ndim != 3:
        raise ValueError(
            f"values must have shape (height, width, channels), got shape {array.shape}."
        )
    return np.ascontiguousarray(np.transpose(array, (2, 0, 1)))


def tile_images(
    images: np.ndarray,
    *,
    columns: int = 8,
    upscale: int = 4,
    padding: int = 1,
    colormap: str = "gray",
    symmetric: bool = False,
    scale: str = SCALE_EACH,
) -> np.ndarray:
    """Lay out small 2-D arrays as one RGB grid image, coloured and enlarged pixel by pixel.

    Args:
        images: (count, height, width) floats, e.g. weights or feature maps.
        columns: tiles per row (default 8); fewer when there are fewer tiles.
        upscale: every value becomes an upscale x upscale block of pixels (default 4).
        padding: white pixels between tiles, before upscaling (default 1).
        colormap: a Matplotlib colormap name (default "gray"); use a diverging one such as
            "RdBu_r" with symmetric=True for weights.
        symmetric: centre the colour range on 0 (default False: from the minimum to the
            maximum), so that 0 is the colormap's middle colour.
        scale: "each" (default) stretches every tile to its own range; "shared" gives all
            tiles one range, so weak tiles look weak.

    Returns:
        uint8 array (rows * (height + padding) - padding) * upscale by the same for columns,
        with 3 channels.
    """
    import matplotlib

    array = np.asarray(images, dtype=np.float64)
    if array.ndim != 3 or array.shape[0] == 0:
        raise ValueError(f"images must have shape (count, height, width), got {array.shape}.")
    for field, value, low in (
        ("columns", columns, 1),
        ("upscale", upscale, 1),
        ("padding", padding, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{field} must be an integer >= {low}, got {value!r}.")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}.")
    try:
        color_map = matplotlib.colormaps[colormap]
    except KeyError:
        raise ValueError(
            f"colormap must be a Matplotlib colormap name such as 'gray' or 'RdBu_r', "
            f"got {colormap!r}."
        ) from None

    normalized = _normalize(np.nan_to_num(array), symmetric=symmetric, scale=scale)
    count, height, width = normalized.shape
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    grid = np.ones(
        (rows * (height + padding) - padding, columns * (width + padding) - padding, 3),
        dtype=np.float64,
    )
    colours = color_map(normalized)[..., :3]
    for index in range(count):
        top = (index // columns) * (height + padding)
        left = (index % columns) * (width + padding)
        grid[top : top + height, left : left + width] = colours[index]
    enlarged = np.repeat(np.repeat(grid, upscale, axis=0), upscale, axis=1)
    return np.round(enlarged * 255).astype(np.uint8)


def unit_rows(values: np.ndarray, *, width: int = 32) -> list[dict[str, Any]]:
    """Lay out a vector of unit activations in rows, one record per unit, for a heatmap.

    Args:
        values: (units,) activations of a dense (or flatten) layer.
        width: units per row (default 32).
    """
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"values must be one vector (units,), got shape {array.shape}.")
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be an integer >= 1, got {width!r}.")
    return [
        {"unit": index, "row": index // width, "column": index % width, "value": float(value)}
        for index, value in enumerate(array)
    ]


def summarized_layers(weight_summaries: Sequence[Sequence[dict[str, Any]]]) -> list[str]:
    """Names of the layers that the per-epoch weight summaries cover, in model order.

    Args:
        weight_summaries: one list of layer summaries per epoch, as in
            `TrainingResult.weight_summaries` (see `mnist_core.train.summarize_weights`).
    """
    names: list[str] = []
    for epoch_summary in _check_summaries(weight_summaries):
        for entry in epoch_summary:
            if entry.get("layer") not in names:
                names.append(entry.get("layer"))
    return names


def weight_histogram_rows(
    weight_summaries: Sequence[Sequence[dict[str, Any]]], layer_name: str, part: str = "kernel"
) -> list[dict[str, Any]]:
    """One record per epoch and histogram bin of one layer's kernel or bias.

    Args:
        weight_summaries: one list of layer summaries per epoch (see `summarized_layers`).
        layer_name: the layer, e.g. "dense_1".
        part: "kernel" (default) or "bias".

    Returns:
        Records {"epoch" (1-based), "bin_start", "bin_end", "bin_centre", "count", "share",
        "density"}: share is the count over all weights of that epoch, density the share over
        the bin width (bins differ from epoch to epoch, so compare epochs by density). Empty
        when the layer has no such part.
    """
    if part not in WEIGHT_PARTS:
        raise ValueError(f"part must be one of {', '.join(WEIGHT_PARTS)}, got {part!r}.")
    rows = []
    for epoch, epoch_summary in enumerate(_check_summaries(weight_summaries), start=1):
        entry = next((item for item in epoch_summary if item.get("layer") == layer_name), None)
        summary = entry.get(part) if entry else None
        if not summary:
            continue
        try:
            counts = [int(count) for count in summary["histogram"]]
            edges = [float(edge) for edge in summary["bin_edges"]]
        except (KeyError, TypeError, ValueError):
            raise _malformed(layer_name, part, epoch) from None
        if len(edges) != len(counts) + 1:
            raise _malformed(layer_name, part, epoch)
        total = sum(counts) or 1
        for count, start, end in zip(counts, edges[:-1], edges[1:], strict=True):
            width = end - start
            rows.append(
                {
                    "epoch": epoch,
                    "bin_start": start,
                    "bin_end": end,
                    "bin_centre": (start + end) / 2,
                    "count": count,
                    "share": count / total,
                    "density": count / total / width if width > 0 else 0.0,
                }
            )
    return rows


def weight_statistics_rows(
    weight_summaries: Sequence[Sequence[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """One record per epoch, layer and part with the mean, std, min and max of the weights.

    Args:
        weight_summaries: one list of layer summaries per epoch (see `summarized_layers`).
    """
    rows = []
    for epoch, epoch_summary in enumerate(_check_summaries(weight_summaries), start=1):
        for entry in epoch_summary:
            for part in WEIGHT_PARTS:
                summary = entry.get(part)
                if not summary:
                    continue
                try:
                    statistics = {
                        name: float(summary[name]) for name in ("mean", "std", "min", "max")
                    }
                except (KeyError, TypeError, ValueError):
                    raise _malformed(entry.get("layer"), part, epoch) from None
                rows.append(
                    {"epoch": epoch, "layer": entry.get("layer"), "part": part, **statistics}
                )
    return rows


def _malformed(layer_name: Any, part: str, epoch: int) -> ValueError:
    return ValueError(
        f"the {part} summary of layer {layer_name!r} in epoch {epoch} must hold numbers for "
        "'mean', 'std', 'min', 'max', a 'histogram' of counts and one more 'bin_edges' than "
        "counts."
    )


def _first_weighted_layer(model: Any) -> Any:
    for layer in getattr(model, "layers", ()):
        if getattr(layer, "kernel", None) is not None:
            return layer
    raise ValueError("model has no layer with weights (no Dense or Conv2D layer) to show.")


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "numpy"):
        return value.numpy()
    return np.asarray(value)


def _check_image(image28: np.ndarray) -> np.ndarray:
    array = np.asarray(image28)
    if array.shape != IMAGE_SHAPE:
        raise ValueError(f"image28 must have shape (28, 28), got {array.shape}.")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255.0)
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(
            f"image28 must be floats in [0, 1] or uint8 pixels 0..255, got dtype {array.dtype}."
        )
    if not np.all(np.isfinite(array)) or array.min() < 0.0 or array.max() > 1.0:
        raise ValueError(
            f"image28 must hold finite floats in [0, 1], got values from {array.min():g} "
            f"to {array.max():g}."
        )
    return array.astype(np.float32)


def _normalize(array: np.ndarray, *, symmetric: bool, scale: str) -> np.ndarray:
    """Map values to [0, 1] for a colormap, per tile or with one range for all tiles."""
    axes = (1, 2) if scale == SCALE_EACH else (0, 1, 2)
    if symmetric:
        limit = np.abs(array).max(axis=axes, keepdims=True)
        limit = np.where(limit > 0, limit, 1.0)
        return (array / limit + 1.0) / 2.0
    low = array.min(axis=axes, keepdims=True)
    spread = array.max(axis=axes, keepdims=True) - low
    # A constant tile (a silent ReLU map) shows as the colormap's lowest colour.
    return np.where(spread > 0, (array - low) / np.where(spread > 0, spread, 1.0), 0.0)


def _check_summaries(
    weight_summaries: Sequence[Sequence[dict[str, Any]]],
) -> Sequence[Sequence[dict[str, Any]]]:
    if isinstance(weight_summaries, str | bytes) or not isinstance(weight_summaries, Sequence):
        raise ValueError(
            "weight_summaries must be a list with one list of layer summaries per epoch, got "
            f"{type(weight_summaries).__name__}."
        )
    for epoch_summary in weight_summaries:
        if isinstance(epoch_summary, str | bytes) or not isinstance(epoch_summary, Sequence):
            raise ValueError(
                "weight_summaries must hold one list of layer summaries per epoch, got an entry "
                f"of type {type(epoch_summary).__name__}."
            )
        for entry in epoch_summary:
            if not isinstance(entry, dict):
                raise ValueError(
                    "every layer summary must be a dict with 'layer', 'kernel' and 'bias', got "
                    f"{type(entry).__name__}."
                )
    return weight_summaries
