"""Tests of mnist_core.teaching.lessons: the lessons' runs, and sentences computed from results.

The conclusions are checked on runs recorded in a temporary log with known figures, so each
sentence is known exactly; one test submits a lesson (shrunk to a few hundred images) to the
real engine on a real two-worker Dask cluster.
"""

import dataclasses
import time

import pytest

from mnist_core.modeling.presets import get_preset
from mnist_core.modeling.summary import count_parameters
from mnist_core.runs.log import RunLog
from mnist_core.runs.record import (
    DIVERGED,
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    STOPPED,
)
from mnist_core.teaching import lessons
from mnist_core.teaching.conclusions import compared_lesson, lesson_conclusions
from mnist_core.teaching.lessons import (
    LESSONS,
    get_lesson,
)

REQUIRED_LESSONS = (
    "loss_and_optimizer",
    "optimizers",
    "deeper_or_wider",
    "dropout",
    "batch_normalization",
    "dense_or_cnn",
    "learning_rate",
)


@pytest.fixture
def run_log(tmp_path):
    return RunLog(tmp_path / "runs.sqlite3")


def changed_fields(lesson_run) -> set[str]:
    preset = get_preset(lesson_run.preset).config.to_dict()
    mine = lesson_run.config().to_dict()
    return {key for key in mine if mine[key] != preset[key]}


def test_every_lesson_is_valid_and_the_required_ones_are_there():
    lessons.check_lessons()
    assert set(REQUIRED_LESSONS) <= set(LESSONS)
    for lesson in LESSONS.values():
        assert lesson.title and 2 <= len(lesson.runs) <= 3
        # Two or three lines of text on the page.
        assert 150 <= len(lesson.what_to_look_for) <= 400, lesson.name


def test_get_lesson_names_the_lessons_when_it_does_not_know_one():
    assert get_lesson("dropout").name == "dropout"
    with pytest.raises(ValueError, match=r"lesson must be one of loss_and_optimizer, .*'nope'"):
        get_lesson("nope")


@pytest.mark.parametrize("name", sorted(LESSONS))
def test_requests_are_one_lesson_quick_by_default_full_on_request(name):
    lesson = get_lesson(name)
    quick = lesson.requests()
    full = lesson.requests(full_data=True)
    assert [request.label for request in quick] == [run.label for run in lesson.runs]
    for request, lesson_run in zip(quick, lesson.runs, strict=True):
        assert request.lesson == name and request.preset == lesson_run.preset
        assert request.training_images == lesson.training_images
        assert request.config.epochs == (lesson.epochs or lesson_run.config().epochs)
    for request, lesson_run in zip(full, lesson.runs, strict=True):
        assert request.training_images is None
        assert request.config == lesson_run.config()  # the presets' own epochs
        assert request.config.epochs == get_preset(lesson_run.preset).config.epochs


def test_each_lesson_changes_what_it_teaches():
    optimizers = get_lesson("optimizers").runs
    assert [run.config().optimizer for run in optimizers] == ["sgd", "adam", "rmsprop"]
    assert len({run.config().layer_sizes for run in optimizers}) == 1
    dropout_runs = get_lesson("dropout").runs
    off, on = (run.config() for run in dropout_runs)
    assert max(off.layer_dropout_rates) == 0 < min(on.layer_dropout_rates)
    assert {k for k in off.to_dict() if off.to_dict()[k] != on.to_dict()[k]} == {
        "layer_dropout_rates"
    }
    assert off.validation == "split"  # the gap is measured on held-out training images
    batch_norm = [run.config() for run in get_lesson("batch_normalization").runs]
    assert [(c.input_batch_normalization, c.batch_normalization) for c in batch_norm] == [
        (False, False), (True, False), (True, True),
    ]  # fmt: skip
    rates = [run.config().learning_rate for run in get_lesson("learning_rate").runs]
    assert rates == sorted(rates) and rates[-1] / rates[0] >= 1000
    wider, deeper = (run.config() for run in get_lesson("deeper_or_wider").runs)
    assert len(deeper.layer_sizes) > len(wider.layer_sizes)
    assert count_parameters(wider) > count_parameters(deeper)
    assert wider.loss == deeper.loss  # one thing changes: the shape
    dense, cnn = (run.config() for run in get_lesson("dense_or_cnn").runs)
    assert (dense.architecture, cnn.architecture) == ("dense", "cnn")
    mse, adam = get_lesson("loss_and_optimizer").runs
    assert (mse.preset, adam.preset) == ("sigmoid_mse_sgd", "relu_binary_crossentropy_adam")
    assert changed_fields(mse) == changed_fields(adam) == set()


