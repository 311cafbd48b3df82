"""Compare runs: every training is kept; pick two or more and see how they differ."""

import altair as alt
import pandas as pd
import streamlit as st

from app_glue.resources import (
    run_log,
    training_engine,
)
from app_glue.run_live import LIVE_REFRESH_SECONDS
from app_glue.user import current_user
from mnist_core.modeling.summary import architecture_summary
from mnist_core.runs.database import RunLogError
from mnist_core.teaching.compare import (
    curve_rows,
    differing_settings,
    per_class_accuracy_rows,
    run_label,
    side_by_side_metrics,
)
from mnist_core.teaching.conclusions import lesson_conclusions
from mnist_core.teaching.lessons import (
    LESSONS,
    get_lesson,
)

PREFIX = "compare_"
SORTS = {
    "newest first": lambda run: -run.created_at,
    "best test accuracy": lambda run: -(run.test_accuracy or 0.0),
    "fastest": lambda run: run.metrics.get("training_seconds") or float("inf"),
}
# Up to eight runs are told apart by colour, line style and marker shape together.
MARKERS = ("circle", "square", "triangle-up", "diamond", "cross", "triangle-down", "wedge", "stroke")
MAX_COMPARED = len(MARKERS)

st.session_state.setdefault("compare_selection", [])
st.session_state.setdefault(f"{PREFIX}lesson_request", None)

st.title("Compare runs")
st.caption(
    "Every training is kept here as a run. Tick two or more to put their curves side by side "
    "and see exactly which settings differ, or start one of the notebooks' lessons: its runs "
    "train together and the comparison writes its own conclusion."
)

try:
    log = run_log()
except RunLogError as error:
    st.error(f"{error}")
    st.stop()

# --- Lessons -------------------------------------------------------------------------------
with st.expander("Lessons: one click, several runs", expanded=not st.session_state["compare_selection"], icon=":material/school:"):
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    lesson_name = left.selectbox(
        "Lesson",
        list(LESSONS),
        format_func=lambda name: LESSONS[name].title,
        key=f"{PREFIX}lesson",
    )
    full_data = right.toggle(
        "Full data",
        key=f"{PREFIX}full_data",
        help="All 60,000 training images and the notebook's epochs (minutes instead of about a "
        "minute).",
    )
    lesson = get_lesson(lesson_name)
    st.caption(lesson.what_to_look_for)
    if st.button("Run this lesson", type="primary", icon=":material/play_arrow:", key=f"{PREFIX}start"):
        engine = training_engine()
        if engine is not None:
            try:
                runs = engine.submit(lesson.requests(full_data=full_data), user=current_user())
            except (RunLogError, ValueError) as error:
                st.error(f"The lesson was not queued: {error}")
            else:
                st.session_state["compare_selection"] = [run.id for run in runs]
                st.session_state[f"{PREFIX}lesson_request"] = runs[0].request_id
                st.rerun()

# --- The table of runs ---------------------------------------------------------------------
st.header("Runs")
everyone = st.toggle("Everyone's runs on this server", key=f"{PREFIX}everyone")
sort_name = st.radio("Sort", list(SORTS), horizontal=True, key=f"{PREFIX}sort")
try:
    # The table shows no curves: reading them was most of this page's time with 200 runs.
    runs = log.list_runs(user=None if everyone else current_user(), limit=500, include_curves=False)
except RunLogError as error:
    st.error(f"{error}")
    st.stop()
selection = [run_id for run_id in st.session_state["compare_selection"]]
known = {run.id: run for run in runs}
for run_id in selection:
    if run_id not in known:
        try:
            known[run_id] = log.get_run(run_id)
        except RunLogError:
            continue
        runs.append(known[run_id])
runs.sort(key=SORTS[sort_name])
if not runs:
    st.info(
        "No runs yet: train a network on the Train page, or start a lesson above.",
        icon=":material/info:",
    )
    st.stop()

