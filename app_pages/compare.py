"""Compare runs: every training is kept; pick two or more and see how they differ."""

import streamlit as st

from app_glue.chart_summaries import (
    confusion_summary,
    per_class_summary,
)
from app_glue.charts import (
    MARKERS,
    confusion_spec,
    per_class_spec,
    show_chart,
    show_runs_curves,
)
from app_glue.downloads import (
    lesson_notebook_button,
    run_notebook_button,
)
from app_glue.resources import training_engine
from app_glue.run_live import LIVE_REFRESH_SECONDS
from app_glue.run_queries import (
    COMPARE_COLUMN_WIDTH,
    RUNS_TABLE_COLUMNS,
    delete_runs,
    hide_runs,
    runs_by_id,
    runs_for_table,
    runs_table,
    table_version,
)
from app_glue.side_by_side import show_side_by_side
from app_glue.user import current_user
from mnist_core.data.format import class_names_of
from mnist_core.evaluation.confusion import confusion_cells
from mnist_core.runs.database import RunLogError
from mnist_core.teaching.compare import (
    differing_settings,
    per_class_accuracy_rows,
    per_class_accuracy_table,
    side_by_side_metrics,
)
from mnist_core.teaching.conclusions import compared_lesson
from mnist_core.teaching.fairness import uneven_work_sentence
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
# Up to eight runs are told apart by colour and point shape together.
MAX_COMPARED = len(MARKERS)
# The table of runs, while one of them trains or waits.
TABLE_REFRESH_SECONDS = 3.0
# The pages a run's model opens on.
OPEN_ON = {"evaluate": "Evaluate", "inside": "Inside", "draw": "Draw"}

st.session_state.setdefault("compare_selection", [])
st.session_state.setdefault(f"{PREFIX}lesson_request", None)

st.title("Compare runs")
st.caption(
    "Every training is kept here as a run. Tick two or more to put their curves side by side "
    "and see exactly which settings differ, or start one of the notebooks' lessons: its runs "
    "train together and the comparison writes its own conclusion."
)

# --- Lessons -------------------------------------------------------------------------------
# Open when the page opens with nothing to compare, then as the visitor leaves it: a tick in
# the table must not fold it away and pull the table from under their finger. A started
# lesson folds it, to show its runs.
LESSONS_OPEN = f"{PREFIX}lessons_open"
if st.session_state.pop(f"{PREFIX}fold_lessons", False):
    st.session_state[LESSONS_OPEN] = False
st.session_state.setdefault(LESSONS_OPEN, not st.session_state["compare_selection"])
with st.expander(
    "Lessons: one click, several runs",
    key=LESSONS_OPEN,
    on_change="rerun",
    icon=":material/school:",
):
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
    start_column, notebook_column = st.columns([3, 1], vertical_alignment="center")
    lesson_notebook_button(notebook_column, lesson, key=f"{PREFIX}lesson_notebook")
    if start_column.button(
        "Run this lesson", type="primary", icon=":material/play_arrow:", key=f"{PREFIX}start"
    ):
        engine = training_engine()
        if engine is not None:
            try:
                runs = engine.submit(lesson.requests(full_data=full_data), user=current_user())
            except (RunLogError, ValueError) as error:
                st.error(f"The lesson was not queued: {error}")
            else:
                st.session_state["compare_selection"] = [run.id for run in runs]
                st.session_state[f"{PREFIX}lesson_request"] = runs[0].request_id
                st.session_state[f"{PREFIX}fold_lessons"] = True
                st.rerun()

# --- The table of runs ---------------------------------------------------------------------
st.header("Runs")
everyone = st.toggle("Everyone's runs on this server", key=f"{PREFIX}everyone")
sort_name = st.radio("Sort", list(SORTS), horizontal=True, key=f"{PREFIX}sort")
selection = list(st.session_state["compare_selection"])
try:
    runs = runs_for_table(everyone=everyone, picked=selection)
except RunLogError as error:
    st.error(f"{error}")
    st.stop()
known = {run.id: run for run in runs}
runs.sort(key=SORTS[sort_name])
if not runs:
    st.info(
        "No runs yet: train a network on the Train page, or start a lesson above.",
        icon=":material/info:",
    )
    st.stop()

table_live = any(run.active for run in runs)


@st.fragment(run_every=TABLE_REFRESH_SECONDS if table_live else None)
def show_runs_table() -> None:
    """The runs, with a tick to compare; while one trains or waits, refreshed from the log."""
    try:
        shown = runs_for_table(everyone=everyone, picked=selection) if table_live else runs
    except RunLogError as error:
        st.error(f"{error}")
        return
    shown.sort(key=SORTS[sort_name])
    if table_live and not any(run.active for run in shown):
        st.rerun()  # all ended: draw the page once more, without the timer
    edited = st.data_editor(
        runs_table(shown, selection),
        hide_index=True,
        disabled=[column for column in RUNS_TABLE_COLUMNS if column != "compare"],
        column_config={
            "compare": st.column_config.CheckboxColumn("compare", width=COMPARE_COLUMN_WIDTH),
            "started": st.column_config.DatetimeColumn(format="D MMM, HH:mm"),
            "id": None,
        },
        # A new key when a run's status or figures change: the table shows them, and the
        # ticks come back from the selection.
        key=f"{PREFIX}table_{'all' if everyone else 'mine'}_{sort_name}_{table_version(shown)}",
    )
    ticked = [row_id for row_id, tick in zip(edited["id"], edited["compare"]) if tick]
    # The order runs were picked in (a lesson's own order) is the order they are compared in.
    picked = [run_id for run_id in selection if run_id in ticked] + [
        run_id for run_id in ticked if run_id not in selection
    ]
    if picked != selection:
        st.session_state["compare_selection"] = picked
        st.rerun()


