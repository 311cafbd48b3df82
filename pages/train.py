"""Train: pick a notebook's network or build your own, watch it learn, keep the result."""

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from mnist_core.backend import import_keras
from mnist_core.jobs import FAILED, WAITING, JobSnapshot, TrainingJob
from mnist_core.model import (
    ACTIVATIONS,
    ARCHITECTURES,
    KERNEL_SIZES,
    LEARNING_RATE_SCHEDULES,
    LOSSES,
    MAX_EPOCHS,
    MAX_HIDDEN_LAYERS,
    OPTIMIZERS,
    ModelConfig,
    summarize_architecture,
)
from mnist_core.presets import DEFAULT_PRESET_NAME, PRESETS, get_preset
from mnist_core.train import STOP_COMPLETED, STOP_NAN, TrainingResult
from mnist_core.training_form import (
    BATCH_SIZE_CHOICES,
    DENSE_UNIT_CHOICES,
    LAYER_SIZE_CHOICES,
    LEARNING_RATE_CHOICES,
    TRAINING_IMAGE_CHOICES,
    config_from_form,
    form_fields,
    form_values,
    layer_key,
    subset_sizes,
)
from mnist_core.training_report import (
    TRAINING,
    VALIDATION,
    curve_rows,
    format_duration,
    history_rows,
    progress_text,
    run_outline,
    waiting_text,
)
from pages.common import (
    class_names_for,
    dataset_choices,
    ensure_entry_point,
    get_dataset,
    training_queue,
)

CUSTOM = "custom"
PREFIX = "train_"
DATASET_TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
# Twice a second: smooth enough to watch. (Each rerun would also cost a 0.3 s garbage
# collection holding the GIL, starving the training thread, but .streamlit/config.toml turns
# Streamlit's collection after every run off.)
LIVE_REFRESH_SECONDS = 0.5
CURVE_COLORS = {TRAINING: "#1f77b4", VALIDATION: "#ff7f0e"}
CURVE_TITLES = {"loss": "Loss (lower is better)", "accuracy": "Accuracy (higher is better)"}
CANCELLED_MESSAGE = "Cancelled while waiting in line."

ensure_entry_point()
st.session_state.setdefault("train_job", None)  # this session's TrainingJob, running or done
st.session_state.setdefault("train_recorded_ticket", None)  # job whose result is session_result
if not st.session_state.get("train_form_ready"):
    # First visit: the controls start from the default preset. Later visits keep the user's
    # values (every control persists for the session, across pages).
    st.session_state["train_form_ready"] = True
    st.session_state[f"{PREFIX}preset"] = DEFAULT_PRESET_NAME
    st.session_state[f"{PREFIX}dataset"] = "mnist"
    st.session_state[f"{PREFIX}training_images"] = TRAINING_IMAGE_CHOICES[-1]
    for field, value in form_values(get_preset(DEFAULT_PRESET_NAME).config).items():
        st.session_state[PREFIX + field] = value


def load_preset() -> None:
    """Copy the chosen preset's values into the controls (runs before they are drawn)."""
    name = st.session_state[f"{PREFIX}preset"]
    if name == CUSTOM:
        return
    for field, value in form_values(get_preset(name).config).items():
        st.session_state[PREFIX + field] = value


def mark_custom() -> None:
    """Any edit of a model or training control turns the preset into "custom"."""
    st.session_state[f"{PREFIX}preset"] = CUSTOM


def control(widget: Any, label: str, field: str, **options: Any) -> Any:
    """Draw one model/training control, keyed train_<field>, that marks the preset custom."""
    return widget(
        label, key=PREFIX + field, on_change=mark_custom, persist_state="session", **options
    )


def form_value(field: str) -> Any:
    return st.session_state[PREFIX + field]


