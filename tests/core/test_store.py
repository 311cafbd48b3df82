"""Tests for mnist_core.modeling.store: round trips, sidecar contents, names, atomic writes, broken entries."""

import datetime
import json
import os

import numpy as np
import pytest

from mnist_core.base.paths import checkout_directory, models_directory
from mnist_core.modeling import store
from mnist_core.modeling.store import (
    DEFAULT_MODEL_NAME,
    BrokenModelError,
    ModelExistsError,
    ModelNotFoundError,
    ModelStoreError,
    delete_model,
    list_models,
    load_model,
    model_exists,
    save_model,
)

# What the store is given to keep beside the model (the saved model's record, in the app).
METADATA = {
    "config": {"architecture": "dense", "layer_sizes": [], "loss": "categorical_crossentropy"},
    "history": [{"loss": 1.5, "accuracy": 0.6}, {"loss": 0.9, "accuracy": 0.8}],
    "dataset": "mnist",
}


@pytest.fixture(scope="module")
def other_model(tiny_config):
    """A second tiny model with other weights (to tell an overwrite from the original)."""
    from mnist_core.base.keras_import import import_keras
    from mnist_core.modeling.build import build_model

    import_keras().utils.set_random_seed(1)
    return build_model(tiny_config)


@pytest.fixture(scope="module")
def sample_images():
    return np.random.default_rng(0).random((4, 28, 28), dtype=np.float32)


@pytest.fixture
def models_dir(tmp_path):
    return tmp_path / "models"


def save(model, name, models_dir, overwrite=False, **changes):
    return save_model(
        model, name, {**METADATA, **changes}, models_dir=models_dir, overwrite=overwrite
    )


def predictions(model, images):
    return np.asarray(model(images, training=False))


def test_round_trip_keeps_predictions(tiny_model, sample_images, models_dir):
    stored = save(tiny_model, "round-trip_1", models_dir)
    assert stored.is_valid
    assert stored.model_path == models_dir / "round-trip_1.keras"
    assert stored.metadata_path == models_dir / "round-trip_1.json"

    loaded = load_model("round-trip_1", models_dir=models_dir)
    assert loaded.name == "round-trip_1"
    assert loaded.metadata == stored.metadata
    np.testing.assert_allclose(
        predictions(loaded.model, sample_images), predictions(tiny_model, sample_images), rtol=1e-6
    )


def test_the_sidecar_holds_what_it_is_given_and_what_the_store_adds(tiny_model, models_dir):
    import keras

    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    save(
        tiny_model,
        "sidecar",
        models_dir,
        metrics={"test_accuracy": np.float32(0.5), "test_loss": float("nan")},
        weight_summaries=[{"layer": "dense", "mean": np.float64(0.01)}],
    )
    metadata = json.loads((models_dir / "sidecar.json").read_text())
    assert metadata["name"] == "sidecar"
    assert {key: metadata[key] for key in METADATA} == METADATA
    assert metadata["metrics"] == {"test_accuracy": 0.5, "test_loss": None}  # strict JSON
    assert metadata["weight_summaries"] == [{"layer": "dense", "mean": 0.01}]
    assert metadata["keras_version"] == keras.__version__
    assert metadata["parameter_count"] == tiny_model.count_params() == 7850
    saved_at = datetime.datetime.fromisoformat(metadata["saved_at"])
    assert saved_at.utcoffset() == datetime.timedelta(0)
    assert before <= saved_at <= datetime.datetime.now(datetime.UTC)


@pytest.mark.parametrize(
    "name", ["", "../x", "a b", "x.keras", "a" * 65, "x/y", ".hidden", None, 3]
)
def test_bad_names_are_refused(tiny_model, models_dir, name):
    with pytest.raises(
        ValueError,
        match=r"name must be 1 to 64 characters, each a letter, a digit, '-' or '_'; got",
    ) as raised:
        save(tiny_model, name, models_dir)
    assert repr(name) in str(raised.value)
    assert not models_dir.exists()
    for function in (load_model, delete_model, model_exists):
        with pytest.raises(ValueError, match="name must be"):
            function(name, models_dir=models_dir)


