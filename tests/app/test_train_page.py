"""The Train page, through AppTest: controls, presets, the summary, training, stop and save.

AppTest does not rerun fragments on a timer, so the tests call `at.run()` in a loop until
the page shows what they wait for; the page shows the final section on any normal rerun once
the job is done.
"""

import json
import time

import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.data.datasets import dataset_available
from mnist_core.modeling.form import layer_key
from mnist_core.modeling.presets import PRESETS
from mnist_core.modeling.summary import count_parameters

TEST_ACCURACY = "Test accuracy"


@pytest.fixture(scope="module")  # the module-scoped `trained` uses it too
def train_page(open_page):
    def train_page():
        return open_page("train")

    return train_page


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def parameter_total(at: AppTest) -> int:
    return int(metric(at, "Parameters to learn").replace(",", ""))


def run_until(at: AppTest, condition, timeout: float = 120.0) -> AppTest:
    """Rerun the page until `condition(at)` holds (the live part is a fragment)."""
    deadline = time.monotonic() + timeout
    while True:
        at.run()
        assert not at.exception
        if condition(at):
            return at
        if time.monotonic() > deadline:
            raise AssertionError("the page did not reach the expected state in time")
        time.sleep(0.25)


def finished(at: AppTest) -> bool:
    return any(m.label == TEST_ACCURACY for m in at.metric)


def choose_tiny_dense(
    at: AppTest, epochs: int = 1, batch_size: int = 128, training_images: int = 1000
) -> None:
    """A small dense network on a subset (by default the smallest, 1000 training images)."""
    at.selectbox(key="train_preset").set_value("relu_512_sparse_rmsprop").run()
    at.select_slider(key=layer_key("train_layer_size", 0)).set_value(32)
    at.select_slider(key="train_epochs").set_value(epochs)
    at.select_slider(key="train_batch_size").set_value(batch_size)
    at.select_slider(key="train_training_images").set_value(training_images).run()
    assert not at.exception


CONTROL_KEYS = {
    "selectbox": [
        "train_dataset",
        "train_preset",
        "train_loss",
        "train_optimizer",
        "train_learning_rate_schedule",
        "train_layer_activation_0",
    ],
    "select_slider": [
        "train_training_images",
        "train_learning_rate",
        "train_batch_size",
        "train_layer_size_0",
        "train_kernel_size_0",
        "train_dense_units",
        "train_epochs",
    ],
    "slider": [
        "train_num_hidden_layers",
        "train_layer_dropout_rate_0",
        "train_dense_dropout_rate",
        "train_momentum",
        "train_validation_split",
        "train_augment_shift",
        "train_augment_rotation",
        "train_augment_zoom",
        "train_augment_stroke",
    ],
    "radio": ["train_architecture", "train_validation"],
    "checkbox": ["train_input_batch_normalization", "train_batch_normalization"],
    "number_input": ["train_seed"],
    "button": ["train_start"],
}


def test_every_control_exists_with_its_key(train_page):
    at = train_page()  # the default preset is a CNN, so the CNN-only controls show too
    for kind, keys in CONTROL_KEYS.items():
        present = {widget.key for widget in getattr(at, kind)}
        assert set(keys) <= present, f"missing {kind}: {set(keys) - present}"


def test_each_preset_loads_its_values_into_the_controls(train_page):
    at = train_page()
    for name, preset in PRESETS.items():
        at.selectbox(key="train_preset").set_value(name).run()
        assert not at.exception
        config = preset.config
        assert at.radio(key="train_architecture").value == config.architecture
        assert at.slider(key="train_num_hidden_layers").value == len(config.layer_sizes)
        for index, size in enumerate(config.layer_sizes):
            assert at.select_slider(key=f"train_layer_size_{index}").value == size
            assert (
                at.selectbox(key=f"train_layer_activation_{index}").value
                == config.layer_activations[index]
            )
            assert at.slider(key=f"train_layer_dropout_rate_{index}").value == pytest.approx(
                config.layer_dropout_rates[index]
            )
        assert at.selectbox(key="train_loss").value == config.loss
        assert at.selectbox(key="train_optimizer").value == config.optimizer
        assert at.select_slider(key="train_learning_rate").value == config.learning_rate
        assert at.select_slider(key="train_epochs").value == config.epochs
        assert at.select_slider(key="train_batch_size").value == config.batch_size
        assert at.radio(key="train_validation").value == config.validation
        assert (
            at.checkbox(key="train_input_batch_normalization").value
            == config.input_batch_normalization
        )
        assert parameter_total(at) == count_parameters(config), name
        assert any(caption.value.startswith(preset.description) for caption in at.caption)


