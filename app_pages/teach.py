"""Teach: a model learns your handwriting from the drawings you labelled on the Draw page."""

from __future__ import annotations

import hashlib
from collections import Counter

import pandas as pd
import streamlit as st

from app_glue.charts import show_curves
from app_glue.class_digits import show_message as show_sharing_message
from app_glue.class_digits import show_sharing_switch
from app_glue.models import (
    model_label,
    model_names,
)
from app_glue.pictures import enlarged_picture
from app_glue.resources import (
    drawing_store,
    run_log,
    training_engine,
)
from app_glue.run_live import show_live_run
from app_glue.run_outcome import (
    save_run_model,
    show_status,
)
from app_glue.run_queries import finetune_run_to_show
from app_glue.user import current_user
from mnist_core.data.drawings import (
    DrawingImportError,
    DrawingStoreError,
    export_zip,
    read_zip,
)
from mnist_core.runs.database import RunLogError
from mnist_core.runs.finetune import (
    DRAWINGS_NEEDED,
    DRAWINGS_PER_DIGIT_NEEDED,
    check_readiness,
    finetune_note,
    finetune_request,
    finetune_summary,
)
from mnist_core.runs.record import (
    FINISHED,
    STOPPED,
    Run,
    run_model_name,
)

# Thumbnails of the drawings (4x 28 pixels would be too many on one screen).
THUMBNAIL_SIZE = 56
# Drawings shown per digit in the gallery.
GALLERY_PER_DIGIT = 12

st.session_state.setdefault("teach_run_id", None)  # the fine-tuning run shown below
st.session_state.setdefault("teach_upload_digest", None)  # the upload already taken in
st.session_state.setdefault("teach_message", None)  # (kind, text) from a button's action


def start_finetune(base_model: str) -> None:
    """on_click: queue a fine-tuning run of `base_model` on this user's drawings."""
    engine = training_engine()
    if engine is None:
        return
    try:
        drawings = drawing_store().list_drawings(current_user().id)
        request = finetune_request(base_model, drawings, run_log=run_log())
        (run,) = engine.submit([request], user=current_user())
    except (DrawingStoreError, RunLogError, ValueError) as error:
        st.session_state["teach_message"] = ("error", f"The fine-tuning was not started: {error}")
        return
    st.session_state["teach_run_id"] = run.id


def use_on_draw_page(run_id: str) -> None:
    """on_click: choose the fine-tuned model everywhere and go drawing."""
    st.session_state["model_name"] = run_model_name(run_id)
    st.session_state["teach_go_draw"] = True


def delete_one_drawing(drawing_id: str, label: int) -> None:
    """on_click: forget one drawing of this user."""
    try:
        gone = drawing_store().delete_drawing(current_user().id, drawing_id)
    except DrawingStoreError as error:
        st.session_state["teach_message"] = ("error", str(error))
        return
    if gone:
        st.session_state["teach_message"] = ("success", f"Deleted one drawing of a {label}.")


def delete_all_drawings() -> None:
    """on_click: forget every drawing of this user (after the confirmation box)."""
    try:
        gone = drawing_store().delete_all(current_user().id)
    except DrawingStoreError as error:
        st.session_state["teach_message"] = ("error", str(error))
        return
    st.session_state["teach_message"] = ("success", f"Deleted your {gone} drawing(s).")
    st.session_state["teach_confirm_delete"] = False


def take_upload(data: bytes) -> None:
    """Bring an uploaded zip of drawings in (once per file); say what came of it."""
    digest = hashlib.sha1(data).hexdigest()
    if st.session_state["teach_upload_digest"] == digest:
        return
    st.session_state["teach_upload_digest"] = digest
    try:
        entries = read_zip(data)
        added = drawing_store().add_drawings(current_user().id, entries)
    except (DrawingImportError, DrawingStoreError, ValueError) as error:
        st.session_state["teach_message"] = ("error", f"{error} Your drawings are unchanged.")
        return
    known = len(entries) - added
    st.session_state["teach_message"] = (
        "success",
        f"Took in {len(entries)} drawing(s): {added} new"
        + (f", {known} you had already (their labels now follow the zip)" if known else "")
        + ".",
    )


def show_result(run: Run) -> None:
    """The two figures of an ended fine-tuning run, and what to do with its model."""
    show_status(run)
    figures = run.metrics.get("finetune")
    if not figures:
        return
    drawings_text, mnist_text = finetune_summary(figures)
    note = finetune_note(figures)
    with st.container(horizontal=True, key="teach_result"):
        st.metric(
            "Your held-out drawings read right",
            drawings_text,
            help="Drawings of yours the model did not learn from: before → after fine-tuning.",
        )
        st.metric(
            "MNIST test accuracy",
            mnist_text,
            help="The 10,000 MNIST test digits, before → after: it must not forget MNIST "
            "(at most 0.3 points lost).",
        )
    if note is not None and note not in (run.reason or ""):
        st.info(note, icon=":material/info:")  # the banner of an older run does not say it
    st.caption(
        f"Learned from {figures.get('train_drawings')} of your drawings (each shown "
        f"{figures.get('drawing_copies')} times, shifted, turned and resized at random) mixed "
        f"with {figures.get('mnist_images'):,} MNIST images, starting from "
        f"“{figures.get('base_model')}”."
    )
    if run.model_kept and run.status in (FINISHED, STOPPED):
        st.button(
            "Use it on the Draw page",
            icon=":material/draw:",
            key="teach_use",
            on_click=use_on_draw_page,
            args=(run.id,),
            type="primary",
        )
        st.caption(
            f"It is a run like any other (“run {run.id}”): pick it on Evaluate or Inside the "
            "network, compare it on Compare runs, or keep it under a name below."
        )
        show_curves(run, key="teach_curves")
        save_run_model(run, key="teach_save")


