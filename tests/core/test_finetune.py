"""finetune: when there is enough to learn from, the held-out split, what a fine-tuning run
carries, real fine-tuning of the default model on pen-drawn digits (MNIST loses at most 0.3
points), the guard when training does harm, the run log's column and the export's caveat."""

import dataclasses
import json
import sqlite3
from collections import Counter

import numpy as np
import pytest

from mnist_core.data.drawings import (
    Drawing,
    drawing_image,
    image_id,
)
from mnist_core.modeling.config import ModelConfig
from mnist_core.runs.finetune import (
    DRAWINGS_NEEDED,
    check_readiness,
    finetune_note,
    finetune_request,
    finetune_summary,
    teaching_progress,
)
from mnist_core.runs.lifecycle import ended_status
from mnist_core.runs.log import RunLog
from mnist_core.runs.record import (
    FINISHED,
    RUNNING,
)
from mnist_core.teaching import export
from mnist_core.training.finetune import (
    FINETUNE_SETTINGS,
    MNIST_DROP_ALLOWED,
    FineTuneSpec,
    fine_tune,
    mixed_training_set,
    split_held_out,
)
from mnist_core.training.progress import TrainingObserver


@pytest.fixture(scope="module")
def pen_drawings():
    """Three digits of each kind drawn with a pen (the pendigits dev set), preprocessed as
    the Draw page does: one writer-like user's 30 labelled drawings."""
    from mnist_core.data.pen_digits import load_pen_dev_set
    from mnist_core.reading.preprocess import preprocess_drawing

    dev_set = load_pen_dev_set()
    drawings = []
    for digit in range(10):
        for index in np.flatnonzero(dev_set.labels == digit)[:3]:
            image = drawing_image(preprocess_drawing(dev_set.images[index]))
            drawings.append(Drawing(image_id(image), digit, image, 0.0))
    return drawings


def spec_of(drawings, base_model="default", seed=0):
    labels = [drawing.label for drawing in drawings]
    _, held_out = split_held_out(labels, seed=seed)
    return FineTuneSpec(
        base_model=base_model,
        drawing_ids=tuple(drawing.id for drawing in drawings),
        labels=tuple(labels),
        images=np.stack([drawing.image for drawing in drawings]),
        held_out=tuple(held_out.tolist()),
    )


def test_readiness_needs_twenty_drawings_and_every_taught_digit_twice():
    nineteen = check_readiness({digit: 2 for digit in range(9)} | {9: 1})
    assert not nineteen.ready and "19 of the 20 drawings" in nineteen.reason
    lonely = check_readiness({0: 10, 1: 9, 7: 1})
    assert not lonely.ready and "7 has only 1" in lonely.reason
    ready = check_readiness({0: 10, 1: 10})  # two digits only: those are the ones taught
    assert ready.ready and ready.held_out_count == 5 and "5 of them are held out" in ready.reason
    assert ready.per_digit[5] == 0 and ready.drawing_count == DRAWINGS_NEEDED


@pytest.mark.parametrize(
    "counts, said",
    [
        ({}, "0 of 20 — draw each digit twice and tap what you meant"),
        ({0: 1}, "1 of 20 — one more 0 and two more 1s"),
        ({0: 2, 1: 2, 2: 2, 3: 2, 4: 2, 5: 2, 6: 1}, "13 of 20 — one more 6 and two more 7s"),
        ({digit: 2 for digit in range(9)}, "18 of 20 — two more 9s"),
        ({0: 19, 6: 1}, "20 drawings — one more 6 (every digit you teach needs 2)"),
        (
            {digit: 2 for digit in range(10)},
            "20 of 20 — ready: teach a model your handwriting on Teach.",
        ),
    ],
)
def test_the_draw_page_says_how_far_it_is_to_a_fine_tune(counts, said):
    assert teaching_progress(counts) == said
    assert teaching_progress(counts).startswith("20 of 20 — ready") == check_readiness(counts).ready


def test_a_fine_tune_with_nothing_to_fix_says_so_and_rounds_as_its_banner():
    figures = {
        "held_out_count": 6,
        "held_out_correct_before": 6,
        "held_out_correct_after": 6,
        "mnist_test_accuracy_before": 0.99291,
        "mnist_test_accuracy_after": 0.99334,
    }
    assert finetune_summary(figures) == ("6 of 6 → 6 of 6", "99.29% → 99.33%")
    assert "nothing to fix" in finetune_note(figures) and "all 6 held-out" in finetune_note(figures)
    assert finetune_note({**figures, "held_out_correct_before": 5}) is None
    assert finetune_note({"held_out_count": 0}) is None


