"""Runs on the class's own digits: exactly which drawings a run records and trains on, the class
board, the teacher's suggestion, the lesson's record and clearing, the lesson "Our own digits"."""

import csv
import io
import time

import numpy as np
import pytest

from mnist_core.data.class_drawings import ClassDrawings
from mnist_core.data.class_split import held_out_writers
from mnist_core.data.drawings import DrawingStore
from mnist_core.modeling.presets import get_preset
from mnist_core.runs.class_board import board_curves, board_names, class_board, present_students
from mnist_core.runs.class_data import class_task_data, recorded_drawings
from mnist_core.runs.class_record import class_runs_csv, clear_class_data
from mnist_core.runs.class_settings import (
    BoardVisibility,
    board_visibility,
    current_suggestion,
    set_board_visibility,
    suggest,
    withdraw_suggestion,
)
from mnist_core.runs.classroom import set_class_mode
from mnist_core.runs.limits import RunRefused
from mnist_core.runs.log import RunLog
from mnist_core.runs.request import RunRequest, queue_runs
from mnist_core.runs.users import User, UserDirectory
from mnist_core.teaching.class_lesson import (
    LESSON_NAME,
    lesson_conclusions,
    lesson_requests,
    lesson_table,
)
from mnist_core.teaching.conclusions import compared_lesson
from mnist_core.training.class_digits import ClassDigits

WRITERS = ["ada", "bo", "cy", "dee", "eve"]
CONFIG = get_preset("dense_fast").config


@pytest.fixture
def run_log(tmp_path):
    return RunLog(tmp_path / "runs.sqlite3")


@pytest.fixture
def shared(run_log, share_class_drawings):
    """Five students share 3 drawings of every digit; the teacher removes one of ada's."""
    made = share_class_drawings(run_log.path, WRITERS, per_digit=3)
    ClassDrawings(DrawingStore(run_log.path)).remove("ada", made["ada"][0], removed_by="teacher")
    return made


def test_a_run_records_exactly_the_shared_drawings_not_removed(run_log, shared):
    (run,) = queue_runs(run_log, [RunRequest(CONFIG.replace(dataset="mnist_and_class"))], user="u")
    spec = recorded_drawings(run_log, run.id)
    expected = {(w, d) for w, ids in shared.items() for d in ids} - {("ada", shared["ada"][0])}
    assert {(d.writer_id, d.drawing_id) for d in spec.drawings} == expected
    held = held_out_writers(WRITERS)
    assert {d.writer_id for d in spec.part("test")} == held
    assert not {d.writer_id for d in spec.part("train")} & held
    assert run.class_data == spec.summary()
    assert run.class_data["training_drawings"] + run.class_data["test_drawings"] == 149
    # Unsharing or removing later changes nothing for this run.
    ClassDrawings(DrawingStore(run_log.path)).set_sharing("bo", False)
    assert recorded_drawings(run_log, run.id) == spec


def test_no_held_out_writers_drawing_travels_in_the_training_part(run_log, shared):
    (run,) = queue_runs(run_log, [RunRequest(CONFIG.replace(dataset="class_digits"))], user="u")
    digits = ClassDigits.from_dict(class_task_data(run_log, run.id))
    store = DrawingStore(run_log.path)
    held = held_out_writers(WRITERS)
    held_pixels = {
        drawing.image.tobytes() for writer in held for drawing in store.list_drawings(writer)
    }
    assert held_pixels and digits.test_writers == len(held)
    assert not {image.tobytes() for image in digits.train_images} & held_pixels
    assert {image.tobytes() for image in digits.test_images} == held_pixels
    assert digits.train_images.dtype == np.uint8 and len(digits.train_labels) == 119


def test_a_run_on_mnist_records_the_test_part_only_and_a_lesson_shares_one_split(run_log, shared):
    runs = queue_runs(run_log, lesson_requests(), user="u")
    specs = [recorded_drawings(run_log, run.id) for run in runs]
    assert [run.config.dataset for run in runs] == ["mnist", "class_digits", "mnist_and_class"]
    assert {d.part for d in specs[0].drawings} == {"test"}
    assert specs[0].part("test") == specs[1].part("test") == specs[2].part("test")
    assert specs[1] == specs[2]
    assert all(run.lesson == LESSON_NAME for run in runs)


