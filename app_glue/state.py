"""The session state every page shares; app.py creates it on every run.

Page-only keys carry their page's prefix (`draw_...`, `train_...`) and are made by the page."""

from __future__ import annotations

from typing import Any

import streamlit as st

# Shared session state: every page may read these; app.py creates them.
SHARED_STATE_DEFAULTS: dict[str, Any] = {
    "model_name": "default",  # the model chosen on any page, kept across pages
    "current_drawing": None,  # the latest preprocessed (28, 28) drawing from the Draw page
    "user_name": None,  # who this browser is (see current_user)
    "teacher_unlocked": False,  # the teacher key was typed in this session
    "compare_selection": [],  # run ids picked for the Compare page
}


def init_shared_state() -> None:
    """Create the shared session-state keys (called by app.py on every run)."""
    for key, value in SHARED_STATE_DEFAULTS.items():
        st.session_state.setdefault(key, value)