table = pd.DataFrame(
    {
        "compare": [run.id in selection for run in runs],
        "run": [run_label(run) for run in runs],
        "user": [run.user for run in runs],
        "status": [run.status for run in runs],
        "test accuracy": [run.test_accuracy for run in runs],
        "network": [architecture_summary(run.config) for run in runs],
        "optimizer": [run.config.optimizer for run in runs],
        "learning rate": [run.config.learning_rate for run in runs],
        "loss": [run.config.loss for run in runs],
        "epochs": [run.config.epochs for run in runs],
        "images": [run.training_images or 60000 for run in runs],
        "seconds": [run.metrics.get("training_seconds") for run in runs],
        "started": [pd.Timestamp(run.created_at, unit="s") for run in runs],
        "id": [run.id for run in runs],
    }
)
edited = st.data_editor(
    table,
    hide_index=True,
    disabled=[column for column in table.columns if column != "compare"],
    column_config={
        "compare": st.column_config.CheckboxColumn("compare", width="small"),
        "test accuracy": st.column_config.NumberColumn(format="percent"),
        "seconds": st.column_config.NumberColumn(format="%.1f"),
        "started": st.column_config.DatetimeColumn(format="D MMM, HH:mm"),
        "id": None,
    },
    key=f"{PREFIX}table_{'all' if everyone else 'mine'}_{sort_name}",
)
ticked = [row_id for row_id, tick in zip(edited["id"], edited["compare"]) if tick]
# The order runs were picked in (a lesson's own order) is the order they are compared in.
picked = [run_id for run_id in selection if run_id in ticked] + [
    run_id for run_id in ticked if run_id not in selection
]
if picked != selection:
    st.session_state["compare_selection"] = picked
    st.rerun()
chosen = [known[run_id] for run_id in picked if run_id in known][:MAX_COMPARED]

mine_chosen = [run for run in chosen if run.user == current_user()]
if mine_chosen:
    hide_column, delete_column, _ = st.columns([1, 1, 3])
    if hide_column.button("Hide the ticked runs of mine", key=f"{PREFIX}hide"):
        for run in mine_chosen:
            log.set_hidden(run.id, True)
        st.session_state["compare_selection"] = []
        st.rerun()
    if delete_column.button(
        "Delete the ticked runs of mine", key=f"{PREFIX}delete", disabled=any(run.active for run in mine_chosen)
    ):
        for run in mine_chosen:
            log.delete_run(run.id)
        st.session_state["compare_selection"] = []
        st.rerun()

if len(chosen) < 2:
    st.caption("Tick at least two runs to compare them.")
    st.stop()


# --- The comparison ------------------------------------------------------------------------
live = any(run.active for run in chosen)


