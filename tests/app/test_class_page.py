"""The Class page: every action the teacher key guards is refused without it, allowed with it."""

import json
import time
from pathlib import Path

import pytest

from mnist_core.engine.engine import LINE_SNAPSHOT_SECONDS
from mnist_core.modeling.presets import get_preset
from mnist_core.runs.classroom import (
    class_mode_on,
    set_class_mode,
)
from mnist_core.runs.log import this_process_engine

KEY = "open-sesame"
CONFIG = get_preset("dense_fast").config


@pytest.fixture
def class_page(open_page):
    def class_page(user: str = "pupil"):
        return open_page("classroom", user=user)

    return class_page


@pytest.fixture
def teacher_key(monkeypatch):
    monkeypatch.setenv("MNIST_TEACHER_KEY", KEY)
    return KEY


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_MODELS_DIR", str(tmp_path))
    return tmp_path


def save_fake_model(models_dir: Path, name: str, owner: str | None) -> None:
    """A stored entry whose sidecar names its owner (the page only reads the sidecar)."""
    from mnist_core.base.keras_import import import_keras
    from mnist_core.modeling.build import build_model
    from mnist_core.runs.record import Run
    from mnist_core.runs.saved_models import save_run_model
    from mnist_core.runs.users import as_user

    import_keras()
    tiny = CONFIG.replace(layer_sizes=(4,), layer_activations=("relu",), layer_dropout_rates=(0.0,))
    saved_by = as_user(owner) if owner else None
    run = Run.unrecorded("fake", tiny, user=owner or "cli")
    save_run_model(build_model(tiny), run, name, saved_by=saved_by, models_dir=models_dir)


def test_without_the_key_class_mode_cannot_be_switched(class_page, teacher_key, app_run_log):
    set_class_mode(app_run_log, False)
    at = class_page()
    assert at.toggle(key="class_mode").disabled
    assert any("Unlock with the teacher key" in caption.value for caption in at.caption)


def test_a_wrong_key_is_refused_and_the_right_one_unlocks(class_page, teacher_key, app_run_log):
    at = class_page()
    at.text_input(key="class_typed_key").input("guess")
    at.button[0].click().run()
    assert any("not the teacher key" in error.value for error in at.error)
    assert not at.session_state["teacher_unlocked"]
    at.text_input(key="class_typed_key").input(KEY)
    at.button[0].click().run()
    assert at.session_state["teacher_unlocked"]
    assert not at.toggle(key="class_mode").disabled
    assert at.select_slider(key="class_suggest_images").options[-1] == "60,000"
    at.toggle(key="class_mode").set_value(True).run()
    assert class_mode_on(app_run_log)
    # No more training images to suggest than class mode lets a student train.
    assert at.select_slider(key="class_suggest_images").options[-1] == "10,000"
    at.toggle(key="class_mode").set_value(False).run()
    assert not class_mode_on(app_run_log)
    # The key is never put in the URL.
    assert KEY not in json.dumps(dict(at.query_params))


def test_only_the_teacher_sees_names_and_cancels_other_peoples_runs(
    class_page, teacher_key, app_run_log
):
    # Queued by another live server (this test's process), so nobody here starts it.
    engine = this_process_engine()
    app_run_log.heartbeat(engine)
    queued = app_run_log.create_run(CONFIG, user="someone_else", engine=engine)
    time.sleep(LINE_SNAPSHOT_SECONDS)  # runs put in the log directly: the line sees them
    try:
        at = class_page()
        line = next(frame.value for frame in at.dataframe if "who" in frame.value.columns)
        assert "someone_else" not in set(line["who"]) and "a classmate" in set(line["who"])
        assert not any(button.key == f"class_cancel_{queued.id}" for button in at.button)
        assert not any(box.key == "class_cancel_which" for box in at.selectbox)
        at.session_state["teacher_unlocked"] = True
        at.run()
        line = next(frame.value for frame in at.dataframe if "who" in frame.value.columns)
        assert "someone_else" in set(line["who"])
        at.selectbox(key="class_cancel_which").set_value(queued.id).run()
        at.button(key="class_cancel_chosen").click().run()
        assert not at.exception
        assert app_run_log.get_run(queued.id).status == "stopped"
    finally:
        app_run_log.cancel_run(queued.id, "test over")


def test_clearing_the_class_runs_needs_the_key(class_page, teacher_key, app_run_log):
    run = app_run_log.create_run(CONFIG, user="pupil2")
    app_run_log.cancel_run(run.id, "ended")
    at = class_page()
    assert not any(button.key == "class_clear" for button in at.button)
    at.session_state["teacher_unlocked"] = True
    at.run()
    at.checkbox(key="class_confirm_clear").check().run()
    at.button(key="class_clear").click().run()
    assert not at.exception
    assert all(r.id != run.id for r in app_run_log.list_runs(include_hidden=True))


def test_deleting_another_users_model_needs_the_key_and_default_never_goes(
    class_page, teacher_key, models_dir
):
    save_fake_model(models_dir, "theirs", owner="someone_else")
    save_fake_model(models_dir, "default", owner=None)
    at = class_page()
    at.selectbox(key="class_delete_name").set_value("theirs").run()
    at.button(key="class_delete").click().run()
    assert any("only they or the teacher can delete it" in error.value for error in at.error)
    assert (models_dir / "theirs.keras").exists()
    at.session_state["teacher_unlocked"] = True
    at.run()
    at.selectbox(key="class_delete_name").set_value("default").run()
    at.button(key="class_delete").click().run()
    assert any(
        "cannot be deleted from the app. Pick one of your own" in error.value for error in at.error
    )
    assert (models_dir / "default.keras").exists()
    at.selectbox(key="class_delete_name").set_value("theirs").run()
    at.button(key="class_delete").click().run()
    assert not (models_dir / "theirs.keras").exists()


def test_with_no_key_set_everything_is_open_and_the_page_says_so(
    class_page, monkeypatch, app_run_log
):
    monkeypatch.delenv("MNIST_TEACHER_KEY", raising=False)
    set_class_mode(app_run_log, False)
    at = class_page()
    assert any("No teacher key is set" in box.value for box in at.info)
    at.toggle(key="class_mode").set_value(True).run()
    assert class_mode_on(app_run_log)
    assert any("no teacher key is set" in box.value for box in at.warning)
    at.toggle(key="class_mode").set_value(False).run()
    assert not class_mode_on(app_run_log)
