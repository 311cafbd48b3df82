"""Who this browser is, and whether this session may do what the teacher key guards.

A browser is a user: on its first visit it gets a random token (`runs.users.new_token`) that
it keeps in a cookie; the server knows the user by the token's id and the name the id holds.
A link never sets who someone is (`?user=` is ignored); a device code (`?device=CODE`, or
typed in the sidebar) gives a second device the same token once, within 10 minutes.
"""

from __future__ import annotations

import streamlit as st

from mnist_core.runs.users import User

# The browser keeps its token in this cookie, for a year.
USER_COOKIE = "mnist_user_token"
DEVICE_CODE_PARAMETER = "device"
_REMEMBER_TOKEN_JS = """
export default function(component) {
    const { data } = component;
    if (!data || !data.token) { return; }
    document.cookie = `${data.cookie}=${data.token}; path=/; max-age=31536000; SameSite=Strict`;
}
"""


def identify_user() -> User:
    """Who this browser is (called by app.py on every run): the session's token, else a
    device code in the link, else the cookie's token, else a new token; the user is met (their
    last visit noted) and the browser keeps the token."""
    from mnist_core.runs.users import new_token, user_id_of, valid_token

    token = st.session_state.get("user_token")
    code = st.query_params.get(DEVICE_CODE_PARAMETER)
    if code:
        del st.query_params[DEVICE_CODE_PARAMETER]
        token = _redeemed(code) or token
    if not valid_token(token):
        cookie = st.context.cookies.get(USER_COOKIE)
        token = cookie if valid_token(cookie) else new_token()
    if st.session_state.get("user_token") != token:
        st.session_state["user_token"] = token
        st.session_state["user_token_remembered"] = False
    user = _signed_in(user_id_of(token))
    st.session_state["user"] = user
    st.session_state["user_name"] = user.name
    if not st.session_state.get("user_token_remembered"):
        remember = st.components.v2.component("mnist_remember_token", js=_REMEMBER_TOKEN_JS)
        with st.sidebar:
            remember(data={"token": token, "cookie": USER_COOKIE}, key="remember_token")
        st.session_state["user_token_remembered"] = True
    return user


def _signed_in(user_id: str) -> User:
    """The user of this id, met now; while the run log cannot be used (damaged, locked), the
    user this session already had, or one with a made-up name (the pages say what is wrong)."""
    from app_glue.resources import user_directory
    from mnist_core.runs.database import RunLogError
    from mnist_core.runs.users import anonymous_name

    try:
        return user_directory().sign_in(user_id)
    except RunLogError:
        known = st.session_state.get("user")
        if isinstance(known, User) and known.id == user_id:
            return known
        return User(user_id, anonymous_name())


def _redeemed(code: str) -> str | None:
    """The token a device code carries, or None (the reason is kept for the sidebar)."""
    from app_glue.resources import user_directory
    from mnist_core.runs.database import RunLogError

    try:
        token = user_directory().redeem_device_code(code)
    except (ValueError, RunLogError) as error:
        st.session_state["user_name_problem"] = str(error)
        return None
    st.session_state["user_token_remembered"] = False
    return token


def change_user_name() -> None:
    """on_change of the sidebar's name field: take the name if it is free, else say why."""
    from app_glue.resources import user_directory
    from mnist_core.runs.database import RunLogError
    from mnist_core.runs.users import NameTakenError

    typed = st.session_state.get("user_name_field", "")
    try:
        user = user_directory().claim_name(current_user().id, typed)
    except (NameTakenError, ValueError, RunLogError) as error:
        st.session_state["user_name_problem"] = str(error)
        st.session_state["user_name_field"] = current_user().name
        return
    st.session_state["user"] = user
    st.session_state["user_name"] = user.name
    st.session_state.pop("user_name_problem", None)


def take_device_code() -> None:
    """on_change of the sidebar's code field: become the user of another device."""
    code = st.session_state.get("user_device_code", "")
    st.session_state["user_device_code"] = ""
    if not code.strip():
        return
    token = _redeemed(code)
    if token is not None:
        st.session_state["user_token"] = token
        st.session_state.pop("user_name_problem", None)


def make_device_code() -> None:
    """on_click: a code (and a link) that gives another device this user, for 10 minutes."""
    from app_glue.resources import user_directory
    from mnist_core.runs.database import RunLogError

    try:
        made = user_directory().issue_device_code(st.session_state["user_token"])
    except RunLogError as error:
        st.session_state["user_name_problem"] = str(error)
        return
    st.session_state["user_device_code_made"] = made


def current_user() -> User:
    """This browser's user (set by app.py on every run)."""
    user = st.session_state.get("user")
    return user if isinstance(user, User) else User(id="", name="anonymous")


def teacher_allowed() -> bool:
    """Whether this session may do what the teacher key guards: when a key is set, after it
    was typed in this tab; when none is set, always (a single user at home). A key that is set
    but unusable unlocks nothing (the Class page says why)."""
    from mnist_core.runs.classroom import TeacherKeyError

    try:
        key = configured_teacher_key()
    except TeacherKeyError:
        return False
    return key is None or bool(st.session_state.get("teacher_unlocked"))


def configured_teacher_key() -> str | None:
    """The teacher key of this server, if one is set (TeacherKeyError: set but unusable)."""
    from mnist_core.runs.classroom import configured_teacher_key as configured

    return configured()