# --- Conclusions, from recorded runs ------------------------------------------------------------
def epoch(number, loss, accuracy, val_accuracy, epochs=3):
    return {
        "epoch": number, "epochs": epochs, "loss": loss, "accuracy": accuracy,
        "val_loss": loss, "val_accuracy": val_accuracy, "elapsed_seconds": 1.0 * number,
        "samples_per_second": 1000.0,
    }  # fmt: skip


def record(
    run_log, lesson, label, *, status=FINISHED, history=(), metrics=None, reason="", request_id=None
):
    lesson_run = next(run for run in lesson.runs if run.label == label)
    config = lesson_run.config().replace(epochs=lesson.epochs or lesson_run.config().epochs)
    run = run_log.create_run(
        config, user="ada", lesson=lesson.name, label=label, preset=lesson_run.preset,
        status=QUEUED if status == QUEUED else RUNNING, request_id=request_id,
    )  # fmt: skip
    for entry in history:
        run_log.record_epoch(run.id, entry, [])
    if status in (QUEUED, RUNNING):
        return run_log.get_run(run.id)
    full = {"epochs_completed": len(history), **(metrics or {})}
    return run_log.finish_run(run.id, status, reason, metrics=full if metrics else None)


def test_the_accuracy_sentence_is_computed_best_first(run_log):
    lesson = get_lesson("optimizers")
    runs = [
        record(run_log, lesson, "sgd", history=[epoch(1, 1.2, 0.5, 0.55), epoch(2, 0.9, 0.6, 0.6),
               epoch(3, 0.8, 0.62, 0.61)], metrics={"test_accuracy": 0.614}),
        record(run_log, lesson, "adam", history=[epoch(1, 0.3, 0.9, 0.95), epoch(2, 0.2, 0.95, 0.96),
               epoch(3, 0.1, 0.97, 0.97)], metrics={"test_accuracy": 0.971}),
        record(run_log, lesson, "rmsprop", history=[epoch(1, 0.35, 0.88, 0.89), epoch(2, 0.2, 0.94, 0.95),
               epoch(3, 0.12, 0.96, 0.96)], metrics={"test_accuracy": 0.96}),
    ]  # fmt: skip
    sentences = lesson_conclusions(lesson, list(reversed(runs)))
    assert sentences[0] == (
        "adam reached 97.1% test accuracy after 3 epochs, rmsprop 96.0%, sgd 61.4%. That is "
        "35.7 points between adam and sgd: sgd gets 13.3 times as many test images wrong."
    )
    assert (
        "90% validation accuracy was reached by adam in epoch 1 and rmsprop in epoch 2; sgd "
        "never got there." in sentences
    )
    assert (
        "Training loss from the first epoch to the last: sgd 1.2 → 0.8; adam 0.3 → 0.1; rmsprop "
        "0.35 → 0.12." in sentences
    )


def test_failed_diverged_stopped_and_pending_runs_are_said(run_log):
    lesson = get_lesson("learning_rate")
    small, right, large = (run.label for run in lesson.runs)
    runs = [
        record(run_log, lesson, small, status=RUNNING),
        record(run_log, lesson, right, status=STOPPED, reason="Stopped on request.",
               history=[epoch(1, 0.4, 0.88, 0.9)], metrics={"test_accuracy": 0.9}),
        record(run_log, lesson, large, status=DIVERGED, reason="Training diverged."),
    ]  # fmt: skip
    sentences = lesson_conclusions(lesson, runs)
    assert sentences[0] == f"{small} is running; what follows covers the runs that ended."
    assert sentences[1].startswith(f"{right} reached 90.0% test accuracy after 1 epoch.")
    assert any(
        s.startswith(
            f"{right} was stopped after 1 epoch of 3: its figures are those of a shorter run. "
            "Stopped on request."
        )
        for s in sentences
    )
    assert any(s.startswith(f"{large} diverged in epoch 1:") for s in sentences)

    failed = record(run_log, lesson, small, status=FAILED, reason="Worker lost.")
    assert f"{small} failed and has no results: Worker lost." in lesson_conclusions(
        lesson, [failed]
    )
    assert lesson_conclusions(lesson, []) == ["No run of this lesson has been recorded yet."]


