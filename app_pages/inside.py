"""Inside the network: first-layer weights, every layer's output, and the weights over training."""

from __future__ import annotations

import random

import pandas as pd
import streamlit as st

from app_glue.chart_summaries import (
    epoch_lines_summary,
    histogram_summary,
    units_summary,
)
from app_glue.charts import show_chart
from app_glue.measurements import activation_model
from app_glue.models import model_picker
from app_glue.pictures import (
    ImageArray,
    enlarged_picture,
)
from app_glue.probability_chart import show_probabilities
from app_glue.resources import get_dataset
from app_glue.value_charts import (
    bars_spec,
    epoch_lines_spec,
    histogram_spec,
    unit_cells_spec,
)
from mnist_core.evaluation.inspection import (
    KIND_DENSE,
    SCALE_SHARED,
    feature_maps,
    first_layer_weights,
    layer_activations,
    summarized_layers,
    tile_images,
    unit_rows,
    weight_histogram_rows,
    weight_statistics_rows,
)
from mnist_core.reading.predict import prediction_from_probabilities

SOURCE_TEST = "test"
SOURCE_DRAWING = "drawing"
SOURCE_LABELS = {SOURCE_TEST: "A test image", SOURCE_DRAWING: "Your drawing (Draw page)"}
INPUT_PIXELS = 196  # 28 x 7
MAP_TILE_PIXELS = 84  # a feature map is enlarged to about this many pixels a side
FILTER_TILE_PIXELS = 96
UNITS_SHOWN_MAX = 64
BAR_UNITS_MAX = 128  # dense outputs up to this many units are bars, longer ones rows of cells
# Weights: red where ink raises the unit's output, blue where it lowers it, white for zero.
WEIGHT_COLORMAP = "RdBu_r"
ACTIVATION_COLORMAP = "viridis"

# What each kind of layer does, said the way the notebooks say it.
LAYER_EXPLANATIONS = {
    "Reshape": "The 28×28 image gets a channel axis so that convolutions can read it: the "
    "same pixels, nothing learned yet.",
    "Conv2D": "Each map is one filter slid over the whole image: bright where the image "
    "matches the filter's little pattern, dark where it does not.",
    "BatchNormalization": "Every map is shifted and rescaled to a standard range, so that the "
    "next layer gets numbers of a comfortable size.",
    "Activation": "The activation function: ReLU keeps positive values and turns negative ones "
    "into zero, so dark areas are where a filter found nothing.",
    "MaxPooling2D": "Only the strongest value of every 2×2 block survives: half the width and "
    "height, the strong responses kept.",
    "Flatten": "All the numbers laid out in one long row, so that dense layers can read them "
    "(the position on the grid is forgotten). Shown wrapped into rows: bright = large.",
    "Dense": "One value per unit: the units with the largest outputs are the ones whose pattern "
    "this image matches best. Hover to read a unit's value.",
    "Dropout": "Dropout only acts while training; when the network is used it passes "
    "everything through unchanged.",
}

st.session_state.setdefault("inside_source", None)
st.session_state.setdefault("inside_digit_index", 0)
st.session_state.setdefault("inside_units_shown", 32)
st.session_state.setdefault("inside_histogram_epoch", 1)
st.session_state.setdefault("inside_overlay_epochs", False)


# --- helpers -------------------------------------------------------------------------------


def random_digit(count: int) -> None:
    """on_click: pick another test image at random."""
    st.session_state["inside_digit_index"] = random.randrange(count)


def show_units(values: ImageArray) -> None:
    """A few units' outputs as bars (their height is the output), many as rows of cells."""
    summary = units_summary(values.tolist())
    if values.shape[0] <= BAR_UNITS_MAX:
        bars = [{"unit": unit, "output": value} for unit, value in enumerate(values.tolist())]
        spec = bars_spec(
            bars, "unit", "output", category_title="unit", value_title="output", value_format=".3f"
        )
        show_chart(spec, summary)
        return
    width = 32 if values.shape[0] <= 256 else 64
    cells = unit_rows(values, width=width)
    show_chart(unit_cells_spec(cells, row_height=24 if width == 32 else 14), summary)


