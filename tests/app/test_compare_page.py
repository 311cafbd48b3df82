"""The Compare page, through AppTest: the table of runs, two runs side by side, lessons."""

from pathlib import Path

import pytest

from mnist_core.modeling.config import ModelConfig
from mnist_core.teaching.lessons import LESSONS
from mnist_core.training.train import train_model

TINY = ModelConfig(
    architecture="dense",
    layer_sizes=(12,),
    layer_activations=("relu",),
    layer_dropout_rates=(0.0,),
    kernel_sizes=(),
    dense_units=0,
    epochs=2,
    batch_size=64,
)


@pytest.fixture(scope="module")
def two_results(tiny_mnist):
    return (
        train_model(TINY, tiny_mnist),
        train_model(TINY.replace(optimizer="sgd", learning_rate=0.01), tiny_mnist),
    )


@pytest.fixture
def compare_page(open_page):
    def compare_page(user: str, selection=None):
        at = open_page(user=user)
        if selection is not None:
            at.session_state["compare_selection"] = selection
        at.switch_page("app_pages/compare.py").run()
        assert not at.exception
        return at

    return compare_page


def test_with_no_runs_the_page_says_how_to_get_some(compare_page):
    at = compare_page("nobody_yet")
    assert any("No runs yet" in box.value for box in at.info)


def test_two_runs_side_by_side(
    compare_page, app_run_log, record_trained_run, two_results, tiny_mnist
):
    adam = record_trained_run(app_run_log, two_results[0], user="cmp_user", dataset=tiny_mnist)
    sgd = record_trained_run(app_run_log, two_results[1], user="cmp_user", dataset=tiny_mnist)
    at = compare_page("cmp_user", [adam.id, sgd.id])
    frames = [frame.value for frame in at.dataframe if "compare" not in frame.value.columns]
    differences = next(frame for frame in frames if "setting" in frame.columns)
    assert {"optimizer", "learning rate"} <= set(differences["setting"])
    assert not {"layer sizes", "epochs", "batch size", "seed"} & set(differences["setting"])
    metrics = next(frame for frame in frames if "figure" in frame.columns)
    assert "test accuracy" in set(metrics["figure"])
    per_class = next(frame for frame in frames if "class" in frame.columns)
    assert len(per_class) == 10
    # Loss and accuracy overlaid, and the per-class bars, each with its summary in numbers.
    assert len(at.get("vega_lite_chart")) >= 3
    captions = [caption.value for caption in at.caption]
    labels = [adam.display_label, sgd.display_label]
    loss_summary = next(text for text in captions if text.startswith("Validation loss after"))
    assert all(label in loss_summary for label in labels)
    assert any(text.startswith("Validation accuracy after") for text in captions)
    assert any(text.startswith("Weakest class of each run") for text in captions)
    # The table lists my runs, both ticked.
    table = at.data_editor[0].value
    assert set(table.loc[table["compare"], "id"]) == {adam.id, sgd.id}
    at.toggle(key="compare_log_scale").set_value(False).run()
    assert not at.exception
    at.toggle(key="compare_confusions").set_value(True).run()
    assert not at.exception
    assert len(at.get("vega_lite_chart")) >= 5
    assert sum("right (the diagonal)" in caption.value for caption in at.caption) == 2


def test_the_settings_that_do_not_differ_are_not_listed(
    compare_page, app_run_log, record_trained_run, two_results
):
    first = record_trained_run(app_run_log, two_results[0], user="same_user")
    second = record_trained_run(app_run_log, two_results[0], user="same_user")
    at = compare_page("same_user", [first.id, second.id])
    (same,) = [caption.value for caption in at.caption if "same settings" in caption.value]
    # Their seeds are the same too: the seed cannot be what tells them apart.
    assert "the seed included" in same and "chance (the seed)" not in same


def test_a_run_opens_on_the_evaluate_page(
    compare_page, app_run_log, record_trained_run, two_results
):
    first = record_trained_run(app_run_log, two_results[0], user="open_user")
    second = record_trained_run(app_run_log, two_results[1], user="open_user")
    at = compare_page("open_user", [first.id, second.id])
    at.button(key=f"compare_open_evaluate_{first.id}").click().run()
    assert not at.exception
    assert at.session_state["model_name"] == f"run:{first.id}"
    assert at.title[0].value.startswith("Evaluate")


def test_hide_and_delete_my_runs(
    compare_page, app_run_log, record_trained_run, two_results, app_user_of
):
    tidy = app_user_of("tidy_user")
    first = record_trained_run(app_run_log, two_results[0], user=tidy)
    second = record_trained_run(app_run_log, two_results[1], user=tidy)
    at = compare_page("tidy_user", [first.id])
    at.button(key="compare_hide").click().run()
    assert app_run_log.get_run(first.id).hidden
    at.session_state["compare_selection"] = [second.id]
    at.run()
    at.button(key="compare_delete").click().run()
    assert not at.exception
    assert all(run.id != second.id for run in app_run_log.list_runs(include_hidden=True))
    assert not Path(second.model_path).exists()


