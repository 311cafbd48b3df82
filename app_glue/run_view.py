"""How a run is drawn: live progress from the run log, the outcome, saving, and its variants.

The Train page and the Compare page draw runs with these. Everything comes from the run log
(one source of truth): a reload, or another tab of the same user, shows the same run.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pandas as pd
import streamlit as st

from app_glue.common import (
    RUN_MODEL_PREFIX,
    current_user,
    run_log,
    teacher_allowed,
    training_engine,
)
from mnist_core.runs.log import RunLogError
from mnist_core.runs.record import (
    DIVERGED,
    FAILED,
    FINISHED,
    INTERRUPTED,
    QUEUED,
    STOPPED,
    Run,
)
from mnist_core.training.report import (
    TRAINING,
    VALIDATION,
    curve_rows,
    format_duration,
    history_rows,
    line_text,
    progress_text,
)

# The progress bar of a running run, once a second: each refresh only reads the run log, but
# each costs the student's browser about 0.1 s of CPU (measured: a Train page refreshed twice
# a second kept 0.39 of a core of chromium busy; with this and the curves' pace, 0.13-0.2).
LIVE_REFRESH_SECONDS = 1.0
# A place in line changes when a whole run ends: every 2 s is soon enough, and thirty waiting
# pages cost the server and each student's browser a quarter of the refreshes.
WAITING_REFRESH_SECONDS = 2.0
# The curves of a running run: a new point every 2 s is still live, and each redraw of two
# charts costs the student's browser far more than the progress bar's.
CURVES_REFRESH_SECONDS = 2.0
CURVE_COLORS = {TRAINING: "#1f77b4", VALIDATION: "#ff7f0e"}
CURVE_TITLES = {"loss": "Loss (lower is better)", "accuracy": "Accuracy (higher is better)"}


def curve_spec(
    rows: list[dict[str, Any]], metric: str, epochs: int, *, log_scale: bool = False
) -> dict[str, Any]:
    """The Vega-Lite chart of one metric: training (solid) and validation (dashed) against
    epochs, a dot at each epoch's end. A plain spec: building and validating Altair objects
    took 40 ms a chart, twice a second, for every student watching a run."""
    shared = {
        "x": {
            "field": "epoch",
            "type": "quantitative",
            "title": "epoch",
            "scale": {"domain": [0, epochs]},
            "axis": {"tickMinStep": 1},
        },
        "y": {
            "field": "value",
            "type": "quantitative",
            "title": f"{metric} (log scale)" if log_scale else metric,
            "scale": {"type": "log"} if log_scale else {"zero": False},
        },
        "color": {
            "field": "split",
            "type": "nominal",
            "title": None,
            "scale": {"domain": list(CURVE_COLORS), "range": list(CURVE_COLORS.values())},
            "legend": {"orient": "top"},
        },
        "strokeDash": {
            "field": "split",
            "type": "nominal",
            "title": None,
            "scale": {"domain": [TRAINING, VALIDATION], "range": [[1, 0], [6, 3]]},
            "legend": None,
        },
        "tooltip": [
            {"field": "epoch", "type": "quantitative", "format": ".2f"},
            {"field": "split", "type": "nominal"},
            {"field": "value", "type": "quantitative", "title": metric, "format": ".4f"},
        ],
    }
    return {
        "title": CURVE_TITLES[metric],
        "height": 300,
        "data": {
            "values": [
                row
                for row in rows
                if row["metric"] == metric and (row["value"] > 0 or not log_scale)
            ]
        },
        "encoding": shared,
        "layer": [
            {"mark": {"type": "line", "strokeWidth": 2.5}},
            {
                "mark": {"type": "point", "filled": True, "size": 60},
                "transform": [{"filter": "datum.epoch % 1 == 0"}],
            },
        ],
    }


def show_curves(run: Run, *, key: str, log_scale_loss: bool = True) -> None:
    """Loss and accuracy side by side, training and validation in two colours.

    The loss is on a log scale by default, as on the Compare page: the first batches' loss is
    ten times the rest, and on a linear axis it flattens everything after them.
    """
    rows = curve_rows(run.epoch_metrics(), run.batch_curve)
    if not rows:
        st.caption("The loss and accuracy curves appear after the first batches.")
        return
    for column, metric in zip(st.columns(2), ("loss", "accuracy")):
        spec = curve_spec(
            rows, metric, run.config.epochs, log_scale=metric == "loss" and log_scale_loss
        )
        column.vega_lite_chart(spec, width="stretch", key=f"{key}_{metric}")
    st.caption(
        "Training points within an epoch are the average over the epoch so far; dots mark the "
        "end of each epoch, when the validation images are scored (dashed line)."
    )


def show_live_run(run_id: str, *, key: str) -> None:
    """Place in line or progress, Stop and the curves so far, refreshed from the run log."""

    try:
        waiting = run_log().get_run(run_id).status == QUEUED
    except RunLogError:
        waiting = False  # the fragment says what is wrong

    @st.fragment(run_every=WAITING_REFRESH_SECONDS if waiting else LIVE_REFRESH_SECONDS)
    def live() -> None:
        try:
            run = run_log().get_run(run_id)
        except RunLogError as error:
            st.error(f"{error}")
            return
        if run.ended or (run.status == QUEUED) != waiting:
            st.rerun()  # ended, or out of the line: the page draws it at its new pace
        engine = training_engine()
        if engine is not None and engine.problem:
            st.warning(engine.problem, icon=":material/warning:")
        if run.status == QUEUED:
            place = engine.place_in_line(run.id) if engine is not None else None
            text = (
                line_text(place.position, place.users_ahead, place.expected_wait_seconds)
                if place is not None
                else "Waiting in line."
            )
            st.info(text, icon=":material/hourglass_top:")
            st.button(
                "Leave the line",
                key=f"{key}_leave",
                on_click=stop_run,
                args=(run.id,),
            )
            return
        bar_column, stop_column = st.columns([6, 1], vertical_alignment="bottom")
        progress = run.batch_progress()
        if progress is None:
            bar_column.progress(0.0, text="Building the model and starting on a worker…")
        else:
            bar_column.progress(progress.fraction_done, text=progress_text(progress))
        stop_column.button(
            "Stop",
            icon=":material/stop_circle:",
            key=f"{key}_stop",
            on_click=stop_run,
            args=(run.id,),
            disabled=run.stop_requested,
            help="Ends the training after the current batch and keeps what the model learned.",
        )
        if run.stop_requested:
            st.caption("Stopping after this batch…")
        if run.limits:
            st.caption(f"Class mode: {limits_text(run.limits)}.")

    live()
    if waiting:
        return

    @st.fragment(run_every=CURVES_REFRESH_SECONDS)
    def live_curves() -> None:
        with contextlib.suppress(RunLogError):  # the fragment above says what is wrong
            show_curves(run_log().get_run(run_id), key=f"{key}_live")

    live_curves()


def limits_text(limits: dict[str, Any]) -> str:
    """The class caps a run was held to, in words."""
    parts = [
        f"at most {limits['max_epochs']} epochs",
        f"{limits['max_train_images']:,} training images",
        f"{limits['max_wall_seconds']:.0f} s",
    ]
    text = ", ".join(parts)
    if "asked_epochs" in limits or "asked_train_images" in limits:
        text += " (this run asked for more and was cut to the caps)"
    return text


def stop_run(run_id: str) -> None:
    """on_click: stop (or take out of the line) a run."""
    engine = training_engine()
    if engine is None:
        return
    try:
        engine.stop(run_id)
    except RunLogError as error:
        st.session_state["run_view_problem"] = str(error)


def _shown(value: Any, percent: bool) -> str:
    if not isinstance(value, int | float) or value != value:
        return "–"
    return f"{value:.2%}" if percent else f"{value:.4f}"


def show_metrics(run: Run) -> None:
    """Test and training figures of an ended run."""
    metrics = run.metrics
    validation = "test set" if run.config.validation == "test" else "held-out images"
    first_row, second_row = st.columns(3), st.columns(3)
    first_row[0].metric(
        "Test accuracy",
        _shown(metrics.get("test_accuracy"), True),
        help="On the whole test set (10,000 images), whatever the run trained on.",
    )
    first_row[1].metric("Test loss", _shown(metrics.get("test_loss"), False))
    first_row[2].metric(
        "Epochs", f"{len(run.history)} of {run.config.epochs}", help="Epochs completed."
    )
    second_row[0].metric(
        "Training accuracy",
        _shown(metrics.get("accuracy"), True),
        help="At the end of the last epoch.",
    )
    second_row[1].metric(
        "Validation accuracy",
        _shown(metrics.get("val_accuracy"), True),
        help=f"On the {validation}, at the end of the last epoch.",
    )
    second_row[2].metric("Training time", format_duration(metrics.get("wall_seconds", -1.0)))
    parameters = metrics.get("parameter_count")
    images = metrics.get("train_samples")
    st.caption(
        (f"{parameters:,} parameters; " if isinstance(parameters, int) else "")
        + (f"trained on {images:,} images; " if isinstance(images, int) else "")
        + f"last training loss {_shown(metrics.get('loss'), False)}, validation loss "
        f"{_shown(metrics.get('val_loss'), False)}."
    )


def show_history_table(run: Run, *, key: str) -> None:
    """The per-epoch table the notebooks print."""
    if not run.history:
        st.caption("No epoch was completed, so there is no history to show.")
        return
    four_places = st.column_config.NumberColumn(format="%.4f")
    st.dataframe(
        pd.DataFrame(history_rows(run.epoch_metrics())),
        hide_index=True,
        key=key,
        column_config={
            "loss": four_places,
            "accuracy": four_places,
            "val_loss": four_places,
            "val_accuracy": four_places,
            "seconds": st.column_config.NumberColumn(format="%.1f"),
        },
    )


def show_status(run: Run) -> None:
    """The run's ending in one coloured box."""
    if run.status == FINISHED:
        st.success(run.reason or "Finished.", icon=":material/check_circle:")
    elif run.status == DIVERGED:
        st.error(run.reason, icon=":material/error:")
    elif run.status == STOPPED:
        keeps = " The model keeps what it learned so far." if run.model_kept else ""
        st.warning(f"{run.reason}{keeps}", icon=":material/stop_circle:")
    elif run.status in (FAILED, INTERRUPTED):
        st.error(f"{run.reason}", icon=":material/error:")