show_runs_table()
chosen = [known[run_id] for run_id in selection if run_id in known][:MAX_COMPARED]

mine_chosen = [run for run in chosen if run.owned_by(current_user())]
if mine_chosen:
    with st.container(horizontal=True, key=f"{PREFIX}tidy"):  # wraps; never cuts a label
        hide = st.button(
            "Hide the ticked runs of mine",
            key=f"{PREFIX}hide",
            help="They leave your list and stay in the log (Everyone's runs still shows them).",
        )
        delete = st.button(
            "Delete the ticked runs of mine",
            key=f"{PREFIX}delete",
            disabled=any(run.active for run in mine_chosen),
            help="Gone for good, with their models. A run still training cannot be deleted.",
        )
    if hide or delete:
        try:
            if hide:
                hide_runs(mine_chosen)
            else:
                delete_runs(mine_chosen)
        except RunLogError as error:
            st.error(f"{error}")
        else:
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
        runs = runs_by_id(run_ids)
    except RunLogError as error:
        st.error(f"{error}")
        return
    active = [run for run in runs if run.active]
    if live and not active:
        st.rerun()  # all ended: draw the whole page once more, without the timer
    if active:
        st.info(
            f"{len(active)} of these runs {'is' if len(active) == 1 else 'are'} still training "
            "or waiting; the curves and figures grow live.",
            icon=":material/hourglass_top:",
        )
    unfair = uneven_work_sentence(runs)
    if unfair:
        st.warning(unfair, icon=":material/balance:")
    labels = [run.display_label for run in runs]
    compared = None if active else compared_lesson(runs)
    if compared is not None and compared.sentences:
        # The lesson's point first: its conclusion, computed from these runs' figures.
        st.subheader(f"What the lesson shows: {compared.title}")
        for sentence in compared.sentences:
            st.markdown(f"- {sentence}")
    elif compared is not None:
        st.caption(
            f"{compared.title}: {compared.why_none}" if compared.title else compared.why_none
        )
    log_scale = st.toggle(
        "Log scale for the loss",
        value=True,
        key=f"{PREFIX}log_scale",
        help="The first batches' loss is far larger than the rest: on a log scale the "
        "differences later on stay visible.",
    )
    show_runs_curves(runs, key=f"{PREFIX}chart", log_scale_loss=log_scale)

    st.subheader("What differs")
    differences = differing_settings(runs)
    if differences:
        show_side_by_side(labels, differences, name_column="setting", key=f"{PREFIX}differences")
    else:
        # The seed is a setting: runs listed as the same have the same seed too.
        st.caption(
            "These runs have exactly the same settings, the seed included: a difference in "
            "their results does not come from a setting. (On one computer the same run ends "
            "the same way every time; workers on different computers can still end a little "
            "apart.)"
        )
    st.subheader("Results side by side")
    show_side_by_side(
        labels, side_by_side_metrics(runs), name_column="figure", key=f"{PREFIX}metrics"
    )
    st.caption("★ marks the best run of a row (never one that ended before its last epoch).")
    per_class_rows = per_class_accuracy_rows(runs)
    if per_class_rows:
        st.subheader("Accuracy per class")
        show_chart(
            per_class_spec(per_class_rows, labels),
            per_class_summary(per_class_rows, labels),
            key=f"{PREFIX}per_class_chart",
        )
        st.dataframe(
            per_class_accuracy_table(per_class_rows),
            hide_index=True,
            column_config={
                label: st.column_config.NumberColumn(format="%.1f%%") for label in labels
            },
            key=f"{PREFIX}per_class",
        )
    if st.toggle("Show their confusion matrices", key=f"{PREFIX}confusions"):
        columns = st.columns(min(3, len(runs)))
        for index, run in enumerate(runs):
            matrix = run.metrics.get("confusion_matrix")
            with columns[index % len(columns)]:
                if not matrix:
                    st.caption(
                        f"{run.display_label}: no confusion matrix (the run did not finish)."
                    )
                    continue
                cells = confusion_cells(matrix, class_names_of(run.dataset))
                show_chart(
                    confusion_spec(
                        cells,
                        class_names_of(run.dataset),
                        counts=False,
                        height=300,
                        title=run.display_label,
                    ),
                    confusion_summary(cells),
                    key=f"{PREFIX}confusion_{run.id}",
                )
    st.subheader("Open a run's model")
    kept = [run for run in runs if run.model_kept]
    if not kept:
        st.caption("None of these runs kept a model (still training, or diverged).")
    for run in kept:
        columns = st.columns([3, 1, 1, 1], vertical_alignment="center")
        columns[0].write(run.display_label)
        for column, (page, title) in zip(columns[1:], OPEN_ON.items()):
            if column.button(title, key=f"{PREFIX}open_{page}_{run.id}"):
                st.session_state["model_name"] = run.model_name_in_pickers
                st.switch_page(f"app_pages/{page}.py")
    st.subheader("Train them again at home")
    st.caption(
        "Each run as a Jupyter notebook (Jupyter or Colab): the same network and settings, "
        "one step a cell, with its curves and figures."
    )
    columns = st.columns(min(4, len(runs)))
    for index, run in enumerate(runs):
        with columns[index % len(columns)]:
            st.caption(run.display_label)
            run_notebook_button(st, run, key=f"{PREFIX}notebook_{run.id}")


show_comparison([run.id for run in chosen])
