"""Tests for mnist_core.evaluation.evaluate: scores against hand-computed values, loss against Keras."""

import json

import numpy as np
import pytest

from mnist_core.evaluation.evaluate import (
    LOSS_NAMES,
    NoiseAccuracy,
    accuracy_under_noise,
    evaluate_model,
)


class EncodedPredictionModel:
    """A stand-in model: pixel (0, 0) holds predicted_label / 10, pixel (0, 1) the confidence.

    The rest of the probability mass is spread evenly over the other nine classes.
    """

    def __call__(self, images, training=False):
        images = np.asarray(images)
        predicted = np.rint(images[:, 0, 0] * 10).astype(int)
        confidence = images[:, 0, 1].astype(np.float32)
        probabilities = np.repeat(((1 - confidence) / 9)[:, None], 10, axis=1)
        probabilities[np.arange(len(images)), predicted] = confidence
        return probabilities


def encode_predictions(predicted_labels, confidences):
    images = np.zeros((len(predicted_labels), 28, 28), dtype=np.float32)
    images[:, 0, 0] = np.asarray(predicted_labels) / 10
    images[:, 0, 1] = confidences
    return images


# A small example worked out by hand (see test_scores_match_hand_computed_values).
TRUE_LABELS = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3, 3])
PREDICTED_LABELS = np.array([0, 0, 1, 1, 1, 2, 0, 4, 2, 2])
CONFIDENCES = np.array([0.8, 0.7, 0.6, 0.95, 0.85, 0.75, 0.9, 0.5, 0.9, 0.7], dtype=np.float32)


@pytest.fixture
def hand_report():
    images = encode_predictions(PREDICTED_LABELS, CONFIDENCES)
    return evaluate_model(EncodedPredictionModel(), images, TRUE_LABELS, batch_size=3)


def test_predictions_and_confusion_matrix(hand_report):
    np.testing.assert_array_equal(hand_report.predicted_labels, PREDICTED_LABELS)
    np.testing.assert_allclose(hand_report.confidences, CONFIDENCES, rtol=1e-6)
    assert hand_report.probabilities.shape == (10, 10)
    assert hand_report.probabilities.dtype == np.float32
    assert hand_report.accuracy == pytest.approx(0.5)

    expected = np.zeros((10, 10), dtype=np.int64)
    for true_label, predicted_label in zip(TRUE_LABELS, PREDICTED_LABELS, strict=True):
        expected[true_label, predicted_label] += 1
    assert hand_report.confusion_matrix.dtype == np.int64
    np.testing.assert_array_equal(hand_report.confusion_matrix, expected)
    assert hand_report.confusion_matrix[2, 0] == 1  # rows are true labels, columns predictions


def test_scores_match_hand_computed_values(hand_report):
    # class: true positives / predicted as class / support
    # 0: 2 / 3 / 3 -> precision 2/3, recall 2/3, F1 2/3
    # 1: 2 / 3 / 2 -> precision 2/3, recall 1, F1 = 2 * (2/3 * 1) / (2/3 + 1) = 0.8
    # 2: 1 / 3 / 3 -> precision 1/3, recall 1/3, F1 1/3
    # 3: 0 / 0 / 2 -> never predicted: precision 0 (zero division), recall 0, F1 0
    # 4: 0 / 1 / 0 -> never true: precision 0, recall 0 (zero division), F1 0
    # 5..9 never occur: all 0 and left out of the macro average (as scikit-learn does).
    expected = {
        0: (2 / 3, 2 / 3, 2 / 3, 3),
        1: (2 / 3, 1.0, 0.8, 2),
        2: (1 / 3, 1 / 3, 1 / 3, 3),
        3: (0.0, 0.0, 0.0, 2),
        4: (0.0, 0.0, 0.0, 0),
    }
    for row in hand_report.per_class:
        precision, recall, f1_score, support = expected.get(row.class_index, (0.0, 0.0, 0.0, 0))
        assert row.class_name == str(row.class_index)
        assert row.precision == pytest.approx(precision)
        assert row.recall == pytest.approx(recall)
        assert row.f1_score == pytest.approx(f1_score)
        assert row.support == support

    macro = hand_report.macro_average
    assert macro.precision == pytest.approx((2 / 3 + 2 / 3 + 1 / 3) / 5)
    assert macro.recall == pytest.approx((2 / 3 + 1 + 1 / 3) / 5)
    assert macro.f1_score == pytest.approx((2 / 3 + 0.8 + 1 / 3) / 5)
    assert macro.support == 10

    weighted = hand_report.weighted_average
    assert weighted.precision == pytest.approx((3 * 2 / 3 + 2 * 2 / 3 + 3 * 1 / 3) / 10)
    assert weighted.recall == pytest.approx(0.5)  # weighted recall is always the accuracy
    assert weighted.f1_score == pytest.approx((3 * 2 / 3 + 2 * 0.8 + 3 * 1 / 3) / 10)
    assert weighted.support == 10


