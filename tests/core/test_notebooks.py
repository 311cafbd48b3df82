"""Tests of the exported notebooks: a run's (`export.notebook_for_run`) and a lesson's
(`lesson_notebook.lesson_notebook`), and the `lessons` command.

Quick checks read the notebooks: every one validates with nbformat and imports keras, numpy,
matplotlib and the standard library only; the script and the notebook share the recipe's code;
the notebook's own cells, run in-process, rebuild `build_model`'s network, choose the app's
training images, and give the app's conclusion sentences for the same figures.

The slow tests execute notebooks for real with nbclient on a tiny `.npz`, one epoch, in one
Jupyter kernel started in an empty folder (it cannot import the app); each notebook starts
from an empty namespace (`%reset -f`), so that only the Python import cache is shared.
"""

import ast
import dataclasses
import json
import math
import re
import sys
from types import SimpleNamespace

import nbformat
import numpy as np
import pytest

from mnist_core import cli
from mnist_core.modeling.build import build_model
from mnist_core.modeling.presets import PRESETS, get_preset
from mnist_core.modeling.summary import count_parameters, describe_model
from mnist_core.runs.log import RunLog
from mnist_core.runs.record import DIVERGED, FINISHED, RUNNING
from mnist_core.teaching import export
from mnist_core.teaching.conclusions import lesson_conclusions
from mnist_core.teaching.lesson_notebook import lesson_notebook, lesson_notebook_file_name
from mnist_core.teaching.lessons import LESSONS, get_lesson
from mnist_core.teaching.recipe import run_recipe
from mnist_core.teaching.recipe_step import NOTEBOOK, SCRIPT
from mnist_core.teaching.sentences import FOCUS_SENTENCES

# Besides the standard library, what a notebook may import.
ALLOWED_PACKAGES = {"keras", "numpy", "matplotlib"}
CELL_TIMEOUT_SECONDS = 180
# The sentence each comparison of a lesson gives (accuracy, then each focus), by its start.
COMPARISON_SENTENCES = {
    "accuracy": r"^\S.* reached \d+\.\d% test accuracy",
    "parameters": r"^Parameters: ",
    "gap": r"^Training against validation accuracy: ",
    "speed": r"^Time: ",
    "loss": r"^Training loss from the first epoch to the last: ",
    "first_epoch": r"^(90% validation accuracy was reached by|No run reached 90%)",
}


def cells(text: str, kind: str = "code") -> dict[str, str]:
    """A notebook's cells of one kind, by id."""
    notebook = nbformat.reads(text, as_version=4)
    return {cell.id: cell.source for cell in notebook.cells if cell.cell_type == kind}


def imported_modules(source: str) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules.add((node.module or "").split(".")[0])
    return modules


def recorded_run(run_log: RunLog, config, *, epochs_done: int | None = None, **fields):
    """A finished run with `epochs_done` epochs of history (default: all of them)."""
    run = run_log.create_run(config, user="ada", status=RUNNING, **fields)
    for epoch in range(1, (epochs_done or config.epochs) + 1):
        run_log.record_epoch(
            run.id,
            {"epoch": epoch, "epochs": config.epochs, "loss": 1.0 / epoch, "accuracy": 0.9,
             "val_loss": 0.5, "val_accuracy": 0.9, "elapsed_seconds": 8.2 * epoch,
             "samples_per_second": 1000.0},
            [],
        )  # fmt: skip
    metrics = {
        "test_accuracy": 0.978, "parameter_count": count_parameters(config),
        "training_seconds": 41.2, "training_images_used": 54000,
    }  # fmt: skip
    return run_log.finish_run(run.id, FINISHED, "Trained.", metrics=metrics)


def every_notebook(run_log: RunLog) -> dict[str, str]:
    notebooks = {
        f"run {name}": export.notebook_for_run(recorded_run(run_log, preset.config, preset=name))
        for name, preset in PRESETS.items()
    }
    fashion = get_preset("dense_fast").config.replace(dataset="fashion_mnist")
    notebooks["run fashion"] = export.notebook_for_run(recorded_run(run_log, fashion))
    notebooks.update(
        {f"lesson {name}": lesson_notebook(lesson) for name, lesson in LESSONS.items()}
    )
    return notebooks


