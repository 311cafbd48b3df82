"""mnist_core.evaluation.inspection: first-layer weights, every layer's activations, tiles, weight summaries."""

import numpy as np
import pytest

from mnist_core.evaluation.inspection import (
    KIND_CONVOLUTION,
    KIND_DENSE,
    SCALE_SHARED,
    build_activation_model,
    feature_maps,
    first_layer_weights,
    layer_activations,
    summarized_layers,
    tile_images,
    unit_rows,
    weight_histogram_rows,
    weight_statistics_rows,
)
from mnist_core.modeling.build import build_model
from mnist_core.modeling.config import ModelConfig

DENSE = ModelConfig(
    architecture="dense",
    layer_sizes=(12, 6),
    layer_activations=("relu", "sigmoid"),
    layer_dropout_rates=(0.2, 0.0),
    kernel_sizes=(),
    dense_units=0,
)
CNN = ModelConfig(
    architecture="cnn",
    layer_sizes=(4, 6),
    layer_activations=("relu", "relu"),
    layer_dropout_rates=(0.0, 0.1),
    kernel_sizes=(5, 3),
    dense_units=8,
    batch_normalization=True,
)
SOFTMAX_REGRESSION = ModelConfig(
    architecture="dense",
    layer_sizes=(),
    layer_activations=(),
    layer_dropout_rates=(),
    kernel_sizes=(),
    dense_units=0,
)


@pytest.fixture(scope="module")
def dense_model():
    return build_model(DENSE)


@pytest.fixture(scope="module")
def cnn_model():
    return build_model(CNN)


@pytest.fixture(scope="module")
def image28():
    return np.random.default_rng(0).random((28, 28), dtype=np.float32)


def test_dense_first_layer_weights_are_one_28x28_image_per_unit(dense_model):
    kind, weights = first_layer_weights(dense_model)
    kernel = dense_model.get_layer("dense_1").kernel.numpy()
    assert kind == KIND_DENSE
    assert weights.shape == (12, 28, 28)
    # Unit 3's weight from pixel (row 5, column 7) is kernel[5 * 28 + 7, 3].
    assert weights[3, 5, 7] == kernel[5 * 28 + 7, 3]
    np.testing.assert_array_equal(weights[3].ravel(), kernel[:, 3])


def test_softmax_regression_weights_are_the_ten_class_templates():
    kind, weights = first_layer_weights(build_model(SOFTMAX_REGRESSION))
    assert kind == KIND_DENSE
    assert weights.shape == (10, 28, 28)


def test_convolution_filters_are_the_first_kernels(cnn_model):
    kind, filters = first_layer_weights(cnn_model)
    kernel = cnn_model.get_layer("conv_1").kernel.numpy()
    assert kind == KIND_CONVOLUTION
    assert filters.shape == (4, 5, 5)
    np.testing.assert_array_equal(filters[2], kernel[:, :, 0, 2])


@pytest.mark.parametrize("model_name", ["dense_model", "cnn_model"])
def test_activation_shapes_match_the_layers_output_shapes(model_name, image28, request):
    model = request.getfixturevalue(model_name)
    activations = layer_activations(model, image28)
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    assert [activation.layer_name for activation in activations] == [layer.name for layer in layers]
    assert [activation.layer_type for activation in activations] == [
        type(layer).__name__ for layer in layers
    ]
    for activation, layer in zip(activations, layers, strict=True):
        assert activation.values.shape == tuple(layer.output.shape[1:])
        assert activation.values.dtype == np.float32


@pytest.mark.parametrize("model_name", ["dense_model", "cnn_model"])
def test_final_activation_equals_the_model_output(model_name, image28, request):
    model = request.getfixturevalue(model_name)
    probe = build_activation_model(model)
    activations = layer_activations(model, image28, probe)
    expected = model(image28[None], training=False).numpy()[0]
    np.testing.assert_allclose(activations[-1].values, expected, rtol=1e-5, atol=1e-6)
    assert activations[-1].values.sum() == pytest.approx(1.0, abs=1e-5)


