"""The Inside page, through AppTest: filters, first-layer weights, activations, histograms."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.modeling.config import ModelConfig

TINY_DENSE = ModelConfig(
    architecture="dense",
    layer_sizes=(12,),
    layer_activations=("relu",),
    layer_dropout_rates=(0.0,),
    kernel_sizes=(),
    dense_units=0,
    epochs=2,
    batch_size=64,
)


@pytest.fixture
def inside_page(open_page):
    def inside_page(**session_state):
        return open_page("inside", **session_state)

    return inside_page


def layer_headings(at: AppTest) -> list[str]:
    return [
        item.value.replace("**", "")
        for item in at.markdown
        if item.value.lstrip("*")[:1].isdigit() and " · " in item.value
    ]


@pytest.fixture(scope="module")
def tiny_result(tiny_mnist):
    """A two-epoch run on a few hundred images: a real TrainingResult with weight summaries."""
    from mnist_core.training.train import train_model

    return train_model(TINY_DENSE, tiny_mnist)


@pytest.fixture
def default_models_dir(monkeypatch):
    monkeypatch.delenv("MNIST_MODELS_DIR", raising=False)


@pytest.fixture
def dense_models_dir(tmp_path, monkeypatch, tiny_result):
    """A models directory holding only a small dense model saved with its weight summaries."""
    from mnist_core.runs.record import Run
    from mnist_core.runs.saved_models import save_run_model

    run = Run.unrecorded("tiny", tiny_result.config, user="cli")
    save_run_model(
        tiny_result.model,
        run,
        "tiny_dense",
        saved_by=None,
        weight_summaries=tiny_result.weight_summaries,
        models_dir=tmp_path,
    )
    monkeypatch.setenv("MNIST_MODELS_DIR", str(tmp_path))


def default_model_layers() -> tuple[int, int, int]:
    """The committed default model's first-layer filters, kernel side and layers shown (every
    layer but the input)."""
    from mnist_core.modeling.store import (
        DEFAULT_MODEL_NAME,
        load_model,
    )

    model = load_model(DEFAULT_MODEL_NAME).model
    first = model.get_layer("conv_1")
    return first.filters, first.kernel_size[0], len(model.layers) - 1


def test_convolution_filters_render_for_the_default_cnn(inside_page, default_models_dir):
    filters_count, kernel, _ = default_model_layers()
    at = inside_page()
    assert at.selectbox(key="inside_model_name").value == "default"
    filters = next(image for image in at.image if "filters" in (image.captions or [""])[0])
    assert filters.captions == [f"The {filters_count} filters, left to right, top to bottom"]
    assert any(f"{kernel}×{kernel} weights" in item.value for item in at.caption)


def test_dense_model_shows_its_first_layer_weights_as_28x28_images(inside_page, dense_models_dir):
    at = inside_page()
    assert at.selectbox(key="inside_model_name").value == "tiny_dense"
    assert at.slider(key="inside_units_shown").max == 12
    assert any("784 incoming weights" in item.value for item in at.caption)
    weights = next(image for image in at.image if "units" in (image.captions or [""])[0])
    assert weights.captions == ["The first 12 of 12 units, left to right, top to bottom"]
    at.slider(key="inside_units_shown").set_value(5).run()
    assert not at.exception
    assert any(
        image.captions == ["The first 5 of 12 units, left to right, top to bottom"]
        for image in at.image
    )


def test_activations_of_every_layer_for_a_test_digit(inside_page, default_models_dir):
    _, _, layers = default_model_layers()
    at = inside_page()
    assert at.radio(key="inside_source").value == "test"
    headings = layer_headings(at)
    assert headings[0].startswith("1. add_channel")
    assert headings[-1].startswith(f"{layers}. probabilities")
    assert any(item.value.startswith("#### The network says: 7") for item in at.markdown)
    # The output layer's probabilities, and the units of the dense layers, in numbers too.
    assert any(item.value.startswith("Highest: 7 at ") for item in at.caption)
    assert any(item.value.startswith("Largest output: unit ") for item in at.caption)
    at.number_input(key="inside_digit_index").set_value(1).run()
    assert not at.exception
    assert any(item.value.startswith("#### The network says: 2") for item in at.markdown)
    at.button(key="inside_random_digit").click().run()
    assert not at.exception
    assert len(layer_headings(at)) == layers


def test_activations_for_the_current_drawing(inside_page, default_models_dir, mnist):
    drawing = (mnist.x_test[1] / np.float32(255)).astype(np.float32)  # a 2
    at = inside_page(current_drawing=drawing)
    assert at.radio(key="inside_source").value == "drawing"
    assert any(image.captions == ["Your drawing, as the network sees it"] for image in at.image)
    assert any(item.value.startswith("#### The network says: 2") for item in at.markdown)
    assert len(layer_headings(at)) == default_model_layers()[2]


def test_drawing_chosen_without_a_drawing_asks_for_one(inside_page, default_models_dir):
    at = inside_page()
    at.radio(key="inside_source").set_value("drawing").run()
    assert not at.exception
    assert any("draw a digit on the Draw page" in item.value for item in at.info)


def test_weight_histograms_per_epoch_for_one_of_my_runs(
    new_app, default_models_dir, tiny_result, app_run_log, record_trained_run
):
    at = new_app()
    at.run()
    run = record_trained_run(app_run_log, tiny_result, user=at.session_state["user"])
    at.session_state["model_name"] = f"run:{run.id}"
    at.switch_page("app_pages/inside.py").run()
    assert not at.exception
    assert at.selectbox(key="inside_model_name").value == f"run:{run.id}"
    assert at.selectbox(key="inside_histogram_layer").options == ["dense_1", "probabilities"]
    epoch_slider = at.slider(key="inside_histogram_epoch")
    assert (epoch_slider.min, epoch_slider.max) == (1, 2)
    statistics = at.dataframe[-1].value
    assert statistics["Epoch"].tolist() == [1, 1, 2, 2]
    assert statistics["Part"].tolist() == ["kernel", "bias"] * 2
    charts_before = len(at.get("vega_lite_chart"))
    assert any(item.value.startswith("The fullest bin, ") for item in at.caption)
    epoch_slider.set_value(2).run()
    at.checkbox(key="inside_overlay_epochs").check().run()
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == charts_before
    assert any(item.value.startswith("Epoch 1: values from ") for item in at.caption)


def test_weight_histograms_from_a_saved_sidecar(inside_page, dense_models_dir):
    at = inside_page()
    assert at.selectbox(key="inside_histogram_layer").options == ["dense_1", "probabilities"]
    assert at.slider(key="inside_histogram_epoch").max == 2
