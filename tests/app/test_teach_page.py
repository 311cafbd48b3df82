"""The Teach page, through AppTest: the Draw page keeps what a user labels, the fine-tune button
waits for 20 drawings, and a fine-tuning run goes through the engine to its figures."""

import time

import numpy as np
import pytest

from mnist_core.data.drawings import (
    DrawingStore,
    drawing_image,
    image_id,
)

BUTTON = "teach_start"


@pytest.fixture
def page(open_page):
    def page(user: str, path: str = "app_pages/teach.py"):
        at = open_page(user=user)
        at.switch_page(path).run()
        assert not at.exception
        return at

    return page


@pytest.fixture(scope="module")
def pen_images():
    """Pen-drawn digits as the Draw page keeps them: three of each digit."""
    from mnist_core.data.pen_digits import load_pen_dev_set
    from mnist_core.reading.preprocess import preprocess_drawing

    dev_set = load_pen_dev_set()
    kept = []
    for digit in range(10):
        for index in np.flatnonzero(dev_set.labels == digit)[:3]:
            kept.append((drawing_image(preprocess_drawing(dev_set.images[index])), digit))
    return kept


def test_labelling_a_drawing_on_the_draw_page_keeps_it_and_a_second_click_corrects_it(
    page, app_run_log, mnist, meant_pills
):
    from tests.app.test_draw_page import drawn

    at = page("drawing dora", "app_pages/draw.py")
    at.session_state["draw_canvas_0"] = drawn(mnist.x_test[0])  # a 7
    at.run()
    meant_pills(at).set_value(7).run()
    store = DrawingStore(app_run_log.path)
    (kept,) = store.list_drawings(at.session_state["user"].id)
    assert kept.label == 7 and kept.image.shape == (28, 28) and kept.image.max() > 200
    meant_pills(at).set_value(1).run()
    assert [drawing.label for drawing in store.list_drawings(at.session_state["user"].id)] == [1]
    assert "kept for **Teach**" in " ".join(caption.value for caption in at.caption)


@pytest.mark.cluster  # the fine-tuning runs on the app's engine, which starts its cluster
def test_the_button_waits_for_twenty_drawings_then_fine_tunes_on_the_engine(
    page, app_run_log, pen_images, mnist, record_trained_run, app_user_of
):
    from mnist_core.modeling.presets import get_preset
    from mnist_core.training.train import train_model

    user = "teaching tess"
    tess = app_user_of(user)
    config = get_preset("dense_fast").config.replace(
        layer_sizes=(32,), layer_activations=("relu",), layer_dropout_rates=(0.0,), epochs=1
    )
    base = record_trained_run(
        app_run_log, train_model(config, mnist.subset(3000, None, seed=0)), user=tess
    )
    store = DrawingStore(app_run_log.path)
    for image, digit in pen_images[:19]:
        store.add_drawing(tess.id, image_id(image), image, digit)

    at = page(user)
    assert at.button(key=BUTTON).disabled
    assert any("19 of the 20 drawings" in info.value for info in at.info)
    image, digit = pen_images[21]  # the first 7
    store.add_drawing(tess.id, image_id(image), image, digit)
    at.run()
    assert at.button(key=BUTTON).disabled  # 20, but the 6 and the 7 have one drawing each
    assert any("6, 7 have only 1" in info.value and "delete it" in info.value for info in at.info)
    for image, digit in pen_images[19:]:
        store.add_drawing(tess.id, image_id(image), image, digit)
    at.run()
    assert not at.button(key=BUTTON).disabled
    assert at.table[0].value.loc["drawings"].tolist() == [3] * 10

    at.selectbox(key="teach_base_model").set_value(f"run:{base.id}").run()
    at.button(key=BUTTON).click().run()
    assert not at.exception
    # A wait, not a speed check: the engine starts its cluster first (over 120 s once, with
    # `make test-fast` on three workers).
    deadline = time.monotonic() + 300
    while not any(metric.label == "MNIST test accuracy" for metric in at.metric):
        assert time.monotonic() < deadline, "the fine-tuning did not finish in time"
        time.sleep(0.5)
        at.run()
        assert not at.exception
    shown = {metric.label: metric.value for metric in at.metric}
    assert " of 8 → " in shown["Your held-out drawings read right"]
    assert "% → " in shown["MNIST test accuracy"]
    (run,) = [run for run in app_run_log.list_runs(user=tess) if run.fine_tuned]
    assert run.status == "finished" and run.model_kept and run.worker  # trained on a worker
    assert run.parent_id == base.id and run.finetune["base_model"] == f"run:{base.id}"
    figures = run.metrics["finetune"]
    assert figures["mnist_test_accuracy_after"] >= figures["mnist_test_accuracy_before"] - 0.003
    # A run like any other: its model is offered to the other pages.
    at.button(key="teach_use").click().run()
    assert at.session_state["model_name"] == f"run:{run.id}"


def test_one_drawing_can_be_deleted_from_the_gallery(page, app_run_log, pen_images, app_user_of):
    user = app_user_of("deleting dan").id
    store = DrawingStore(app_run_log.path)
    for image, digit in pen_images[:3]:  # three 0s
        store.add_drawing(user, image_id(image), image, digit)
    at = page("deleting dan")
    gone = image_id(pen_images[1][0])
    at.button(key=f"teach_delete_{gone}").click().run()
    assert not at.exception
    assert [drawing.id for drawing in store.list_drawings(user)] == [
        image_id(pen_images[0][0]),
        image_id(pen_images[2][0]),
    ]
    assert any("Deleted one drawing of a 0" in success.value for success in at.success)
    assert at.table[0].value.loc["drawings"].tolist()[0] == 2
    assert f"teach_delete_{gone}" not in [button.key for button in at.button]


def test_a_fine_tune_with_nothing_to_fix_says_so_with_its_banners_figures(
    page, app_run_log, pen_images, app_user_of
):
    """An older run's banner does not say it: the page does, and rounds as the banner does."""
    from mnist_core.modeling.config import ModelConfig
    from mnist_core.runs.record import FINISHED, RUNNING
    from mnist_core.training.finetune import FineTuneSpec

    user = app_user_of("perfect pia")
    images = np.stack([image for image, _ in pen_images])
    labels = tuple(digit for _, digit in pen_images)
    spec = FineTuneSpec(
        "default", tuple(f"d{i}" for i in range(30)), labels, images, tuple(range(6))
    )
    run = app_run_log.create_run(ModelConfig(), user=user, finetune=spec.to_dict(), status=RUNNING)
    figures = {
        "base_model": "default", "held_out_count": 6, "held_out_correct_before": 6,
        "held_out_correct_after": 6, "mnist_test_accuracy_before": 0.99291,
        "mnist_test_accuracy_after": 0.99334, "weight_fraction": 1.0, "train_drawings": 24,
        "drawing_copies": 10, "mnist_images": 6000,
    }  # fmt: skip
    app_run_log.finish_run(
        run.id,
        FINISHED,
        "Fine-tuned 'default' on 24 of your drawings: held-out drawings 6 of 6 → 6 of 6 read "
        "right; MNIST test accuracy 99.29% → 99.33%.",
        metrics={"finetune": figures},
    )
    at = page(user.name)
    shown = {metric.label: metric.value for metric in at.metric}
    assert shown["Your held-out drawings read right"] == "6 of 6 → 6 of 6"
    assert shown["MNIST test accuracy"] == "99.29% → 99.33%"
    assert shown["MNIST test accuracy"] in at.success[0].value  # the banner's own figures
    assert any("nothing to fix" in info.value for info in at.info)