def test_too_few_class_drawings_refuse_the_run_and_say_what_is_missing(run_log):
    with pytest.raises(RunRefused, match="more must share"):
        queue_runs(run_log, [RunRequest(CONFIG.replace(dataset="class_digits"))], user="u")
    assert run_log.list_runs() == []


def test_a_drawing_deleted_before_the_run_starts_is_named_not_trained_around(run_log, shared):
    (run,) = queue_runs(run_log, [RunRequest(CONFIG.replace(dataset="mnist_and_class"))], user="u")
    DrawingStore(run_log.path).delete_drawing("bo", shared["bo"][3])
    with pytest.raises(ValueError, match="1 of the 149 class drawings"):
        class_task_data(run_log, run.id)


def test_a_worker_trains_on_mnist_and_the_class_and_scores_the_held_out_writers(
    run_log, shared, tiny_config, mnist
):
    from mnist_core.engine.worker import train_here
    from mnist_core.training.progress import TrainingObserver

    config = tiny_config.replace(dataset="mnist_and_class")
    (run,) = queue_runs(run_log, [RunRequest(config, training_images=600)], user="u")
    ending = train_here(
        config, mnist, 600, TrainingObserver(), class_digits=class_task_data(run_log, run.id)
    )
    assert ending.status == "finished"
    figures = ending.metrics["class_digits"]
    assert figures["test_count"] == 30 and figures["test_writers"] == 1
    assert 0 <= figures["test_correct"] <= 30 and 0.0 <= figures["test_accuracy"] <= 1.0
    assert figures["training_drawings"] == 119 and figures["drawing_copies"] >= 1
    # Scored on MNIST's whole test set, whatever it trained on.
    assert ending.metrics["training_images_used"] > 540
    assert ending.metrics["test_accuracy"] > 0.5


def test_the_board_and_who_is_here_come_from_a_few_queries(
    run_log, tiny_mnist, tiny_config, record_trained_run, share_class_drawings
):
    from mnist_core.training.train import train_model

    users = UserDirectory(run_log.database)
    ada, bo = (
        users.claim_name(user_id, name) for user_id, name in (("id-a", "Ada"), ("id-b", "Bo"))
    )
    result = train_model(tiny_config, tiny_mnist)
    first = record_trained_run(run_log, result, user=ada)
    record_trained_run(run_log, result, user=bo)
    share_class_drawings(run_log.path, [ada.id], per_digit=1)
    run_log.create_run(tiny_config, user=ada)  # waiting
    here = {person.name: person for person in present_students(run_log)}
    assert here["Ada"].finished == 1 and here["Ada"].waiting == 1 and here["Ada"].drawings == 10
    assert here["Ada"].sharing and not here["Bo"].sharing
    assert here["Ada"].best_test_accuracy == pytest.approx(first.test_accuracy)
    # The teacher looking is no student: their own browser is left out.
    assert [person.name for person in present_students(run_log, viewer_id=ada.id)] == ["Bo"]
    board = class_board(run_log)
    assert [entry.name for entry in board] in (["Ada", "Bo"], ["Bo", "Ada"])
    assert board[0].rank == 1 and board[0].network == "softmax regression"
    assert board[0].parameter_count == 7850
    shown = board_names(board, names=False, viewer_id=ada.id)
    assert sorted(shown.values()) in (
        ["student 1 (you)", "student 2"],
        ["student 1", "student 2 (you)"],
    )
    curves = board_curves(run_log, [first.id])
    assert [row["epoch"] for row in curves] == [1, 2]