def resubmit(run: Run) -> None:
    """on_click: queue the same run again (for an interrupted or failed run)."""
    from mnist_core.runs.request import RunRequest

    engine = training_engine()
    if engine is None:
        return
    try:
        (new_run,) = engine.submit(
            [
                RunRequest(
                    run.config,
                    preset=run.preset,
                    lesson=run.lesson,
                    label=run.label,
                    parent_id=run.parent_id,
                    train_images=run.train_images,
                    finetune=run.finetune,
                )
            ],
            user=current_user(),
        )
    except (RunLogError, ValueError) as error:
        st.session_state["run_view_problem"] = str(error)
        return
    st.session_state["train_run_id"] = new_run.id


def save_run_model(run: Run, *, key: str) -> None:
    """The save form: a name and a button; refusals say why and what to do."""
    st.subheader("Keep this model")
    st.caption(
        "Saved models appear in the model lists of every page and stay after a restart. The "
        "model of this run is also there as “run " + run.id + "”."
    )
    name_column, overwrite_column, button_column = st.columns([3, 1, 1], vertical_alignment="bottom")
    name_column.text_input(
        "Model name",
        key=f"{key}_name",
        placeholder="e.g. my_first_cnn",
        help="Letters, digits, '-' and '_', up to 64 characters.",
    )
    overwrite_column.checkbox("Overwrite", key=f"{key}_overwrite")
    if button_column.button("Save", icon=":material/save:", key=f"{key}_button"):
        name = st.session_state[f"{key}_name"].strip()
        message = save_model_of_run(run, name, overwrite=st.session_state[f"{key}_overwrite"])
        if message:
            st.error(message)
        else:
            st.success(f"Saved as “{name}”: pick it in the model list on the other pages.")
    elif run.model_name:
        st.caption(f"Saved as “{run.model_name}”.")