# --- Reading the notebooks ----------------------------------------------------------------------
def test_every_notebook_validates_and_imports_nothing_from_the_app(tmp_path):
    for name, text in every_notebook(RunLog(tmp_path / "runs.sqlite3")).items():
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
        assert notebook.nbformat == 4, name
        code = cells(text)
        assert list(code)[0] == "parameters", f"{name}: the first code cell holds the parameters"
        assert 'os.environ.get("MNIST_NPZ", "")' in code["parameters"], name
        assert 'os.environ.get("MNIST_EPOCHS", ' in code["parameters"], name
        for cell_id, source in code.items():
            modules = imported_modules(source) - sys.stdlib_module_names  # plain Python cells
            assert modules <= ALLOWED_PACKAGES, f"{name}, cell {cell_id} imports {modules}"
            assert "mnist_core" not in source, f"{name}, cell {cell_id}"


def test_the_script_and_the_notebook_share_the_recipe_code(tmp_path):
    config = get_preset("cnn_fast").config.replace(augment_zoom=0.1, augment_stroke=0.2)
    run = recorded_run(RunLog(tmp_path / "runs.sqlite3"), config, preset="cnn_fast")
    script, notebook = export.script_for_run(run), cells(export.notebook_for_run(run))
    recipe = run_recipe(config, NOTEBOOK)
    for step in run_recipe(config, SCRIPT).for_medium(SCRIPT):
        for line in (*step.definitions, *step.code):
            assert line in script, f"{step.key}: {line!r}"
    for step in recipe.for_medium(NOTEBOOK):
        for line in (*step.definitions, *step.code):
            assert line in notebook[step.key], f"{step.key}: {line!r}"
    # The network, its compilation and the augmentation are one text in both.
    for key in ("network", "compile", "fit"):
        definitions = "\n".join(recipe.step(key).definitions)
        assert definitions and definitions in script and definitions in notebook[key]


