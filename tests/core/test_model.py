"""ModelConfig validation and JSON round trip; build_model and the presets against Keras."""

import json
import random

import numpy as np
import pytest

from mnist_core.modeling.build import build_model
from mnist_core.modeling.config import (
    ModelConfig,
    uses_sparse_labels,
    validate_config,
)
from mnist_core.modeling.presets import (
    DEFAULT_PRESET_NAME,
    PRESETS,
    get_preset,
)
from mnist_core.modeling.summary import (
    count_parameters,
    describe_model,
    summarize_architecture,
)


def test_config_round_trips_through_json():
    config = ModelConfig(layer_sizes=(8, 16), kernel_sizes=(3, 5), augment_rotation=10.0)
    text = config.to_json()
    assert json.loads(text)["layer_sizes"] == [8, 16]
    assert ModelConfig.from_json(text) == config
    assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_round_trips_and_validates(name):
    config = PRESETS[name].config
    validate_config(config)
    assert ModelConfig.from_json(config.to_json()) == config
    assert PRESETS[name].description


@pytest.mark.parametrize(
    ("changes", "field", "allowed"),
    [
        ({"architecture": "rnn"}, "architecture", "'dense', 'cnn'"),
        ({"loss": "hinge"}, "loss", "'mse'"),
        ({"optimizer": "lbfgs"}, "optimizer", "'sgd'"),
        ({"learning_rate": 0.0}, "learning_rate", "(0.0, 10.0]"),
        ({"learning_rate": float("nan")}, "learning_rate", "a number"),
        ({"epochs": 0}, "epochs", "an integer from 1"),
        ({"batch_size": 2.5}, "batch_size", "an integer"),
        ({"layer_activations": ("relu", "swish")}, "layer_activations[1]", "'relu'"),
        ({"layer_dropout_rates": (0.0,)}, "layer_dropout_rates", "2 values"),
        ({"layer_dropout_rates": (0.0, 0.95)}, "layer_dropout_rates[1]", "[0.0, 0.9]"),
        ({"kernel_sizes": (3, 4)}, "kernel_sizes[1]", "one of (1, 3, 5, 7)"),
        ({"validation": "holdout"}, "validation", "'split', 'test'"),
        ({"validation_split": 0.9}, "validation_split", "[0.01, 0.5]"),
        ({"dataset": "cifar10"}, "dataset", "'mnist'"),
        ({"shuffle": "yes"}, "shuffle", "true or false"),
        ({"learning_rate_schedule": "step"}, "learning_rate_schedule", "'cosine', 'one_cycle'"),
        (
            {
                "layer_sizes": (8, 8, 8, 8),
                "layer_activations": ("relu",) * 4,
                "layer_dropout_rates": (0.0,) * 4,
                "kernel_sizes": (3,) * 4,
            },
            "layer_sizes",
            "at most 3",
        ),
    ],
)
def test_validation_names_field_value_and_what_is_allowed(changes, field, allowed):
    config = ModelConfig(**{**ModelConfig().to_dict(), **changes})
    with pytest.raises(ValueError) as error:
        validate_config(config)
    message = str(error.value)
    assert message.startswith(field), message
    assert allowed in message, message
    assert "got" in message


def test_unknown_json_field_is_rejected_by_name():
    with pytest.raises(ValueError, match="unknown field.*units"):
        ModelConfig.from_dict({"units": 3})
    with pytest.raises(ValueError, match="not valid JSON"):
        ModelConfig.from_json("{")


def test_zero_hidden_layers_is_softmax_regression():
    config = get_preset("softmax_regression").config
    model = build_model(config)
    assert model.count_params() == 784 * 10 + 10
    assert count_parameters(config) == 7850


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_parameter_counts_equal_keras(name):
    config = PRESETS[name].config
    model = build_model(config)
    assert count_parameters(config) == model.count_params()
    # The summary worked out from the config is Keras' own, row by row.
    keras_rows = describe_model(model)
    assert [(r["name"], r["type"], r["output_shape"], r["parameters"]) for r in keras_rows] == [
        (r["name"], r["type"], r["output_shape"], r["parameters"])
        for r in summarize_architecture(config)
    ]