def test_misclassified_sorted_by_confidence_and_filtered_by_cell(hand_report):
    # Mistakes (index: confidence): 2: 0.6, 6: 0.9, 7: 0.5, 8: 0.9, 9: 0.7; ties keep index order.
    assert hand_report.misclassified_indices.tolist() == [6, 8, 9, 2, 7]
    assert hand_report.misclassified(true_label=3).tolist() == [8, 9]
    assert hand_report.misclassified(true_label=3, predicted_label=2).tolist() == [8, 9]
    assert hand_report.misclassified(predicted_label=0).tolist() == [6]
    assert hand_report.misclassified(true_label=1, predicted_label=1).tolist() == []
    assert hand_report.misclassified(limit=2).tolist() == [6, 8]
    with pytest.raises(ValueError, match="true_label"):
        hand_report.misclassified(true_label=10)
    with pytest.raises(ValueError, match="limit"):
        hand_report.misclassified(limit=-1)


def test_report_arrays_are_read_only(hand_report):
    with pytest.raises(ValueError):
        hand_report.probabilities[0, 0] = 1.0


def test_to_dict_is_json_serializable_summary(hand_report):
    summary = hand_report.to_dict()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["accuracy"] == pytest.approx(0.5)
    assert summary["num_examples"] == 10
    assert summary["num_misclassified"] == 5
    assert summary["confusion_matrix"] == hand_report.confusion_matrix.tolist()
    assert summary["per_class"][1]["f1_score"] == pytest.approx(0.8)
    assert set(summary["macro_average"]) == {"precision", "recall", "f1_score", "support"}
    assert "probabilities" not in summary and "predicted_labels" not in summary


def test_classification_report_text_matches_scikit_learn_layout(hand_report):
    lines = hand_report.format_classification_report().splitlines()
    # scikit-learn pads names to len("weighted avg") and each column to 9 characters.
    assert lines[0] == " " * 14 + "precision    recall  f1-score   support"
    assert lines[1] == ""
    assert lines[3] == "           1       0.67      1.00      0.80         2"
    assert lines[12] == ""
    assert lines[13] == "    accuracy                           0.50        10"
    assert lines[14] == "   macro avg       0.33      0.40      0.36        10"
    assert lines[15] == "weighted avg       0.43      0.50      0.46        10"


def test_class_names_appear_in_report():
    names = (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    )
    images = encode_predictions(PREDICTED_LABELS, CONFIDENCES)
    report = evaluate_model(EncodedPredictionModel(), images, TRUE_LABELS, class_names=names)
    assert report.per_class[0].class_name == "T-shirt/top"
    assert "Ankle boot" in report.format_classification_report()


def test_uint8_and_float_images_give_the_same_result(tiny_model, tiny_data):
    images, labels = tiny_data
    from_uint8 = evaluate_model(tiny_model, images, labels)
    from_float = evaluate_model(tiny_model, images.astype(np.float32) / 255, labels, batch_size=7)
    np.testing.assert_allclose(from_uint8.probabilities, from_float.probabilities, rtol=1e-6)
    assert from_uint8.loss == pytest.approx(from_float.loss, rel=1e-6)


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_loss_matches_keras_evaluate(loss, tiny_data):
    import keras

    images, labels = tiny_data
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            # An L2 penalty: model.evaluate adds it to the loss, so evaluate_model must too.
            keras.layers.Dense(
                10, activation="softmax", kernel_regularizer=keras.regularizers.L2(0.01)
            ),
        ]
    )
    if loss == "sparse_categorical_crossentropy":
        targets, accuracy = labels, keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    else:
        targets = keras.utils.to_categorical(labels, 10)
        accuracy = keras.metrics.CategoricalAccuracy(name="accuracy")
    model.compile(optimizer="sgd", loss=loss, metrics=[accuracy])
    scaled = images.astype(np.float32) / 255
    expected = model.evaluate(scaled, targets, batch_size=16, verbose=0, return_dict=True)

    report = evaluate_model(model, images, labels, loss=loss, batch_size=25)
    assert report.loss == pytest.approx(expected["loss"], rel=1e-5)
    assert report.accuracy == pytest.approx(expected["accuracy"], abs=1e-7)


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        (
            np.zeros((3, 28, 27), np.uint8),
            np.zeros(3, int),
            r"images must have shape \(N, 28, 28\), got \(3, 28, 27\)",
        ),
        (np.zeros((0, 28, 28), np.uint8), np.zeros(0, int), "at least one image, got 0"),
        (np.zeros((3, 28, 28), np.uint8), np.zeros(2, int), "got 2 labels for 3 images"),
        (np.zeros((3, 28, 28), np.uint8), np.zeros((3, 1), int), r"labels must have shape \(N,\)"),
        (
            np.zeros((3, 28, 28), np.uint8),
            np.array([0, 10, 1]),
            "labels must be integers 0..9, got values from 0 to 10",
        ),
        (np.zeros((3, 28, 28), np.uint8), np.array([0, -1, 1]), "got values from -1 to 1"),
        (
            np.zeros((3, 28, 28), np.uint8),
            np.array([0.0, 1.0, 2.0]),
            "labels must be integers 0..9, got dtype float64",
        ),
        (
            np.full((3, 28, 28), 255.0),
            np.zeros(3, int),
            r"float images must lie in \[0, 1\], got values from 255 to 255",
        ),
        (np.full((3, 28, 28), np.nan), np.zeros(3, int), "NaN"),
        (np.zeros((3, 28, 28), np.int32), np.zeros(3, int), "got dtype int32"),
    ],
)
def test_bad_inputs_raise_clear_errors(images, labels, message):
    with pytest.raises(ValueError, match=message):
        evaluate_model(EncodedPredictionModel(), images, labels)


