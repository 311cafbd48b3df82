"""What the teacher key unlocks, as widgets: the key itself (throttled, failing closed), and the
class's people (names, last visits, releasing a name, merging two users).

The Class page draws these; the rules are the core's (`runs.classroom`, `runs.users`).
"""

from __future__ import annotations

import datetime
import secrets

import streamlit as st

from app_glue.resources import run_log, unlock_throttle, user_directory
from app_glue.user import configured_teacher_key
from mnist_core.runs.classroom import TeacherKeyError, teacher_key_matches

PREFIX = "class_"


def session_id() -> str:
    """This tab's name for the throttle of wrong keys (never shown, never in a link)."""
    return st.session_state.setdefault(f"{PREFIX}session", secrets.token_hex(8))


def show_key_section() -> bool:
    """The teacher key's part of the page; returns whether this tab may do what it guards.

    No key set: open (a single user at home), said once. A key set but unusable (a secrets
    file that does not parse): locked for everyone, and why. A key set: the unlock form, with
    wrong keys throttled for this tab and for the whole server.
    """
    try:
        key = configured_teacher_key()
    except TeacherKeyError as error:
        st.error(
            f"The teacher key is set but cannot be used, so nothing here is unlocked: {error}",
            icon=":material/lock:",
        )
        return False
    if key is None:
        st.info(
            "No teacher key is set on this server, so everything on this page is open to whoever "
            "uses it (fine for a single user at home). For a class, start the app with "
            "`MNIST_TEACHER_KEY=...` or `teacher_key` in `.streamlit/secrets.toml`.",
            icon=":material/lock_open:",
        )
        return True
    if st.session_state.get("teacher_unlocked"):
        st.success("Teacher key unlocked in this tab.", icon=":material/key:")
        if st.button("Lock again", key=f"{PREFIX}lock"):
            st.session_state["teacher_unlocked"] = False
            st.rerun()
        return True
    throttle = unlock_throttle()
    with st.form(f"{PREFIX}unlock"):
        typed = st.text_input("Teacher key", type="password", key=f"{PREFIX}typed_key")
        if st.form_submit_button("Unlock", icon=":material/key:"):
            wait = throttle.seconds_to_wait(session_id())
            if wait > 0:
                st.error(
                    f"Too many wrong keys: try again in {wait:.0f} s (each wrong key now "
                    "doubles the wait)."
                )
            elif teacher_key_matches(key, typed):
                throttle.right_key(session_id())
                st.session_state["teacher_unlocked"] = True
                st.rerun()
            else:
                throttle.wrong_key(session_id())
                st.error("That is not the teacher key. Type it again (it is case-sensitive).")
    st.caption("The key stays in this browser tab only: it never goes into a link.")
    return False


def teacher_key_set() -> bool:
    """Whether the server has a teacher key (an unusable one counts: it locks everything)."""
    try:
        return configured_teacher_key() is not None
    except TeacherKeyError:
        return True


def switch_class_mode() -> None:
    """on_change of the class-mode switch: set what this tab's switch now says (a change
    made here, never a value a stale tab held)."""
    from mnist_core.runs.classroom import set_class_mode

    set_class_mode(run_log(), bool(st.session_state[f"{PREFIX}mode"]))
    st.session_state[f"{PREFIX}mode_changed"] = True


def show_people() -> None:
    """Every name on this server with its last visit; release a name, merge two users."""
    users = user_directory().list_users()
    if not users:
        st.caption("Nobody has visited yet.")
        return
    st.dataframe(
        [
            {
                "name": user.name + (" (released)" if user.released else ""),
                "last seen": datetime.datetime.fromtimestamp(user.last_seen).strftime("%H:%M:%S"),
                "first seen": datetime.datetime.fromtimestamp(user.created_at).strftime(
                    "%d %b %H:%M"
                ),
            }
            for user in users
        ],
        hide_index=True,
        key=f"{PREFIX}people",
    )
    by_id = {user.id: user for user in users}

    def shown(user_id: str) -> str:
        user = by_id[user_id]
        return user.name + (" (released)" if user.released else "")

    left, right = st.columns([3, 1], vertical_alignment="bottom")
    chosen = left.selectbox(
        "Release a name (its runs and drawings stay, listed under it)",
        [user.id for user in users if not user.released],
        format_func=shown,
        key=f"{PREFIX}release_who",
    )
    if right.button("Release", key=f"{PREFIX}release") and chosen:
        user_directory().release(chosen)
        st.success(f"“{by_id[chosen].name}” is free for someone else now.")
    left, middle, right = st.columns([2, 2, 1], vertical_alignment="bottom")
    source = left.selectbox(
        "Merge this user…", list(by_id), format_func=shown, key=f"{PREFIX}merge_from"
    )
    target = middle.selectbox(
        "…into this one", list(by_id), format_func=shown, key=f"{PREFIX}merge_into"
    )
    if right.button("Merge", key=f"{PREFIX}merge"):
        from mnist_core.runs.people import merge_users

        try:
            moved = merge_users(run_log(), user_directory(), source, target)
        except ValueError as error:
            st.error(str(error))
        else:
            st.success(
                f"Merged “{by_id[source].name}” into “{by_id[target].name}”: {moved} run(s), "
                "drawings and saved models moved."
            )
