"""Evaluate: how well a model does on the test set, which classes it mixes up, and under noise."""

from __future__ import annotations

import functools
import random
from typing import Any

import pandas as pd
import streamlit as st

from app_glue.chart_summaries import (
    confusion_summary,
    noise_summary,
)
from app_glue.charts import (
    confusion_spec,
    noise_spec,
    show_chart,
)
from app_glue.measurements import (
    is_measured,
    measured,
)
from app_glue.models import (
    broken_models,
    model_picker,
)
from app_glue.pictures import (
    ImageArray,
    enlarged_picture,
)
from app_glue.probability_chart import show_probabilities
from app_glue.resources import get_dataset
from mnist_core.evaluation.confusion import (
    confusion_cells,
    most_confused_pairs,
)
from mnist_core.evaluation.evaluate import (
    accuracy_under_noise,
    evaluate_model,
)
from mnist_core.reading.predict import predict_image
from mnist_core.reading.preprocess import add_gaussian_noise

GALLERY_SIZE = 24  # misclassified digits shown at once
THUMBNAIL_PIXELS = 112  # 28 x 4: every pixel of a digit stays visible
LARGE_PIXELS = 224
NOISE_SUBSET_SIZE = 2000  # test images used for the accuracy-under-noise curve
NOISE_SIGMAS = tuple(step / 10 for step in range(11))
FALLBACK_LOSS = "categorical_crossentropy"
RESULTS = "evaluate_results"  # what was measured, for one model

st.session_state.setdefault(RESULTS, None)
st.session_state.setdefault("evaluate_digit_index", None)
st.session_state.setdefault("evaluate_noise_sigma", 0.0)


def show_digits(images: list[ImageArray], captions: list[str]) -> None:
    """Test images side by side, each with its caption."""
    pictures = [enlarged_picture(image, THUMBNAIL_PIXELS) for image in images]
    st.image(pictures, caption=captions, width=THUMBNAIL_PIXELS)


def cell_keys(dataset_name: str) -> tuple[str, str]:
    """The keys of the two class selectboxes of a dataset."""
    # One pair of selectboxes per dataset: their labels (the class names) differ, and a keyed
    # selectbox would keep showing the old label of an unchanged index.
    return f"evaluate_true_class_{dataset_name}", f"evaluate_predicted_class_{dataset_name}"


def choose_clicked_cell(dataset_name: str) -> None:
    """Copy a clicked heatmap cell into the two class selectboxes."""
    state = st.session_state.get("evaluate_confusion_chart")
    points = (state or {}).get("selection", {}).get("cell") or []
    if points:
        true_key, predicted_key = cell_keys(dataset_name)
        st.session_state[true_key] = int(points[0]["true_index"])
        st.session_state[predicted_key] = int(points[0]["predicted_index"])


def new_digit(count: int) -> None:
    """on_click: pick another test image at random."""
    st.session_state["evaluate_digit_index"] = random.randrange(count)


# --- the page --------------------------------------------------------------------------------

st.title("Evaluate a model")
st.caption(
    "Training accuracy tells you how well the network learned its homework. The test set — "
    "images it never saw while training — tells you how well it will do on new images."
)

handle = model_picker("evaluate")
broken = broken_models()
if broken:
    st.warning(
        "Some saved models cannot be loaded and are left out of the list: "
        + "; ".join(f"**{entry.name}** ({entry.error})" for entry in broken)
        + ". Delete those files or save the model again."
    )
if handle is None:
    st.stop()
dataset = get_dataset(handle.dataset_name)
if dataset is None:
    st.stop()

learned_from = handle.record.training_data
if learned_from:
    st.caption(f"**What {handle.name} learned from:** {learned_from}")

class_names = handle.class_names
loss_name = handle.config.loss if handle.config is not None else FALLBACK_LOSS


def _evaluate() -> Any:
    return evaluate_model(
        handle.model, dataset.x_test, dataset.y_test, class_names=class_names, loss=loss_name
    )


try:
    with st.spinner(f"Testing {handle.name} on {len(dataset.y_test):,} test images…"):
        report = measured(handle, "report", _evaluate, state_key=RESULTS)
except ValueError as error:
    st.error(
        f"Model {handle.name!r} could not be evaluated: {error} "
        "Pick another model, or train and save this one again."
    )
    st.stop()