def test_everyones_runs_show_their_users(
    compare_page, app_run_log, record_trained_run, two_results
):
    record_trained_run(app_run_log, two_results[0], user="someone_else_entirely")
    at = compare_page("looker")
    at.toggle(key="compare_everyone").set_value(True).run()
    assert not at.exception
    assert "someone_else_entirely" in set(at.data_editor[0].value["user"])


def test_a_lesson_is_one_request_queued_together(compare_page, app_run_log):
    at = compare_page("lesson_user")
    at.selectbox(key="compare_lesson").set_value("optimizers").run()
    at.button(key="compare_start").click().run()
    assert not at.exception
    selection = at.session_state["compare_selection"]
    assert len(selection) == len(LESSONS["optimizers"].runs)
    runs = [app_run_log.get_run(run_id) for run_id in selection]
    assert len({run.request_id for run in runs}) == 1
    assert {run.lesson for run in runs} == {"optimizers"}
    assert [run.label for run in runs] == [run.label for run in LESSONS["optimizers"].runs]
    for run in runs:  # leave the workers free for the other tests
        if not app_run_log.cancel_run(run.id, "test over"):
            app_run_log.request_stop(run.id)


def test_the_chosen_lesson_and_the_compared_runs_download_as_notebooks(
    compare_page, app_run_log, record_trained_run, two_results
):
    first = record_trained_run(app_run_log, two_results[0], user="notebook_user")
    second = record_trained_run(app_run_log, two_results[1], user="notebook_user")
    at = compare_page("notebook_user", [first.id, second.id])
    buttons = {button.key: button for button in at.download_button}
    assert buttons["compare_lesson_notebook"].label == "Notebook (.ipynb)"
    assert {f"compare_notebook_{first.id}", f"compare_notebook_{second.id}"} <= set(buttons)
    at.selectbox(key="compare_lesson").set_value("dropout").run()
    assert not at.exception
    assert "compare_lesson_notebook" in {button.key for button in at.download_button}


def test_a_run_that_ended_short_is_called_unfair_and_the_table_has_no_none(
    compare_page, app_run_log, app_user_of
):
    user = app_user_of("fair_user")
    plan = {"epochs": 2, "batches_per_epoch": 16, "training_images_used": 1000}
    metrics = {"epoch": 1, "epochs": 2, "loss": 0.5, "accuracy": 0.8, "val_loss": 0.5,
               "val_accuracy": 0.8, "elapsed_seconds": 1.0, "samples_per_second": 900.0}  # fmt: skip
    ended = []
    for label, status in (("full", "finished"), ("short", "stopped")):
        run = app_run_log.create_run(TINY, user=user, label=label, status="running")
        app_run_log.record_plan(run.id, plan)
        app_run_log.record_epoch(run.id, metrics, [])
        if status == "finished":
            app_run_log.record_epoch(run.id, dict(metrics, epoch=2), [])
        else:
            app_run_log.record_progress(
                run.id, dict(metrics, epoch=2, batch=5, batches_per_epoch=16)
            )
        ended.append(
            app_run_log.finish_run(
                run.id, status, metrics={"test_accuracy": 0.9, "training_seconds": 3.0}
            )
        )
    from mnist_core.runs.log import this_process_engine

    engine = this_process_engine()  # another live engine: nobody here starts it
    app_run_log.heartbeat(engine)
    waiting = app_run_log.create_run(TINY, user=user, label="waiting", engine=engine)
    at = compare_page("fair_user", [run.id for run in ended])
    assert any(
        box.value.startswith("Not a fair comparison")
        and "short: 1 of 2 epochs and 5 of 16" in box.value
        for box in at.warning
    )
    results = [frame.value for frame in at.dataframe if "figure" in frame.value.columns]
    assert len(results) == 2  # a card a run
    assert not any("★" in value for frame in results for value in frame["value"])
    table = at.data_editor[0].value
    assert "None" not in table.astype(str).to_numpy().ravel().tolist()
    assert set(table.loc[table["run"].str.startswith("waiting"), "status"]) == {"waiting"}
    app_run_log.cancel_run(waiting.id, "test over")


def test_ticking_runs_leaves_the_lessons_as_they_were_and_a_started_lesson_folds_them(
    compare_page, app_run_log, record_trained_run, two_results
):
    first = record_trained_run(app_run_log, two_results[0], user="ticking_user")
    record_trained_run(app_run_log, two_results[1], user="ticking_user")
    at = compare_page("ticking_user")

    def lessons_open() -> bool:
        (lessons,) = [box for box in at.expander if box.label.startswith("Lessons")]
        return lessons.proto.expanded

    assert lessons_open()  # nothing to compare yet
    at.session_state["compare_selection"] = [first.id]  # what a tick in the table leaves
    at.run()
    assert not at.exception
    # Folding them would pull the table up from under the finger about to tick the next run.
    assert lessons_open()
    at.button(key="compare_start").click().run()
    assert not at.exception
    assert not lessons_open()  # the lesson's runs show
    for run_id in at.session_state["compare_selection"]:  # leave the workers free
        if not app_run_log.cancel_run(run_id, "test over"):
            app_run_log.request_stop(run_id)
