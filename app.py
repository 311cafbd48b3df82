"""Entry point: `streamlit run app.py`. Owns the navigation and the state pages share."""

import streamlit as st

from pages.common import init_shared_state, keep_keras_state_between_runs

st.set_page_config(page_title="MNIST Playground", page_icon=":material/draw:", layout="wide")
keep_keras_state_between_runs()
init_shared_state()

navigation = st.navigation(
    [
        st.Page("pages/draw.py", title="Draw", icon=":material/draw:", url_path="draw", default=True),
        st.Page("pages/data.py", title="Data", icon=":material/grid_on:", url_path="data"),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
        st.Page("pages/evaluate.py", title="Evaluate", icon=":material/analytics:", url_path="evaluate"),
        st.Page("pages/inside.py", title="Inside the network", icon=":material/biotech:", url_path="inside"),
        st.Page("pages/fit_line.py", title="Fit a line", icon=":material/show_chart:", url_path="fit_line"),
    ]
)
st.sidebar.caption(
    "Learn how neural networks read handwriting: look at the data, train a network, "
    "test it, then draw your own digits."
)
navigation.run()