def test_longest_name_is_accepted(tiny_model, models_dir):
    save(tiny_model, "a" * 64, models_dir)
    assert model_exists("a" * 64, models_dir=models_dir)


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ([("config", 1)], "metadata must be a dict with string keys"),
        ({1: "one"}, "metadata must be a dict with string keys"),
        ({"weights": object()}, "not JSON-serializable"),
    ],
)
def test_bad_metadata_is_refused_before_writing(tiny_model, models_dir, metadata, message):
    with pytest.raises(ValueError, match=message):
        save_model(tiny_model, "bad", metadata, models_dir=models_dir)
    assert not models_dir.exists()


def test_existing_name_is_not_overwritten_without_flag(
    tiny_model, other_model, sample_images, models_dir
):
    save(tiny_model, "taken", models_dir, metrics={"test_accuracy": 0.1})
    with pytest.raises(ModelExistsError, match="name 'taken' is already used") as raised:
        save(other_model, "taken", models_dir)
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, ModelStoreError)
    loaded = load_model("taken", models_dir=models_dir)
    assert loaded.metadata["metrics"] == {"test_accuracy": 0.1}
    np.testing.assert_allclose(
        predictions(loaded.model, sample_images), predictions(tiny_model, sample_images), rtol=1e-6
    )

    save(other_model, "taken", models_dir, metrics={"test_accuracy": 0.2}, overwrite=True)
    loaded = load_model("taken", models_dir=models_dir)
    assert loaded.metadata["metrics"] == {"test_accuracy": 0.2}
    np.testing.assert_allclose(
        predictions(loaded.model, sample_images), predictions(other_model, sample_images), rtol=1e-6
    )


def test_a_lone_sidecar_also_blocks_the_name(tiny_model, models_dir):
    models_dir.mkdir()
    (models_dir / "orphan.json").write_text("{}")
    assert model_exists("orphan", models_dir=models_dir)
    with pytest.raises(ModelExistsError):
        save(tiny_model, "orphan", models_dir)


def fail_model_save(monkeypatch, model):
    real_save = model.save

    def save_half_then_fail(path, *args, **kwargs):
        real_save(path, *args, **kwargs)
        with open(path, "r+b") as file:
            file.truncate(100)
        raise OSError("No space left on device")

    monkeypatch.setattr(model, "save", save_half_then_fail)


