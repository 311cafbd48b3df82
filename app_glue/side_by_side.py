"""Compared runs side by side, as a card a run that wraps: a row of cards on a wide screen,
one under the other on a phone (a table with a column a run showed a phone only its first).
Every card lists the same rows in the same order, so that a row reads across the cards."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from mnist_core.teaching.compare import MetricRow, SettingRow

# A card's width: three fit beside each other on a laptop, one on a phone.
CARD_WIDTH = 330
BEST_MARK = " ★"


def show_side_by_side(
    labels: Sequence[str],
    rows: Sequence[SettingRow | MetricRow],
    *,
    name_column: str,
    key: str,
) -> None:
    """A card a run: its label, then a two-column table of `rows` (the row's name, the run's
    value; ★ after the best run's value of a row that ranks).

    Args:
        labels: the runs' labels, in the rows' order of values.
        rows: `SettingRow`s ("What differs") or `MetricRow`s ("Results").
        name_column: the heading of the names' column ("setting", "figure").
        key: prefix of the cards' keys.
    """
    with st.container(horizontal=True, gap="medium", key=f"{key}_cards"):
        for index, label in enumerate(labels):
            with st.container(width=CARD_WIDTH, border=True, key=f"{key}_card_{index}"):
                st.markdown(f"**{label}**")
                st.dataframe(
                    pd.DataFrame(
                        {
                            name_column: [_name(row) for row in rows],
                            "value": [_value(row, index) for row in rows],
                        }
                    ),
                    hide_index=True,
                    width="stretch",
                    key=f"{key}_table_{index}",
                )


def _name(row: SettingRow | MetricRow) -> str:
    return row.setting if isinstance(row, SettingRow) else row.metric


def _value(row: SettingRow | MetricRow, index: int) -> str:
    value = row.values[index]
    if isinstance(row, MetricRow) and row.best == index:
        return value + BEST_MARK
    return value