def test_notebook_parameter_count_717210():
    assert count_parameters(get_preset("relu_784_128_adam").config) == 717_210


@pytest.mark.parametrize(
    "changes",
    [
        {"batch_normalization": True, "input_batch_normalization": True},
        {"layer_dropout_rates": (0.2, 0.3), "dense_dropout_rate": 0.5, "dense_units": 0},
        {
            "layer_sizes": (4, 4, 4),
            "layer_activations": ("tanh", "elu", "gelu"),
            "layer_dropout_rates": (0.0,) * 3,
            "kernel_sizes": (1, 3, 7),
        },
    ],
)
def test_cnn_variants_summaries_equal_keras(changes):
    config = ModelConfig(**{**ModelConfig().to_dict(), **changes})
    model = build_model(config)
    assert count_parameters(config) == model.count_params()


def exported_network_weights(config: ModelConfig) -> list[np.ndarray]:
    """The starting weights of the network the run's exported script builds (Keras' own
    default seeding after `keras.utils.set_random_seed(SEED)`)."""
    import keras
    from keras import layers

    from mnist_core.modeling.build import HIDDEN_BATCH_NORMALIZATION_MOMENTUM
    from mnist_core.teaching.script_network import network_definition

    namespace = {
        "keras": keras,
        "layers": layers,
        "SEED": config.seed,
        "BATCH_NORMALIZATION_MOMENTUM": HIDDEN_BATCH_NORMALIZATION_MOMENTUM,
    }
    exec("\n".join(network_definition(config)), namespace)
    return namespace["build_network"]().get_weights()


@pytest.mark.parametrize(
    "config",
    [
        get_preset("sigmoid_mse_sgd").config.replace(seed=7),
        get_preset("handwriting_cnn").config.replace(layer_dropout_rates=(0.1, 0.0, 0.2)),
        get_preset("dense_fast").config.replace(batch_normalization=True),
    ],
    ids=["dense_dropout", "cnn_dropout", "dense_batch_normalization"],
)
def test_a_network_starts_from_its_seeds_weights_whatever_else_draws_from_random(
    monkeypatch, config
):
    # Another thread of the process (a Dask worker's own) drawing from Python's shared random
    # right after the seed is set: Keras' default seeding then gives other weights.
    undisturbed = exported_network_weights(config)
    seed = random.seed

    def seed_then_another_thread_draws(*arguments, **keywords):
        seed(*arguments, **keywords)
        random.random()

    monkeypatch.setattr(random, "seed", seed_then_another_thread_draws)
    disturbed = exported_network_weights(config)
    assert not all(np.array_equal(a, b) for a, b in zip(disturbed, undisturbed))
    # The app's network is the exported script's all the same, weight for weight.
    built = build_model(config).get_weights()
    assert len(built) == len(undisturbed)
    assert all(np.array_equal(a, b) for a, b in zip(built, undisturbed))


def test_model_takes_images_and_returns_probabilities():
    for name in ("cnn_fast", "dense_fast"):
        model = build_model(get_preset(name).config)
        images = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
        probabilities = np.asarray(model(images, training=False))
        assert probabilities.shape == (3, 10)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_label_encoding_follows_the_loss():
    assert uses_sparse_labels(get_preset("relu_512_sparse_rmsprop").config)
    assert not uses_sparse_labels(get_preset("sigmoid_mse_sgd").config)


def test_accuracy_is_categorical_even_with_binary_crossentropy():
    # Keras' plain "accuracy" would silently become binary accuracy (about 90% for a guess).
    model = build_model(get_preset("relu_binary_crossentropy_adam").config)
    images = np.zeros((20, 28, 28), np.float32)
    labels = np.eye(10, dtype=np.float32)[np.arange(20) % 10]
    _, accuracy = model.evaluate(images, labels, verbose=0)
    assert accuracy <= 0.2


