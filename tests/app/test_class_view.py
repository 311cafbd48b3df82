"""The teacher's view of the class (Class page): who is here, the class board, suggestions to
everyone, the projector view, the lesson's record and clearing, each with and without the
teacher key."""

import pandas as pd
import pytest

from app_glue.class_board import NO_FINISHED_RUN
from mnist_core.modeling.presets import get_preset
from mnist_core.runs.class_settings import (
    BoardVisibility,
    current_suggestion,
    set_board_visibility,
    withdraw_suggestion,
)

KEY = "open-sesame"


@pytest.fixture
def teacher_key(monkeypatch):
    monkeypatch.setenv("MNIST_TEACHER_KEY", KEY)
    return KEY


@pytest.fixture
def class_with_runs(app_run_log, app_user_of, tiny_mnist, tiny_config, record_trained_run):
    """Two students with a finished run each (the board's rows)."""
    from mnist_core.training.train import train_model

    result = train_model(tiny_config, tiny_mnist)
    runs = {}
    for name in ("Board Ada", "Board Bo"):
        runs[name] = record_trained_run(app_run_log, result, user=app_user_of(name))
    yield runs
    for run in runs.values():
        app_run_log.delete_run(run.id)
    set_board_visibility(app_run_log, BoardVisibility())


def texts(at) -> str:
    return " ".join(
        [element.value for element in [*at.markdown, *at.caption, *at.info]]
        + [str(header.value) for header in at.header]
    )


def table(at, key):
    return next(frame.value for frame in at.dataframe if frame.proto.id and key in frame.proto.id)


def test_who_is_here_is_the_teachers_alone(open_page, teacher_key, class_with_runs):
    open_page("classroom", user="Board Newcomer")  # here, with no run yet
    student = open_page("classroom", user="Board Ada")
    assert "Who is here" not in texts(student)
    assert not any(frame.value.columns[0] == "name" for frame in student.dataframe)
    at = open_page("classroom", user="Board Teacher")
    at.session_state["teacher_unlocked"] = True
    at.run()
    assert "Who is here" in texts(at)
    present = next(frame.value for frame in at.dataframe if "last seen" in frame.value.columns)
    # The teacher's own browser is no student: left out, and the caption says so.
    assert "Board Teacher" not in set(present["name"])
    assert any(
        f"{len(present)} here in the last" in caption.value and "besides you" in caption.value
        for caption in at.caption
    )
    ada = present[present["name"] == "Board Ada"].iloc[0]
    assert ada["finished"] == 1 and ada["best test accuracy"] > 0.5
    assert set(present.columns) >= {"running", "waiting", "drawings", "shared"}
    # A student without a finished run reads words, not "None".
    frame = next(frame for frame in at.dataframe if "last seen" in frame.value.columns)
    newcomer = present[present["name"] == "Board Newcomer"].iloc[0]
    assert pd.isna(newcomer["best test accuracy"])
    assert frame.proto.placeholder == NO_FINISHED_RUN


def test_the_board_is_shown_to_students_only_when_the_teacher_says(
    open_page, teacher_key, class_with_runs
):
    student = open_page("classroom", user="Board Bo")
    assert "has not shown the class board" in texts(student)
    assert not any(toggle.key == "class_board_shown" for toggle in student.toggle)
    teacher = open_page("classroom", user="Board Teacher")
    teacher.session_state["teacher_unlocked"] = True
    teacher.run()
    board = next(frame.value for frame in teacher.dataframe if "network" in frame.value.columns)
    assert {"Board Ada", "Board Bo"} <= set(board["student"])
    teacher.toggle(key="class_board_shown").set_value(True).run()
    student.run()
    board = next(frame.value for frame in student.dataframe if "network" in frame.value.columns)
    shown = set(board["student"])
    assert "Board Ada" not in shown and any(name.endswith("(you)") for name in shown)
    assert all(name.startswith("student ") for name in shown)
    teacher.toggle(key="class_board_names").set_value(True).run()
    student.run()
    board = next(frame.value for frame in student.dataframe if "network" in frame.value.columns)
    assert "Board Ada" in set(board["student"]) and "Board Bo (you)" in set(board["student"])


