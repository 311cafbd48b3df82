"""Evaluate: how well a model does on the test set, which classes it mixes up, and under noise."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from app_glue.models import (
    ModelHandle,
    broken_models,
    model_picker,
    stored_model_version,
)
from app_glue.pictures import enlarged_picture
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

st.session_state.setdefault("evaluate_results", None)  # what was measured, for one model
st.session_state.setdefault("evaluate_digit_index", None)
st.session_state.setdefault("evaluate_noise_sigma", 0.0)


# --- helpers: caching, pictures and charts ------------------------------------------------


@st.cache_resource(max_entries=16, show_spinner=False)
def _shared_result(kind: str, path: str, modified_ns: int, _compute: Callable[[], Any]) -> Any:
    # Keyed on the model file and its modification time: every session evaluating the same
    # saved model shares one result, and a re-saved model is evaluated afresh.
    return _compute()


def _measure(handle: ModelHandle, kind: str, compute: Callable[[], Any]) -> Any:
    """Compute something about a model once: per saved file for everyone, per session else."""
    results = st.session_state["evaluate_results"]
    if results is None or results["model"] is not handle.model:
        results = {"model": handle.model}
        st.session_state["evaluate_results"] = results
    if kind not in results:
        version = stored_model_version(handle)
        results[kind] = _shared_result(kind, *version, compute) if version else compute()
    return results[kind]


def _picture(image: np.ndarray, pixels: int = THUMBNAIL_PIXELS) -> Image.Image:
    return enlarged_picture(image, pixels)


def _show_digits(images: list[np.ndarray], captions: list[str]) -> None:
    st.image([_picture(image) for image in images], caption=captions, width=THUMBNAIL_PIXELS)


def _confusion_chart(
    cells: list[dict[str, Any]], class_names: tuple[str, ...], chosen: tuple[int, int]
) -> alt.LayerChart:
    data = pd.DataFrame(cells)
    data["chosen"] = (data["true_index"] == chosen[0]) & (data["predicted_index"] == chosen[1])
    most_mistakes = max(1, int(data.loc[~data["correct"], "count"].max()))
    cell = alt.selection_point(
        name="cell", fields=["true_index", "predicted_index"], on="click", clear=False
    )
    long_names = max(len(name) for name in class_names) > 2
    base = alt.Chart(data).encode(
        x=alt.X(
            "predicted:N",
            sort=list(class_names),
            title="Predicted class",
            axis=alt.Axis(
                orient="top",
                labelFontSize=15,
                titleFontSize=16,
                labelAngle=-45 if long_names else 0,
                labelAlign="left" if long_names else "center",
                labelOverlap=False,
            ),
        ),
        y=alt.Y(
            "true:N",
            sort=list(class_names),
            title="True class",
            axis=alt.Axis(labelFontSize=15, titleFontSize=16),
        ),
    )
    # Right answers green; mistakes orange, darker for more; cells without mistakes white.
    fill = alt.condition(
        alt.datum.correct,
        alt.value("#a5d6a7"),
        alt.Color(
            "count:Q",
            # A square-root scale, so that a single mistake is already clearly coloured.
            scale=alt.Scale(
                type="sqrt",
                domain=[0, most_mistakes],
                range=["#ffffff", "#d94801"],
                interpolate="rgb",
            ),
            legend=None,
        ),
    )
    squares = (
        base.mark_rect(stroke="#dddddd", strokeWidth=1, cursor="pointer")
        .encode(
            color=fill,
            tooltip=[
                alt.Tooltip("true:N", title="True class"),
                alt.Tooltip("predicted:N", title="Predicted as"),
                alt.Tooltip("count:Q", title="Images"),
                alt.Tooltip("share:Q", title="Share of the true class", format=".1%"),
            ],
        )
        .add_params(cell)
    )
    outline = base.transform_filter(alt.datum.chosen).mark_rect(
        fill=None, stroke="#1a237e", strokeWidth=4
    )
    text_colour = (
        alt.when((~alt.datum.correct) & (alt.datum.count > 0.6 * most_mistakes))
        .then(alt.value("white"))
        .otherwise(alt.value("black"))
    )
    counts = (
        base.transform_filter(alt.datum.count > 0)
        .mark_text(fontSize=15)
        .encode(text="count:Q", color=text_colour)
    )
    return (squares + outline + counts).properties(height=520)


def _cell_keys(dataset_name: str) -> tuple[str, str]:
    # One pair of selectboxes per dataset: their labels (the class names) differ, and a keyed
    # selectbox would keep showing the old label of an unchanged index.
    return f"evaluate_true_class_{dataset_name}", f"evaluate_predicted_class_{dataset_name}"


def _choose_clicked_cell(dataset_name: str) -> None:
    """Copy a clicked heatmap cell into the two class selectboxes."""
    state = st.session_state.get("evaluate_confusion_chart")
    points = (state or {}).get("selection", {}).get("cell") or []
    if points:
        true_key, predicted_key = _cell_keys(dataset_name)
        st.session_state[true_key] = int(points[0]["true_index"])
        st.session_state[predicted_key] = int(points[0]["predicted_index"])


def _probability_chart(
    probabilities: tuple[float, ...], class_names: tuple[str, ...], true_label: int, predicted: int
) -> alt.LayerChart:
    data = pd.DataFrame(
        {
            "class": list(class_names),
            "probability": list(probabilities),
            "role": [
                "prediction" if index == predicted else "truth" if index == true_label else "other"
                for index in range(len(class_names))
            ],
        }
    )
    bars = alt.Chart(data).encode(
        y=alt.Y("class:N", sort=list(class_names), title=None, axis=alt.Axis(labelFontSize=15)),
        x=alt.X(
            "probability:Q",
            # Room on the right for the label of a 100% bar.
            scale=alt.Scale(domain=[0, 1.18]),
            title="Confidence",
            axis=alt.Axis(
                format="%", values=[0, 0.25, 0.5, 0.75, 1], labelFontSize=13, titleFontSize=14
            ),
        ),
    )
    colours = alt.Scale(
        domain=["prediction", "truth", "other"], range=["#2e7d32", "#c62828", "#9e9e9e"]
    )
    return (
        bars.mark_bar().encode(color=alt.Color("role:N", scale=colours, legend=None))
        + bars.mark_text(align="left", dx=4, fontSize=14).encode(
            text=alt.Text("probability:Q", format=".1%")
        )
    ).properties(height=330)


def _noise_chart(curve: list[Any], chosen_sigma: float, num_classes: int) -> alt.LayerChart:
    points = pd.DataFrame([{"sigma": point.sigma, "accuracy": point.accuracy} for point in curve])
    axis_style = {"labelFontSize": 13, "titleFontSize": 14}
    line = alt.Chart(points).encode(
        x=alt.X(
            "sigma:Q",
            title="Noise (sigma)",
            axis=alt.Axis(values=[point.sigma for point in curve], format=".1f", **axis_style),
        ),
        y=alt.Y(
            "accuracy:Q",
            scale=alt.Scale(domain=[0, 1]),
            title="Test accuracy",
            axis=alt.Axis(format="%", **axis_style),
        ),
        tooltip=[alt.Tooltip("sigma:Q", format=".1f"), alt.Tooltip("accuracy:Q", format=".1%")],
    )
    guessing = (
        alt.Chart(pd.DataFrame({"accuracy": [1 / num_classes]}))
        .mark_rule(strokeDash=[6, 4], color="#757575", strokeWidth=2)
        .encode(y="accuracy:Q")
    )
    chosen = (
        alt.Chart(pd.DataFrame({"sigma": [chosen_sigma]}))
        .mark_rule(color="#9e9e9e", strokeWidth=2)
        .encode(x="sigma:Q")
    )
    return (
        guessing + chosen + line.mark_line(strokeWidth=3) + line.mark_point(size=80, filled=True)
    ).properties(height=320)


def _new_digit(count: int) -> None:
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
        report = _measure(handle, "report", _evaluate)
except ValueError as error:
    st.error(
        f"Model {handle.name!r} could not be evaluated: {error} "
        "Pick another model, or train and save this one again."
    )
    st.stop()

mistake_count = int(report.misclassified_indices.shape[0])
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
    "class. The green diagonal holds the right answers; every orange cell is one kind of "
    "mistake. **Click a cell** (or pick the two classes on the right) to see the images behind it."
)

true_key, predicted_key = _cell_keys(dataset.name)
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
    st.altair_chart(
        _confusion_chart(
            confusion_cells(report.confusion_matrix, class_names),
            class_names,
            (true_class, predicted_class),
        ),
        width="stretch",
        key="evaluate_confusion_chart",
        on_select=functools.partial(_choose_clicked_cell, dataset.name),
        selection_mode="cell",
    )
with cell_column:
    cell_count = int(report.confusion_matrix[true_class, predicted_class])
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
        _show_digits(
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
    _show_digits(
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
    _new_digit(test_count)
digit_index = st.session_state["evaluate_digit_index"]

button_column, slider_column = st.columns([1, 3], vertical_alignment="bottom", gap="large")
button_column.button(
    "Another image", key="evaluate_another_digit", on_click=_new_digit, args=(test_count,)
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
    _picture(clean_image, LARGE_PIXELS), caption=f"Test image #{digit_index}", width=LARGE_PIXELS
)
noisy_column.image(
    _picture(noisy_image, LARGE_PIXELS),
    caption=f"With noise, sigma {sigma:.2f}",
    width=LARGE_PIXELS,
)
with chart_column:
    verdict = ":green[**right**]" if prediction.digit == true_label else ":red[**wrong**]"
    st.markdown(
        f"#### Truth: {class_names[true_label]} · Prediction: {class_names[prediction.digit]} "
        f"({prediction.confidence:.1%}) — {verdict}"
    )
    st.altair_chart(
        _probability_chart(prediction.probabilities, class_names, true_label, prediction.digit),
        width="stretch",
    )
    st.caption("Green: the network's answer. Red: the true class, when the answer is wrong.")

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


results = st.session_state["evaluate_results"]
if (
    st.button("Measure accuracy under noise", key="evaluate_measure_noise")
    or "noise_curve" in results
):
    try:
        with st.spinner(f"Testing {len(NOISE_SIGMAS)} noise levels…"):
            curve = _measure(handle, "noise_curve", _noise_curve)
    except ValueError as error:
        st.error(f"Accuracy under noise could not be measured: {error}")
        st.stop()
    st.altair_chart(_noise_chart(curve, sigma, len(class_names)), width="stretch")
    st.caption(
        f"The dashed line is guessing: one right answer in {len(class_names)}. The grey line "
        "marks the noise of the slider above."
    )
