"""Train: pick a notebook's network or build your own, watch it learn on the cluster, keep it."""

import pandas as pd
import streamlit as st

from app_glue.resources import (
    connected_engine,
    dataset_choices,
    run_log,
)
from app_glue.run_live import (
    show_cluster_problems,
    show_live_run,
)
from app_glue.run_outcome import show_outcome
from app_glue.train_form import (
    PREFIX,
    control,
    form_config,
    form_value,
    init_train_form,
    load_preset,
    run_to_show,
    submit,
)
from app_glue.train_suggestion import (
    show_class_readiness,
    show_suggestion,
    training_dataset_choices,
)
from app_glue.user import current_user
from mnist_core.data.format import DATASET_TITLES, class_names_of
from mnist_core.modeling.config import (
    ACTIVATIONS,
    ARCHITECTURES,
    KERNEL_SIZES,
    LEARNING_RATE_SCHEDULES,
    LOSSES,
    MAX_HIDDEN_LAYERS,
    OPTIMIZERS,
    ModelConfig,
)
from mnist_core.modeling.form import (
    BATCH_SIZE_CHOICES,
    DENSE_UNIT_CHOICES,
    EPOCH_CHOICES,
    LAYER_SIZE_CHOICES,
    LEARNING_RATE_CHOICES,
    TRAINING_IMAGE_CHOICES,
    choices_with,
    layer_key,
)
from mnist_core.modeling.link import (
    CUSTOM_PRESET,
    settings_query,
)
from mnist_core.modeling.presets import PRESETS
from mnist_core.modeling.summary import summarize_architecture
from mnist_core.runs.classroom import class_caps, class_limits_text
from mnist_core.runs.database import RunLogError
from mnist_core.training.report import run_outline

CUSTOM = CUSTOM_PRESET

init_train_form()


# --- Header: dataset, amount of data, preset -------------------------------------------------
st.title("Train a network")
st.caption(
    "Pick one of the notebooks' networks, or build your own, then press **Train** and watch it "
    "learn. Change one thing at a time and compare: that is how the notebooks teach. Every "
    "training is kept as a run (see **Compare runs**)."
)
show_suggestion()
for problem in st.session_state["train_link_problems"]:
    st.warning(problem, icon=":material/link_off:")
# A scheduler or worker that cannot train (no project, another version): one sentence each.
show_cluster_problems(connected_engine())

# In class mode the controls go no further than the caps: what a student picks is what runs.
try:
    caps = class_caps(run_log())
except RunLogError as error:
    st.warning(f"{error} Runs cannot be recorded until this is fixed.")
    caps = None
simple = caps is not None or st.session_state.get("train_simple_link", False)
if caps is not None:
    st.info(
        f"Class mode is on: the simple controls only, and every run is held to {caps.describe()}.",
        icon=":material/school:",
    )
image_choices = choices_with(
    TRAINING_IMAGE_CHOICES,
    form_value("training_images"),
    at_most=caps.max_training_images if caps else None,
)
if form_value("training_images") not in image_choices:
    st.session_state[f"{PREFIX}training_images"] = image_choices[-1]
epoch_choices = choices_with(
    EPOCH_CHOICES, form_value("epochs"), at_most=caps.max_epochs if caps else None
)
if form_value("epochs") not in epoch_choices:
    st.session_state[f"{PREFIX}epochs"] = epoch_choices[-1]

choices = training_dataset_choices(dataset_choices())
if not choices:
    st.error("No dataset is available on this server. Run `make data`, then reload this page.")
    st.stop()
if st.session_state[f"{PREFIX}dataset"] not in choices:
    st.session_state[f"{PREFIX}dataset"] = choices[0]
