"""Entry point: `streamlit run app.py`. Owns the navigation and the state pages share."""

from pathlib import Path

import streamlit as st

from app_glue.keras_state import keep_keras_state_between_runs
from app_glue.state import init_shared_state
from app_glue.user import (
    change_user_name,
    identify_user,
    make_device_code,
    take_device_code,
)

# The tab's icon is a file of the app: a Material icon there would be fetched from the
# internet, which a school's network may not reach.
APP_ICON = Path(__file__).resolve().parent / "assets" / "app_icon.png"
st.set_page_config(page_title="MNIST Playground", page_icon=str(APP_ICON), layout="wide")
keep_keras_state_between_runs()
init_shared_state()

draw_page = st.Page("app_pages/draw.py", title="Draw", icon=":material/draw:", url_path="draw")


def open_draw_page() -> None:
    """The app's root address opens the Draw page at its own, /draw, keeping the link's
    parameters (`/?device=…` included). Streamlit serves a default page only at the root:
    Draw as the default made /draw, the link a class shares, "Page not found"."""
    st.switch_page(draw_page, query_params=st.query_params.to_dict())


home_page = st.Page(
    open_draw_page, title="Draw", url_path="home", default=True, visibility="hidden"
)
navigation = st.navigation(
    [
        home_page,
        draw_page,
        st.Page(
            "app_pages/teach.py", title="Teach", icon=":material/psychology:", url_path="teach"
        ),
        st.Page(
            "app_pages/class_digits.py",
            title="Our digits",
            icon=":material/groups:",
            url_path="digits",
        ),
        st.Page("app_pages/data.py", title="Data", icon=":material/grid_on:", url_path="data"),
        st.Page(
            "app_pages/train.py", title="Train", icon=":material/model_training:", url_path="train"
        ),
        st.Page(
            "app_pages/compare.py",
            title="Compare runs",
            icon=":material/compare_arrows:",
            url_path="compare",
        ),
        st.Page(
            "app_pages/evaluate.py",
            title="Evaluate",
            icon=":material/analytics:",
            url_path="evaluate",
        ),
        st.Page(
            "app_pages/inside.py",
            title="Inside the network",
            icon=":material/biotech:",
            url_path="inside",
        ),
        st.Page(
            "app_pages/fit_line.py",
            title="Fit a line",
            icon=":material/show_chart:",
            url_path="fit_line",
        ),
        st.Page(
            "app_pages/classroom.py", title="Class", icon=":material/school:", url_path="class"
        ),
    ]
)
if navigation is home_page:
    # Before anything is drawn: a run cut short by the switch would lose what it drew (the
    # token's cookie, written once).
    open_draw_page()
user = identify_user()
with st.sidebar:
    st.session_state["user_name_field"] = user.name
    st.text_input(
        "Your name",
        key="user_name_field",
        on_change=change_user_name,
        max_chars=40,
        help="This browser is you: your runs, saved models and drawings are kept for it, under "
        "this name. One person a name: a name someone else has is refused.",
    )
    if st.session_state.get("user_name_problem"):
        st.error(st.session_state["user_name_problem"])
    with st.expander("Use my name on another device"):
        st.button("Make a code", key="user_make_code", on_click=make_device_code)
        made = st.session_state.get("user_device_code_made")
        if made:
            st.code(made, language=None)
            st.caption(
                f"On the other device open `/?device={made}`, or type the code below there. "
                "It works once, for 10 minutes; keep it to yourself."
            )
        st.text_input(
            "A code from your other device", key="user_device_code", on_change=take_device_code
        )
    st.caption(
        "Learn how neural networks read handwriting: look at the data, train a network, "
        "test it, then draw your own digits."
    )
navigation.run()
