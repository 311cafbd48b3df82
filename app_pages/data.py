"""Data: what the network learns from, looked at the way the notebooks look at it."""

import pandas as pd
import streamlit as st

from app_glue.chart_summaries import (
    bars_summary,
    histogram_summary,
)
from app_glue.charts import show_chart
from app_glue.resources import (
    dataset_choices,
    get_dataset,
)
from app_glue.value_charts import (
    bars_spec,
    histogram_spec,
)
from mnist_core.data.datasets import (
    flatten_images,
    scale_images,
)
from mnist_core.data.explore import (
    describe_arrays,
    describe_values,
    enlarge_image,
    flattened_strip,
    label_counts,
    pixel_histogram,
    sample_indices,
)
from mnist_core.data.format import DATASET_TITLES, class_names_of

GRID_SIZE = 24  # random images in the grid
GRID_ZOOM = 3  # 28 px -> 84 px on screen
PIXEL_VIEW_ZOOM = 6  # 28 px -> 168 px
PIXEL_ROW_HEIGHT = 24  # the pixel table: 28 rows and 28 columns that fit on one screen
PIXEL_COLUMN_WIDTH = 31
HISTOGRAM_SAMPLE = 1000  # images whose pixels the histograms count

st.session_state.setdefault("data_sample_seed", 0)

st.title("The data")
st.caption(
    "Before a network can learn, we look at what it learns from: how the images are stored, "
    "what they look like, and the small steps that turn them into the network's input."
)

choices = dataset_choices()
if not choices:
    st.error(
        "No dataset is available on this server. Run `make data` in the repository "
        "(it prepares MNIST offline), then reload this page."
    )
    st.stop()
st.selectbox(
    "Dataset",
    choices,
    key="data_dataset",
    format_func=lambda name: DATASET_TITLES.get(name, name),
    persist_state="session",
    help="MNIST holds handwritten digits; Fashion-MNIST holds photos of clothes in the same "
    "format, the notebook's take-home exercise.",
)
dataset_name = st.session_state["data_dataset"]
dataset = get_dataset(dataset_name)
if dataset is None:
    st.stop()
class_names = class_names_of(dataset_name)
if dataset_name == "fashion_mnist":
    st.caption(
        "Fashion-MNIST labels are numbers too; their names: "
        + ", ".join(f"{label} = {name}" for label, name in enumerate(class_names))
        + "."
    )

# --- The arrays ------------------------------------------------------------------------------
st.header("The arrays")
st.caption(
    "`x` holds the images and `y` their labels; `train` is what the network learns from and "
    "`test` is kept apart to check it afterwards. Each image is 28 × 28 pixels of one byte "
    "(`uint8`): 0 is the background, 255 full ink."
)
arrays = pd.DataFrame(
    [
        {**row, "shape": str(row["shape"]), "min": str(row["min"]), "max": str(row["max"])}
        for row in describe_arrays(dataset)
    ]
)
st.dataframe(arrays, hide_index=True, width="content", key="data_arrays")
st.caption(
    f"This server's copy of {DATASET_TITLES[dataset.name]}, checked against its published "
    "checksums when it was prepared."
)

# --- A grid of random images -----------------------------------------------------------------
st.header("Some training images")
grid_header, grid_button = st.columns([4, 1], vertical_alignment="bottom")
grid_header.caption(
    f"{GRID_SIZE} training images picked at random, with their labels and their index in "
    "`x_train`. Some are hard to read even for a person."
)
if grid_button.button(
    "Reshuffle", icon=":material/shuffle:", key="data_reshuffle", help="Pick other random images."
):
    st.session_state["data_sample_seed"] += 1
indices = sample_indices(len(dataset.x_train), GRID_SIZE, st.session_state["data_sample_seed"])
st.image(
    [enlarge_image(dataset.x_train[index], GRID_ZOOM) for index in indices],
    caption=[f"{class_names[dataset.y_train[index]]} · #{index}" for index in indices],
)

# --- Label distribution ----------------------------------------------------------------------
st.header("How many of each label")
st.caption(
    "A network learns each class from its examples. The classes here are close to equal in "
    "size, so accuracy is a fair score: no class can win by being common."
)
for column, split, labels in zip(
    st.columns(2), ("training", "test"), (dataset.y_train, dataset.y_test)
):
    counts = label_counts(labels, class_names)
    with column:
        show_chart(
            bars_spec(
                counts,
                "class_name",
                "count",
                category_title="label",
                value_title="images",
                order=class_names,
                height=260,
                title=f"{split} set: {len(labels):,} images",
            ),
            bars_summary(counts, "class_name", "count", unit="images"),
        )

