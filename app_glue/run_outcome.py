"""What an ended run shows: its status, figures, curves and history; save, vary, export.

The Train page and the Compare page draw runs with these. Everything comes from the run log
(one source of truth): a reload, or another tab of the same user, shows the same run.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app_glue.charts import show_curves
from app_glue.resources import (
    run_log,
    training_engine,
)
from app_glue.user import (
    current_user,
    teacher_allowed,
)
from mnist_core.runs.database import RunLogError
from mnist_core.runs.record import (
    DIVERGED,
    FAILED,
    FINISHED,
    INTERRUPTED,
    STOPPED,
    Run,
)
from mnist_core.teaching.fairness import ended_short, work_text
from mnist_core.training.report import (
    format_duration,
    history_rows,
)


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
    second_row[2].metric("Training time", format_duration(metrics.get("training_seconds", -1.0)))
    parameters = metrics.get("parameter_count")
    images = metrics.get("training_images_used")
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
                    training_images=run.training_images,
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
    name_column, overwrite_column, button_column = st.columns(
        [3, 1, 1], vertical_alignment="bottom"
    )
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
    from mnist_core.modeling.store import ModelExistsError, ModelStoreError
    from mnist_core.runs.saved_models import keep_run_model

    try:
        keep_run_model(
            run_log(),
            run,
            name,
            user=current_user(),
            teacher=teacher_allowed(),
            overwrite=overwrite,
        )
    except ModelExistsError:
        return (
            f"A model called “{name}” already exists. Choose another name, or tick "
            "“Overwrite” to replace it."
        )
    except (ModelStoreError, RunLogError) as error:
        return f"The model was not saved: {error}"
    except ValueError as error:  # no name, a name not taken, not this user's to replace
        return str(error)
    return None


def show_variant_form(run: Run, *, key: str) -> None:
    """ "Change one thing": a setting, a new value, and a button that trains the variant."""
    from mnist_core.teaching.variants import (
        changeable_settings,
        describe_change,
    )

    st.subheader("Change one thing")
    st.caption(
        "Train the same run again with one setting changed (same seed, same images, "
        "everything else equal); the comparison of the two opens when it finishes."
    )
    settings = changeable_settings(run.config, run.training_images)
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
    both = False
    if ended_short(run):
        st.info(
            f"This run ended before its last epoch ({work_text(run)}): a variant that trains "
            "to the end would do more work, and the comparison would not be fair.",
            icon=":material/balance:",
        )
        both = st.checkbox(
            "Train this run again too, to the end, beside the variant (a fair comparison)",
            value=True,
            key=f"{key}_both",
        )
    if button_column.button("Train the variant", icon=":material/alt_route:", key=f"{key}_train"):
        submit_variant(run, setting, value, describe_change(setting, value), again=both)


def submit_variant(run: Run, setting: Any, value: Any, label: str, *, again: bool) -> None:
    """Queue the variant (and with `again`, the run itself once more, to the end: one request)
    and remember to open the comparison when it ends."""
    from mnist_core.runs.request import RunRequest
    from mnist_core.teaching.variants import vary

    engine = training_engine()
    if engine is None:
        return
    try:
        config, training_images = vary(run.config, run.training_images, setting.name, value)
        requests = [
            RunRequest(
                config,
                preset=run.preset,
                label=label,
                parent_id=run.id,
                training_images=training_images,
            )
        ]
        if again:
            requests.insert(
                0,
                RunRequest(
                    run.config,
                    preset=run.preset,
                    label=f"{run.display_name}, again to the end",
                    parent_id=run.id,
                    training_images=run.training_images,
                ),
            )
        queued = engine.submit(requests, user=current_user())
    except (RunLogError, ValueError) as error:
        st.error(f"The variant was not queued: {error}")
        return
    variant = queued[-1]
    st.session_state["train_run_id"] = variant.id
    st.session_state["train_compare_when_done"] = [
        queued[0].id if again else run.id,
        variant.id,
    ]
    st.rerun()


def show_export(run: Run, *, key: str) -> None:
    """Downloads: the run as a standalone Keras script or a Jupyter notebook, its history as
    CSV, its model."""
    from app_glue.downloads import run_notebook_button
    from mnist_core.teaching.export import (
        history_csv,
        script_file_name,
        script_for_run,
    )

    st.subheader("Take it with you")
    columns = st.columns(4)
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
    run_notebook_button(columns[1], run, key=f"{key}_notebook")
    columns[2].download_button(
        "History (CSV)",
        history_csv(run),
        file_name=f"history_{run.id}.csv",
        mime="text/csv",
        icon=":material/table:",
        key=f"{key}_csv",
    )
    if run.model_kept:
        from pathlib import Path

        columns[3].download_button(
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
    if run.status in (FINISHED, STOPPED) and run.owned_by(current_user()) and not run.fine_tuned:
        show_variant_form(run, key=f"{key}_variant")
    show_export(run, key=f"{key}_export")
    with st.expander("The settings this model was trained with"):
        st.json(run.config.to_dict())