def test_a_suggestion_reaches_the_train_page_and_loads_only_on_a_click(
    open_page, teacher_key, app_run_log
):
    withdraw_suggestion(app_run_log)
    student = open_page("train", user="Suggested Sam")
    assert not any(button.key == "train_suggestion_load" for button in student.button)
    teacher = open_page("classroom", user="Suggesting Teacher")
    assert not any(box.key == "class_suggest_what" for box in teacher.selectbox)
    teacher.session_state["teacher_unlocked"] = True
    teacher.run()
    teacher.selectbox(key="class_suggest_what").set_value("relu_784_128_adam").run()
    teacher.button(key="class_suggest").click().run()
    assert any("Suggested to everyone" in box.value for box in teacher.success)
    assert current_suggestion(app_run_log).preset == "relu_784_128_adam"
    student.run()  # the page's next refresh
    assert any("Your teacher suggests" in text.value for text in student.markdown)
    assert student.session_state["train_preset"] != "relu_784_128_adam"  # not without the click
    student.button(key="train_suggestion_load").click().run()
    assert student.session_state["train_preset"] == "relu_784_128_adam"
    assert student.session_state["train_num_hidden_layers"] == 2
    assert any("Loaded your teacher's suggestion" in c.value for c in student.caption)
    teacher.button(key="class_withdraw").click().run()
    assert current_suggestion(app_run_log) is None
    other = open_page("train", user="Suggested Sue")
    assert not any(button.key == "train_suggestion_load" for button in other.button)


def test_the_projector_view_needs_the_key_or_a_shown_board(
    open_page, teacher_key, class_with_runs, app_run_log
):
    at = open_page("classroom", user="Projector Pat", query={"view": "projector"})
    assert any("has not shown the class board" in box.value for box in at.info)
    set_board_visibility(app_run_log, BoardVisibility(shown=True, names=False))
    at.run()
    shown = " ".join(element.proto.body for element in at.get("html"))
    assert "student 1" in shown and "Board Ada" not in shown
    at.session_state["teacher_unlocked"] = True
    at.run()
    shown = " ".join(element.proto.body for element in at.get("html"))
    assert "Board Ada" in shown and "Board Bo" in shown


def test_the_projector_charts_text_is_large():
    from app_glue.class_projector import CHART_FONT, curves_spec

    spec = curves_spec([{"epoch": 1, "accuracy": 0.9, "student": "a"}], ["a"])
    config = spec["config"]
    sizes = [
        config["axis"]["labelFontSize"],
        config["axis"]["titleFontSize"],
        config["legend"]["labelFontSize"],
        config["title"]["fontSize"],
        spec["encoding"]["x"]["axis"]["labelFontSize"],
        spec["encoding"]["y"]["axis"]["labelFontSize"],
        spec["encoding"]["color"]["legend"]["labelFontSize"],
    ]
    assert min(sizes) >= 20 and CHART_FONT >= 20
    # A 40-character name is cut in the legend ("…"), not drawn over the board beside it.
    assert config["legend"]["labelLimit"] <= 300


def test_the_record_and_clearing_need_the_key(
    open_page, teacher_key, app_run_log, app_user_of, share_class_drawings
):
    from mnist_core.runs.request import RunRequest, queue_runs

    clearer = app_user_of("Clear Carl")
    share_class_drawings(app_run_log.path, [clearer.id], per_digit=1)
    (run,) = queue_runs(app_run_log, [RunRequest(get_preset("dense_fast").config)], user=clearer)
    app_run_log.cancel_run(run.id, "ended")
    at = open_page("classroom", user="Clear Carl")
    assert not any(button.key == "class_clear_data" for button in at.button)
    assert not at.get("download_button")
    at.session_state["teacher_unlocked"] = True
    at.run()
    assert any(button.key == "class_record_csv" for button in at.get("download_button"))
    assert at.button(key="class_clear_data").disabled
    at.checkbox(key="class_confirm_clear_data").check().run()
    at.button(key="class_clear_data").click().run()
    assert any("Deleted" in box.value and "name(s)" in box.value for box in at.success)
    assert all(r.id != run.id for r in app_run_log.list_runs(include_hidden=True))
    from mnist_core.data.class_drawings import ClassDrawings
    from mnist_core.data.drawings import DrawingStore

    assert ClassDrawings(DrawingStore(app_run_log.path)).list_drawings() == []