def test_an_edit_after_a_preset_makes_it_custom_and_the_summary_follows(train_page):
    at = train_page()
    at.selectbox(key="train_preset").set_value("relu_784_128_adam").run()
    assert parameter_total(at) == 717_210
    at.select_slider(key="train_layer_size_1").set_value(64).run()
    assert not at.exception
    assert at.selectbox(key="train_preset").value == "custom"
    expected = PRESETS["relu_784_128_adam"].config.replace(layer_sizes=(784, 64))
    assert parameter_total(at) == count_parameters(expected)
    layers = next(frame.value for frame in at.dataframe if "parameters" in frame.value.columns)
    assert layers["parameters"].sum() == count_parameters(expected)


def test_a_bad_combination_shows_an_error_and_cannot_be_trained(train_page):
    at = train_page()
    at.radio(key="train_architecture").set_value("cnn").run()
    at.slider(key="train_num_hidden_layers").set_value(4).run()
    assert not at.exception
    assert any("at most 3 convolution layers" in error.value for error in at.error)
    assert at.button(key="train_start").disabled


def test_settings_stay_when_leaving_the_page_and_coming_back(train_page):
    at = train_page()
    at.selectbox(key="train_preset").set_value("softmax_regression").run()
    at.select_slider(key="train_epochs").set_value(8).run()
    at.switch_page("app_pages/data.py").run()
    at.switch_page("app_pages/train.py").run()
    assert not at.exception
    assert at.select_slider(key="train_epochs").value == 8
    assert at.selectbox(key="train_preset").value == "custom"
    assert at.slider(key="train_num_hidden_layers").value == 0


@pytest.mark.skipif(not dataset_available("fashion_mnist"), reason="Fashion-MNIST not installed")
def test_fashion_mnist_can_be_chosen_and_shows_its_class_names(train_page):
    at = train_page()
    at.selectbox(key="train_dataset").set_value("fashion_mnist").run()
    assert not at.exception
    assert any("Ankle boot" in caption.value for caption in at.caption)


@pytest.fixture(scope="module")
def trained(train_page, tmp_path_factory):
    """A page after a tiny training run on the engine, saving into a temporary models folder."""
    models_dir = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MNIST_MODELS_DIR", str(models_dir))
        at = train_page()
        choose_tiny_dense(at)
        at.button(key="train_start").click().run()
        assert not at.exception
        run_until(at, finished)
        yield at, models_dir


def shown_run(at: AppTest):
    from mnist_core.runs.log import RunLog

    return RunLog().get_run(at.session_state["train_run_id"])


def test_a_tiny_training_run_completes_on_a_worker_with_final_metrics(trained):
    at, _ = trained
    assert any("Trained 1 epoch(s)" in box.value for box in at.success)
    assert metric(at, "Epochs") == "1 of 1"
    accuracy = float(metric(at, TEST_ACCURACY).rstrip("%")) / 100
    run = shown_run(at)
    assert run.status == "finished" and run.owned_by(at.session_state["user"])
    assert (
        run.training_images == 1000 and run.metrics["training_images_used"] == 1000
    )  # validated on the test set
    assert run.worker and run.model_kept
    assert accuracy == pytest.approx(run.test_accuracy, abs=1e-4)
    assert run.config.layer_sizes == (32,)
    history = next(frame.value for frame in at.dataframe if "val_accuracy" in frame.value.columns)
    assert history["epoch"].tolist() == [1]
    # The curves, and where they end in numbers for those who cannot see them.
    loss = run.history[-1]["loss"]
    assert any(
        caption.value.startswith(f"After 1 epoch: training loss {loss:.3g}, validation loss ")
        for caption in at.caption
    )
    assert any(
        caption.value.startswith("After 1 epoch: training accuracy ") for caption in at.caption
    )


def test_a_new_session_of_the_same_user_shows_the_same_run(new_app, trained):
    at, _ = trained
    run = shown_run(at)
    again = new_app()
    again.session_state["user_token"] = at.session_state["user_token"]  # the same browser
    again.run()
    again.switch_page("app_pages/train.py").run()
    assert not again.exception
    assert again.session_state["user_name"] == run.user
    assert again.session_state["train_run_id"] == run.id
    assert metric(again, TEST_ACCURACY) == metric(at, TEST_ACCURACY)