def test_dropout_passes_everything_through_at_inference(dense_model, image28):
    activations = {name: values for name, _, values in layer_activations(dense_model, image28)}
    np.testing.assert_array_equal(activations["dropout_1"], activations["dense_1"])


def test_uint8_image_is_scaled_like_the_float_image(cnn_model):
    pixels = np.random.default_rng(1).integers(0, 256, (28, 28), dtype=np.uint8)
    probe = build_activation_model(cnn_model)
    from_uint8 = layer_activations(cnn_model, pixels, probe)[-1].values
    from_float = layer_activations(cnn_model, pixels / np.float32(255), probe)[-1].values
    np.testing.assert_allclose(from_uint8, from_float, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((28, 27), dtype=np.float32), "shape"),
        (np.full((28, 28), 2.0, dtype=np.float32), r"\[0, 1\]"),
        (np.zeros((28, 28), dtype=np.int32), "dtype"),
    ],
)
def test_bad_images_raise_clear_errors(dense_model, image, message):
    with pytest.raises(ValueError, match=f"image28.*{message}"):
        layer_activations(dense_model, image)


def test_model_without_weights_is_reported():
    import keras

    inputs = keras.Input((28, 28))
    model = keras.Model(inputs, keras.layers.Flatten()(inputs))
    with pytest.raises(ValueError, match="no layer with weights"):
        first_layer_weights(model)


def test_feature_maps_put_channels_first():
    values = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    maps = feature_maps(values)
    assert maps.shape == (4, 2, 3)
    np.testing.assert_array_equal(maps[1], values[:, :, 1])
    with pytest.raises(ValueError, match="values must have shape"):
        feature_maps(np.zeros(5))


def test_tile_images_lays_out_rows_and_columns():
    tiles = np.zeros((5, 2, 3))
    grid = tile_images(tiles, columns=2, upscale=3, padding=1)
    # 3 rows of (2 + 1) - 1 pixels, 2 columns of (3 + 1) - 1 pixels, all times 3.
    assert grid.shape == (8 * 3, 7 * 3, 3)
    assert grid.dtype == np.uint8


def test_symmetric_colours_put_zero_in_the_middle_of_a_diverging_map():
    weights = np.array([[[-1.0, 0.0, 0.5]]])
    grid = tile_images(weights, upscale=1, colormap="RdBu_r", symmetric=True)
    negative, zero, positive = grid[0, 0], grid[0, 1], grid[0, 2]
    assert negative[2] > negative[0]  # blue
    assert positive[0] > positive[2]  # red
    assert zero.min() > 240  # (almost) white


def test_shared_scale_keeps_a_weak_tile_dark():
    tiles = np.stack([np.full((2, 2), 0.1), np.full((2, 2), 1.0)])
    tiles[:, 0, 0] = 0.0
    shared = tile_images(tiles, upscale=1, padding=0, scale=SCALE_SHARED)
    each = tile_images(tiles, upscale=1, padding=0)
    assert shared[1, 1, 0] < 40  # 0.1 of the shared range
    assert each[1, 1, 0] == 255  # stretched to its own maximum


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"images": np.zeros((2, 2))}, "images must have shape"),
        ({"columns": 0}, "columns"),
        ({"scale": "global"}, "scale"),
        ({"colormap": "no-such-map"}, "colormap"),
    ],
)
def test_tile_images_rejects_bad_arguments(arguments, message):
    arguments = {"images": np.zeros((1, 2, 2)), **arguments}
    images = arguments.pop("images")
    with pytest.raises(ValueError, match=message):
        tile_images(images, **arguments)


def test_unit_rows_wrap_a_vector():
    rows = unit_rows(np.arange(5.0), width=2)
    assert [(row["row"], row["column"]) for row in rows] == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)]
    assert rows[4] == {"unit": 4, "row": 2, "column": 0, "value": 4.0}
    with pytest.raises(ValueError, match="width"):
        unit_rows(np.arange(3.0), width=0)