# --- How progress and results are drawn ------------------------------------------------------
def show_curves(history: Any, batch_curve: Any, epochs: int) -> None:
    """Loss and accuracy side by side, training and validation in two colours."""
    rows = curve_rows(history, batch_curve)
    if not rows:
        st.caption("The loss and accuracy curves appear after the first batches.")
        return
    frame = pd.DataFrame(rows)
    colors = alt.Scale(domain=list(CURVE_COLORS), range=list(CURVE_COLORS.values()))
    for column, metric in zip(st.columns(2), ("loss", "accuracy")):
        data = frame[frame["metric"] == metric]
        base = alt.Chart(data).encode(
            x=alt.X(
                "epoch:Q",
                title="epoch",
                scale=alt.Scale(domain=[0, epochs]),
                axis=alt.Axis(tickMinStep=1),
            ),
            y=alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False)),
            color=alt.Color("split:N", title=None, scale=colors, legend=alt.Legend(orient="top")),
            tooltip=[
                alt.Tooltip("epoch:Q", format=".2f"),
                "split:N",
                alt.Tooltip("value:Q", title=metric, format=".4f"),
            ],
        )
        lines = base.mark_line(strokeWidth=2.5)
        epoch_points = base.transform_filter(alt.datum.epoch % 1 == 0).mark_point(
            filled=True, size=60
        )
        column.altair_chart(
            (lines + epoch_points).properties(title=CURVE_TITLES[metric], height=300),
            width="stretch",
        )
    st.caption(
        "Training points within an epoch are the average over the epoch so far; dots mark the "
        "end of each epoch, when the validation images are scored."
    )


@st.fragment(run_every=LIVE_REFRESH_SECONDS)
def show_live_training(job: TrainingJob) -> None:
    """Place in line, or progress, Stop and the curves so far; reruns the page at the end."""
    snapshot = job.snapshot()
    if snapshot.done:
        st.rerun()
    if snapshot.state == WAITING:
        st.info(waiting_text(snapshot.place_in_line, training_queue().running), icon=":material/hourglass_top:")
        st.button("Leave the line", key=f"{PREFIX}stop", on_click=job.stop)
        return
    bar_column, stop_column = st.columns([6, 1], vertical_alignment="bottom")
    if snapshot.progress is None:
        bar_column.progress(0.0, text="Building the model and starting…")
    else:
        bar_column.progress(snapshot.progress.fraction_done, text=progress_text(snapshot.progress))
    stop_column.button(
        "Stop",
        icon=":material/stop_circle:",
        key=f"{PREFIX}stop",
        on_click=job.stop,
        disabled=snapshot.stop_requested,
        help="Ends the training after the current batch and keeps what the model learned.",
    )
    if snapshot.stop_requested:
        st.caption("Stopping after this batch…")
    show_curves(snapshot.history, snapshot.batch_curve, job.config.epochs)


def record_result(job: TrainingJob, result: TrainingResult) -> None:
    """Make a finished job's model this session's model, once."""
    if st.session_state["train_recorded_ticket"] == job.ticket:
        return
    st.session_state["train_recorded_ticket"] = job.ticket
    if result.stop_reason != STOP_NAN:
        st.session_state["session_result"] = result
        st.session_state["session_result_saved_as"] = None


def show_metrics(result: TrainingResult) -> None:
    metrics = result.metrics()

    def shown(value: float, percent: bool) -> str:
        if value != value:  # NaN: no finished epoch
            return "–"
        return f"{value:.2%}" if percent else f"{value:.4f}"

    validation = "test set" if result.config.validation == "test" else "held-out images"
    first_row, second_row = st.columns(3), st.columns(3)
    first_row[0].metric("Test accuracy", shown(metrics["test_accuracy"], True))
    first_row[1].metric("Test loss", shown(metrics["test_loss"], False))
    first_row[2].metric(
        "Epochs", f"{result.epochs_completed} of {result.config.epochs}", help="Epochs completed."
    )
    second_row[0].metric(
        "Training accuracy", shown(metrics["accuracy"], True), help="At the end of the last epoch."
    )
    second_row[1].metric(
        "Validation accuracy",
        shown(metrics["val_accuracy"], True),
        help=f"On the {validation}, at the end of the last epoch.",
    )
    second_row[2].metric("Training time", format_duration(result.training_seconds))
    st.caption(
        f"Trained on {result.train_samples:,} images; last training loss "
        f"{shown(metrics['loss'], False)}, validation loss {shown(metrics['val_loss'], False)}."
    )