def test_a_suggestion_is_made_read_and_withdrawn(run_log):
    assert current_suggestion(run_log) is None
    made = suggest(run_log, get_preset("cnn_fast").config, "cnn_fast", 10000)
    read = current_suggestion(run_log)
    assert read == made and "cnn_fast (cnn 16-32-64 k3 + 128), 1 epoch" in read.describe()
    assert "10,000 training images of MNIST" in read.describe()
    with pytest.raises(ValueError, match="training_images"):
        suggest(run_log, CONFIG, "custom", 1234)
    # Class mode on: a suggestion is held to its caps when made, and one made before when read.
    big = suggest(run_log, CONFIG.replace(epochs=8), "dense_fast", 60000)
    assert big.training_images == 60000
    set_class_mode(run_log, True)
    read = current_suggestion(run_log)
    assert (read.config.epochs, read.training_images) == (3, 10000) and read.id == big.id
    assert "3 epochs" in read.describe() and "10,000 training images" in read.describe()
    made = suggest(run_log, CONFIG.replace(epochs=8), "dense_fast", 30000)
    assert (made.config.epochs, made.training_images) == (3, 10000)
    assert current_suggestion(run_log) == made
    small = suggest(run_log, CONFIG.replace(epochs=2), "dense_fast", 1000)
    assert (small.config.epochs, small.training_images) == (2, 1000)
    set_class_mode(run_log, False)
    withdraw_suggestion(run_log)
    assert current_suggestion(run_log) is None
    assert board_visibility(run_log) == BoardVisibility(shown=False, names=False)
    set_board_visibility(run_log, BoardVisibility(shown=True, names=False))
    assert board_visibility(run_log).shown


def test_the_record_is_a_row_a_run_and_clearing_forgets_the_class(
    run_log, shared, tiny_mnist, tiny_config, record_trained_run
):
    from mnist_core.training.train import train_model

    users = UserDirectory(run_log.database)
    ada = users.claim_name("id-a", "Ada")
    record_trained_run(run_log, train_model(tiny_config, tiny_mnist), user=ada)
    queue_runs(run_log, [RunRequest(CONFIG)], user=User("id-b", "Bo"))
    record_trained_run(run_log, train_model(tiny_config, tiny_mnist), user="cli")
    rows = list(csv.DictReader(io.StringIO(class_runs_csv(run_log))))
    assert {row["student"] for row in rows} == {"Ada", "Bo"}
    assert rows[0]["optimizer"] and rows[0]["layer_sizes"] is not None
    assert {"test_accuracy", "class_test_accuracy", "dataset", "epochs"} <= set(rows[0])
    suggest(run_log, CONFIG, "dense_fast", 10000)
    cleared = clear_class_data(run_log)
    assert cleared.runs == 2 and cleared.drawings == 150 and cleared.names == 1
    assert [run.user for run in run_log.list_runs(include_hidden=True)] == ["cli"]
    assert ClassDrawings(DrawingStore(run_log.path)).list_drawings() == []
    assert users.list_users() == [] and current_suggestion(run_log) is None


def _finished(label, dataset, mnist, classmates, correct, count=40):
    from mnist_core.runs.record import Run

    run = Run.unrecorded(label, CONFIG.replace(dataset=dataset), user="u")
    return Run(
        **{
            **run.__dict__,
            "lesson": LESSON_NAME,
            "request_id": "one-click",  # the lesson's three runs are one request
            "label": label,
            "status": "finished",
            "created_at": time.time(),
            # Every epoch done: a run that ended short is never marked best.
            "history": tuple({"epoch": epoch} for epoch in range(1, CONFIG.epochs + 1)),
            "metrics": {
                "test_accuracy": mnist,
                "class_digits": {
                    "test_accuracy": classmates,
                    "test_correct": correct,
                    "test_count": count,
                    "test_writers": 2,
                },
            },
        }
    )


