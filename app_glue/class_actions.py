"""What the teacher does to the whole class, as widgets: suggest settings to everyone (and
withdraw them), download the lesson's record, clear the class's data. Every action checks the
teacher key again when it acts (`teacher_allowed`), whatever the page drew."""

from __future__ import annotations

import datetime

import streamlit as st

from app_glue.resources import run_log
from app_glue.user import teacher_allowed
from mnist_core.modeling.form import TRAINING_IMAGE_CHOICES, choices_with
from mnist_core.modeling.presets import PRESETS, get_preset
from mnist_core.runs.class_record import class_runs_csv, clear_class_data
from mnist_core.runs.class_settings import current_suggestion, suggest, withdraw_suggestion
from mnist_core.runs.classroom import class_caps
from mnist_core.runs.database import RunLogError

PREFIX = "class_"
MY_SETTINGS = "my Train settings"
NEEDS_KEY = "Unlock with the teacher key first: this acts on the whole class."


def _say(kind: str, text: str) -> None:
    st.session_state[f"{PREFIX}action_message"] = (kind, text)


def show_action_message() -> None:
    """What the last action did (or why it did nothing), once."""
    message = st.session_state.pop(f"{PREFIX}action_message", None)
    if message is not None:
        (st.success if message[0] == "success" else st.error)(message[1])


# --- Suggest to everyone ---------------------------------------------------------------------
def own_train_settings() -> tuple | None:
    """(config, preset, training images) of this tab's Train page, or None when it has not
    been opened (or its settings cannot be trained)."""
    if not st.session_state.get("train_form_ready"):
        return None
    from app_glue.train_form import form_config

    try:
        config = form_config(st.session_state["train_dataset"])
    except (ValueError, KeyError):
        return None
    return config, st.session_state["train_preset"], st.session_state["train_training_images"]


def send_suggestion() -> None:
    """on_click: suggest the chosen preset, or this tab's Train settings, to everyone."""
    if not teacher_allowed():
        _say("error", NEEDS_KEY)
        return
    chosen = st.session_state[f"{PREFIX}suggest_what"]
    if chosen == MY_SETTINGS:
        own = own_train_settings()
        if own is None:
            _say("error", "Set up your own settings on the Train page first, then come back.")
            return
        config, preset, images = own
    else:
        config, preset = get_preset(chosen).config, chosen
        images = st.session_state[f"{PREFIX}suggest_images"]
    try:
        made = suggest(run_log(), config, preset, images)
    except (ValueError, RunLogError) as error:
        _say("error", f"Nothing was suggested: {error}")
        return
    held = (made.config.epochs, made.training_images) != (config.epochs, images)
    _say(
        "success",
        f"Suggested to everyone: {made.describe()}"
        + (" (held to class mode's caps)" if held else "")
        + ". Their Train page offers it now.",
    )


def take_back_suggestion() -> None:
    """on_click: withdraw the suggestion."""
    if not teacher_allowed():
        _say("error", NEEDS_KEY)
        return
    withdraw_suggestion(run_log())
    _say("success", "The suggestion is withdrawn: the Train pages stop offering it.")


def show_suggest() -> None:
    """Choose a preset (or your own Train settings) and suggest it to everyone; withdraw it."""
    current = current_suggestion(run_log())
    if current is not None:
        when = datetime.datetime.fromtimestamp(current.suggested_at).strftime("%H:%M")
        st.info(f"Suggested at {when}: {current.describe()}.", icon=":material/campaign:")
    choices = [*PRESETS] + ([MY_SETTINGS] if own_train_settings() is not None else [])
    left, middle, right = st.columns([2, 2, 1], vertical_alignment="bottom")
    chosen = left.selectbox(
        "Suggest",
        choices,
        key=f"{PREFIX}suggest_what",
        help="A preset, or the settings you "
        "have on your own Train page (open it in this tab first).",
    )
    # In class mode no more than a student's Train page offers.
    caps = class_caps(run_log())
    middle.select_slider(
        "Training images",
        choices_with(
            TRAINING_IMAGE_CHOICES, 10000, at_most=caps.max_training_images if caps else None
        ),
        value=10000,
        key=f"{PREFIX}suggest_images",
        format_func=lambda count: f"{count:,}",
        disabled=chosen == MY_SETTINGS,
    )
    right.button(
        "Suggest to everyone", key=f"{PREFIX}suggest", on_click=send_suggestion, type="primary"
    )
    if current is not None:
        st.button("Withdraw the suggestion", key=f"{PREFIX}withdraw", on_click=take_back_suggestion)
    st.caption(
        "Within seconds every student's Train page shows “Your teacher suggests: …” with a "
        "button to load it; nobody's settings change without that click."
    )


# --- The lesson's record ---------------------------------------------------------------------
def _record_csv() -> bytes:
    """The class's runs as CSV. Made on every run of the page (a few milliseconds with 300
    runs): a download made only when pressed (a callable) was now and then cancelled by the
    browser while the page's fragments refreshed (1 in 8 seen in chromium)."""
    return class_runs_csv(run_log()).encode("utf-8")


def clear_data() -> None:
    """on_click: delete the class's runs, drawings and names (after the confirmation box)."""
    if not teacher_allowed():
        _say("error", NEEDS_KEY)
        return
    if not st.session_state.get(f"{PREFIX}confirm_clear_data"):
        _say("error", "Tick the box to confirm first.")
        return
    try:
        cleared = clear_class_data(run_log())
    except RunLogError as error:
        _say("error", f"The class's data was not cleared: {error}")
        return
    st.session_state[f"{PREFIX}confirm_clear_data"] = False
    _say("success", cleared.sentence())


def show_record() -> None:
    """Download the class's runs as CSV; clear the class's data behind one confirmation."""
    stamp = datetime.datetime.now().strftime("%Y-%m-%d")
    st.download_button(
        "Download the class's runs (CSV)",
        _record_csv(),
        file_name=f"class_runs_{stamp}.csv",
        mime="text/csv",
        icon=":material/download:",
        key=f"{PREFIX}record_csv",
        help="One row a run: the student, what it trained on, its figures and every setting.",
    )
    st.checkbox(
        "Yes, delete every student's runs, drawings (shared or not) and names: the lesson is "
        "over (runs from the command line and saved models stay)",
        key=f"{PREFIX}confirm_clear_data",
    )
    st.button(
        "Clear the class's data",
        key=f"{PREFIX}clear_data",
        icon=":material/delete_forever:",
        on_click=clear_data,
        disabled=not st.session_state.get(f"{PREFIX}confirm_clear_data"),
    )
