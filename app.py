"""Entry point: `streamlit run app.py`. Owns the navigation and the state pages share."""

import streamlit as st

from app_glue.keras_state import keep_keras_state_between_runs
from app_glue.state import init_shared_state
from app_glue.user import (
    change_user_name,
    identify_user,
)

st.set_page_config(page_title="MNIST Playground", page_icon=":material/draw:", layout="wide")
keep_keras_state_between_runs()
init_shared_state()
user_name = identify_user()

navigation = st.navigation(
    [
        st.Page("app_pages/draw.py", title="Draw", icon=":material/draw:", url_path="draw", default=True),
        st.Page("app_pages/teach.py", title="Teach", icon=":material/school:", url_path="teach"),
        st.Page("app_pages/data.py", title="Data", icon=":material/grid_on:", url_path="data"),
        st.Page("app_pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
        st.Page("app_pages/compare.py", title="Compare runs", icon=":material/compare_arrows:", url_path="compare"),
        st.Page("app_pages/evaluate.py", title="Evaluate", icon=":material/analytics:", url_path="evaluate"),
        st.Page("app_pages/inside.py", title="Inside the network", icon=":material/biotech:", url_path="inside"),
        st.Page("app_pages/fit_line.py", title="Fit a line", icon=":material/show_chart:", url_path="fit_line"),
        st.Page("app_pages/classroom.py", title="Class", icon=":material/school:", url_path="class"),
    ]
)
with st.sidebar:
    st.text_input(
        "Your name",
        value=user_name,
        key="user_name_field",
        on_change=change_user_name,
        max_chars=40,
        help="Your runs and saved models carry this name; this browser remembers it. It is not "
        "a password: pick the name your teacher asked for.",
    )
    if st.session_state.get("user_name_problem"):
        st.error(st.session_state["user_name_problem"])
    st.caption(
        "Learn how neural networks read handwriting: look at the data, train a network, "
        "test it, then draw your own digits."
    )
navigation.run()
