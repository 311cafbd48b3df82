"""runs.classroom: the teacher key fails closed, and wrong keys are throttled."""

from __future__ import annotations

import logging

import pytest

from mnist_core.runs.classroom import (
    TeacherKeyError,
    UnlockThrottle,
    configured_teacher_key,
    teacher_key_matches,
)


def secrets(tmp_path, text: str):
    path = tmp_path / "secrets.toml"
    path.write_text(text)
    return [path]


def test_no_key_at_all_is_the_single_user_mode(tmp_path):
    assert configured_teacher_key({}, [tmp_path / "absent.toml"]) is None


def test_a_key_from_the_file_or_the_environment(tmp_path):
    assert configured_teacher_key({}, secrets(tmp_path, 'teacher_key = " s3cret "')) == "s3cret"
    assert configured_teacher_key({"MNIST_TEACHER_KEY": "env"}, []) == "env"
    assert configured_teacher_key({}, secrets(tmp_path, "teacher_key = 4711")) == "4711"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('teacher_key = "unclosed', "cannot be read as TOML"),
        ("teacher_key = [1, 2]", "teacher_key in .* is list"),
        ("teacher_key = true", "is bool"),
        ('teacher_key = "  "', "is empty"),
    ],
)
def test_a_key_that_is_set_but_unusable_stops_the_server(tmp_path, text, message):
    with pytest.raises(TeacherKeyError, match=message) as refused:
        configured_teacher_key({}, secrets(tmp_path, text))
    assert "start the server again" in str(refused.value) or "Fix the file" in str(refused.value)


def test_an_empty_environment_key_is_refused_too():
    with pytest.raises(TeacherKeyError, match="MNIST_TEACHER_KEY is empty"):
        configured_teacher_key({"MNIST_TEACHER_KEY": " "}, [])


def test_the_key_is_compared_exactly():
    assert teacher_key_matches("4711", " 4711 ")
    assert not teacher_key_matches("4711", "4712") and not teacher_key_matches(None, "x")


def test_five_wrong_keys_a_minute_then_a_wait_that_doubles(caplog):
    throttle = UnlockThrottle(allowed=5, window_seconds=60, wait_seconds=30)
    with caplog.at_level(logging.WARNING):
        for second in range(4):
            throttle.wrong_key("tab", now=float(second))
            assert throttle.seconds_to_wait("tab", now=float(second)) == 0
        throttle.wrong_key("tab", now=4.0)
    assert throttle.seconds_to_wait("tab", now=4.0) == 30
    assert throttle.seconds_to_wait("another tab", now=4.0) == 0  # the server is not blocked
    throttle.wrong_key("tab", now=40.0)
    assert throttle.seconds_to_wait("tab", now=40.0) == 60  # doubled
    assert "wrong teacher key was typed" in caplog.text and "4711" not in caplog.text
    throttle.right_key("tab")
    assert throttle.seconds_to_wait("tab", now=41.0) == 0


def test_many_tabs_guessing_block_the_whole_server():
    throttle = UnlockThrottle(allowed=5, window_seconds=60, wait_seconds=30)
    for tab in range(30):
        throttle.wrong_key(f"tab {tab}", now=1.0)
    assert throttle.seconds_to_wait("a fresh tab", now=2.0) > 0