data_column, size_column, preset_column = st.columns([1, 1, 2], gap="medium")
data_column.selectbox(
    "Dataset",
    choices,
    key=f"{PREFIX}dataset",
    format_func=lambda name: DATASET_TITLES.get(name, name),
    persist_state="session",
    disabled=simple,
    help="Fashion-MNIST (clothes, same format) is the notebook's take-home exercise. Our "
    "class's digits are the drawings classmates shared (Our digits page); every run is "
    "scored on MNIST's test set and on the classmates held out of them.",
)
size_column.select_slider(
    "Training images",
    image_choices,
    key=f"{PREFIX}training_images",
    format_func=lambda count: (
        f"all {count:,}" if count == TRAINING_IMAGE_CHOICES[-1] else f"{count:,}"
    ),
    persist_state="session",
    help="Fewer images train in seconds, for a quick demo; all 60,000 reach the best accuracy. "
    "Test figures always use the whole test set. With our class's digits alone: how many "
    "images an epoch shows (the drawings, repeated)."
    + (f" Class mode: at most {caps.max_training_images:,}." if caps else ""),
)
preset_column.selectbox(
    "Preset",
    [*PRESETS, CUSTOM],
    key=f"{PREFIX}preset",
    on_change=load_preset,
    persist_state="session",
    format_func=lambda name: "Your own settings" if name == CUSTOM else PRESETS[name].title,
    help="Each notebook's network, ready to train. Choosing one sets every control below.",
)
preset_name = form_value("preset")
preset_column.caption(
    "Your own settings: change anything below."
    if preset_name == CUSTOM
    else f"{PRESETS[preset_name].description} (`{preset_name}` in links and on the command line.)"
)
dataset_name = form_value("dataset")
class_ready = show_class_readiness(dataset_name)
if dataset_name == "fashion_mnist":
    st.caption(
        "Fashion-MNIST labels: "
        + ", ".join(f"{label} = {name}" for label, name in enumerate(class_names_of(dataset_name)))
        + "."
    )

# --- Train: right under the preset, before the controls (on a phone, before a long scroll) --
shown_run = run_to_show()
busy = shown_run is not None and shown_run.active
config: ModelConfig | None = None
summary = None
try:
    config = form_config(dataset_name)
    summary = summarize_architecture(config)
except ValueError as error:
    config, problem = None, str(error)
button_column, outline_column = st.columns([1, 4], vertical_alignment="center")
start = button_column.button(
    "Train",
    type="primary",
    icon=":material/play_arrow:",
    key=f"{PREFIX}start",
    disabled=config is None or not class_ready,
    help="Training runs on the class's workers, not in your browser; you can keep using "
    "the app while it does. A second run waits behind your first.",
)
if config is not None:
    outline_column.caption(run_outline(config, form_value("training_images")))
refusal_box = st.empty()  # what the server refused, right under the button
if busy:
    st.caption("Your run is under way: watch it learn at the bottom of the page. ↓")

# --- The controls and the model summary ------------------------------------------------------
settings_column, summary_column = st.columns([4, 3], gap="large")
with settings_column:
    if simple:
        layers_tab, learning_tab = st.tabs(["Layers", "Learning"])
        validation_tab = augmentation_tab = None
    else:
        layers_tab, learning_tab, validation_tab, augmentation_tab = st.tabs(
            ["Layers", "Learning", "Validation", "Augmentation"]
        )