def fail_metadata_write(monkeypatch):
    def write_half_then_fail(path, text):
        path.write_text(text[: len(text) // 2])
        raise OSError("No space left on device")

    monkeypatch.setattr(store, "_write_text", write_half_then_fail)


def fail_metadata_move(monkeypatch):
    real_replace = os.replace

    def replace(source, destination):
        if str(destination).endswith(".json"):
            raise OSError("Input/output error")
        real_replace(source, destination)

    monkeypatch.setattr(store.os, "replace", replace)


@pytest.mark.parametrize("failure", [fail_model_save, fail_metadata_write, fail_metadata_move])
def test_failed_save_leaves_nothing_behind(monkeypatch, other_model, models_dir, failure):
    models_dir.mkdir()
    if failure is fail_model_save:
        fail_model_save(monkeypatch, other_model)
    else:
        failure(monkeypatch)
    with pytest.raises(
        ModelStoreError,
        match=r"model 'new' could not be saved to .*new\.keras: (No space left on device|Input/output error)$",
    ):
        save(other_model, "new", models_dir)
    assert sorted(os.listdir(models_dir)) == []
    assert list_models(models_dir) == []


@pytest.mark.parametrize("failure", [fail_model_save, fail_metadata_write])
def test_failed_overwrite_keeps_the_existing_model(
    monkeypatch, tiny_model, other_model, sample_images, models_dir, failure
):
    save(tiny_model, "kept", models_dir, metrics={"test_accuracy": 0.1})
    files_before = {path: path.read_bytes() for path in models_dir.iterdir()}
    if failure is fail_model_save:
        fail_model_save(monkeypatch, other_model)
    else:
        failure(monkeypatch)
    with pytest.raises(ModelStoreError, match="could not be saved"):
        save(other_model, "kept", models_dir, overwrite=True)

    assert {path: path.read_bytes() for path in models_dir.iterdir()} == files_before
    monkeypatch.undo()
    loaded = load_model("kept", models_dir=models_dir)
    assert loaded.metadata["metrics"] == {"test_accuracy": 0.1}
    np.testing.assert_allclose(
        predictions(loaded.model, sample_images), predictions(tiny_model, sample_images), rtol=1e-6
    )


def test_failed_sidecar_move_on_overwrite_never_leaves_a_stale_sidecar(
    monkeypatch, tiny_model, other_model, models_dir
):
    save(tiny_model, "moved", models_dir)
    fail_metadata_move(monkeypatch)
    with pytest.raises(ModelStoreError, match="could not be saved"):
        save(other_model, "moved", models_dir, overwrite=True)
    monkeypatch.undo()
    (entry,) = list_models(models_dir)
    # The new model is in place; the old sidecar that described the old one is gone.
    assert entry.error == "moved.json is missing (only moved.keras was found)"
    assert sorted(os.listdir(models_dir)) == ["moved.keras"]


def write_broken_entries(tiny_model, models_dir):
    save(tiny_model, "good", models_dir)
    good_json = (models_dir / "good.json").read_text()
    good_keras = (models_dir / "good.keras").read_bytes()
    metadata = json.loads(good_json)

    (models_dir / "no-sidecar.keras").write_bytes(good_keras)
    (models_dir / "no-model.json").write_text(good_json)
    (models_dir / "bad-json.keras").write_bytes(good_keras)
    (models_dir / "bad-json.json").write_text('{"name": "bad-json", ')
    (models_dir / "not-object.keras").write_bytes(good_keras)
    (models_dir / "not-object.json").write_text("[1, 2]")
    (models_dir / "not-utf8.keras").write_bytes(good_keras)
    (models_dir / "not-utf8.json").write_bytes(b"\xff\xfe\x00garbage")
    (models_dir / "missing-keys.keras").write_bytes(good_keras)
    incomplete = {
        key: value for key, value in metadata.items() if key not in ("keras_version", "name")
    }
    (models_dir / "missing-keys.json").write_text(json.dumps(incomplete))
    (models_dir / "wrong-type.keras").write_bytes(good_keras)
    (models_dir / "wrong-type.json").write_text(json.dumps({**metadata, "parameter_count": "7"}))
    (models_dir / "empty.keras").write_bytes(b"")
    (models_dir / "empty.json").write_text(good_json)
    (models_dir / "not-zip.keras").write_bytes(b"this is not a zip archive")
    (models_dir / "not-zip.json").write_text(good_json)
    (models_dir / "truncated.keras").write_bytes(good_keras[: len(good_keras) // 2])
    (models_dir / "truncated.json").write_text(good_json)
    # Leftovers of interrupted saves and unrelated files are not entries.
    (models_dir / ".good.abc123.tmp.keras").write_bytes(good_keras[:10])
    (models_dir / ".good.abc123.tmp.json").write_text("{")
    (models_dir / "notes.txt").write_text("hello")
    (models_dir / "two.dots.keras").write_bytes(good_keras)


EXPECTED_ERRORS = {
    "bad-json": "bad-json.json is not valid JSON: ",
    "empty": "empty.keras is empty (0 bytes)",
    "good": None,
    "missing-keys": "missing-keys.json lacks required keys: name, keras_version",
    "no-model": "no-model.keras is missing (only no-model.json was found)",
    "no-sidecar": "no-sidecar.json is missing (only no-sidecar.keras was found)",
    "not-object": "not-object.json does not hold a JSON object",
    "not-utf8": "not-utf8.json could not be read: ",
    "not-zip": "not-zip.keras is not a Keras archive (File is not a zip file)",
    "truncated": "truncated.keras is not a Keras archive (",
    "wrong-type": "wrong-type.json has a str for 'parameter_count'",
}


def test_list_models_reports_broken_entries(tiny_model, models_dir):
    write_broken_entries(tiny_model, models_dir)
    entries = list_models(models_dir)
    assert [entry.name for entry in entries] == sorted(EXPECTED_ERRORS)
    for entry in entries:
        expected = EXPECTED_ERRORS[entry.name]
        if expected is None:
            assert entry.error is None and entry.is_valid
            assert entry.metadata["name"] == "good"
        else:
            assert entry.error is not None and entry.error.startswith(expected), entry
            assert not entry.is_valid
    by_name = {entry.name: entry for entry in entries}
    assert by_name["bad-json"].metadata is None
    assert by_name["missing-keys"].metadata["dataset"] == "mnist"  # partial metadata is kept


def test_loading_broken_entries_gives_clear_errors(tiny_model, models_dir):
    write_broken_entries(tiny_model, models_dir)
    for name, expected in EXPECTED_ERRORS.items():
        if expected is None:
            continue
        with pytest.raises(BrokenModelError) as raised:
            load_model(name, models_dir=models_dir)
        message = str(raised.value)
        assert "\n" not in message
        assert message.startswith(f"{models_dir / name}.keras could not be loaded: {expected}")
        assert message.endswith(". Delete it or retrain.")


def test_model_that_keras_cannot_load_gives_clear_error(tiny_model, models_dir):
    import zipfile

    save(tiny_model, "bad-config", models_dir)
    path = models_dir / "bad-config.keras"
    with zipfile.ZipFile(path) as archive:
        contents = {item: archive.read(item) for item in archive.namelist()}
    contents["config.json"] = b'{"class_name": "NoSuchLayer", "config": {}}'
    with zipfile.ZipFile(path, "w") as archive:
        for item, data in contents.items():
            archive.writestr(item, data)
    with pytest.raises(
        BrokenModelError,
        match=r"bad-config.keras could not be loaded: .*NoSuchLayer.*\. Delete it or retrain\.$",
    ):
        load_model("bad-config", models_dir=models_dir)


def test_lambda_layer_is_refused_by_safe_mode(models_dir):
    import keras

    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Lambda(lambda images: images * 2.0),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    save(model, "with-lambda", models_dir)
    with pytest.raises(BrokenModelError) as raised:
        load_model("with-lambda", models_dir=models_dir)
    message = str(raised.value)
    assert message == (
        f"{models_dir / 'with-lambda.keras'} could not be loaded: it contains Python code (such "
        "as a Lambda layer), which Keras' safe mode does not load because that code could do "
        "anything. Delete it or retrain."
    )


def test_unknown_name_lists_available_models(tiny_model, models_dir):
    with pytest.raises(
        ModelNotFoundError, match=r"no model named 'ghost' in .* \(no models are saved yet\)\."
    ):
        load_model("ghost", models_dir=models_dir)
    save(tiny_model, "b-model", models_dir)
    save(tiny_model, "a-model", models_dir)
    with pytest.raises(ModelStoreError, match=r"\(available: a-model, b-model\)\.$"):
        load_model("ghost", models_dir=models_dir)


def test_delete_and_exists(tiny_model, models_dir):
    assert list_models(models_dir) == []  # a missing directory is just empty
    save(tiny_model, "doomed", models_dir)
    assert model_exists("doomed", models_dir=models_dir)
    delete_model("doomed", models_dir=models_dir)
    assert not model_exists("doomed", models_dir=models_dir)
    assert os.listdir(models_dir) == []
    with pytest.raises(ModelNotFoundError, match="no model named 'doomed'"):
        delete_model("doomed", models_dir=models_dir)

    (models_dir / "half.keras").write_bytes(b"")  # broken entries can be deleted too
    delete_model("half", models_dir=models_dir)
    assert os.listdir(models_dir) == []


def test_models_directory_default_and_environment(monkeypatch, tmp_path, tiny_model):
    monkeypatch.delenv("MNIST_MODELS_DIR", raising=False)
    assert models_directory() == checkout_directory() / "models"
    assert DEFAULT_MODEL_NAME == "default"

    monkeypatch.setenv("MNIST_MODELS_DIR", str(tmp_path / "from-env"))
    assert models_directory() == tmp_path / "from-env"
    save(tiny_model, "env", None)
    assert (tmp_path / "from-env" / "env.keras").is_file()
    assert [entry.name for entry in list_models()] == ["env"]
    assert load_model("env").name == "env"