def test_the_model_saves_under_a_name(trained):
    at, models_dir = trained
    at.text_input(key="train_outcome_save_name").input("tiny_dense")
    at.button(key="train_outcome_save_button").click().run()
    assert not at.exception
    assert (models_dir / "tiny_dense.keras").is_file()
    sidecar = json.loads((models_dir / "tiny_dense.json").read_text())
    assert sidecar["saved_by_id"] == at.session_state["user"].id
    assert sidecar["run"]["id"] == shown_run(at).id
    assert any("tiny_dense" in box.value for box in at.success)
    assert shown_run(at).model_name == "tiny_dense"

    # The same name again: refused until "Overwrite" is ticked.
    at.button(key="train_outcome_save_button").click().run()
    assert any("already exists" in error.value for error in at.error)
    at.checkbox(key="train_outcome_save_overwrite").check()
    at.button(key="train_outcome_save_button").click().run()
    assert not at.error


def test_nobody_overwrites_default_from_the_app(trained):
    at, models_dir = trained
    (models_dir / "default.keras").write_bytes(b"the class's model")
    (models_dir / "default.json").write_text("{}")
    at.text_input(key="train_outcome_save_name").input("default")
    at.checkbox(key="train_outcome_save_overwrite").check()
    at.button(key="train_outcome_save_button").click().run()
    assert any(
        "cannot be replaced" in error.value and "another name" in error.value for error in at.error
    )
    assert (models_dir / "default.keras").read_bytes() == b"the class's model"


def test_another_users_model_is_protected_unless_the_teacher_key_is_typed(
    trained, monkeypatch, app_user_of
):
    at, models_dir = trained
    at.text_input(key="train_outcome_save_name").input("shared_model")
    at.checkbox(key="train_outcome_save_overwrite").uncheck()
    at.button(key="train_outcome_save_button").click().run()
    sidecar = models_dir / "shared_model.json"
    data = json.loads(sidecar.read_text())
    data["saved_by"] = "someone_else"
    data["saved_by_id"] = app_user_of("someone_else").id
    sidecar.write_text(json.dumps(data))
    monkeypatch.setenv("MNIST_TEACHER_KEY", "sesame")
    at.checkbox(key="train_outcome_save_overwrite").check()
    at.button(key="train_outcome_save_button").click().run()
    assert any("saved by someone_else" in error.value for error in at.error)
    at.session_state["teacher_unlocked"] = True
    at.button(key="train_outcome_save_button").click().run()
    assert not at.error
    assert json.loads(sidecar.read_text())["saved_by_id"] == at.session_state["user"].id
    at.session_state["teacher_unlocked"] = False


def test_a_bad_model_name_shows_an_error(trained):
    at, models_dir = trained
    at.text_input(key="train_outcome_save_name").input("no spaces please")
    at.button(key="train_outcome_save_button").click().run()
    assert not at.exception
    assert any("not saved" in error.value for error in at.error)
    assert not list(models_dir.glob("no*"))


def test_change_one_thing_trains_the_variant_and_opens_the_comparison(trained):
    at, _ = trained
    parent = shown_run(at)
    at.selectbox(key="train_outcome_variant_setting").set_value("optimizer").run()
    at.selectbox(key="train_outcome_variant_value_optimizer").set_value("sgd").run()
    at.button(key="train_outcome_variant_train").click().run()
    assert not at.exception
    variant = shown_run(at)
    assert variant.parent_id == parent.id and variant.id != parent.id
    assert variant.config == parent.config.replace(optimizer="sgd")
    assert variant.training_images == parent.training_images
    run_until(at, lambda at: at.title and at.title[0].value == "Compare runs", timeout=180)
    assert at.session_state["compare_selection"] == [parent.id, variant.id]


