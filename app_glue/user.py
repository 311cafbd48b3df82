"""Who this browser is, and whether this session may do what the teacher key guards."""

from __future__ import annotations

from typing import Any

import streamlit as st

# The browser remembers its user in this cookie (the URL's ?user= is the fallback).
USER_COOKIE = "mnist_user"


USER_QUERY_PARAMETER = "user"


_REMEMBER_USER_JS = """
export default function(component) {
    const { data } = component;
    if (!data || !data.name) { return; }
    const value = encodeURIComponent(data.name);
    document.cookie = `${data.cookie}=${value}; path=/; max-age=31536000; SameSite=Lax`;
    try { window.localStorage.setItem(data.cookie, data.name); } catch (error) {}
}
"""


def identify_user() -> str:
    """Who this browser is: the session's name, else the cookie, else `?user=`, else a new
    anonymous name; remembered in the browser (a cookie) on every run. Called by app.py."""
    from urllib.parse import unquote

    from mnist_core.runs.users import (
        anonymous_name,
        validate_user_name,
    )

    name = st.session_state.get("user_name")
    if not name:
        candidates = [
            st.query_params.get(USER_QUERY_PARAMETER),
            unquote(st.context.cookies.get(USER_COOKIE) or ""),
        ]
        for candidate in candidates:
            try:
                name = validate_user_name(candidate)
                break
            except ValueError:
                continue
        else:
            name = anonymous_name()
        st.session_state["user_name"] = name
    remember = st.components.v2.component("mnist_remember_user", js=_REMEMBER_USER_JS)
    with st.sidebar:
        remember(data={"name": name, "cookie": USER_COOKIE}, key="remember_user")
    return name


def change_user_name() -> None:
    """on_change of the sidebar's name field: adopt a valid name, else say why."""
    from mnist_core.runs.users import validate_user_name

    typed = st.session_state.get("user_name_field", "")
    try:
        st.session_state["user_name"] = validate_user_name(typed)
        st.session_state.pop("user_name_problem", None)
    except ValueError as error:
        st.session_state["user_name_problem"] = str(error)


def current_user() -> str:
    """This browser's user name (set by app.py on every run)."""
    return st.session_state.get("user_name") or "anonymous"


def teacher_allowed() -> bool:
    """Whether this session may do what the teacher key guards (always, when no key is set)."""
    from mnist_core.runs.classroom import configured_teacher_key

    return configured_teacher_key(_secrets()) is None or bool(
        st.session_state.get("teacher_unlocked")
    )


def _secrets() -> Any:
    try:
        return dict(st.secrets)
    except Exception:  # noqa: BLE001 - no secrets.toml is the usual case
        return None


def configured_teacher_key() -> str | None:
    """The teacher key of this server, if one is set."""
    from mnist_core.runs.classroom import configured_teacher_key as configured

    return configured(_secrets())