# --- One image as numbers --------------------------------------------------------------------
st.header("One image, pixel by pixel")
st.caption(
    "To the computer an image is just a grid of 28 × 28 numbers. In the picture, ink is white "
    "(255) on black (0); in the table, cells with more ink are darker."
)
picture, _ = st.columns([1, 4])
picture.number_input(
    "Index of the training image",
    min_value=0,
    max_value=len(dataset.x_train) - 1,
    step=1,
    key="data_image_index",
    persist_state="session",
    help=f"Any number from 0 to {len(dataset.x_train) - 1:,}; the grid above shows a few.",
)
image_index = int(st.session_state["data_image_index"])
image = dataset.x_train[image_index]
label = int(dataset.y_train[image_index])
picture.image(
    enlarge_image(image, PIXEL_VIEW_ZOOM),
    caption=f"x_train[{image_index}]: label {label}"
    + (f" ({class_names[label]})" if dataset_name == "fashion_mnist" else ""),
)
st.dataframe(
    pd.DataFrame(image).style.background_gradient(cmap="Greys", vmin=0, vmax=255),
    height=PIXEL_ROW_HEIGHT * 29 + 12,
    row_height=PIXEL_ROW_HEIGHT,
    width="content",
    column_config={
        str(column): st.column_config.NumberColumn(width=PIXEL_COLUMN_WIDTH) for column in range(28)
    },
    key="data_pixels",
)

# --- Flattening ------------------------------------------------------------------------------
st.header("Flattening: 28 × 28 → 784")
flat = flatten_images(dataset.x_train)
st.markdown(
    f"A dense layer reads one long row of numbers, so `flatten_images` turns `x_train` of "
    f"shape `{dataset.x_train.shape}` into shape `{flat.shape}`: the 28 rows of each image "
    "laid end to end. Here is the image above as that row:"
)
st.image(
    flattened_strip(image, height=24), caption="784 pixels in one row: row 0 first, row 27 last"
)
st.caption(
    "Nothing is lost, but a dense layer no longer knows which pixels were neighbours; a "
    "convolutional network keeps the 28 × 28 grid instead."
)

# --- Scaling ---------------------------------------------------------------------------------
st.header("Scaling: 0…255 → 0…1")
sample = dataset.x_train[sample_indices(len(dataset.x_train), HISTOGRAM_SAMPLE, seed=0)]
scaled = scale_images(sample)
st.markdown(
    "`scale_images` divides every pixel by 255. The picture stays the same, but the numbers "
    "become small floats (`float32`), which suits the network's weights and learning rate. "
    f"The histograms count the pixels of {len(sample):,} random training images."
)
before, after = st.columns(2)
for column, values, value_range, moment in (
    (before, sample, (0.0, 255.0), "before"),
    (after, scaled, (0.0, 1.0), "after"),
):
    bins = pixel_histogram(values, bins=32, value_range=value_range)
    spec = histogram_spec(
        bins,
        value_title="pixel value",
        count_title="pixels (log scale)",
        log_count=True,
        domain=value_range,
        title=f"{moment}: {describe_values(values)}",
    )
    with column:
        show_chart(spec, histogram_summary(bins, unit="pixels"))
st.caption(
    "Most pixels are background (0); the log scale keeps the few ink values visible. "
    "Both histograms have the same shape: only the numbers on the axis changed."
)

# --- One-hot encoding ------------------------------------------------------------------------
st.header("Labels as one-hot vectors")
st.caption(
    "The network answers with ten numbers, one per class. To compare its answer with the "
    "label, most losses want the label as ten numbers too: all 0 except a 1 at the label's "
    "place. The notebooks do this with Keras' `to_categorical`."
)
label_column, toggle_column = st.columns([1, 2], vertical_alignment="bottom")
label_column.selectbox(
    "Label",
    list(range(len(class_names))),
    key="data_one_hot_label",
    format_func=lambda value: (
        f"{value} ({class_names[value]})" if dataset_name == "fashion_mnist" else str(value)
    ),
    persist_state="session",
)
toggle_column.toggle(
    "Encode it with `to_categorical`",
    key="data_one_hot_show",
    persist_state="session",
    help="Loads Keras the first time, which takes a few seconds.",
)
if st.session_state["data_one_hot_show"]:
    from mnist_core.base.keras_import import import_keras
    from mnist_core.data.datasets import one_hot_encode

    chosen = int(st.session_state["data_one_hot_label"])
    with st.spinner("Loading Keras…"):
        import_keras()
        encoded = one_hot_encode([chosen])
    st.code(
        f"to_categorical({chosen}, num_classes=10)\n{encoded[0]}   # dtype {encoded.dtype}",
        language=None,
    )
    st.dataframe(
        pd.DataFrame(encoded, columns=list(class_names))
        .astype(int)
        .style.highlight_max(axis=1, color="#ffd54f"),
        hide_index=True,
        key="data_one_hot",
    )