def test_stop_ends_a_long_run_and_keeps_the_model(train_page, app_run_log):
    at = train_page()
    # 50 epochs of 10,000 images in batches of 8: minutes, far longer than the stop may take.
    choose_tiny_dense(at, epochs=50, batch_size=8, training_images=10_000)
    at.button(key="train_start").click().run()
    run_until(at, lambda at: shown_run(at).progress is not None)
    at.button(key="train_live_stop").click().run()
    run_until(at, finished)
    assert any("Stopped on request" in box.value for box in at.warning)
    run = shown_run(at)
    assert run.status == "stopped" and run.model_kept
    assert len(run.history) < 50
    # Change one thing from a run that ended short: both train again to the end, together.
    assert any("ended before its last epoch" in box.value for box in at.info)
    assert at.checkbox(key="train_outcome_variant_both").value
    at.selectbox(key="train_outcome_variant_setting").set_value("optimizer").run()
    at.selectbox(key="train_outcome_variant_value_optimizer").set_value("sgd").run()
    at.button(key="train_outcome_variant_train").click().run()
    assert not at.exception
    again, variant = [
        app_run_log.get_run(queued) for queued in at.session_state["train_compare_when_done"]
    ]
    assert again.request_id == variant.request_id and again.config == run.config
    assert variant.config == run.config.replace(optimizer="sgd")
    for queued in (again, variant):  # free the workers for the next tests
        app_run_log.cancel_run(queued.id, "test over") or app_run_log.request_stop(queued.id)


def test_the_settings_live_in_the_url_and_a_link_restores_them(new_app, train_page):
    at = train_page()
    choose_tiny_dense(at, epochs=3)
    query = dict(at.query_params)
    # Edited controls make the preset "custom": the link holds what differs from the default.
    assert query["preset"] in (["cnn_fast"], "cnn_fast")
    assert query["architecture"] in (["dense"], "dense") and query["epochs"] in (["3"], "3")
    opened = new_app()
    for name, value in query.items():
        opened.query_params[name] = value[-1] if isinstance(value, list) else value
    opened.run()
    opened.switch_page("app_pages/train.py").run()
    assert not opened.exception
    assert opened.select_slider(key="train_layer_size_0").value == 32
    assert opened.select_slider(key="train_epochs").value == 3
    assert opened.select_slider(key="train_training_images").value == 1000
    assert "user" not in dict(opened.query_params)


def test_a_link_with_unknown_or_invalid_values_is_reported_and_ignored(new_app):
    at = new_app()
    at.query_params["preset"] = "dense_fast"
    at.query_params["epochs"] = "many"
    at.query_params["colour"] = "red"
    at.query_params["learning_rate"] = "0.0007"
    at.run()
    at.switch_page("app_pages/train.py").run()
    assert not at.exception
    warnings = " ".join(box.value for box in at.warning)
    assert "epochs" in warnings and "colour" in warnings and "learning_rate" in warnings
    assert at.select_slider(key="train_epochs").value == PRESETS["dense_fast"].config.epochs


def test_in_class_mode_a_links_problems_name_only_what_the_caps_allow(train_page_in_class_mode):
    at = train_page_in_class_mode(epochs="999999", training_images="-5")
    assert not at.exception
    warnings = [box.value for box in at.warning]
    assert any("slider's values (1, 2, 3), got '999999'" in text for text in warnings)
    assert (
        "The link's training_images '-5' is not one of 1000, 5000, 10000; 10,000 are used."
        in warnings
    )
    assert at.select_slider(key="train_training_images").value == 10000


def test_class_mode_link_shows_the_simple_controls_only(new_app):
    at = new_app()
    at.query_params["mode"] = "class"
    at.run()
    at.switch_page("app_pages/train.py").run()
    assert not at.exception
    sliders = {widget.key for widget in at.slider}
    assert "train_augment_shift" not in sliders and "train_validation_split" not in sliders
    assert "train_layer_dropout_rate_0" not in sliders
    assert "train_num_hidden_layers" in sliders
    assert "train_epochs" in {widget.key for widget in at.select_slider}


def test_class_mode_controls_stop_at_the_caps_and_a_student_may_choose_less(
    train_page, app_run_log
):
    from mnist_core.runs.classroom import set_class_mode
    from mnist_core.runs.limits import ClassLimits

    limits = ClassLimits()
    set_class_mode(app_run_log, True)
    try:
        at = train_page()
        assert any("Class mode is on" in box.value for box in at.info)
        at.selectbox(key="train_preset").set_value("relu_512_sparse_rmsprop").run()
        images = at.select_slider(key="train_training_images")
        assert not images.disabled and images.options[-1] == f"{limits.max_training_images:,}"
        assert images.value == limits.max_training_images  # not "all 60,000", not disabled
        epochs = at.select_slider(key="train_epochs")
        assert epochs.options[-1] == str(limits.max_epochs)
        assert epochs.value == limits.max_epochs  # the preset's 5, held to the cap
        assert "60,000" not in " ".join(caption.value for caption in at.caption)
        images.set_value(5000).run()
        at.button(key="train_start").click().run()
        assert not at.exception
        run = shown_run(at)
        assert run.training_images == 5000 and run.config.epochs == limits.max_epochs
        assert not any(key.startswith("asked_") for key in run.limits)
        assert not any("cut to the caps" in caption.value for caption in at.caption)
        # Leave the line (or stop) so the next tests find the workers free.
        app_run_log.cancel_run(run.id, "test over") or app_run_log.request_stop(run.id)
        run_until(at, lambda at: shown_run(at).ended, timeout=120)
    finally:
        set_class_mode(app_run_log, False)