def test_the_lessons_conclusions_are_computed_from_its_numbers():
    runs = [
        _finished("MNIST alone", "mnist", 0.99, 0.725, 29),
        _finished("our digits alone", "class_digits", 0.80, 0.85, 34),
        _finished("MNIST + our digits", "mnist_and_class", 0.988, 0.95, 38),
    ]
    table = lesson_table(runs)
    assert [(row.label, row.mnist, row.classmates) for row in table] == [
        ("MNIST alone", 0.99, 0.725),
        ("our digits alone", 0.80, 0.85),
        ("MNIST + our digits", 0.988, 0.95),
    ]
    text = " ".join(lesson_conclusions(runs))
    assert " ".join(compared_lesson(runs).sentences) == text  # the Compare page's conclusion
    assert "reads our 2 held-out classmates at 72.5% (29 of 40 drawings)" in text
    assert "MNIST's own test digits at 99.0%" in text
    assert "reading our classmates rises to 95.0% (+22.5 points)" in text
    assert "while MNIST stays at 98.8%" in text
    assert "MNIST + our digits reads our classmates best, 10.0 points ahead" in text
    # Other numbers, other sentences.
    runs[2] = _finished("MNIST + our digits", "mnist_and_class", 0.95, 0.70, 28)
    text = " ".join(lesson_conclusions(runs))
    # 2.5 points on 40 drawings is one drawing: chance, not a change.
    assert "reading our classmates stays at 70.0%" in text
    assert "MNIST drops to 95.0% (−4.0 points)" in text
    assert "Our digits alone reads our classmates best, 12.5 points ahead of MNIST alone" in text
    runs[2] = _finished("MNIST + our digits", "mnist_and_class", 0.99, 0.875, 35)
    text = " ".join(lesson_conclusions(runs))
    assert (
        "MNIST + our digits and our digits alone read our classmates about as well "
        "(87.5% and 85.0%, 1 drawing apart of 40): too close to call" in text
    )
    assert lesson_conclusions([]) == ["No run of this lesson has been recorded yet."]
    assert "ticked now: 2 of its runs" in compared_lesson(runs[:2]).why_none


def test_merging_two_users_carries_their_sharing(run_log, share_class_drawings):
    from mnist_core.runs.people import merge_users

    users = UserDirectory(run_log.database)
    users.claim_name("id-a", "Ada")
    users.claim_name("id-b", "Ada two")
    share_class_drawings(run_log.path, ["id-a"], per_digit=1)
    merge_users(run_log, users, "id-a", "id-b")
    class_drawings = ClassDrawings(DrawingStore(run_log.path))
    assert class_drawings.is_sharing("id-b") and not class_drawings.is_sharing("id-a")
    assert {d.writer_id for d in class_drawings.list_drawings()} == {"id-b"}


def test_the_command_line_exports_the_class_as_mnist_npz(
    tmp_path, monkeypatch, share_class_drawings, capsys
):
    from mnist_core.cli import main

    database = tmp_path / "runs.sqlite3"
    monkeypatch.setenv("MNIST_RUNS_DB", str(database))
    assert main(["drawings", "export", "--class", "--npz", str(tmp_path / "c.npz")]) == 2
    assert "no drawings are shared" in capsys.readouterr().err
    share_class_drawings(database, WRITERS, per_digit=1)
    npz, archive = tmp_path / "class.npz", tmp_path / "class.zip"
    assert main(["drawings", "export", "--class", "--npz", str(npz), "--zip", str(archive)]) == 0
    with np.load(npz) as data:
        assert data["x_train"].shape == (40, 28, 28) and data["x_test"].dtype == np.uint8
    assert archive.stat().st_size > 0
    assert main(["drawings"]) == 0
    shown = capsys.readouterr().out
    assert "student 01" in shown and "Ready:" in shown


def test_a_model_of_the_class_digits_is_a_model_of_digits_elsewhere(
    run_log, shared, capsys, monkeypatch
):
    from mnist_core.cli import main
    from mnist_core.teaching.compare import side_by_side_metrics
    from mnist_core.training.finetune import finetune_config

    # Fine-tuning starts from it like from any model of digits.
    assert finetune_config(CONFIG.replace(dataset="mnist_and_class")).dataset == "mnist"
    # Compare and `runs show` name its score on the held-out classmates.
    runs = [
        _finished("MNIST alone", "mnist", 0.99, 0.7, 28),
        _finished("MNIST + our digits", "mnist_and_class", 0.98, 0.9, 36),
    ]
    rows = {row.metric: row for row in side_by_side_metrics(runs)}
    assert rows["our held-out classmates"].values == ("70.00%", "90.00%")
    assert rows["our held-out classmates"].best == 1
    monkeypatch.setenv("MNIST_RUNS_DB", str(run_log.path))
    (run,) = queue_runs(run_log, [RunRequest(CONFIG.replace(dataset="mnist_and_class"))], user="u")
    assert main(["runs", "show", run.id]) == 0
    shown = capsys.readouterr().out
    assert (
        "mnist_and_class" in shown and "119 of 4 students to learn from, 30 of 1 held out" in shown
    )