def test_chance_level_and_parameters(run_log):
    lesson = get_lesson("deeper_or_wider")
    wider_label, deeper_label = (run.label for run in lesson.runs)
    wider = record(run_log, lesson, wider_label, history=[epoch(1, 0.2, 0.99, 0.95, 5)],
                   metrics={"test_accuracy": 0.95, "parameter_count": 717210})  # fmt: skip
    deeper = record(run_log, lesson, deeper_label, history=[epoch(1, 2.3, 0.1, 0.1, 5)],
                    metrics={"test_accuracy": 0.098, "parameter_count": 222000})  # fmt: skip
    sentences = lesson_conclusions(lesson, [wider, deeper])
    assert (
        f"{deeper_label} (9.8%) is at chance level, one digit in ten: it has learned next to "
        "nothing." in sentences
    )
    assert (
        f"Parameters: {wider_label} has 717,210 and {deeper_label} has 222,000. {wider_label} "
        f"has 3.2 times as many as {deeper_label}, and 85.2 points more test accuracy." in sentences
    )


def test_the_train_validation_gap(run_log):
    lesson = get_lesson("dropout")
    off = record(run_log, lesson, "no dropout", history=[epoch(20, 0.01, 1.0, 0.9, 20)],
                 metrics={"test_accuracy": 0.9})  # fmt: skip
    on = record(run_log, lesson, "dropout 0.5", history=[epoch(20, 0.2, 0.95, 0.93, 20)],
                metrics={"test_accuracy": 0.925})  # fmt: skip
    sentences = lesson_conclusions(lesson, [on, off])
    assert (
        "Training against validation accuracy: no dropout ended at 100.0% on its training images "
        "and 90.0% on validation, a gap of 10.0 points; dropout 0.5 ended at 95.0% on its "
        "training images and 93.0% on validation, a gap of 2.0 points." in sentences
    )
    assert (
        "The gap is widest for no dropout: it learns its training images better than it "
        "generalises; dropout 0.5 overfits the least." in sentences
    )
    assert not any(sentence.startswith("Validation loss") for sentence in sentences)


def test_a_validation_loss_that_turns_back_up_is_said(run_log):
    lesson = get_lesson("dropout")
    history = [
        {**epoch(number, 0.1, 0.95, 0.9, 20), "val_loss": val_loss}
        for number, val_loss in ((1, 0.5), (5, 0.302), (20, 0.432))
    ]
    steady = [
        {**epoch(number, 0.1, 0.95, 0.9, 20), "val_loss": val_loss}
        for number, val_loss in ((1, 0.5), (5, 0.31), (20, 0.315))  # within 5% of its lowest
    ]
    off = record(run_log, lesson, "no dropout", history=history, metrics={"test_accuracy": 0.9})
    on = record(run_log, lesson, "dropout 0.5", history=steady, metrics={"test_accuracy": 0.9})
    assert (
        "Validation loss: no dropout was lowest in epoch 5, at 0.302, and ended at 0.432. A "
        "validation loss that climbs while the training loss falls is overfitting."
        in lesson_conclusions(lesson, [off, on])
    )


def test_speed(run_log):
    lesson = get_lesson("dense_or_cnn")
    dense = record(run_log, lesson, "dense", history=[epoch(3, 0.1, 0.97, 0.97)],
                   metrics={"test_accuracy": 0.975, "training_seconds": 8.0,
                            "samples_per_second": 18000.0})  # fmt: skip
    cnn = record(run_log, lesson, "cnn", history=[epoch(3, 0.05, 0.99, 0.99)],
                 metrics={"test_accuracy": 0.989, "training_seconds": 40.0,
                          "samples_per_second": 2700.0})  # fmt: skip
    sentences = lesson_conclusions(lesson, [dense, cnn])
    assert (
        "Time: dense trained for 8.0 s (18,000 images a second) and cnn trained for 40.0 s "
        "(2,700 images a second). cnn took 5.0 times as long as dense." in sentences
    )
    assert sentences[0].startswith("cnn reached 98.9% test accuracy after 1 epoch, dense 97.5%.")