def test_a_damaged_run_log_is_explained_and_drawing_keeps_working(new_app, tmp_path, monkeypatch):
    damaged = tmp_path / "runs.sqlite3"
    damaged.write_bytes(b"not a database" * 200)
    monkeypatch.setenv("MNIST_RUNS_DB", str(damaged))
    at = new_app()
    at.run()
    assert not at.exception
    assert at.title[0].value == "Draw a digit"
    at.switch_page("app_pages/train.py").run()
    assert not at.exception
    assert any("is damaged" in box.value and "Move it aside" in box.value for box in at.warning)
    at.button(key="train_start").click().run()
    assert not at.exception
    assert any("is damaged" in box.value for box in at.error)
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception
    assert any("is damaged" in box.value for box in at.error)


def test_an_unreachable_cluster_is_explained_and_the_rest_keeps_working(
    train_page, tmp_path, monkeypatch
):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MNIST_DASK_SCHEDULER", f"tcp://127.0.0.1:{port}")
    monkeypatch.setenv("MNIST_RUNS_DB", str(tmp_path / "runs.sqlite3"))
    at = train_page()
    choose_tiny_dense(at)
    at.button(key="train_start").click().run()
    assert not at.exception
    assert any(
        "Training is not available" in box.value and "does not answer" in box.value
        for box in at.error
    )
    at.switch_page("app_pages/evaluate.py").run()
    assert not at.exception


def test_an_ended_run_downloads_as_a_script_and_a_notebook(
    open_page, app_run_log, record_trained_run, tiny_config, tiny_mnist, app_user_of
):
    from mnist_core.teaching.export import notebook_file_name
    from mnist_core.training.train import train_model

    result = train_model(tiny_config.replace(epochs=1), tiny_mnist)
    run = record_trained_run(
        app_run_log, result, user=app_user_of("export_user"), dataset=tiny_mnist
    )
    at = open_page("train", user="export_user")
    buttons = {button.key: button for button in at.download_button}
    assert {"train_outcome_export_script", "train_outcome_export_notebook"} <= set(buttons)
    assert buttons["train_outcome_export_notebook"].label == "Notebook (.ipynb)"
    assert notebook_file_name(run).endswith(f"_{run.id[:6]}.ipynb")


def test_a_worker_that_cannot_train_is_named_on_the_train_page(train_page, tmp_path, monkeypatch):
    """The engine's cluster check, as the page shows it (the real check, on a real cluster, is
    in tests/core/test_cluster_recipe.py); the page never connects just to look."""
    from types import SimpleNamespace

    from app_glue import resources

    sentence = (
        "Worker tls://10.0.0.12:39187 cannot import the project (ModuleNotFoundError: No module "
        "named 'mnist_core', in /home/lab/mnist-env/bin/python3.11): install mnist-playground "
        "0.1.0 into that environment (`pip install .` in a copy of this version, see the "
        "README's cluster recipe), then restart `dask worker`."
    )
    monkeypatch.delenv("MNIST_DASK_SCHEDULER", raising=False)
    monkeypatch.setenv("MNIST_RUNS_DB", str(tmp_path / "runs.sqlite3"))
    engine = SimpleNamespace(closed=False, cluster_problems=(sentence,))
    at = train_page()
    assert not any("Worker" in box.value for box in at.warning)  # no engine connected: nothing
    monkeypatch.setitem(
        resources._CONNECTED, (str(tmp_path / "runs.sqlite3"), None), SimpleNamespace(engine=engine)
    )
    at.run()
    assert not at.exception
    assert [box.value for box in at.warning if "Worker" in box.value] == [sentence]