if st.session_state.pop("teach_go_draw", False):
    st.switch_page("app_pages/draw.py")

st.title("Teach it your handwriting")
st.caption(
    "Every drawing you label on the Draw page (“Was it right?”) is kept here. Once you have "
    f"{DRAWINGS_NEEDED}, with every digit you teach at least {DRAWINGS_PER_DIGIT_NEEDED} "
    "times, a model can learn from them: a quarter is held out to test it, the rest are "
    "mixed with MNIST digits so that it does not forget those."
)
show_sharing_message()
message = st.session_state["teach_message"]
if message is not None:
    st.session_state["teach_message"] = None
    (st.error if message[0] == "error" else st.success)(message[1])

user = current_user()
try:
    drawings = drawing_store().list_drawings(user.id)
except DrawingStoreError as error:
    st.error(f"{error}")
    st.stop()
counts = Counter(drawing.label for drawing in drawings)
readiness = check_readiness(dict(counts))

st.subheader("Your drawings")
show_sharing_switch("teach_share")
kept_text = str(readiness.drawing_count)
if readiness.drawing_count < DRAWINGS_NEEDED:
    kept_text += f" of {DRAWINGS_NEEDED} needed"
st.metric("Drawings kept", kept_text)
st.table(
    pd.DataFrame(
        [[readiness.per_digit[digit] for digit in range(10)]],
        index=["drawings"],
        columns=[str(digit) for digit in range(10)],
    ),
    width="content",
)
if drawings:
    with st.expander(f"See your {len(drawings)} drawing(s)", key="teach_gallery_open"):
        st.caption(
            "A drawing that is not what you meant (a slip, the wrong digit tapped) can go on its "
            "own: the bin under it deletes it."
        )
        for digit in sorted(counts):
            of_digit = [drawing for drawing in drawings if drawing.label == digit]
            shown = of_digit[-GALLERY_PER_DIGIT:]
            st.markdown(
                f"**{digit}** · {len(of_digit)}"
                + (f" (the last {len(shown)} shown)" if len(shown) < len(of_digit) else "")
            )
            with st.container(horizontal=True, gap="xsmall", key=f"teach_gallery_{digit}"):
                for drawing in shown:
                    with st.container(width=THUMBNAIL_SIZE + 8, gap=None):
                        st.image(
                            enlarged_picture(drawing.image, THUMBNAIL_SIZE), width=THUMBNAIL_SIZE
                        )
                        st.button(
                            "",
                            icon=":material/delete:",
                            key=f"teach_delete_{drawing.id}",
                            help=f"Delete this drawing of a {digit}",
                            on_click=delete_one_drawing,
                            args=(drawing.id, digit),
                            type="tertiary",
                        )
        st.checkbox("Yes, delete all my drawings", key="teach_confirm_delete")
        st.button(
            "Delete all",
            icon=":material/delete:",
            key="teach_delete_all",
            on_click=delete_all_drawings,
            disabled=not st.session_state.get("teach_confirm_delete"),
        )

st.subheader("Fine-tune a model on them")
names = model_names()
if not names:
    st.warning("No model to start from: train one on the Train page first.")
    st.stop()
chosen = st.session_state.get("model_name")
st.selectbox(
    "Start from",
    names,
    index=names.index(chosen) if chosen in names else 0,
    format_func=model_label,
    key="teach_base_model",
    help="The model that learns your handwriting; it stays as it is, the result is a new run.",
)
shown_run = None
try:
    shown_run = finetune_run_to_show(st.session_state["teach_run_id"])
except RunLogError as error:
    st.error(f"{error}")
if shown_run is None or shown_run.id != st.session_state["teach_run_id"]:
    st.session_state["teach_run_id"] = None  # gone, or never started in this session
engine_busy = shown_run is not None and shown_run.active
st.button(
    "Fine-tune on my drawings",
    type="primary",
    icon=":material/school:",
    key="teach_start",
    on_click=start_finetune,
    args=(st.session_state["teach_base_model"],),
    disabled=not readiness.ready or engine_busy,
    help=readiness.reason,
)
if engine_busy:
    st.caption("Your fine-tuning is under way: see below.")
elif readiness.ready:
    st.caption(readiness.reason)
else:
    st.info(readiness.reason, icon=":material/info:")

if shown_run is not None:
    st.divider()
    st.header(f"Fine-tuned · run {shown_run.id}")
    if shown_run.active:
        show_live_run(shown_run.id, key="teach_live")
    else:
        show_result(shown_run)

st.subheader("Take your drawings with you")
st.caption(
    "A zip of 28x28 PNGs (white ink on black, as the model sees them) and labels.csv "
    "(file,label). Upload it again here, on this or another server, under any name."
)
download_column, upload_column = st.columns(2)
download_column.download_button(
    "Download my drawings (zip)",
    export_zip(drawings) if drawings else b"",
    file_name="my_drawings.zip",
    mime="application/zip",
    icon=":material/download:",
    key="teach_download",
    disabled=not drawings,
)
uploaded = upload_column.file_uploader("Upload drawings (zip)", type=["zip"], key="teach_upload")
if uploaded is not None:
    take_upload(uploaded.getvalue())
    if st.session_state["teach_message"] is not None:
        st.rerun()