with layers_tab:
    control(
        st.radio,
        "Network type",
        "architecture",
        options=ARCHITECTURES,
        horizontal=True,
        format_func=lambda name: {"dense": "dense (fully connected)", "cnn": "convolutional"}[name],
    )
    is_cnn = form_value("architecture") == "cnn"
    st.caption(
        "A convolutional network slides small filters over the image and keeps its 28 × 28 "
        "layout; a dense network flattens it to 784 numbers first."
        if is_cnn
        else "A dense network flattens each image to 784 numbers; every unit of a layer "
        "looks at every number of the layer before."
    )
    control(
        st.slider,
        "Hidden layers (convolutions)" if is_cnn else "Hidden layers",
        "num_hidden_layers",
        min_value=0,
        max_value=MAX_HIDDEN_LAYERS,
        help="0 hidden layers is softmax regression. A CNN can have at most 3 convolutions: "
        "each one halves the image (28 → 14 → 7 → 3).",
    )
    for index in range(form_value("num_hidden_layers")):
        columns = st.columns(1 if simple else 4 if is_cnn else 3)
        number = index + 1
        control(
            columns[0].select_slider,
            f"Layer {number}: {'filters' if is_cnn else 'units'}",
            layer_key("layer_size", index),
            options=LAYER_SIZE_CHOICES,
        )
        if simple:
            continue
        control(
            columns[1].selectbox,
            f"Layer {number}: activation",
            layer_key("layer_activation", index),
            options=ACTIVATIONS,
        )
        control(
            columns[2].slider,
            f"Layer {number}: dropout",
            layer_key("layer_dropout_rate", index),
            min_value=0.0,
            max_value=0.9,
            step=0.05,
        )
        if is_cnn:
            control(
                columns[3].select_slider,
                f"Layer {number}: kernel size",
                layer_key("kernel_size", index),
                options=KERNEL_SIZES,
                format_func=lambda size: f"{size} × {size}",
            )
    if form_value("num_hidden_layers") and not simple:
        st.caption(
            "Dropout switches off a random share of the units at each step, so the network "
            "cannot lean on any single one."
        )
    if is_cnn and not simple:
        left, right = st.columns(2)
        control(
            left.select_slider,
            "Dense units after the convolutions",
            "dense_units",
            options=DENSE_UNIT_CHOICES,
            help="A dense relu layer between the last convolution and the output; 0 for none.",
        )
        control(
            right.slider,
            "Dropout of that layer",
            "dense_dropout_rate",
            min_value=0.0,
            max_value=0.9,
            step=0.05,
        )
    left, right = st.columns(2)
    if not simple:
        control(
            left.checkbox,
            "Batch-normalise the input",
            "input_batch_normalization",
            help="Rescales every input pixel to mean 0 and spread 1 over each batch, as one "
            "notebook does before its sigmoid layers.",
        )
        control(
            right.checkbox,
            "Batch-normalise between layers",
            "batch_normalization",
            help="Rescales each hidden layer's output before its activation: training is "
            "steadier and tolerates a larger learning rate.",
        )

with learning_tab:
    left, right = st.columns(2)
    control(
        left.selectbox,
        "Loss",
        "loss",
        disabled=simple,
        options=LOSSES,
        help="How wrong the network is. Crossentropy suits probabilities; mean squared error "
        "(mse) learns slowly here, which one notebook shows on purpose.",
    )
    control(
        right.selectbox,
        "Optimizer",
        "optimizer",
        options=OPTIMIZERS,
        help="How the weights move downhill on the loss. sgd takes plain steps; adam and "
        "rmsprop adapt the step of every weight.",
    )
    control(
        st.select_slider,
        "Learning rate",
        "learning_rate",
        options=LEARNING_RATE_CHOICES,
        format_func=lambda rate: f"{rate:g}",
        help="The size of each step. Too small: slow. Too large: the loss jumps around or "
        "becomes NaN.",
    )
    left, right = st.columns(2)
    control(
        left.selectbox,
        "Learning-rate schedule",
        "learning_rate_schedule",
        disabled=simple,
        options=LEARNING_RATE_SCHEDULES,
        help="cosine lowers the learning rate smoothly to 0 over the run: fast progress "
        "first, a calm finish.",
    )
    control(
        right.slider,
        "Momentum (sgd only)",
        "momentum",
        min_value=0.0,
        max_value=0.99,
        step=0.01,
        disabled=simple or form_value("optimizer") != "sgd",
        help="Keeps part of the previous step, like a ball rolling downhill. 0 is plain SGD.",
    )
    left, right = st.columns(2)
    control(
        left.select_slider,
        "Epochs",
        "epochs",
        options=epoch_choices,
        help="One epoch is one pass over all training images."
        + (f" Class mode: at most {caps.max_epochs}." if caps else ""),
    )
    control(
        right.select_slider,
        "Batch size",
        "batch_size",
        disabled=simple,
        options=BATCH_SIZE_CHOICES,
        help="Images per step: the weights change once per batch.",
    )