@pytest.mark.parametrize(
    ("counts", "held_per_digit"),
    [
        ({digit: 2 for digit in range(10)}, None),  # 20 drawings: 5 held out, 1 a digit at most
        ({digit: 3 for digit in range(10)}, None),  # 30: 8 held out
        ({0: 12, 1: 4, 2: 4}, {0: 3, 1: 1, 2: 1}),  # proportional to the counts
        ({3: 2, 4: 2, 5: 17}, None),
    ],
)
def test_at_least_a_quarter_is_held_out_stratified_and_each_digit_keeps_one(counts, held_per_digit):
    labels = [digit for digit, count in counts.items() for _ in range(count)]
    learn, held_out = split_held_out(labels, seed=3)
    assert len(held_out) == -(-len(labels) // 4)  # a quarter, rounded up
    assert sorted([*learn, *held_out]) == list(range(len(labels)))
    learned = Counter(labels[index] for index in learn)
    assert all(learned[digit] >= 1 for digit in counts)  # never a digit's last drawing
    held = Counter(labels[index] for index in held_out)
    if held_per_digit is not None:
        assert dict(held) == held_per_digit
    for digit, count in counts.items():  # within one of its share
        assert abs(held.get(digit, 0) - count * len(held_out) / len(labels)) < 1
    again, held_again = split_held_out(labels, seed=3)
    np.testing.assert_array_equal(held_out, held_again)  # the seed decides


def test_the_spec_round_trips_through_json_and_held_out_drawings_stay_out(pen_drawings, mnist):
    spec = spec_of(pen_drawings)
    back = FineTuneSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    np.testing.assert_array_equal(back.images, spec.images)
    assert back.labels == spec.labels and back.held_out == spec.held_out
    training = mixed_training_set(back, mnist, mnist_images=1000, seed=0)
    seen = {image.tobytes() for image in training.x_train}
    assert not any(spec.images[index].tobytes() in seen for index in spec.held_out)
    assert all(spec.images[index].tobytes() in seen for index in spec.train_indices)
    drawn = len(training.x_train) - 1000
    assert 0.15 <= drawn / len(training.x_train) <= 0.25  # a fifth is drawings
    assert len(training.x_test) == 10000
    with pytest.raises(ValueError, match="finetune lacks the field"):
        FineTuneSpec.from_dict({"labels": []})


def test_a_request_needs_enough_drawings_and_a_model_of_digits(pen_drawings, tmp_path):
    run_log = RunLog(tmp_path / "runs.sqlite3")
    with pytest.raises(ValueError, match="19 of the 20 drawings"):
        finetune_request("default", pen_drawings[:19], run_log=run_log)
    with pytest.raises(ValueError, match="not a saved model"):
        finetune_request("no_such_model", pen_drawings, run_log=run_log)
    request = finetune_request("default", pen_drawings, run_log=run_log, mnist_images=3000)
    assert request.training_images == 3000 and request.label == "default + 30 drawings"
    assert request.config.learning_rate == FINETUNE_SETTINGS["learning_rate"]
    assert request.config.architecture == "cnn"  # the default model's network
    assert len(request.finetune["held_out"]) == 8


@pytest.mark.slow  # tests the fine-tuned default network on all 10,000 test images, twice
def test_fine_tuning_the_default_model_on_pen_drawings_keeps_mnist_within_the_bound(
    pen_drawings, mnist
):
    from mnist_core.modeling.store import load_model

    loaded = load_model("default")
    config = ModelConfig.from_dict(loaded.metadata["config"]).replace(**FINETUNE_SETTINGS)
    spec = spec_of(pen_drawings)
    outcome = fine_tune(config, spec, loaded.model, mnist, TrainingObserver(), mnist_images=3000)
    result, figures = outcome.result, outcome.figures
    status, reason = ended_status(result)
    reason = outcome.summary
    assert status == FINISHED, reason
    assert figures["held_out_count"] == 8 and figures["train_drawings"] == 22
    before, after = figures["mnist_test_accuracy_before"], figures["mnist_test_accuracy_after"]
    assert before > 0.985  # the default model, untouched before fine-tuning
    assert after >= before - MNIST_DROP_ALLOWED
    assert result.test_accuracy == pytest.approx(after)
    assert 0 <= figures["held_out_correct_after"] <= 8
    drawings_text, mnist_text = finetune_summary(figures)
    assert drawings_text.endswith(" of 8") and " of 8 → " in drawings_text
    # The page's figures are rounded as the run's banner rounds them, and say the same.
    assert mnist_text == f"{before:.2%} → {after:.2%}" and mnist_text in reason
    assert drawings_text in reason
    assert "held-out drawings" in reason and "MNIST test accuracy" in reason


def test_the_guard_pulls_a_harmful_fine_tuning_back_within_the_bound(
    pen_drawings, mnist, monkeypatch
):
    """Drawings taught with the wrong labels and a learning rate far too high harm a small
    dense model; the guard brings MNIST back.

    The bound is made strict (no loss at all allowed) so that any harm calls the guard. The
    labels are wrong on purpose (each digit taught as the next one): with right labels the
    drawings sometimes helped this weak base model, and then there was nothing to guard."""
    import mnist_core.training.finetune as finetune

    monkeypatch.setattr(finetune, "MNIST_DROP_ALLOWED", 0.0)
    from mnist_core.modeling.presets import get_preset
    from mnist_core.training.train import train_model

    base_config = get_preset("dense_fast").config.replace(
        layer_sizes=(32,), layer_activations=("relu",), layer_dropout_rates=(0.0,), epochs=1
    )
    base = train_model(base_config, mnist.subset(3000, None, seed=0))
    harmful = base_config.replace(**FINETUNE_SETTINGS).replace(
        learning_rate=0.1, optimizer="adam", epochs=1
    )
    mislabelled = [
        dataclasses.replace(drawing, label=(drawing.label + 1) % 10) for drawing in pen_drawings
    ]
    outcome = fine_tune(
        harmful, spec_of(mislabelled), base.model, mnist, TrainingObserver(), mnist_images=300
    )
    result, figures = outcome.result, outcome.figures
    assert ended_status(result)[0] == FINISHED, figures
    assert figures["weight_fraction"] < 1.0, figures
    before = figures["mnist_test_accuracy_before"]
    assert before == pytest.approx(base.test_accuracy, abs=1e-6)
    assert figures["mnist_test_accuracy_after"] >= before


def test_the_run_log_keeps_what_a_fine_tuning_run_carries_and_an_old_log_gains_the_column(
    tmp_path, pen_drawings
):
    path = tmp_path / "runs.sqlite3"
    old = sqlite3.connect(path)  # a log made before fine-tuning existed
    old.execute(
        "CREATE TABLE runs (id TEXT PRIMARY KEY, user TEXT NOT NULL, preset TEXT, lesson TEXT, "
        "request_id TEXT NOT NULL, label TEXT, parent_id TEXT, dataset TEXT NOT NULL, "
        "train_images INTEGER, config TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL "
        "DEFAULT '', created_at REAL NOT NULL, started_at REAL, finished_at REAL, owner TEXT, "
        "worker TEXT, plan TEXT, progress TEXT, batch_curve TEXT NOT NULL DEFAULT '[]', "
        "metrics TEXT NOT NULL DEFAULT '{}', model_path TEXT, model_name TEXT, hidden INTEGER "
        "NOT NULL DEFAULT 0, stop_requested INTEGER NOT NULL DEFAULT 0, limits TEXT NOT NULL "
        "DEFAULT '{}')"
    )
    old.execute(
        "INSERT INTO runs (id, user, request_id, dataset, config, status, created_at) "
        "VALUES ('old', 'ada', 'old', 'mnist', ?, 'finished', 1.0)",
        (ModelConfig().to_json(),),
    )
    old.commit()
    old.close()
    run_log = RunLog(path)
    assert run_log.get_run("old").finetune is None and not run_log.get_run("old").fine_tuned
    spec = spec_of(pen_drawings)
    run = run_log.create_run(
        ModelConfig().replace(**FINETUNE_SETTINGS),
        user="ada",
        finetune=spec.to_dict(),
        status=RUNNING,
    )
    run = run_log.finish_run(run.id, FINISHED, "done")
    assert run.fine_tuned
    np.testing.assert_array_equal(FineTuneSpec.from_dict(run.finetune).images, spec.images)
    assert "images" not in run.to_dict()["finetune"]
    assert run.to_dict()["finetune"]["drawing_count"] == 30
    caveats = " ".join(export.script_caveats(run))
    assert "fine-tuned the model 'default' on 30 digits" in caveats
    assert "keras alone cannot reproduce" in caveats
    top = export.script_for_run(run).split("import argparse")[0]
    assert "fine-tuned the model 'default'" in top