mistake_count = len(report.misclassified_indices)
accuracy_column, loss_column, mistakes_column = st.columns(3)
accuracy_column.metric("Test accuracy", f"{report.accuracy:.2%}")
loss_column.metric(f"Test loss ({report.loss_name})", f"{report.loss:.4f}")
mistakes_column.metric("Mistakes", f"{mistake_count:,} of {report.num_examples:,}")
st.caption(
    f"Measured on all {report.num_examples:,} test images of {dataset.name}. Accuracy is the share "
    "answered right; the loss also counts *how sure* the network was, so a right answer given "
    "hesitantly still costs a little."
)

# --- confusion matrix ------------------------------------------------------------------------

st.header("Which classes get mixed up?")
st.caption(
    "The confusion matrix: each row is the true class, each column the class the network "
    "answered. A cell counts the test images of its row's class that were called its column's "
    "class. The blue diagonal holds the right answers; every red cell is one kind of "
    "mistake, darker for more. **Click a cell** (or pick the two classes on the right) to see the images behind it."
)

true_key, predicted_key = cell_keys(dataset.name)
if true_key not in st.session_state or predicted_key not in st.session_state:
    # Open on the worst mix-up.
    worst = most_confused_pairs(report.confusion_matrix, limit=1)
    st.session_state[true_key], st.session_state[predicted_key] = worst[0][:2] if worst else (0, 0)

chart_column, cell_column = st.columns([3, 2], gap="large")
with cell_column:
    true_class = st.selectbox(
        "True class",
        range(len(class_names)),
        format_func=lambda index: class_names[index],
        key=true_key,
    )
    predicted_class = st.selectbox(
        "Predicted as",
        range(len(class_names)),
        format_func=lambda index: class_names[index],
        key=predicted_key,
    )
with chart_column:
    cells = confusion_cells(report.confusion_matrix, class_names)
    show_chart(
        confusion_spec(cells, class_names, chosen=(true_class, predicted_class), selectable=True),
        confusion_summary(cells),
        key="evaluate_confusion_chart",
        on_select=functools.partial(choose_clicked_cell, dataset.name),
        selection_mode="cell",
    )
with cell_column:
    cell_count = next(
        cell["count"]
        for cell in cells
        if (cell["true_index"], cell["predicted_index"]) == (true_class, predicted_class)
    )
    if true_class == predicted_class:
        st.info(
            f"This cell is on the diagonal: {cell_count:,} images of {class_names[true_class]} "
            "were recognised correctly. Pick a cell off the diagonal to see mistakes."
        )
    elif cell_count == 0:
        st.success(
            f"No {class_names[true_class]} was ever taken for a {class_names[predicted_class]}."
        )
    else:
        cell_indices = report.misclassified(true_class, predicted_class, limit=GALLERY_SIZE)
        shown_note = (
            f"the {len(cell_indices)} it was most sure about:"
            if cell_count > len(cell_indices)
            else "most confident mistakes first:"
        )
        st.markdown(
            f"**{cell_count} image(s) of {class_names[true_class]} called "
            f"{class_names[predicted_class]}**, {shown_note}"
        )
        show_digits(
            [dataset.x_test[index] for index in cell_indices],
            [f"{report.confidences[index]:.0%} sure" for index in cell_indices],
        )

# --- per-class scores ------------------------------------------------------------------------

st.header("Scores for each class")
st.caption(
    "**Precision**: of the images the network called this class, the share that really were. "
    "**Recall**: of the images of this class, the share it found. **F1** combines the two. "
    "**Support** is the number of test images of the class."
)
table_tab, text_tab = st.tabs(["Table", "As the notebooks print it"])
table_tab.dataframe(
    pd.DataFrame(
        [
            {
                "Class": row.class_name,
                "Precision": row.precision,
                "Recall": row.recall,
                "F1": row.f1_score,
                "Support": row.support,
            }
            for row in report.per_class
        ]
    ),
    hide_index=True,
    column_config={
        name: st.column_config.NumberColumn(format="%.3f") for name in ("Precision", "Recall", "F1")
    },
    width=720,
    key="evaluate_report_table",
)
with text_tab:
    st.code(report.format_classification_report(digits=3), language=None)

# --- misclassified gallery -------------------------------------------------------------------

st.header("The mistakes")
st.caption(
    "All the test images the network got wrong, the ones it was most sure about first. Many "
    "of them would make a person hesitate too; others show what the network has not understood."
)
gallery_indices = report.misclassified(limit=GALLERY_SIZE)
if len(gallery_indices) == 0:
    st.success("Not a single mistake on the test set.")