def save_model_of_run(run: Run, name: str, *, overwrite: bool) -> str | None:
    """Save a run's kept model to the store under `name`; None, or why it was refused."""
    from mnist_core.modeling.store import (
        ModelStoreError,
        list_models,
        save_model,
        validate_model_name,
    )
    from mnist_core.runs.classroom import (
        ModelProtectedError,
        check_model_change_allowed,
    )

    if not name:
        return "Type a name for the model first (letters, digits, '-' or '_')."
    try:
        name = validate_model_name(name)
    except ValueError as error:
        return f"The model was not saved: {error} Choose another name and try again."
    existing = next((entry for entry in list_models() if entry.name == name), None)
    owner = None
    if existing is not None and existing.metadata:
        owner = (existing.metadata.get("extras") or {}).get("user")
    try:
        check_model_change_allowed(
            name,
            user=current_user(),
            owner=owner,
            exists=existing is not None,
            teacher=teacher_allowed(),
        )
    except ModelProtectedError as error:
        return str(error)
    if existing is not None and not overwrite:
        return (
            f"A model called “{name}” already exists. Choose another name, or tick "
            "“Overwrite” to replace it."
        )
    from app_glue.common import get_model

    handle = get_model(f"{RUN_MODEL_PREFIX}{run.id}")
    if handle is None:
        return "This run's model is no longer kept, so it cannot be saved."
    try:
        save_model(
            handle.model,
            name,
            config=run.config,
            metrics=run.metrics,
            history=list(run.history),
            dataset=run.dataset,
            training_seconds=float(run.metrics.get("wall_seconds") or 0.0),
            extras={
                "weight_summaries": run_log().weight_summaries(run.id),
                "train_samples": run.metrics.get("train_samples"),
                "user": current_user(),
                "run_id": run.id,
                "preset": run.preset,
            },
            overwrite=overwrite,
        )
        run_log().set_model_name(run.id, name)
    except (ModelStoreError, ValueError, RunLogError) as error:
        return f"The model was not saved: {error}"
    return None