def run_cells(text: str, ids: list[str], namespace: dict | None = None) -> dict:
    """Run some of a notebook's code cells in-process, in order, in one namespace."""
    namespace = {} if namespace is None else namespace
    code = cells(text)
    for cell_id in ids:
        exec(compile(code[cell_id], f"<cell {cell_id}>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("preset", ["cnn_fast", "relu_512_sparse_rmsprop", "dense_fast"])
def test_the_notebook_builds_the_same_model_as_build_model(preset, tmp_path):
    config = get_preset(preset).config
    run = recorded_run(RunLog(tmp_path / "runs.sqlite3"), config, preset=preset)
    training_images = 60000 - (
        0 if config.validation == "test" else int(round(60000 * config.validation_split))
    )
    # The images the schedule counts, as the validation cell leaves them.
    namespace = {"x_train": np.zeros((training_images, 1), dtype=np.uint8)}
    run_cells(
        export.notebook_for_run(run), ["parameters", "imports", "network", "compile"], namespace
    )
    rebuilt = namespace["model"]
    reference = build_model(config, training_images=60000)
    assert rebuilt.count_params() == run.parameter_count == reference.count_params()
    assert describe_model(rebuilt) == describe_model(reference)
    for ours, theirs in zip(rebuilt.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    ours, theirs = rebuilt.get_compile_config(), reference.get_compile_config()
    ours["optimizer"]["config"].pop("name"), theirs["optimizer"]["config"].pop("name")
    assert ours == theirs


def test_the_notebook_quotes_the_run_and_says_what_it_does_not_reproduce(tmp_path):
    run_log = RunLog(tmp_path / "runs.sqlite3")
    config = get_preset("cnn_fast").config.replace(epochs=5)
    run = recorded_run(run_log, config, preset="cnn_fast", label="my fast cnn!")
    text = export.notebook_for_run(run)
    markdown = "\n".join(cells(text, "markdown").values())
    assert "In the app this run reached 97.8% test accuracy after 5 epochs, in 41 s" in markdown
    assert "does not reproduce" not in markdown
    assert export.notebook_file_name(run) == f"my_fast_cnn_{run.id[:6]}.ipynb"

    capped = run_log.create_run(
        get_preset("handwriting_cnn").config.replace(epochs=3), user="ada", training_images=2000,
        limits={"asked_epochs": 12}, status=RUNNING,
    )  # fmt: skip
    capped = run_log.finish_run(capped.id, FINISHED, "Trained.")
    intro = cells(export.notebook_for_run(capped), "markdown")["intro"]
    assert "**What this notebook does not reproduce:**" in intro
    assert "2,000 training images chosen by the MNIST Playground" in intro
    assert "this notebook trains on the full MNIST training set" in intro
    assert "digits drawn as on the canvas" in intro
    assert "set epochs = 12 in the first code cell" in intro
    assert (
        "no test accuracy to compare with"
        in cells(export.notebook_for_run(capped), "markdown")["in-the-app"]
    )
    # No label and no preset: named by its network, in a few words.
    assert export.notebook_file_name(capped) == f"cnn_32_64_128_k3_and_128_{capped.id[:6]}.ipynb"


def test_a_lesson_notebook_has_its_parameters_on_top_and_a_section_per_run():
    lesson = get_lesson("optimizers")
    text = lesson_notebook(lesson)
    code, markdown = cells(text), cells(text, "markdown")
    assert lesson.what_to_look_for in markdown["intro"]
    assert (
        'training_images = int(os.environ.get("MNIST_TRAINING_IMAGES", "8000"))'
        in code["parameters"]
    )
    assert 'epochs_per_run = int(os.environ.get("MNIST_EPOCHS", "3"))' in code["parameters"]
    for number, lesson_run in enumerate(lesson.runs, start=1):
        assert markdown[f"run{number}-why"].startswith(f"## Run {number}: {lesson_run.label}")
        assert "| **optimizer** | **" in markdown[f"run{number}-why"]  # what the lesson varies
        assert f'results["{lesson_run.label}"] = run_result(' in code[f"run{number}-training"]
    assert "LESSON_FOCUS = ['first_epoch', 'loss']" in code["conclusions"]
    assert lesson_notebook_file_name(lesson) == "lesson_optimizers.ipynb"


def test_the_lesson_notebook_chooses_the_apps_training_images(mnist):
    choose = run_cells(lesson_notebook(get_lesson("dropout")), ["imports", "choose"])[
        "choose_training_images"
    ]
    for count, seed in ((5, 0), (300, 0), (3000, 7)):
        chosen = choose(mnist.y_train, count, seed)
        subset = mnist.subset(count, None, seed=seed)
        np.testing.assert_array_equal(mnist.y_train[chosen], subset.y_train)
        np.testing.assert_array_equal(mnist.x_train[chosen], subset.x_train)
    assert len(choose(mnist.y_train, 60000, 0)) == 60000


def keras_history(rows: list[dict]) -> SimpleNamespace:
    """What `model.fit` returns, for the keys the notebook reads."""
    keys = ("loss", "accuracy", "val_loss", "val_accuracy")
    return SimpleNamespace(history={key: [row[key] for row in rows] for key in keys})


def epoch_rows(losses, accuracies, val_losses, val_accuracies) -> list[dict]:
    return [
        {"epoch": index + 1, "loss": loss, "accuracy": accuracy, "val_loss": val_loss,
         "val_accuracy": val_accuracy}
        for index, (loss, accuracy, val_loss, val_accuracy) in enumerate(
            zip(losses, accuracies, val_losses, val_accuracies)
        )
    ]  # fmt: skip


# Figures of each lesson's runs: (epochs, test accuracy, seconds, training images), and
# whether the run diverged in the epoch after its rows.
FAKE_FIGURES = {
    "dense_or_cnn": [
        (epoch_rows([0.4, 0.2], [0.9, 0.95], [0.3, 0.25], [0.92, 0.93]), 0.934, 6.0, 9000, False),
        (epoch_rows([0.3, 0.1], [0.93, 0.98], [0.1, 0.06], [0.97, 0.985]), 0.984, 21.5, 9000, False),
    ],
    "dropout": [
        (epoch_rows([0.5, 0.1, 0.01], [0.85, 0.97, 1.0], [0.4, 0.35, 0.5], [0.88, 0.9, 0.9]),
         0.902, 12.0, 2400, False),
        (epoch_rows([0.7, 0.3, 0.2], [0.8, 0.9, 0.93], [0.45, 0.33, 0.3], [0.86, 0.9, 0.91]),
         0.913, 13.0, 2400, False),
    ],
    "learning_rate": [
        (epoch_rows([2.2, 2.1, 2.05], [0.2, 0.3, 0.35], [2.15, 2.1, 2.0], [0.25, 0.33, 0.4]),
         0.41, 5.0, 6400, False),
        (epoch_rows([0.5, 0.2, 0.1], [0.86, 0.94, 0.97], [0.3, 0.2, 0.15], [0.91, 0.95, 0.96]),
         0.958, 5.5, 6400, False),
        (epoch_rows([9.0], [0.1], [8.0], [0.1]), 0.098, 1.5, 6400, True),
    ],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(FAKE_FIGURES))
def test_the_lesson_notebook_gives_the_apps_sentences_for_the_same_figures(name, tmp_path):
    lesson = get_lesson(name)
    namespace = {"math": math}
    run_cells(lesson_notebook(lesson), ["results", "sentences"], namespace)
    run_log = RunLog(tmp_path / "runs.sqlite3")
    runs, results = [], []
    for lesson_run, config, (rows, accuracy, seconds, images, diverged) in zip(
        lesson.runs, lesson.configs(), FAKE_FIGURES[name], strict=True
    ):
        # The app: the epochs that ended, then the run's end.
        run = run_log.create_run(
            config, user="ada", lesson=name, label=lesson_run.label, status=RUNNING
        )
        for row in rows:
            run_log.record_epoch(run.id, {**row, "epochs": config.epochs}, [])
        metrics = {
            "test_accuracy": accuracy, "parameter_count": count_parameters(config),
            "training_seconds": seconds, "epochs_completed": len(rows),
            "samples_per_second": images * max(1, len(rows)) / seconds,
        }  # fmt: skip
        status = DIVERGED if diverged else FINISHED
        runs.append(run_log.finish_run(run.id, status, "", metrics=metrics))
        # The notebook: Keras' history (with the epoch whose loss became NaN), then its figures.
        fitted = rows + (epoch_rows([math.nan], [0.1], [math.nan], [0.1]) if diverged else [])
        results.append(
            namespace["run_result"](
                lesson_run.label, keras_history(fitted), config.epochs, accuracy,
                count_parameters(config), seconds, images,
            )
        )  # fmt: skip
    expected = lesson_conclusions(lesson, runs)
    assert namespace["lesson_sentences"](results, lesson.focus) == expected
    assert len(expected) >= 1 + len(lesson.focus)
    if name == "learning_rate":
        assert any("diverged in epoch 2" in sentence for sentence in expected)


def test_the_sentences_know_every_focus():
    from mnist_core.teaching.lessons import FOCUSES

    assert set(FOCUS_SENTENCES) == set(FOCUSES) == set(COMPARISON_SENTENCES) - {"accuracy"}


# --- The command line --------------------------------------------------------------------------
def run_main(capsys, *arguments):
    status = cli.main(list(arguments))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_lessons_lists_them_and_exports_one(tmp_path, capsys):
    status, out, _ = run_main(capsys, "lessons")
    assert status == 0
    for name in LESSONS:
        assert re.search(rf"^{name}\s", out, re.M), name
    path = tmp_path / "optimizers.ipynb"
    status, out, _ = run_main(capsys, "lessons", "export", "optimizers", "--notebook", str(path))
    assert status == 0 and f"wrote {path}" in out
    nbformat.validate(nbformat.read(path, as_version=4))

    status, _, err = run_main(capsys, "lessons", "export", "optimizers", "--notebook", str(path))
    assert status == cli.ERROR_EXIT_STATUS and "--overwrite" in err
    status, _, err = run_main(capsys, "lessons", "export", "nope", "--notebook", str(path))
    assert status == cli.ERROR_EXIT_STATUS and "'nope'" in err and "dropout" in err
    status, _, err = run_main(
        capsys, "lessons", "export", "dropout", "--notebook", str(tmp_path / "dropout.json")
    )
    assert status == cli.ERROR_EXIT_STATUS and ".ipynb" in err and "dropout.json" in err


def test_runs_export_writes_a_notebook(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MNIST_RUNS_DB", str(tmp_path / "runs.sqlite3"))
    run = recorded_run(RunLog(tmp_path / "runs.sqlite3"), get_preset("dense_fast").config)
    notebook, script = tmp_path / "dense.ipynb", tmp_path / "dense.py"
    status, out, err = run_main(
        capsys, "runs", "export", run.id, "--notebook", str(notebook), "--code", str(script)
    )
    assert status == 0, err
    assert f"wrote {notebook}" in out and f"wrote {script}" in out
    assert "parameters" in cells(notebook.read_text())
    status, _, err = run_main(capsys, "runs", "export", run.id, "--notebook", str(script))
    assert status == cli.ERROR_EXIT_STATUS and ".ipynb" in err


# --- Running them -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kernel(mnist, tmp_path_factory):
    """One Jupyter kernel, started in an empty folder, with a tiny MNIST as MNIST_NPZ."""
    import os

    from jupyter_client.manager import KernelManager

    folder = tmp_path_factory.mktemp("notebooks")
    small = mnist.subset(300, 100, seed=1)
    data = folder / "tiny_mnist.npz"
    np.savez(data, x_train=small.x_train, y_train=small.y_train, x_test=small.x_test,
             y_test=small.y_test)  # fmt: skip
    # Not Streamlit's MPLBACKEND=Agg (importing streamlit sets it for the whole process, so
    # after any app test): a student's Jupyter shows the figures inline.
    inherited = {name: value for name, value in os.environ.items() if name != "MPLBACKEND"}
    environment = {
        **inherited, "MNIST_NPZ": str(data), "MNIST_EPOCHS": "1",
        "MNIST_TRAINING_IMAGES": "300", "TF_CPP_MIN_LOG_LEVEL": "3",
    }  # fmt: skip
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env=environment, cwd=str(folder))
    try:
        yield manager
    finally:
        manager.shutdown_kernel(now=True)


def execute(text: str, kernel, *, then: str = "") -> nbformat.NotebookNode:
    """Run every cell of a notebook in the kernel, from an empty namespace; then `then`."""
    from nbclient import NotebookClient

    notebook = nbformat.reads(text, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell("%reset -f", id="reset"))
    if then:
        notebook.cells.append(nbformat.v4.new_code_cell(then, id="then"))
    client = NotebookClient(notebook, km=kernel, timeout=CELL_TIMEOUT_SECONDS)
    try:
        client.execute()  # raises CellExecutionError, naming the cell, on any error
    finally:
        if client.kc is not None:
            client.kc.stop_channels()
    return notebook


def printed(notebook: nbformat.NotebookNode, cell_id: str) -> str:
    (cell,) = [cell for cell in notebook.cells if cell.get("id") == cell_id]
    return "".join(output.text for output in cell.outputs if output.output_type == "stream")


@pytest.mark.slow
def test_an_exported_run_notebook_runs(kernel, tmp_path):
    config = get_preset("cnn_fast").config.replace(augment_rotation=10.0)
    run = recorded_run(RunLog(tmp_path / "runs.sqlite3"), config, preset="cnn_fast",
                       training_images=2000)  # fmt: skip
    notebook = execute(export.notebook_for_run(run), kernel)
    assert f"parameters: {run.parameter_count}\n" in printed(notebook, "summary")
    assert re.search(r"^epoch 1: loss [\d.]+", printed(notebook, "fit"), re.M)
    assert re.search(r"^test accuracy: [\d.]+%", printed(notebook, "test"), re.M)
    assert "test accuracy with noise" in printed(notebook, "noise")
    assert "accuracy" in printed(notebook, "report")
    pictures = [
        cell.id
        for cell in notebook.cells
        if any("image/png" in output.get("data", {}) for output in cell.get("outputs", []))
    ]
    assert pictures == ["look", "curves", "one_digit", "noise", "confusion_figure"]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(LESSONS))
def test_each_lesson_notebook_runs_and_prints_one_conclusion_per_comparison(name, kernel, tmp_path):
    lesson = get_lesson(name)
    notebook = execute(
        lesson_notebook(lesson),
        kernel,
        then="import json\nprint(json.dumps(list(results.values())))",
    )
    sentences = [
        line[2:] for line in printed(notebook, "conclusions").splitlines() if line.startswith("- ")
    ]
    for comparison in ("accuracy", *lesson.focus):
        assert any(re.match(COMPARISON_SENTENCES[comparison], s) for s in sentences), (
            comparison, sentences,
        )  # fmt: skip
    # The app's own conclusions for the notebook's figures are the sentences it printed.
    results = json.loads(printed(notebook, "then"))
    assert [result["name"] for result in results] == [run.label for run in lesson.runs]
    run_log = RunLog(tmp_path / "runs.sqlite3")
    runs = []
    for result, config in zip(results, lesson.configs(), strict=True):
        run = run_log.create_run(
            dataclasses.replace(config, epochs=1), user="ada", lesson=name,
            label=result["name"], status=RUNNING,
        )  # fmt: skip
        for row in result["history"]:
            run_log.record_epoch(run.id, {**row, "epochs": 1}, [])
        metrics = {key: result[key] for key in (
            "test_accuracy", "parameter_count", "training_seconds", "samples_per_second",
            "epochs_completed")}  # fmt: skip
        runs.append(run_log.finish_run(run.id, result["status"], "", metrics=metrics))
        assert result["parameter_count"] == count_parameters(config)
    assert sentences == lesson_conclusions(lesson, runs)