else:
    show_digits(
        [dataset.x_test[index] for index in gallery_indices],
        [
            f"{class_names[report.true_labels[index]]} → "
            f"{class_names[report.predicted_labels[index]]} ({report.confidences[index]:.0%})"
            for index in gallery_indices
        ],
    )
    st.caption(
        f"Showing {len(gallery_indices)} of {mistake_count:,}. Each caption reads "
        "true class → predicted class (confidence)."
    )

# --- one digit, with noise -------------------------------------------------------------------

st.header("One test image, and some noise")
st.caption(
    "Gaussian noise adds a random amount to every pixel, like static on an old television. "
    "Sigma is how strong it is, on the 0-to-1 brightness scale. Watch how much static the "
    "network tolerates before it changes its mind."
)
test_count = len(dataset.y_test)
if (
    st.session_state["evaluate_digit_index"] is None
    or st.session_state["evaluate_digit_index"] >= test_count
):
    new_digit(test_count)
digit_index = st.session_state["evaluate_digit_index"]

button_column, slider_column = st.columns([1, 3], vertical_alignment="bottom", gap="large")
button_column.button(
    "Another image", key="evaluate_another_digit", on_click=new_digit, args=(test_count,)
)
sigma = slider_column.slider(
    "Noise (sigma)", min_value=0.0, max_value=1.0, step=0.05, key="evaluate_noise_sigma"
)

clean_image = dataset.x_test[digit_index]
true_label = int(dataset.y_test[digit_index])
# The digit's index seeds the noise: moving the slider strengthens the same static.
noisy_image = add_gaussian_noise(clean_image, sigma, seed=digit_index)
try:
    prediction = predict_image(handle.model, noisy_image)
except ValueError as error:
    st.error(f"The model could not classify this image: {error}")
    st.stop()
clean_column, noisy_column, chart_column = st.columns([1, 1, 2], gap="medium")
clean_column.image(
    enlarged_picture(clean_image, LARGE_PIXELS),
    caption=f"Test image #{digit_index}",
    width=LARGE_PIXELS,
)
noisy_column.image(
    enlarged_picture(noisy_image, LARGE_PIXELS),
    caption=f"With noise, sigma {sigma:.2f}",
    width=LARGE_PIXELS,
)
with chart_column:
    verdict = ":green[**right**]" if prediction.digit == true_label else ":red[**wrong**]"
    st.markdown(
        f"#### Truth: {class_names[true_label]} · Prediction: {class_names[prediction.digit]} "
        f"({prediction.confidence:.1%}) — {verdict}"
    )
    show_probabilities(prediction.probabilities, class_names, truth=true_label)
    st.caption("Blue: the network's answer. Red: the true class, when the answer is wrong.")

# --- accuracy under noise --------------------------------------------------------------------

st.subheader("Accuracy as the noise grows")
st.caption(
    f"The same static added to {NOISE_SUBSET_SIZE:,} randomly chosen test images (a subset, "
    f"so that it takes seconds), at sigma {NOISE_SIGMAS[0]:g} to {NOISE_SIGMAS[-1]:g}. A network "
    "that learned the shapes of the digits holds on longer than one that learned single pixels."
)


def _noise_curve() -> Any:
    subset = dataset.subset(
        training_images=len(class_names), test_images=min(NOISE_SUBSET_SIZE, test_count)
    )
    return accuracy_under_noise(handle.model, subset.x_test, subset.y_test, NOISE_SIGMAS, seed=0)


if st.button("Measure accuracy under noise", key="evaluate_measure_noise") or is_measured(
    handle, "noise_curve", state_key=RESULTS
):
    try:
        with st.spinner(f"Testing {len(NOISE_SIGMAS)} noise levels…"):
            curve = measured(handle, "noise_curve", _noise_curve, state_key=RESULTS)
    except ValueError as error:
        st.error(f"Accuracy under noise could not be measured: {error}")
        st.stop()
    points = [{"sigma": point.sigma, "accuracy": point.accuracy} for point in curve]
    show_chart(
        noise_spec(points, chosen_sigma=sigma, num_classes=len(class_names)),
        noise_summary(points, num_classes=len(class_names)),
        key="evaluate_noise_chart",
    )
    st.caption(
        f"The dashed line is guessing: one right answer in {len(class_names)}. The grey line "
        "marks the noise of the slider above."
    )
