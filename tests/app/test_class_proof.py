"""A class that behaves like a class (AppTest): one name a person, the line's rules, limits
said in a sentence, the teacher key failing closed and throttled, class mode from two tabs."""

from __future__ import annotations

import time

import pytest

from mnist_core.engine.engine import LINE_SNAPSHOT_SECONDS
from mnist_core.modeling.presets import get_preset
from mnist_core.runs.classroom import class_mode_on, set_class_mode

KEY = "open-sesame"


@pytest.fixture
def teacher_key(monkeypatch):
    monkeypatch.setenv("MNIST_TEACHER_KEY", KEY)
    return KEY


def sidebar_errors(at) -> str:
    return " ".join(error.value for error in at.sidebar.error)


def test_a_classmates_name_is_refused_and_the_link_cannot_make_you_them(open_page, new_app):
    alice = open_page(user="alice the first")
    mallory = open_page(user="mallory")
    for typed in ("Alice The First", "ALICE THE FIRST", "аlice the first"):  # Cyrillic а
        mallory.text_input(key="user_name_field").input(typed).run()
        assert "is taken on this server: choose another name" in sidebar_errors(mallory)
        assert mallory.session_state["user"].name == "mallory"
    link = new_app()
    link.query_params["user"] = "alice the first"
    link.run()
    assert link.session_state["user"].name != "alice the first"
    assert link.session_state["user"].id != alice.session_state["user"].id


def test_a_device_code_moves_a_name_to_another_browser_once(open_page, new_app):
    phone = open_page(user="bo on two devices")
    phone.button(key="user_make_code").click().run()
    code = phone.session_state["user_device_code_made"]
    laptop = new_app()
    laptop.query_params["device"] = code
    laptop.run()
    assert laptop.session_state["user"].id == phone.session_state["user"].id
    assert laptop.session_state["user"].name == "bo on two devices"
    again = new_app()
    again.query_params["device"] = code
    again.run()
    assert again.session_state["user"].id != phone.session_state["user"].id
    assert "already used" in sidebar_errors(again)


@pytest.mark.cluster
def test_pressing_train_ten_times_queues_one_running_and_one_waiting(open_page, app_run_log):
    at = open_page("train", user="presses a lot")
    at.selectbox(key="train_preset").set_value("relu_512_sparse_rmsprop").run()
    at.select_slider(key="train_epochs").set_value(200).run()
    for _ in range(10):
        at.button(key="train_start").click().run()
    mine = [run for run in app_run_log.active_runs() if run.owned_by(at.session_state["user"])]
    try:
        assert len(mine) == 2
        assert any("already waiting" in warning.value for warning in at.warning)
    finally:
        for run in mine:
            app_run_log.cancel_run(run.id, "test over") or app_run_log.request_stop(run.id)


@pytest.mark.cluster
def test_a_huge_network_by_link_is_refused_with_what_to_change(
    train_page_in_class_mode, app_run_log
):
    at = train_page_in_class_mode(preset="cnn_fast", layer_sizes="2048,2048")
    before = len(app_run_log.active_runs())
    at.button(key="train_start").click().run()
    refusal = " ".join(warning.value for warning in at.warning)
    assert "too costly to train in class mode" in refusal and "it would fit" in refusal
    assert len(app_run_log.active_runs()) == before


def test_an_unusable_key_locks_everything_and_says_why(open_page, tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_TEACHER_KEY", raising=False)
    secrets = tmp_path / ".streamlit"
    secrets.mkdir()
    (secrets / "secrets.toml").write_text('teacher_key = "unclosed\n')
    monkeypatch.chdir(tmp_path)
    at = open_page("classroom")
    assert any("set but cannot be used" in error.value for error in at.error)
    assert at.toggle(key="class_mode").disabled


def test_wrong_keys_are_throttled(open_page, teacher_key):
    at = open_page("classroom", user="guesser")
    for attempt in range(6):
        at.text_input(key="class_typed_key").input(f"guess {attempt}")
        at.button[0].click().run()
    assert any("Too many wrong keys" in error.value for error in at.error)
    at.text_input(key="class_typed_key").input(KEY)
    at.button[0].click().run()
    assert not at.session_state.get("teacher_unlocked")  # still waiting, even with the key


def test_class_mode_from_a_stale_tab_acts_on_the_change_made_there(open_page, app_run_log):
    set_class_mode(app_run_log, False)
    first = open_page("classroom", user="teacher tab one")
    second = open_page("classroom", user="teacher tab two")
    first.toggle(key="class_mode").set_value(True).run()
    assert class_mode_on(app_run_log)
    second.run()  # a refresh of the other tab shows the server's value, then nothing changes
    assert class_mode_on(app_run_log) and second.toggle(key="class_mode").value
    second.toggle(key="class_mode").set_value(False).run()
    assert not class_mode_on(app_run_log)
    first.run()
    assert not first.toggle(key="class_mode").value and not class_mode_on(app_run_log)


@pytest.mark.cluster
def test_the_teacher_cancels_every_waiting_run_at_once(open_page, app_run_log):
    from mnist_core.runs.log import this_process_engine

    engine = this_process_engine()  # another live engine: nobody here starts them
    app_run_log.heartbeat(engine)
    config = get_preset("dense_fast").config
    waiting = [
        app_run_log.create_run(config, user=f"waiting pupil {number}", engine=engine)
        for number in range(3)
    ]
    time.sleep(LINE_SNAPSHOT_SECONDS)  # runs put in the log directly: the line sees them
    at = open_page("classroom", user="the teacher")
    at.button(key="class_cancel_waiting").click().run()
    assert all(app_run_log.get_run(run.id).status == "stopped" for run in waiting)
    assert "teacher" in app_run_log.get_run(waiting[0].id).reason
