"""training_form: the Train page's controls <-> ModelConfig, and the subset sizes."""

import pytest

from mnist_core.modeling.config import (
    MAX_HIDDEN_LAYERS,
    ModelConfig,
)
from mnist_core.modeling.form import (
    BATCH_SIZE_CHOICES,
    DENSE_UNIT_CHOICES,
    LAYER_SIZE_CHOICES,
    LEARNING_RATE_CHOICES,
    config_from_form,
    form_fields,
    form_values,
    layer_key,
    subset_sizes,
)
from mnist_core.modeling.presets import PRESETS


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_survives_the_round_trip_through_the_form(name):
    config = PRESETS[name].config
    assert config_from_form(form_values(config), config.dataset) == config


@pytest.mark.parametrize("name", list(PRESETS))
def test_the_controls_can_show_every_preset_value(name):
    config = PRESETS[name].config
    assert set(config.layer_sizes) <= set(LAYER_SIZE_CHOICES)
    assert config.learning_rate in LEARNING_RATE_CHOICES
    assert config.batch_size in BATCH_SIZE_CHOICES
    if config.architecture == "cnn":
        assert config.dense_units in DENSE_UNIT_CHOICES


def test_form_has_a_value_for_every_possible_layer():
    values = form_values(PRESETS["softmax_regression"].config)
    assert values["num_hidden_layers"] == 0
    for index in range(MAX_HIDDEN_LAYERS):
        assert layer_key("layer_size", index) in values
        assert layer_key("kernel_size", index) in values
    assert set(form_fields()) == set(values)


def test_only_the_shown_layers_make_the_config():
    values = form_values(PRESETS["relu_deep_binary_crossentropy"].config)
    values["num_hidden_layers"] = 2
    config = config_from_form(values, "fashion_mnist")
    assert config.layer_sizes == (256, 64)
    assert config.dataset == "fashion_mnist"


def test_switching_a_dense_preset_to_cnn_gives_kernels_and_dense_units():
    values = form_values(PRESETS["dense_fast"].config)
    values["architecture"] = "cnn"
    config = config_from_form(values, "mnist")
    assert config.kernel_sizes == (3, 3)
    assert config.dense_units == 128


def test_momentum_counts_only_for_sgd_and_slider_noise_is_rounded():
    values = form_values(PRESETS["dense_fast"].config)
    values["momentum"] = 0.9
    values[layer_key("layer_dropout_rate", 0)] = 0.30000000000000004
    config = config_from_form(values, "mnist")
    assert config.momentum == 0.0
    assert config.layer_dropout_rates[0] == 0.3
    values["optimizer"] = "sgd"
    assert config_from_form(values, "mnist").momentum == 0.9


def test_a_bad_combination_is_a_value_error_naming_the_field():
    values = form_values(PRESETS["cnn_fast"].config)
    values["num_hidden_layers"] = 4
    with pytest.raises(ValueError, match="layer_sizes"):
        config_from_form(values, "mnist")


def test_a_missing_value_is_a_value_error():
    values = form_values(ModelConfig())
    del values["loss"]
    with pytest.raises(ValueError, match="'loss'"):
        config_from_form(values, "mnist")


def test_subset_sizes():
    assert subset_sizes(60000, 60000) == (None, None)
    assert subset_sizes(1000, 60000) == (1000, 1000)
    assert subset_sizes(30000, 60000) == (30000, 10000)
    with pytest.raises(ValueError, match="training_images"):
        subset_sizes(0, 60000)