def show_variant_form(run: Run, *, key: str) -> None:
    """"Change one thing": a setting, a new value, and a button that trains the variant."""
    from mnist_core.teaching.variants import (
        changeable_settings,
        describe_change,
    )

    st.subheader("Change one thing")
    st.caption(
        "Train the same run again with one setting changed (same seed, same images, "
        "everything else equal); the comparison of the two opens when it finishes."
    )
    settings = changeable_settings(run.config, run.train_images)
    by_name = {setting.name: setting for setting in settings}
    setting_column, value_column, button_column = st.columns([2, 2, 1], vertical_alignment="bottom")
    chosen = setting_column.selectbox(
        "Setting",
        list(by_name),
        format_func=lambda name: by_name[name].label,
        key=f"{key}_setting",
    )
    setting = by_name[chosen]
    others = [value for value in setting.choices if value != setting.current]
    value = value_column.selectbox(
        f"New value (now {setting.current})",
        others,
        format_func=lambda value: f"{value:g}" if isinstance(value, float) else str(value),
        key=f"{key}_value_{chosen}",
    )
    if button_column.button(
        "Train the variant", icon=":material/alt_route:", key=f"{key}_train"
    ):
        submit_variant(run, setting, value, describe_change(setting, value))


def submit_variant(run: Run, setting: Any, value: Any, label: str) -> None:
    """Queue the variant and remember to open the comparison when it ends."""
    from mnist_core.runs.request import RunRequest
    from mnist_core.teaching.variants import vary

    engine = training_engine()
    if engine is None:
        return
    try:
        config, train_images = vary(run.config, run.train_images, setting.name, value)
        (variant,) = engine.submit(
            [
                RunRequest(
                    config,
                    preset=run.preset,
                    label=label,
                    parent_id=run.id,
                    train_images=train_images,
                )
            ],
            user=current_user(),
        )
    except (RunLogError, ValueError) as error:
        st.error(f"The variant was not queued: {error}")
        return
    st.session_state["train_run_id"] = variant.id
    st.session_state["train_compare_when_done"] = [run.id, variant.id]
    st.rerun()


def show_export(run: Run, *, key: str) -> None:
    """Downloads: the run as a standalone Keras script, its history as CSV, its model."""
    from mnist_core.teaching.export import (
        history_csv,
        script_file_name,
        script_for_run,
    )

    st.subheader("Take it with you")
    columns = st.columns(3)
    try:
        script = script_for_run(run)
    except ValueError as error:
        columns[0].caption(f"No script for this run: {error}")
    else:
        columns[0].download_button(
            "Python script (keras)",
            script,
            file_name=script_file_name(run),
            mime="text/x-python",
            icon=":material/code:",
            key=f"{key}_script",
            help="Rebuilds this model and trains it with the same settings, with keras and "
            "numpy only (`--data mnist.npz` trains offline, `--epochs N` changes the epochs).",
        )
    columns[1].download_button(
        "History (CSV)",
        history_csv(run),
        file_name=f"history_{run.id}.csv",
        mime="text/csv",
        icon=":material/table:",
        key=f"{key}_csv",
    )
    if run.model_kept:
        from pathlib import Path

        columns[2].download_button(
            "Model (.keras)",
            Path(run.model_path).read_bytes(),
            file_name=f"model_{run.id}.keras",
            icon=":material/download:",
            key=f"{key}_model",
        )


def show_outcome(run: Run, *, key: str) -> None:
    """What an ended run leaves: status, metrics, curves, history, save, variants, export."""
    show_status(run)
    if run.status in (INTERRUPTED, FAILED):
        st.button(
            "Train it again",
            icon=":material/replay:",
            key=f"{key}_resubmit",
            on_click=resubmit,
            args=(run,),
        )
    if st.session_state.get("run_view_problem"):
        st.error(st.session_state.pop("run_view_problem"))
    if not run.history and run.status in (INTERRUPTED, FAILED):
        return
    show_metrics(run)
    show_curves(run, key=f"{key}_curves")
    st.subheader("History")
    show_history_table(run, key=f"{key}_history")
    if run.model_kept:
        save_run_model(run, key=f"{key}_save")
    elif run.status == DIVERGED:
        st.caption("A model whose weights became NaN answers nothing useful, so it is not kept.")
    # A variant trains from scratch: of a fine-tuning run it would be another thing entirely.
    if run.status in (FINISHED, STOPPED) and run.user == current_user() and not run.fine_tuned:
        show_variant_form(run, key=f"{key}_variant")
    show_export(run, key=f"{key}_export")
    with st.expander("The settings this model was trained with"):
        st.json(run.config.to_dict())
