"""The projector view of the Class page (`/class?view=projector`): the class board and the ten
best runs' accuracy curves in large type for the classroom's screen, refreshing on their own.

Readable from the back of a room at 1920 x 1080: the page's text is 26 px, the board's 30 px,
every text of the chart at least 22 px. Names show where the teacher key is unlocked in this
tab, or where the teacher showed the board with names; otherwise "student 1…n".
"""

from __future__ import annotations

import html
from typing import Any

import streamlit as st

from app_glue.charts import MARKERS, PALETTE, channel, chart
from app_glue.resources import run_log
from app_glue.user import current_user
from mnist_core.runs.class_board import CURVE_RUNS, board_curves, board_names, class_board
from mnist_core.runs.class_settings import board_visibility
from mnist_core.runs.database import RunLogError

PROJECTOR_PARAMETER = "view"
PROJECTOR = "projector"
REFRESH_SECONDS = 5.0
# Rows of the board on the screen (the rest are counted under it).
BOARD_ROWS = 10
CHART_FONT = 22
_STYLE = """
<style>
  [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
  [data-testid="stHeader"] { display: none !important; }
  .stMainBlockContainer { max-width: 100% !important; padding: 1.5rem 3rem !important; }
  .stMainBlockContainer p, .stMainBlockContainer li { font-size: 26px !important; }
  .stMainBlockContainer h1 { font-size: 56px !important; }
  table.mnist-board { border-collapse: collapse; width: 100%; font-size: 30px; }
  table.mnist-board td { overflow-wrap: anywhere; }
  table.mnist-board td.number { white-space: nowrap; }
  table.mnist-board th { text-align: left; font-size: 24px; color: #555; padding: 4px 12px; }
  table.mnist-board td { padding: 6px 12px; border-top: 1px solid #ddd; }
  table.mnist-board td.number { text-align: right; font-variant-numeric: tabular-nums; }
</style>
"""


def projector_asked() -> bool:
    """Whether the page's link asks for the projector view."""
    return st.query_params.get(PROJECTOR_PARAMETER) == PROJECTOR


def curves_spec(rows: list[dict[str, Any]], students: list[str]) -> dict[str, Any]:
    """The ten best runs' validation accuracy by epoch, a colour a student, in large type."""
    big = {"labelFontSize": CHART_FONT, "titleFontSize": CHART_FONT + 2}
    spec = chart(
        {
            "data": {"values": rows},
            "encoding": {
                "x": channel("epoch", title="epoch", axis={"tickMinStep": 1, "format": "d", **big}),
                "y": channel(
                    "accuracy",
                    title="accuracy on images it did not learn from",
                    scale={"zero": False},
                    axis={"format": ".0%", **big},
                ),
                "color": channel(
                    "student",
                    "nominal",
                    title=None,
                    scale={"domain": students, "range": list(PALETTE) * 2},
                    legend={"orient": "right", "labelFontSize": CHART_FONT, "symbolSize": 300},
                ),
            },
            "layer": [
                {"mark": {"type": "line", "strokeWidth": 4}},
                {
                    # Colours repeat after seven: the point's shape tells those runs apart.
                    "mark": {"type": "point", "filled": True, "size": 260, "opacity": 1},
                    "encoding": {
                        "shape": channel(
                            "student",
                            "nominal",
                            title=None,
                            scale={"domain": students, "range": list(MARKERS[:6]) * 2},
                            legend={
                                "orient": "right",
                                "labelFontSize": CHART_FONT,
                                "symbolSize": 300,
                            },
                        )
                    },
                },
            ],
        },
        height=560,
        title=f"The {CURVE_RUNS} best runs, epoch by epoch",
    )
    spec["config"] = {
        **spec["config"],
        "title": {"fontSize": CHART_FONT + 6, "anchor": "start"},
        # A long name (40 characters are allowed) ends in "…" instead of pushing the chart
        # over the board beside it.
        "legend": {**spec["config"]["legend"], "labelFontSize": CHART_FONT, "labelLimit": 260},
        "axis": {**spec["config"]["axis"], **big},
    }
    return spec


def board_html(rows: list[tuple[int, str, float, str]], more: int) -> str:
    """The board as a large-type HTML table: rank, student, test accuracy, network."""
    body = "".join(
        f"<tr><td class='number'>{rank}</td><td>{html.escape(name)}</td>"
        f"<td class='number'>{accuracy:.1%}</td><td>{html.escape(network)}</td></tr>"
        for rank, name, accuracy, network in rows
    )
    tail = f"<p>… and {more} more.</p>" if more else ""
    return (
        "<table class='mnist-board'><tr><th>#</th><th>student</th><th>test accuracy</th>"
        f"<th>network</th></tr>{body}</table>{tail}"
    )


def show_projector(*, teacher: bool) -> None:
    """The projector view: the board and the best runs' curves, refreshed every few seconds."""
    st.html(_STYLE)
    st.title("Our class")
    try:
        visibility = board_visibility(run_log())
    except RunLogError as error:
        st.error(f"{error}")
        return
    if not teacher and not visibility.shown:
        st.info(
            "The teacher has not shown the class board yet. Teacher: unlock the key below in "
            "this tab, or show the board on the Class page.",
            icon=":material/visibility_off:",
        )
        return

    @st.fragment(run_every=REFRESH_SECONDS)
    def live() -> None:
        try:
            entries = class_board(run_log())
            best = entries[:CURVE_RUNS]
            curves = board_curves(run_log(), [entry.run_id for entry in best])
        except RunLogError as error:
            st.error(f"{error}")
            return
        if not entries:
            st.markdown("No run has finished yet: the board fills as runs end.")
            return
        names = board_names(entries, names=teacher or visibility.names, viewer_id=current_user().id)
        left, right = st.columns([1, 1], gap="large")
        with left:
            shown = [
                (entry.rank, names[entry.run_id], entry.test_accuracy, entry.network)
                for entry in entries[:BOARD_ROWS]
            ]
            st.html(board_html(shown, max(0, len(entries) - BOARD_ROWS)))
        with right:
            student_of = {entry.run_id: names[entry.run_id] for entry in best}
            rows = [{**row, "student": student_of[row["run_id"]]} for row in curves]
            st.vega_lite_chart(
                curves_spec(rows, list(student_of.values())),
                width="stretch",
                key="class_projector_curves",
            )
        st.markdown(
            f"{len(entries)} student{'s' if len(entries) != 1 else ''} on the board · "
            "refreshed every few seconds"
        )

    live()