@st.fragment(run_every=LIVE_REFRESH_SECONDS if live else None)
def show_comparison(run_ids: list[str]) -> None:
    try:
        runs = [log.get_run(run_id) for run_id in run_ids]
    except RunLogError as error:
        st.error(f"{error}")
        return
    active = [run for run in runs if run.active]
    if live and not active:
        st.rerun()  # all ended: draw the whole page once more, without the timer
    if active:
        st.info(
            f"{len(active)} of these runs are still training or waiting; the curves grow live.",
            icon=":material/hourglass_top:",
        )
    labels = [run_label(run) for run in runs]
    log_scale = st.toggle(
        "Log scale for the loss",
        value=True,
        key=f"{PREFIX}log_scale",
        help="The first batches' loss is far larger than the rest: on a log scale the "
        "differences later on stay visible.",
    )
    frame = pd.DataFrame(curve_rows(runs))
    if frame.empty:
        st.caption("The curves appear after the first batches.")
    else:
        markers = alt.Scale(domain=labels, range=list(MARKERS[: len(labels)]))
        for column, metric in zip(st.columns(2), ("loss", "accuracy")):
            data = frame[frame["metric"] == metric]
            if metric == "loss" and log_scale:
                data = data[data["value"] > 0]
            scale = alt.Scale(type="log") if metric == "loss" and log_scale else alt.Scale(zero=False)
            base = alt.Chart(data).encode(
                x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1)),
                y=alt.Y("value:Q", title=metric, scale=scale),
                color=alt.Color("run:N", title="run", sort=labels, legend=alt.Legend(orient="bottom", columns=1)),
                strokeDash=alt.StrokeDash(
                    "split:N",
                    title="line",
                    scale=alt.Scale(domain=["training", "validation"], range=[[1, 0], [6, 3]]),
                    legend=alt.Legend(orient="bottom"),
                ),
                detail="split:N",
                tooltip=["run:N", "split:N", alt.Tooltip("epoch:Q", format=".2f"), alt.Tooltip("value:Q", format=".4f")],
            )
            points = base.transform_filter(alt.datum.epoch % 1 == 0).mark_point(
                filled=True, size=70
            ).encode(shape=alt.Shape("run:N", scale=markers, sort=labels, legend=None))
            column.container(key=f"{PREFIX}chart_{metric}").altair_chart(
                (base.mark_line(strokeWidth=2.2) + points).properties(
                    title="Loss (lower is better)" if metric == "loss" else "Accuracy (higher is better)",
                    height=340,
                ),
                width="stretch",
            )
        st.caption(
            "Training solid, validation dashed; each run has its own colour and marker. "
            "x is in epochs (fractions are points within an epoch)."
        )

    st.subheader("What differs")
    differences = differing_settings(runs)
    if differences:
        st.dataframe(
            pd.DataFrame(
                [{"setting": row.setting, **dict(zip(labels, row.values))} for row in differences]
            ),
            hide_index=True,
            key=f"{PREFIX}differences",
        )
    else:
        st.caption("These runs have the same settings: any difference is chance (the seed).")
    st.subheader("Results side by side")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "figure": row.metric,
                    **{
                        label: value + (" ★" if row.best == index else "")
                        for index, (label, value) in enumerate(zip(labels, row.values))
                    },
                }
                for row in side_by_side_metrics(runs)
            ]
        ),
        hide_index=True,
        key=f"{PREFIX}metrics",
    )
    st.caption("★ marks the best run of a row.")
    per_class = pd.DataFrame(per_class_accuracy_rows(runs))
    if not per_class.empty:
        st.subheader("Accuracy per class")
        bars = alt.Chart(per_class).mark_bar().encode(
            x=alt.X("class:N", sort=alt.SortField("class_index"), title=None),
            xOffset=alt.XOffset("run:N", sort=labels),
            y=alt.Y("accuracy:Q", scale=alt.Scale(zero=False), axis=alt.Axis(format="%")),
            color=alt.Color("run:N", sort=labels, legend=alt.Legend(orient="bottom", columns=1)),
            tooltip=["run:N", "class:N", alt.Tooltip("accuracy:Q", format=".2%")],
        )
        st.altair_chart(bars.properties(height=260), width="stretch", key=f"{PREFIX}per_class_chart")
        table = per_class.pivot_table(index=["class_index", "class"], columns="run", values="accuracy")
        table = table.reset_index().drop(columns="class_index")
        st.dataframe(
            table,
            hide_index=True,
            column_config={label: st.column_config.NumberColumn(format="percent") for label in labels},
            key=f"{PREFIX}per_class",
        )
    lesson_runs = [run for run in runs if run.lesson]
    if lesson_runs and not active and len({run.lesson for run in lesson_runs}) == 1:
        lesson = get_lesson(lesson_runs[0].lesson)
        st.subheader(f"What the lesson shows: {lesson.title}")
        for sentence in lesson_conclusions(lesson, lesson_runs):
            st.markdown(f"- {sentence}")
    if st.toggle("Show their confusion matrices", key=f"{PREFIX}confusions"):
        columns = st.columns(min(3, len(runs)))
        for index, run in enumerate(runs):
            matrix = run.metrics.get("confusion_matrix")
            target = columns[index % len(columns)]
            if not matrix:
                target.caption(f"{run_label(run)}: no confusion matrix (the run did not finish).")
                continue
            cells = pd.DataFrame(
                [
                    {"true": str(true), "predicted": str(predicted), "count": count}
                    for true, row in enumerate(matrix)
                    for predicted, count in enumerate(row)
                ]
            )
            heat = alt.Chart(cells).mark_rect().encode(
                x=alt.X("predicted:O"),
                y=alt.Y("true:O"),
                color=alt.Color("count:Q", scale=alt.Scale(type="symlog"), legend=None),
                tooltip=["true", "predicted", "count"],
            )
            target.altair_chart(
                heat.properties(title=run_label(run), height=260), width="stretch", key=f"{PREFIX}confusion_{run.id}"
            )
    st.subheader("Open a run's model")
    kept = [run for run in runs if run.model_kept]
    if not kept:
        st.caption("None of these runs kept a model (still training, or diverged).")
    for run in kept:
        columns = st.columns([3, 1, 1, 1], vertical_alignment="center")
        columns[0].write(run_label(run))
        for column, (title, page) in zip(
            columns[1:],
            (("Evaluate", "app_pages/evaluate.py"), ("Inside", "app_pages/inside.py"), ("Draw", "app_pages/draw.py")),
        ):
            if column.button(title, key=f"{PREFIX}open_{page}_{run.id}"):
                st.session_state["model_name"] = run.model_name_in_pickers
                st.switch_page(page)


show_comparison([run.id for run in chosen])