if validation_tab is not None:
    with validation_tab:
        control(
            st.radio,
            "Validate on",
            "validation",
            options=("split", "test"),
            horizontal=True,
            format_func=lambda name: {
                "split": "a share of the training images",
                "test": "the test set (as the notebooks do)",
            }[name],
            help="Validation shows, after every epoch, how well the network does on images it "
            "does not train on.",
        )
        control(
            st.slider,
            "Share of training images held out",
            "validation_split",
            min_value=0.05,
            max_value=0.5,
            step=0.05,
            disabled=form_value("validation") != "split",
            format="%.2f",
        )
        st.caption(
            "Validating on the test set is what the notebooks do, but then the test set no "
            "longer measures images the choices were never tuned on."
        )
        control(
            st.number_input,
            "Random seed",
            "seed",
            min_value=0,
            max_value=2**31 - 1,
            step=1,
            help="The same seed and settings give the same run; change it to see how much luck "
            "matters.",
        )

if augmentation_tab is not None:
    with augmentation_tab:
        st.caption(
            "Augmentation shows the network slightly changed copies of the training images, so "
            "it learns digits as people draw them: off-centre, tilted, bigger or smaller, thick "
            "or thin. Training is slower; 0 switches a change off."
        )
        left, right = st.columns(2)
        control(
            left.slider,
            "Shift (share of the image)",
            "augment_shift",
            min_value=0.0,
            max_value=0.3,
            step=0.01,
        )
        control(
            right.slider,
            "Rotation (degrees)",
            "augment_rotation",
            min_value=0.0,
            max_value=45.0,
            step=1.0,
        )
        control(left.slider, "Zoom", "augment_zoom", min_value=0.0, max_value=0.5, step=0.05)
        control(
            right.slider,
            "Stroke (chance of thicker or thinner lines)",
            "augment_stroke",
            min_value=0.0,
            max_value=1.0,
            step=0.05,
        )

with summary_column:
    st.subheader("Model summary")
    if summary is None:
        st.error(f"These settings cannot be trained: {problem} Change the settings.")
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    "layer": row["name"],
                    "output shape": " × ".join(str(size) for size in row["output_shape"]),
                    "parameters": row["parameters"],
                }
                for row in summary
            ),
            hide_index=True,
            height="content",
            key=f"{PREFIX}summary",
            column_config={
                "layer": st.column_config.TextColumn(width=150),
                "output shape": st.column_config.TextColumn(width=88),
                "parameters": st.column_config.NumberColumn(format="localized", width=76),
            },
        )
        total = sum(row["parameters"] for row in summary)
        st.metric("Parameters to learn", f"{total:,}", help="Weights and biases, all of them.")
    if config is not None:
        query = settings_query(
            config,
            preset_name,
            form_value("training_images"),
            class_mode=st.session_state.get("train_simple_link", False),
        )
        st.query_params.from_dict(query)
        with st.popover("Link to these settings", icon=":material/link:"):
            st.caption(
                "Send this link to a classmate: it opens the Train page with these settings."
            )
            st.code(
                "/train?" + "&".join(f"{key}={value}" for key, value in query.items()),
                language=None,
            )

if start and config is not None:
    submit(config, preset_name, form_value("training_images"))
    if refusal := st.session_state.pop("train_refusal", None):
        refusal_box.warning(refusal, icon=":material/block:")

if shown_run is not None:
    st.divider()
    title = "Your run" if shown_run.owned_by(current_user()) else f"{shown_run.user}'s run"
    st.header(f"{title} · {shown_run.id}")
    if shown_run.active:
        show_live_run(shown_run.id, key=f"{PREFIX}live")
    else:
        compare_pair = st.session_state.get("train_compare_when_done")
        if compare_pair and compare_pair[-1] == shown_run.id:
            st.session_state["train_compare_when_done"] = None
            st.session_state["compare_selection"] = compare_pair
            st.switch_page("app_pages/compare.py")
        if shown_run.class_limited:
            st.caption(f"Class mode: {class_limits_text(shown_run.limits)}.")
        show_outcome(shown_run, key=f"{PREFIX}outcome")