@pytest.mark.cluster
def test_a_lesson_is_one_request_trained_on_the_free_workers(tmp_path, monkeypatch):
    """Real engine, real two-worker cluster: the runs share a request and train at once."""
    from mnist_core.engine.engine import Engine

    monkeypatch.setenv("MNIST_CLASS_MODE", "0")
    lesson = get_lesson("optimizers")
    tiny = [
        dataclasses.replace(request, training_images=300, config=request.config.replace(epochs=1))
        for request in lesson.requests()[:2]
    ]
    run_log = RunLog(tmp_path / "runs.sqlite3")
    engine = Engine.connect(run_log, workers=2)
    try:
        submitted = engine.submit(tiny, user="ada")
        assert len({run.request_id for run in submitted}) == 1
        both_running = False
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            runs = [run_log.get_run(run.id) for run in submitted]
            if all(run.status == RUNNING for run in runs):
                both_running = True
            if all(run.ended for run in runs):
                break
            time.sleep(0.1)
    finally:
        engine.close()
    assert all(run.status == FINISHED for run in runs), [(r.status, r.reason) for r in runs]
    assert both_running or max(r.started_at for r in runs) < min(r.finished_at for r in runs)
    assert {run.lesson for run in runs} == {"optimizers"}
    sentences = lesson_conclusions(lesson, runs)
    best = max(runs, key=lambda run: run.test_accuracy)
    assert sentences[0].startswith(f"{best.label} reached {best.test_accuracy * 100:.1f}%")


def test_a_loss_that_hardly_falls_or_rises_is_said(run_log):
    lesson = get_lesson("learning_rate")
    small, _, large = (run.label for run in lesson.runs)
    flat = record(run_log, lesson, small, history=[epoch(1, 2.3, 0.1, 0.1), epoch(3, 2.2, 0.12, 0.12)],
                  metrics={"test_accuracy": 0.12})  # fmt: skip
    rising = record(run_log, lesson, large, history=[epoch(1, 2.3, 0.1, 0.1), epoch(3, 9.0, 0.1, 0.1)],
                    metrics={"test_accuracy": 0.1})  # fmt: skip
    assert (
        f"Training loss from the first epoch to the last: {small} 2.3 → 2.2, it hardly fell; "
        f"{large} 2.3 → 9, it did not fall." in lesson_conclusions(lesson, [rising, flat])
    )


def test_conclusions_read_in_plain_numbers_without_brackets_in_brackets(run_log):
    import re

    lesson = get_lesson("learning_rate")
    labels = [run.label for run in lesson.runs]
    runs = [
        record(
            run_log,
            lesson,
            label,
            history=[epoch(1, 2.3, 0.1, 0.1), epoch(3, loss, 0.9, 0.9)],
            metrics={"test_accuracy": accuracy, "training_seconds": 12.0},
        )  # fmt: skip
        for label, loss, accuracy in zip(labels, (15_900.0, 0.000012, 0.31), (0.13, 0.93, 0.97))
    ]
    text = " ".join(lesson_conclusions(lesson, runs))
    assert "e+" not in text and "e-" not in text
    assert "15,900" in text and "0.000012" in text
    assert not re.search(r"\([^()]*\(", text), text  # no bracket inside a bracket
    assert (
        "between huge rate 1 and tiny rate 0.00001: tiny rate 0.00001 gets 29.0 times as many "
        "test images wrong." in text
    )


def test_a_conclusion_only_for_one_whole_start_of_a_lesson_compared_alone(run_log):
    lesson = get_lesson("optimizers")

    def start(request_id):
        return [
            record(run_log, lesson, run.label, request_id=request_id,
                   history=[epoch(1, 0.5, 0.9, 0.9)], metrics={"test_accuracy": 0.9})
            for run in lesson.runs
        ]  # fmt: skip

    first, second = start("first-click"), start("second-click")
    whole = compared_lesson(list(reversed(first)))
    assert whole.title == lesson.title and not whole.why_none
    assert list(whole.sentences) == lesson_conclusions(lesson, first)
    # Part of it (a run unticked), a run of another start, or another run beside it: no
    # conclusion under the lesson's heading, and the page says why and what to tick.
    part = compared_lesson(first[1:])
    assert not part.sentences and part.title == lesson.title
    assert part.why_none == (
        "Its conclusion is written from its 3 runs started together, compared on their own; "
        "ticked now: 2 of its runs. Tick just those 3 to read it."
    )
    assert "3 of its runs from 2 starts" in compared_lesson(first[1:] + second[:1]).why_none
    lone = run_log.create_run(get_preset("dense_fast").config, user="ada")
    assert "3 of its runs and 1 other run." in compared_lesson([*first, lone]).why_none
    other_lesson = get_lesson("dropout")
    mixed = compared_lesson(first[:1] + [record(run_log, other_lesson, other_lesson.runs[0].label)])
    assert mixed.title == "" and "different lessons" in mixed.why_none
    assert compared_lesson([lone]) is None