def show_history_table(result: TrainingResult) -> None:
    if not result.history:
        st.caption("No epoch was completed, so there is no history to show.")
        return
    four_places = st.column_config.NumberColumn(format="%.4f")
    st.dataframe(
        pd.DataFrame(history_rows(result.history)),
        hide_index=True,
        key=f"{PREFIX}history",
        column_config={
            "loss": four_places,
            "accuracy": four_places,
            "val_loss": four_places,
            "val_accuracy": four_places,
            "seconds": st.column_config.NumberColumn(format="%.1f"),
        },
    )


def save_result(result: TrainingResult) -> None:
    """The save form: a name, an overwrite box and a button; errors say what to do."""
    from mnist_core.store import ModelExistsError, ModelStoreError, save_model

    st.subheader("Keep this model")
    st.caption(
        "Saved models appear in the model lists of the other pages and stay after a restart."
    )
    name_column, overwrite_column, button_column = st.columns([3, 1, 1], vertical_alignment="bottom")
    name_column.text_input(
        "Model name",
        key=f"{PREFIX}save_name",
        placeholder="e.g. my_first_cnn",
        help="Letters, digits, '-' and '_', up to 64 characters.",
    )
    overwrite_column.checkbox("Overwrite", key=f"{PREFIX}save_overwrite")
    if button_column.button("Save", icon=":material/save:", key=f"{PREFIX}save"):
        name = st.session_state[f"{PREFIX}save_name"].strip()
        try:
            save_model(
                result.model,
                name,
                config=result.config,
                metrics=result.metrics(),
                history=[entry.to_dict() for entry in result.history],
                dataset=result.config.dataset,
                training_seconds=result.training_seconds,
                extras={
                    "weight_summaries": result.weight_summaries,
                    "train_samples": result.train_samples,
                },
                overwrite=st.session_state[f"{PREFIX}save_overwrite"],
            )
        except ModelExistsError:
            st.error(
                f"A model called “{name}” already exists. Choose another name, or tick "
                "“Overwrite” to replace it."
            )
        except (ModelStoreError, ValueError) as error:
            if not name:
                st.error("Type a name for the model first (letters, digits, '-' or '_').")
            else:
                st.error(f"The model was not saved: {error} Choose another name and try again.")
        else:
            st.session_state["session_result_saved_as"] = name
    saved_as = st.session_state.get("session_result_saved_as")
    if saved_as and st.session_state.get("session_result") is result:
        st.success(f"Saved as “{saved_as}”: pick it in the model list on the other pages.")


def show_outcome(job: TrainingJob, snapshot: JobSnapshot) -> None:
    """What a finished job leaves: its message, metrics, curves, history and the save form."""
    if snapshot.state == FAILED:
        if snapshot.error == CANCELLED_MESSAGE:
            st.info("You left the line before the training began. Press Train to queue again.")
        else:
            st.error(f"{snapshot.error} Check the settings and train again.")
        return
    result = snapshot.result
    record_result(job, result)
    if result.stop_reason == STOP_COMPLETED:
        st.success(result.message, icon=":material/check_circle:")
    elif result.stop_reason == STOP_NAN:
        st.error(result.message, icon=":material/error:")
    else:
        st.warning(f"{result.message} The model keeps what it learned so far.", icon=":material/stop_circle:")
    show_metrics(result)
    show_curves(result.history, snapshot.batch_curve, result.config.epochs)
    st.subheader("History")
    show_history_table(result)
    if result.stop_reason == STOP_NAN:
        st.caption("A model whose weights became NaN answers nothing useful, so it is not kept.")
    else:
        save_result(result)
    with st.expander("The settings this model was trained with"):
        st.json(result.config.to_dict())


# --- Header: dataset, amount of data, preset -------------------------------------------------
st.title("Train a network")
st.caption(
    "Pick one of the notebooks' networks, or build your own, then press **Train** and watch it "
    "learn. Change one thing at a time and compare: that is how the notebooks teach."
)

