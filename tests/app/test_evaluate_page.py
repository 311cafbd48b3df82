"""The Evaluate page, through AppTest, with the committed default model."""

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

REPOSITORY = Path(__file__).parents[2]


@pytest.fixture
def evaluate_page(open_page):
    def evaluate_page():
        return open_page("evaluate")

    return evaluate_page


def metric(at: AppTest, label: str) -> str:
    return next(item.value for item in at.metric if item.label.startswith(label))


@pytest.fixture(scope="module")
def default_report():
    """The default model's report, computed here independently of the page."""
    from mnist_core.base.keras_import import import_keras
    from mnist_core.data.datasets import load_dataset
    from mnist_core.evaluation.evaluate import evaluate_model
    from mnist_core.modeling.store import load_model

    import_keras()
    dataset = load_dataset("mnist")
    return evaluate_model(load_model("default").model, dataset.x_test, dataset.y_test)


@pytest.fixture
def default_models_dir(monkeypatch):
    monkeypatch.delenv("MNIST_MODELS_DIR", raising=False)


def test_shows_test_accuracy_confusion_matrix_and_report(evaluate_page, default_models_dir):
    at = evaluate_page()
    assert at.selectbox(key="evaluate_model_name").value == "default"
    assert float(metric(at, "Test accuracy").rstrip("%")) / 100 >= 0.99
    assert "categorical_crossentropy" in next(
        item.label for item in at.metric if item.label.startswith("Test loss")
    )
    charts = [element for element in at.get("vega_lite_chart")]
    assert any(chart.key == "evaluate_confusion_chart" for chart in charts)
    # The matrix in numbers, for those who cannot see it.
    mistakes = int(metric(at, "Mistakes").split(" of ")[0].replace(",", ""))
    assert any(
        caption.value.startswith(f"{10000 - mistakes:,} of 10,000 right (the diagonal).")
        and "Most mixed up:" in caption.value
        for caption in at.caption
    )
    table = at.dataframe[0].value
    assert list(table.columns) == ["Class", "Precision", "Recall", "F1", "Support"]
    assert table["Class"].tolist() == [str(digit) for digit in range(10)]
    assert table["Support"].sum() == 10000
    assert "weighted avg" in at.code[0].value and "precision" in at.code[0].value
    gallery = next(image for image in at.image if "→" in (image.captions or [""])[0])
    assert len(gallery.captions) == 24


def test_choosing_a_cell_shows_its_misclassified_digits(
    evaluate_page, default_models_dir, default_report
):
    from mnist_core.evaluation.confusion import most_confused_pairs

    at = evaluate_page()
    # The page opens on the worst mix-up; choose the second worst instead.
    (first_true, first_predicted, _), (true_class, predicted_class, count) = most_confused_pairs(
        default_report.confusion_matrix, limit=2
    )
    assert at.selectbox(key="evaluate_true_class_mnist").value == first_true
    assert at.selectbox(key="evaluate_predicted_class_mnist").value == first_predicted
    at.selectbox(key="evaluate_true_class_mnist").set_value(true_class)
    at.selectbox(key="evaluate_predicted_class_mnist").set_value(predicted_class).run()
    assert not at.exception
    assert any(
        f"{count} image(s) of {true_class} called {predicted_class}" in item.value
        for item in at.markdown
    )
    expected = default_report.misclassified(true_class, predicted_class)
    cell_images = at.image[0]
    assert cell_images.captions == [
        f"{default_report.confidences[index]:.0%} sure" for index in expected
    ]


def test_a_diagonal_cell_says_there_are_no_mistakes_in_it(evaluate_page, default_models_dir):
    at = evaluate_page()
    at.session_state["evaluate_true_class_mnist"] = 4
    at.session_state["evaluate_predicted_class_mnist"] = 4
    at.run()
    assert not at.exception
    assert any("recognised correctly" in item.value for item in at.info)


def test_noise_slider_still_shows_a_prediction(evaluate_page, default_models_dir, probability_bars):
    at = evaluate_page()
    at.slider(key="evaluate_noise_sigma").set_value(0.4).run()
    assert not at.exception
    assert any("Prediction:" in item.value for item in at.markdown)
    assert any("With noise, sigma 0.40" in image.captions for image in at.image)
    assert any(caption.value.startswith("Highest: ") for caption in at.caption)
    assert len(probability_bars(at)) == 1
    at.button(key="evaluate_another_digit").click().run()
    assert not at.exception
    assert any("Prediction:" in item.value for item in at.markdown)


def test_accuracy_under_noise_curve_on_button_press(evaluate_page, default_models_dir):
    at = evaluate_page()
    charts_before = len(at.get("vega_lite_chart"))
    at.button(key="evaluate_measure_noise").click().run()
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == charts_before + 1
    assert any("2,000 randomly chosen test images" in item.value for item in at.caption)
    assert any(
        item.value.startswith("Test accuracy ") and "guessing scores 10%" in item.value
        for item in at.caption
    )
    # The curve stays on the page when something else changes.
    at.slider(key="evaluate_noise_sigma").set_value(0.2).run()
    assert len(at.get("vega_lite_chart")) == charts_before + 1


def test_broken_model_file_shows_an_error_not_an_exception(evaluate_page, tmp_path, monkeypatch):
    sidecar = json.loads((REPOSITORY / "models" / "default.json").read_text())
    # Looks like a Keras archive (a zip with config.json) but cannot be loaded.
    with zipfile.ZipFile(tmp_path / "broken.keras", "w") as archive:
        archive.writestr("config.json", "{ this is not json")
    (tmp_path / "broken.json").write_text(json.dumps(dict(sidecar, name="broken")))
    # Not even a zip: listed as broken, left out of the picker.
    (tmp_path / "empty.keras").write_bytes(b"")
    shutil.copy(REPOSITORY / "models" / "default.json", tmp_path / "empty.json")
    monkeypatch.setenv("MNIST_MODELS_DIR", str(tmp_path))

    at = evaluate_page()
    assert at.selectbox(key="evaluate_model_name").options == ["broken"]
    assert any("broken.keras could not be loaded" in item.value for item in at.error)
    assert any("empty" in item.value and "0 bytes" in item.value for item in at.warning)
    assert not at.metric


def test_a_runs_model_is_evaluated_too(
    new_app, default_models_dir, tiny_mnist, app_run_log, record_trained_run
):
    from mnist_core.modeling.config import ModelConfig
    from mnist_core.training.train import train_model

    config = ModelConfig(
        architecture="dense",
        layer_sizes=(8,),
        layer_activations=("relu",),
        layer_dropout_rates=(0.0,),
        kernel_sizes=(),
        dense_units=0,
        epochs=1,
        batch_size=64,
    )
    at = new_app()
    at.run()
    run = record_trained_run(
        app_run_log, train_model(config, tiny_mnist), user=at.session_state["user"]
    )
    at.session_state["model_name"] = f"run:{run.id}"
    at.switch_page("app_pages/evaluate.py").run()
    assert not at.exception
    assert at.selectbox(key="evaluate_model_name").value == f"run:{run.id}"
    assert 0.0 < float(metric(at, "Test accuracy").rstrip("%")) < 99.0
    assert metric(at, "Mistakes").endswith("of 10,000")
