"""The line's rules, checked on the server before anything is queued, and its places worked
out once for everyone (runs.request, runs.line, runs.limits)."""

from __future__ import annotations

import pytest

from mnist_core.modeling.presets import PRESETS, get_preset
from mnist_core.runs.classroom import set_class_mode
from mnist_core.runs.limits import ClassLimits, Limits, RunRefused, check_run_size
from mnist_core.runs.line import eligible_runs, line_places
from mnist_core.runs.log import RunLog
from mnist_core.runs.request import RunRequest, queue_runs
from mnist_core.runs.users import User

TINY = get_preset("dense_fast").config.replace(
    layer_sizes=(32,), layer_activations=("relu",), layer_dropout_rates=(0.0,), epochs=1
)
ALICE = User("a" * 32, "alice")
BOB = User("b" * 32, "bob")


@pytest.fixture
def log(tmp_path):
    return RunLog(tmp_path / "runs.sqlite3")


def test_one_request_training_and_one_waiting_then_a_press_is_refused(log):
    queue_runs(log, [RunRequest(TINY)], user=BOB)
    first = queue_runs(log, [RunRequest(TINY)], user=ALICE)
    second = queue_runs(log, [RunRequest(TINY)], user=ALICE)
    for _ in range(8):  # a student pressing Train again and again
        with pytest.raises(RunRefused, match=r"Your run is already waiting \(3rd in line\)"):
            queue_runs(log, [RunRequest(TINY)], user=ALICE)
    mine = [run for run in log.active_runs() if run.owned_by(ALICE)]
    assert [run.id for run in mine] == [first[0].id, second[0].id]
    log.cancel_run(second[0].id, "left")
    assert queue_runs(log, [RunRequest(TINY)], user=ALICE)  # a place is free again


def test_a_lesson_is_one_request(log):
    lesson = [RunRequest(TINY, label=str(number)) for number in range(3)]
    runs = queue_runs(log, lesson, user=ALICE)
    assert len({run.request_id for run in runs}) == 1
    assert queue_runs(log, [RunRequest(TINY)], user=ALICE)  # its one waiting request


def test_the_same_name_from_another_browser_owns_nothing(log):
    queue_runs(log, [RunRequest(TINY)], user=ALICE)
    impostor = User("c" * 32, "alice")
    (run,) = queue_runs(log, [RunRequest(TINY)], user=impostor)
    assert run.owned_by(impostor) and not run.owned_by(ALICE)
    assert [mine.id for mine in log.list_runs(user=ALICE)] != [run.id]


def test_a_huge_network_is_refused_before_it_is_queued_in_class_mode_and_out(log):
    huge = PRESETS["cnn_fast"].config.replace(
        layer_sizes=(2048, 2048),
        layer_activations=("relu", "relu"),
        layer_dropout_rates=(0.0, 0.0),
        kernel_sizes=(3, 3),
    )
    for class_mode in (True, False):
        set_class_mode(log, class_mode)
        with pytest.raises(RunRefused) as refused:
            queue_runs(log, [RunRequest(huge)], user=ALICE)
        message = str(refused.value)
        assert "multiply-adds for each image" in message and "Layer 2 (2,048 filters)" in message
        assert "it would fit" in message
    assert log.active_runs() == []


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_fits_in_class_mode(name):
    check_run_size(PRESETS[name].config, Limits(), class_mode=True)


def test_class_mode_caps_and_the_time_limit_are_kept_with_the_run(log):
    set_class_mode(log, True)
    (capped,) = queue_runs(log, [RunRequest(TINY.replace(epochs=50))], user=ALICE)
    assert capped.config.epochs == ClassLimits().max_epochs
    assert capped.limits["max_seconds"] == ClassLimits().max_seconds
    assert capped.limits["asked_epochs"] == 50 and capped.limits["class_mode"]
    set_class_mode(log, False)
    (free,) = queue_runs(log, [RunRequest(TINY)], user=BOB, limits=Limits(max_run_seconds=600))
    assert free.limits == {"max_seconds": 600}


def test_the_places_of_300_waiting_runs_come_from_one_pass(log):
    users = [User(f"{number:032d}", f"student {number}") for number in range(300)]
    for user in users:
        queue_runs(log, [RunRequest(TINY)], user=user)
    line = log.active_runs()
    places = line_places(line, 2, {"dense": 20000.0, "cnn": 2500.0})
    assert len(places) == 300
    last = places[line[-1].id]
    assert last.position == 300 and len(last.users_ahead) == 299
    assert last.expected_wait_seconds > places[line[1].id].expected_wait_seconds
    assert [run.id for run in eligible_runs(line)][:3] == [run.id for run in line[:3]]


def test_a_run_that_asks_for_nothing_is_not_said_to_be_cut():
    from mnist_core.runs.classroom import apply_class_limits, class_limits_text

    caps = ClassLimits()
    config, images, applied = apply_class_limits(TINY, None, caps)
    assert images == caps.max_training_images and config == TINY
    assert not any(key.startswith("asked_") for key in applied)
    assert "cut" not in class_limits_text(applied)
    _, images, applied = apply_class_limits(TINY, 5000, caps)
    assert images == 5000 and "cut" not in class_limits_text(applied)  # fewer: as chosen
    config, images, applied = apply_class_limits(TINY.replace(epochs=40), 60000, caps)
    assert (config.epochs, images) == (caps.max_epochs, caps.max_training_images)
    text = class_limits_text(applied)
    assert "cut to the caps: 40 epochs asked for, 3 trained; 60,000 training images" in text


def test_pen_drawn_digits_count_against_the_images_cap():
    from mnist_core.data.pen_digits import PEN_TRAINING_DIGIT_COUNT
    from mnist_core.runs.classroom import MIN_DATASET_IMAGES, apply_class_limits

    caps = ClassLimits()
    handwriting = get_preset("handwriting_cnn").config
    assert handwriting.pen_digit_copies * PEN_TRAINING_DIGIT_COUNT > caps.max_training_images
    config, images, applied = apply_class_limits(handwriting, None, caps)
    pen_images = config.pen_digit_copies * PEN_TRAINING_DIGIT_COUNT
    assert images + pen_images <= caps.max_training_images
    assert images >= MIN_DATASET_IMAGES and config.pen_digit_copies >= 1
    assert applied["pen_digit_images"] == pen_images
    assert applied["asked_pen_digit_copies"] == handwriting.pen_digit_copies