choices = dataset_choices()
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
    help="Fashion-MNIST (clothes, same format) is the notebook's take-home exercise.",
)
size_column.select_slider(
    "Training images",
    TRAINING_IMAGE_CHOICES,
    key=f"{PREFIX}training_images",
    format_func=lambda count: f"all {count:,}" if count == TRAINING_IMAGE_CHOICES[-1] else f"{count:,}",
    persist_state="session",
    help="Fewer images train in seconds, for a quick demo; all 60,000 reach the best accuracy.",
)
preset_column.selectbox(
    "Preset",
    [*PRESETS, CUSTOM],
    key=f"{PREFIX}preset",
    on_change=load_preset,
    persist_state="session",
    format_func=lambda name: "custom (your own settings)" if name == CUSTOM else name,
    help="Each notebook's network, ready to train. Choosing one sets every control below.",
)
preset_name = form_value("preset")
preset_column.caption(
    "Your own settings: change anything below."
    if preset_name == CUSTOM
    else PRESETS[preset_name].description
)
dataset_name = form_value("dataset")
if dataset_name == "fashion_mnist":
    st.caption(
        "Fashion-MNIST labels: "
        + ", ".join(
            f"{label} = {name}" for label, name in enumerate(class_names_for(dataset_name))
        )
        + "."
    )

# --- The controls and the model summary ------------------------------------------------------
settings_column, summary_column = st.columns([4, 3], gap="large")
with settings_column:
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
        format_func=lambda name: {"dense": "dense (fully connected)", "cnn": "convolutional"}[
            name
        ],
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
        columns = st.columns(4 if is_cnn else 3)
        number = index + 1
        control(
            columns[0].select_slider,
            f"Layer {number}: {'filters' if is_cnn else 'units'}",
            layer_key("layer_size", index),
            options=LAYER_SIZE_CHOICES,
        )
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
    if form_value("num_hidden_layers"):
        st.caption(
            "Dropout switches off a random share of the units at each step, so the network "
            "cannot lean on any single one."
        )
    if is_cnn:
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
        help="Rescales each hidden layer's output before its activation: training is steadier "
        "and tolerates a larger learning rate.",
    )

with learning_tab:
    left, right = st.columns(2)
    control(
        left.selectbox,
        "Loss",
        "loss",
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
        disabled=form_value("optimizer") != "sgd",
        help="Keeps part of the previous step, like a ball rolling downhill. 0 is plain SGD.",
    )
    left, right = st.columns(2)
    control(
        left.slider,
        "Epochs",
        "epochs",
        min_value=1,
        max_value=MAX_EPOCHS,
        help="One epoch is one pass over all training images.",
    )
    control(
        right.select_slider,
        "Batch size",
        "batch_size",
        options=BATCH_SIZE_CHOICES,
        help="Images per step: the weights change once per batch.",
    )

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

job: TrainingJob | None = st.session_state["train_job"]
busy = job is not None and not job.snapshot().done
config: ModelConfig | None = None
with summary_column:
    st.subheader("Model summary")
    try:
        config = config_from_form(
            {field: form_value(field) for field in form_fields()}, dataset_name
        )
        summary = summarize_architecture(config)
    except ValueError as error:
        st.error(f"These settings cannot be trained: {error} Change the settings above.")
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
                "layer": st.column_config.TextColumn(width=165),
                "output shape": st.column_config.TextColumn(width=100),
                "parameters": st.column_config.NumberColumn(format="localized", width=90),
            },
        )
        total = sum(row["parameters"] for row in summary)
        st.metric("Parameters to learn", f"{total:,}", help="Weights and biases, all of them.")
        st.caption(run_outline(config, form_value("training_images")))
    start = st.button(
        "Train",
        type="primary",
        icon=":material/play_arrow:",
        key=f"{PREFIX}start",
        disabled=config is None or busy,
        help="Training runs on the server; you can keep using the page while it does.",
    )
    if busy:
        st.caption("Training is under way: watch it learn below. ↓")

if start and config is not None and not busy:
    dataset = get_dataset(config.dataset)
    if dataset is not None:
        with st.spinner("Loading TensorFlow…"):
            import_keras()  # quietly, once per server, before the job's thread needs it
        train_size, test_size = subset_sizes(form_value("training_images"), len(dataset.x_train))
        if train_size is not None:
            dataset = dataset.subset(train_size, test_size, seed=config.seed)
        st.session_state["train_job"] = TrainingJob(config, dataset, training_queue()).start()
        st.rerun()

if job is not None:
    st.divider()
    st.header("Training")
    snapshot = job.snapshot()
    if snapshot.done:
        show_outcome(job, snapshot)
    else:
        show_live_training(job)