def test_bad_options_raise_clear_errors():
    images = encode_predictions(PREDICTED_LABELS, CONFIDENCES)
    model = EncodedPredictionModel()
    with pytest.raises(ValueError, match="loss must be one of .*got 'hinge'"):
        evaluate_model(model, images, TRUE_LABELS, loss="hinge")
    with pytest.raises(ValueError, match="class_names must be 10 strings"):
        evaluate_model(model, images, TRUE_LABELS, class_names=("a", "b"))
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        evaluate_model(model, images, TRUE_LABELS, batch_size=0)


def test_model_with_wrong_output_width_is_reported():
    def three_class_model(images, training=False):
        return np.full((len(images), 3), 1 / 3, dtype=np.float32)

    with pytest.raises(ValueError, match=r"10 class probabilities.*\(4, 3\)"):
        evaluate_model(three_class_model, np.zeros((4, 28, 28), np.uint8), np.zeros(4, int))


class ThresholdModel:
    """Predicts round(9 * pixel (0, 0)): exact on clean images, easily fooled by noise."""

    def __call__(self, images, training=False):
        predicted = np.clip(np.rint(np.asarray(images)[:, 0, 0] * 9), 0, 9).astype(int)
        return np.eye(10, dtype=np.float32)[predicted]


def threshold_images(labels):
    images = np.zeros((len(labels), 28, 28), dtype=np.float32)
    images[:, 0, 0] = np.asarray(labels) / 9
    return images


def test_accuracy_under_noise_drops_as_sigma_grows():
    labels = np.arange(200) % 10
    images = threshold_images(labels)
    results = accuracy_under_noise(
        ThresholdModel(), images, labels, [0.0, 0.02, 0.5], batch_size=64
    )
    assert [result.sigma for result in results] == [0.0, 0.02, 0.5]
    assert all(isinstance(result, NoiseAccuracy) for result in results)
    assert results[0].accuracy == 1.0
    assert results[1].accuracy > 0.9  # 0.02 is well under half a step of 1/9
    assert results[2].accuracy < 0.5

    again = accuracy_under_noise(ThresholdModel(), images, labels, [0.0, 0.02, 0.5], batch_size=64)
    assert again == results  # same seed, same noise


def test_accuracy_under_noise_on_clean_images_equals_accuracy(tiny_model, tiny_data):
    images, labels = tiny_data
    (result,) = accuracy_under_noise(tiny_model, images, labels, [0])
    assert result.accuracy == pytest.approx(evaluate_model(tiny_model, images, labels).accuracy)


@pytest.mark.parametrize(
    ("sigmas", "message"),
    [
        ([0.1, -0.1], r"sigmas must be finite and >= 0, got -0.1"),
        ([float("nan")], "sigmas must be finite and >= 0, got nan"),
        ([float("inf")], "sigmas must be finite and >= 0, got inf"),
        ([], "at least one noise level"),
        (0.1, "sigmas must be a list of numbers, got 0.1"),
        (["a"], "sigmas must be numbers, got 'a'"),
    ],
)
def test_bad_sigmas_raise_clear_errors(sigmas, message):
    labels = np.arange(10)
    with pytest.raises(ValueError, match=message):
        accuracy_under_noise(ThresholdModel(), threshold_images(labels), labels, sigmas)


@pytest.fixture(scope="module")
def tiny_data():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(50, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=50)
    return images, labels