def _summary(layer, mean, with_bias=True):
    part = {
        "shape": [2, 2],
        "mean": mean,
        "std": 0.5,
        "min": -1.0,
        "max": 1.0,
        "histogram": [1, 3],
        "bin_edges": [-1.0, 0.0, 1.0],
    }
    entry = {"layer": layer, "type": "Dense", "kernel": part}
    if with_bias:
        entry["bias"] = dict(part, histogram=[2, 0])
    return entry


SUMMARIES = [
    [_summary("conv_1", 0.1, with_bias=False), _summary("dense", 0.2)],
    [_summary("conv_1", 0.3, with_bias=False), _summary("dense", 0.4)],
]


def test_summarized_layers_in_model_order():
    assert summarized_layers(SUMMARIES) == ["conv_1", "dense"]


def test_weight_histogram_rows_per_epoch_and_bin():
    rows = weight_histogram_rows(SUMMARIES, "dense", "kernel")
    assert [(row["epoch"], row["bin_start"], row["bin_end"], row["count"]) for row in rows] == [
        (1, -1.0, 0.0, 1),
        (1, 0.0, 1.0, 3),
        (2, -1.0, 0.0, 1),
        (2, 0.0, 1.0, 3),
    ]
    assert rows[1]["share"] == pytest.approx(0.75)
    assert rows[1]["bin_centre"] == pytest.approx(0.5)
    # Bin width 1: the density equals the share.
    assert rows[1]["density"] == pytest.approx(0.75)
    assert weight_histogram_rows(SUMMARIES, "conv_1", "bias") == []
    with pytest.raises(ValueError, match="part"):
        weight_histogram_rows(SUMMARIES, "dense", "weights")


def test_weight_statistics_rows_per_epoch_layer_and_part():
    rows = weight_statistics_rows(SUMMARIES)
    assert [(row["epoch"], row["layer"], row["part"], row["mean"]) for row in rows] == [
        (1, "conv_1", "kernel", 0.1),
        (1, "dense", "kernel", 0.2),
        (1, "dense", "bias", 0.2),
        (2, "conv_1", "kernel", 0.3),
        (2, "dense", "kernel", 0.4),
        (2, "dense", "bias", 0.4),
    ]


def test_real_weight_summaries_are_read(tiny_mnist):
    from mnist_core.training.train import train_model

    config = DENSE.replace(
        layer_sizes=(8,), layer_activations=("relu",), layer_dropout_rates=(0.0,)
    )
    result = train_model(config.replace(epochs=2, batch_size=64), tiny_mnist)
    assert summarized_layers(result.weight_summaries) == ["dense_1", "probabilities"]
    rows = weight_histogram_rows(result.weight_summaries, "dense_1")
    assert {row["epoch"] for row in rows} == {1, 2}
    assert sum(row["count"] for row in rows if row["epoch"] == 1) == 784 * 8


@pytest.mark.parametrize("summaries", ["text", [["not a dict"]], [5]])
def test_malformed_summaries_raise_clear_errors(summaries):
    with pytest.raises(ValueError, match="weight_summaries|layer summary"):
        weight_statistics_rows(summaries)


@pytest.mark.parametrize(
    "broken_part",
    [
        {"mean": 0.0},
        dict(SUMMARIES[0][1]["kernel"], histogram=[1, 2, 3]),
        dict(SUMMARIES[0][1]["kernel"], std="x"),
    ],
)
def test_summaries_with_missing_or_bad_numbers_raise_clear_errors(broken_part):
    summaries = [[{"layer": "dense", "type": "Dense", "kernel": broken_part}]]
    with pytest.raises(ValueError, match="kernel summary of layer 'dense' in epoch 1"):
        weight_statistics_rows(summaries) + weight_histogram_rows(summaries, "dense")