def test_one_cycle_warms_up_to_the_peak_then_anneals_to_zero():
    from mnist_core.modeling.build import one_cycle_schedule

    schedule = one_cycle_schedule(0.01, 200)
    rates = [float(schedule(step)) for step in (0, 25, 50, 125, 200)]
    assert rates[0] == pytest.approx(0.01 / 25)
    assert rates[1] == pytest.approx((0.01 / 25 + 0.01) / 2)  # linear warm-up
    assert rates[2] == pytest.approx(0.01)  # the peak, a quarter of the way
    assert rates[3] == pytest.approx(0.005, rel=1e-4)  # half-way down the cosine
    assert rates[4] == pytest.approx(0.0, abs=1e-9)
    assert float(one_cycle_schedule(0.01, 1)(0)) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="total_steps"):
        one_cycle_schedule(0.01, 0)


def test_a_one_cycle_model_steps_its_schedule_and_loads_without_custom_objects(tmp_path):
    import keras

    config = ModelConfig(layer_sizes=(4,), layer_activations=("relu",),
                         layer_dropout_rates=(0.0,), kernel_sizes=(3,), dense_units=0,
                         learning_rate=0.01, learning_rate_schedule="one_cycle", epochs=2,
                         batch_size=10, validation="test")  # fmt: skip
    model = build_model(config, training_images=100)  # 10 steps per epoch, 20 in all
    schedule = model.optimizer.get_config()["learning_rate"]
    assert schedule["class_name"] == "CosineDecay"
    assert schedule["config"]["warmup_steps"] == 5 and schedule["config"]["decay_steps"] == 15
    assert schedule["config"]["warmup_target"] == pytest.approx(0.01)
    path = tmp_path / "one_cycle.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.optimizer.get_config()["learning_rate"] == schedule


def test_default_preset_is_the_cnn():
    assert get_preset(DEFAULT_PRESET_NAME).config.architecture == "cnn"
    with pytest.raises(ValueError, match="preset must be one of .*cnn_fast.*got 'nope'"):
        get_preset("nope")


def test_presets_reproduce_the_notebooks():
    first = get_preset("sigmoid_mse_sgd").config
    assert (first.layer_sizes, first.layer_activations, first.layer_dropout_rates) == (
        (256, 64),
        ("sigmoid", "sigmoid"),
        (0.25, 0.10),
    )
    assert (first.loss, first.optimizer, first.epochs, first.batch_size, first.validation) == (
        "mse",
        "sgd",
        10,
        128,
        "test",
    )
    second = get_preset("relu_binary_crossentropy_adam").config
    assert second.layer_activations == ("sigmoid", "relu")
    assert (second.loss, second.optimizer) == ("binary_crossentropy", "adam")
    third = get_preset("batch_normalized_sigmoid_sgd").config
    assert third.input_batch_normalization and not third.batch_normalization
    assert (third.layer_sizes, third.learning_rate, third.epochs, third.batch_size, third.seed) == (
        (200, 100, 60, 30),
        0.03,
        50,
        32,
        42,
    )
    fourth = get_preset("relu_784_128_adam").config
    assert (fourth.validation, fourth.validation_split, fourth.epochs) == ("split", 0.2, 5)
    deeper = get_preset("relu_deep_binary_crossentropy").config
    assert (deeper.layer_sizes, deeper.loss) == ((256, 64, 64, 32), "binary_crossentropy")
    fifth = get_preset("relu_512_512_rmsprop").config
    assert (fifth.layer_sizes, fifth.optimizer, fifth.batch_size) == ((512, 512), "rmsprop", 32)
    sixth = get_preset("relu_512_sparse_rmsprop").config
    assert (sixth.layer_sizes, sixth.loss, sixth.batch_size) == (
        (512,),
        "sparse_categorical_crossentropy",
        128,
    )
