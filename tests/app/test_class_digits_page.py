"""The class's own digits in the app: sharing (off by default), the Our digits page's counts,
grids and removals (the teacher any drawing, a student their own), the Train page's dataset
choice, and the lesson's table and conclusions."""

import time

import pytest

from mnist_core.data.class_drawings import ClassDrawings
from mnist_core.data.drawings import DrawingStore
from mnist_core.modeling.presets import get_preset
from mnist_core.teaching.class_lesson import LESSON_NAME, RUNS

KEY = "open-sesame"


@pytest.fixture
def teacher_key(monkeypatch):
    monkeypatch.setenv("MNIST_TEACHER_KEY", KEY)
    return KEY


@pytest.fixture
def class_drawings(app_run_log):
    drawings = ClassDrawings(DrawingStore(app_run_log.path))
    yield drawings
    for writer in drawings.sharing_users():
        drawings.set_sharing(writer, False)


def test_sharing_is_off_until_the_student_switches_it_on(open_page, app_user_of, class_drawings):
    at = open_page("teach", user="Sharing Sid")
    assert at.toggle(key="teach_share").value is False
    at.toggle(key="teach_share").set_value(True).run()
    assert class_drawings.is_sharing(app_user_of("Sharing Sid").id)
    page = open_page("class_digits", user="Sharing Sid")
    assert page.toggle(key="digits_share").value is True
    page.toggle(key="digits_share").set_value(False).run()
    assert not class_drawings.is_sharing(app_user_of("Sharing Sid").id)
    assert any("no longer shared" in box.value for box in page.success)


def test_students_see_pseudonyms_and_remove_only_their_own(
    open_page, app_user_of, app_run_log, class_drawings, share_class_drawings, teacher_key
):
    ids = {name: app_user_of(name).id for name in ("Digit Ann", "Digit Ben", "Digit Cat")}
    made = share_class_drawings(app_run_log.path, list(ids.values()), per_digit=1, start=40)
    at = open_page("class_digits", user="Digit Ann")
    students = next(f.value for f in at.dataframe if "part" in f.value.columns)
    assert "you" in set(students["student"]) and "Digit Ben" not in set(students["student"])
    assert at.get("imgs") or at.get("image")  # the grids
    assert at.selectbox(key="digits_remove_writer").disabled
    at.selectbox(key="digits_remove_digit").set_value(3).run()
    own = made[ids["Digit Ann"]][3]  # per_digit=1: the 4th drawing is the 3
    at.button(key=f"digits_remove_button_{ids['Digit Ann']}_{own}").click().run()
    assert any("Removed from the class's digits" in box.value for box in at.success)
    assert (ids["Digit Ann"], own) not in {d.key for d in class_drawings.list_drawings()}
    assert not any(
        button.key.startswith(f"digits_remove_button_{ids['Digit Ben']}") for button in at.button
    )
    # The teacher sees names and removes anyone's.
    at.session_state["teacher_unlocked"] = True
    at.run()
    students = next(f.value for f in at.dataframe if "part" in f.value.columns)
    assert {"Digit Ben", "Digit Cat"} <= set(students["student"])
    at.selectbox(key="digits_remove_writer").set_value(ids["Digit Ben"]).run()
    theirs = made[ids["Digit Ben"]][3]
    at.button(key=f"digits_remove_button_{ids['Digit Ben']}_{theirs}").click().run()
    assert (ids["Digit Ben"], theirs) not in {d.key for d in class_drawings.list_drawings()}
    at.button(key=f"digits_restore_button_{ids['Digit Ben']}_{theirs}").click().run()
    assert (ids["Digit Ben"], theirs) in {d.key for d in class_drawings.list_drawings()}


def test_the_train_page_offers_the_class_digits_and_says_what_is_missing(open_page, class_drawings):
    at = open_page("train", user="Train Tess")
    options = at.selectbox(key="train_dataset").options
    assert "MNIST + our class's digits" in options and "our class's digits" in options
    at.selectbox(key="train_dataset").set_value("class_digits").run()
    assert any("too few to train on" in box.value for box in at.warning)
    assert at.button(key="train_start").disabled


def test_the_lesson_shows_its_table_and_conclusions_from_its_numbers(
    open_page, app_user_of, app_run_log
):
    user = app_user_of("Lesson Lou")
    figures = {
        "MNIST alone": (0.98, 0.7),
        "our digits alone": (0.8, 0.85),
        "MNIST + our digits": (0.97, 0.9),
    }
    request = None
    for label, dataset in RUNS:
        run = app_run_log.create_run(
            get_preset("cnn_fast").config.replace(dataset=dataset),
            user=user,
            lesson=LESSON_NAME,
            label=label,
            request_id=request,
        )
        request = run.request_id
        app_run_log.mark_running(run.id)
        mnist, classmates = figures[label]
        app_run_log.finish_run(
            run.id,
            "finished",
            metrics={
                "test_accuracy": mnist,
                "class_digits": {
                    "test_accuracy": classmates,
                    "test_correct": int(classmates * 20),
                    "test_count": 20,
                    "test_writers": 2,
                },
            },
        )
        time.sleep(0.01)
    at = open_page("class_digits", user="Lesson Lou")
    lesson = next(f.value for f in at.dataframe if "trained on" in f.value.columns)
    assert list(lesson["trained on"]) == [label for label, _ in RUNS]
    assert list(lesson.iloc[:, 1]) == [0.98, 0.8, 0.97]
    said = " ".join(item.value for item in at.markdown)
    assert "reading our classmates rises to 90.0% (+20.0 points)" in said
    assert "MNIST drops to 97.0% (−1.0 point)" in said