def show_layer(
    number: int,
    name: str,
    layer_type: str,
    values: ImageArray,
    class_names: tuple[str, ...],
    is_output: bool,
) -> None:
    """One layer's output for the image: probabilities, maps, a grid, or units."""
    with st.container(border=True):
        shape = " × ".join(str(size) for size in values.shape)
        st.markdown(f"**{number}. {name}** · {layer_type} · output {shape}")
        if is_output:
            st.caption(
                "The output layer: softmax turns the last scores into probabilities that add "
                "up to 1. The tallest bar is the network's answer."
            )
            show_probabilities(values.tolist(), class_names)
            return
        st.caption(LAYER_EXPLANATIONS.get(layer_type, "This layer's output for the image."))
        if layer_type == "Dropout":
            return
        if values.ndim == 3:
            maps = feature_maps(values)
            upscale = max(2, MAP_TILE_PIXELS // maps.shape[1])
            # Large maps eight to a row, small ones sixteen: every map stays big enough to read.
            columns = 8 if maps.shape[1] > 14 else 16
            grid = tile_images(
                maps,
                columns=min(columns, maps.shape[0]),
                upscale=upscale,
                colormap=ACTIVATION_COLORMAP,
                scale=SCALE_SHARED,
            )
            st.image(
                grid,
                caption=f"{maps.shape[0]} map(s), one colour scale for all: yellow = strongest",
            )
        elif values.ndim == 2:
            grid = tile_images(values[None], upscale=max(2, MAP_TILE_PIXELS // values.shape[0]))
            st.image(grid)
        else:
            show_units(values)


# --- the page ------------------------------------------------------------------------------

st.title("Inside the network")
st.caption(
    "A trained network is just numbers: weights it learned and outputs it computes. Here you "
    "can look at both — what the first layer looks for, and what every layer makes of one image."
)

handle = model_picker("inside")
if handle is None:
    st.stop()
class_names = handle.class_names

# --- first-layer weights -------------------------------------------------------------------

st.header("What the first layer looks for")
try:
    kind, weights = first_layer_weights(handle.model)
except ValueError as error:
    st.info(f"The first layer's weights cannot be shown as pictures: {error}")
    kind, weights = None, None
if kind == KIND_DENSE and handle.config is not None and not handle.config.layer_sizes:
    st.caption(
        "This network has no hidden layer: each picture holds the 784 weights of one output "
        "class, laid back on the 28×28 grid. **Red** pixels vote *for* the class when they "
        "hold ink, **blue** pixels vote *against* it. They look like blurry templates of "
        "each class."
    )
    st.image(
        [
            tile_images(template[None], upscale=5, colormap=WEIGHT_COLORMAP, symmetric=True)
            for template in weights
        ],
        caption=list(class_names),
        width=140,
    )
elif kind == KIND_DENSE:
    unit_count = weights.shape[0]
    st.caption(
        "Each picture is one unit of the first hidden layer: its 784 incoming weights, one "
        "per pixel, laid back on the 28×28 grid. **Red** pixels raise the unit's output when "
        "they hold ink, **blue** pixels lower it, white ones do not matter. Many look like "
        "blurry strokes or pieces of digits: a unit fires when the image matches its "
        "pattern. The speckled border is where no digit ever has ink: those weights never "
        "get a reason to change and keep their random starting values."
    )
    shown = 1
    if unit_count > 1:
        st.session_state["inside_units_shown"] = min(
            st.session_state["inside_units_shown"], unit_count, UNITS_SHOWN_MAX
        )
        shown = st.slider(
            "Units shown",
            min_value=1,
            max_value=min(unit_count, UNITS_SHOWN_MAX),
            key="inside_units_shown",
        )
    st.image(
        tile_images(
            weights[:shown], columns=8, upscale=4, colormap=WEIGHT_COLORMAP, symmetric=True
        ),
        caption=f"The first {shown} of {unit_count} units, left to right, top to bottom",
    )
elif kind is not None:
    filter_count, kernel_size = weights.shape[0], weights.shape[1]
    st.caption(
        f"Each square is one of the {filter_count} filters of the first convolution: "
        f"{kernel_size}×{kernel_size} weights that slide over the image. **Red** means ink "
        "there makes the filter respond, **blue** means ink there holds it back. Many are "
        "little edge and stroke detectors: light-dark boundaries at some angle."
    )
    st.image(
        tile_images(
            weights,
            columns=min(8, filter_count),
            upscale=max(4, FILTER_TILE_PIXELS // kernel_size),
            padding=1,
            colormap=WEIGHT_COLORMAP,
            symmetric=True,
        ),
        caption=f"The {filter_count} filters, left to right, top to bottom",
    )

# --- activations ---------------------------------------------------------------------------

st.header("What each layer makes of one image")
st.caption(
    "The image goes in at the top and every layer transforms it in turn. Early layers still "
    "look like the picture; later ones become abstract codes that only the next layer can read."
)
drawing = st.session_state.get("current_drawing")
sources = [SOURCE_TEST, SOURCE_DRAWING]
if st.session_state["inside_source"] not in sources:
    st.session_state["inside_source"] = SOURCE_DRAWING if drawing is not None else SOURCE_TEST
source = st.radio(
    "Image",
    sources,
    format_func=SOURCE_LABELS.get,
    horizontal=True,
    key="inside_source",
)

image28 = None
input_caption = ""
if source == SOURCE_DRAWING:
    if drawing is None:
        st.info("No drawing yet: draw a digit on the Draw page, then come back.")
    else:
        image28 = drawing
        input_caption = "Your drawing, as the network sees it"
else:
    dataset = get_dataset(handle.dataset_name)
    if dataset is not None:
        test_count = len(dataset.y_test)
        if st.session_state["inside_digit_index"] >= test_count:
            st.session_state["inside_digit_index"] = 0
        number_column, button_column = st.columns([3, 1], vertical_alignment="bottom")
        index = number_column.number_input(
            "Test image number",
            min_value=0,
            max_value=test_count - 1,
            step=1,
            key="inside_digit_index",
        )
        button_column.button(
            "Random image", key="inside_random_digit", on_click=random_digit, args=(test_count,)
        )
        image28 = dataset.x_test[int(index)]
        input_caption = (
            f"Test image #{int(index)}: a {class_names[int(dataset.y_test[int(index)])]}"
        )

if image28 is not None:
    try:
        activations = layer_activations(handle.model, image28, activation_model(handle))
    except ValueError as error:
        st.error(f"The layers' outputs could not be computed: {error}")
        st.stop()
    input_column, answer_column = st.columns([1, 3], gap="large")
    input_column.image(
        enlarged_picture(image28, INPUT_PIXELS), caption=input_caption, width=INPUT_PIXELS
    )
    answer = prediction_from_probabilities(activations[-1].values)
    answer_column.markdown(
        f"#### The network says: {class_names[answer.digit]} ({answer.confidence:.1%} sure)"
    )
    answer_column.caption(
        f"{len(activations)} layers between the pixels and the answer. Scroll down to follow "
        "the image through each of them."
    )
    for number, (name, layer_type, values) in enumerate(activations, start=1):
        show_layer(
            number, name, layer_type, values, class_names, is_output=number == len(activations)
        )

# --- weights over training -----------------------------------------------------------------

st.header("How the weights changed while training")
summaries = handle.weight_summaries
if not summaries:
    hint = " Pick one of your runs (“run …”) above, or train one on the Train page, to watch its weights epoch by epoch."
    st.info(f"Model {handle.name!r} was saved without per-epoch weight summaries.{hint}")
    st.stop()

try:
    layer_names = summarized_layers(summaries)
    statistics = weight_statistics_rows(summaries)
    histograms = {
        (name, part): weight_histogram_rows(summaries, name, part)
        for name in layer_names
        for part in ("kernel", "bias")
    }
except ValueError as error:
    st.warning(f"The weight summaries of this model cannot be read: {error}")
    st.stop()
epoch_count = len(summaries)
st.caption(
    "Before training the weights are small random numbers. Each epoch nudges them: the "
    "histograms spread out as the network learns what matters, and the mean and spread below "
    "are what the notebooks print after every epoch."
)
layer_column, epoch_column, overlay_column = st.columns([2, 3, 2], vertical_alignment="bottom")
layer_name = layer_column.selectbox("Layer", layer_names, key="inside_histogram_layer")
if epoch_count > 1:
    st.session_state["inside_histogram_epoch"] = min(
        max(1, st.session_state["inside_histogram_epoch"]), epoch_count
    )
    epoch = epoch_column.slider(
        "Epoch",
        min_value=1,
        max_value=epoch_count,
        key="inside_histogram_epoch",
        disabled=st.session_state["inside_overlay_epochs"],
    )
else:
    epoch = 1
    epoch_column.markdown("Epoch 1 (the only one)")
overlay = overlay_column.checkbox("Overlay all epochs", key="inside_overlay_epochs")

histogram_columns = st.columns(2, gap="large")
for column, part in zip(histogram_columns, ("kernel", "bias"), strict=True):
    rows = histograms[(layer_name, part)]
    with column:
        st.markdown(f"**{'Weights (kernel)' if part == 'kernel' else 'Biases'}** of {layer_name}")
        if not rows:
            st.caption("This layer has no biases (batch normalization takes their place).")
            continue
        if overlay:
            spec = epoch_lines_spec(rows, value_title="value")
            show_chart(spec, epoch_lines_summary(rows), key=f"inside_histogram_{part}")
            continue
        of_epoch = [row for row in rows if row["epoch"] == epoch]
        spec = histogram_spec(
            of_epoch,
            value_title=f"value (epoch {epoch})",
            count_title="how many",
            start="bin_start",
            end="bin_end",
            height=280,
        )
        unit = "weights" if part == "kernel" else "biases"
        summary = histogram_summary(of_epoch, unit=unit, start="bin_start", end="bin_end")
        show_chart(spec, summary, key=f"inside_histogram_{part}")
if overlay:
    st.caption(
        "Each curve encloses the same area (all of that epoch's values), so compare their "
        "widths: a wider curve means the weights have spread out."
    )

st.markdown(f"**Mean and spread of {layer_name} after each epoch**")
st.dataframe(
    pd.DataFrame(
        [
            {
                "Epoch": row["epoch"],
                "Part": row["part"],
                "Mean": row["mean"],
                "Std": row["std"],
                "Min": row["min"],
                "Max": row["max"],
            }
            for row in statistics
            if row["layer"] == layer_name
        ]
    ),
    hide_index=True,
    column_config={
        name: st.column_config.NumberColumn(format="%.4f") for name in ("Mean", "Std", "Min", "Max")
    },
    width=720,
    key="inside_statistics_table",
)
