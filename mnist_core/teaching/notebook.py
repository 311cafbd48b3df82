"""A run as a Jupyter notebook that trains it again, assembled from its recipe with nbformat.

It reads as the notebooks the app grew out of: a markdown cell before every step saying what
it does and why, then its code. The first code cell holds what a student changes before
running it, `data_file` and `epochs` (each also read from an environment variable,
`MNIST_NPZ` and `MNIST_EPOCHS`, so that a teacher or a test can run it unattended), and the
run's settings. Keras, numpy and matplotlib only; nothing of the MNIST Playground.

`run_notebook(recipe, ...)` builds it; `notebook_text(notebook)` validates it (nbformat 4)
and gives the `.ipynb` text. The cell helpers here serve the lesson notebooks too
(`teaching.lesson_notebook`). `export.notebook_for_run` is how the rest of the project asks
for a run's notebook."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import nbformat
from nbformat import v4

from mnist_core.teaching.recipe import Recipe, import_lines
from mnist_core.teaching.recipe_step import NOTEBOOK, Step

# The environment variables the first code cell reads (a teacher's or a test's settings).
DATA_FILE_VARIABLE = "MNIST_NPZ"
EPOCHS_VARIABLE = "MNIST_EPOCHS"
NOTEBOOK_METADATA = {
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
}
LIBRARIES_WHY = (
    "## The libraries\n\nKeras builds and trains the network, numpy holds the images as "
    "arrays, matplotlib draws."
)
NEEDS = (
    "It needs keras 3 (with its TensorFlow, JAX or PyTorch backend), numpy and matplotlib, "
    "which Colab has already."
)


def markdown_cell(text: str, cell_id: str) -> nbformat.NotebookNode:
    """A markdown cell with a stable id (the same export gives the same file)."""
    return v4.new_markdown_cell(text.strip(), id=cell_id)


def code_cell(lines: Sequence[str], cell_id: str) -> nbformat.NotebookNode:
    """A code cell of `lines` with a stable id, without trailing blank lines."""
    return v4.new_code_cell("\n".join(lines).strip("\n"), id=cell_id)


def new_notebook(cells: Sequence[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    """A notebook (nbformat 4) of `cells`, for a Python 3 kernel, validated."""
    notebook = v4.new_notebook(cells=list(cells), metadata=dict(NOTEBOOK_METADATA))
    nbformat.validate(notebook)
    return notebook


def notebook_text(notebook: nbformat.NotebookNode) -> str:
    """The notebook as `.ipynb` text, validated first (ValidationError if it is not valid)."""
    nbformat.validate(notebook)
    return nbformat.writes(notebook)


def step_cells(step: Step, number: int | None, heading: str = "##") -> list[nbformat.NotebookNode]:
    """A step as a markdown cell (its title and why) and a code cell (definitions, code).

    Args:
        step: the recipe's step.
        number: its number in the notebook's headings (None: no number).
        heading: the markdown heading level of its title.
    """
    title = f"{number}. {step.title}" if number is not None else step.title
    cells = [markdown_cell(f"{heading} {title}\n\n{step.why}", f"{step.key}-why")]
    lines = list(step.definitions)
    if step.definitions and step.code:
        lines += ["", ""]
    lines += step.code
    if lines:
        cells.append(code_cell(lines, step.key))
    return cells


def parameter_lines(
    data_comment: str, parameters: Sequence[tuple[str, str, str, str]]
) -> list[str]:
    """The first code cell's parameters, each read from an environment variable.

    Args:
        data_comment: what `data_file` is, as comment lines.
        parameters: (name, environment variable, default, comment) of each integer parameter.
    """
    lines = [
        "import os",
        "",
        "# What to change before running the notebook (Run All). A teacher can set them from",
        f"# outside too: {DATA_FILE_VARIABLE}=mnist.npz {EPOCHS_VARIABLE}=1 jupyter nbconvert "
        "--to notebook --execute ...",
        data_comment,
        f'data_file = os.environ.get("{DATA_FILE_VARIABLE}", "")',
    ]
    for name, variable, default, comment in parameters:
        lines += [f"# {comment}", f'{name} = int(os.environ.get("{variable}", "{default}"))']
    return lines


DATA_FILE_COMMENT = (
    '# The data: "" loads it with Keras\' own loader (a download, once: internet needed);\n'
    "# or the path of an .npz with x_train, y_train, x_test and y_test, such as mnist.npz."
)


def run_notebook(
    recipe: Recipe,
    *,
    title: str,
    caveats: Sequence[str],
    reached: str | None,
    parameter_count: int | None,
) -> nbformat.NotebookNode:
    """The notebook that trains `recipe.config` again, step by step.

    Args:
        recipe: the config's steps (`recipe.run_recipe(config, NOTEBOOK)`).
        title: the notebook's heading.
        caveats: what the notebook does not reproduce, one sentence each.
        reached: what the run reached in the app, a sentence (None: no such cell).
        parameter_count: the run's parameter count (None: not known).
    """
    config = recipe.config
    steps = recipe.for_medium(NOTEBOOK)
    intro = [f"# {title}", "", recipe.description]
    if parameter_count is not None:
        intro[-1] += f" The network has {parameter_count:,} parameters."
    intro += [
        "",
        "Run the cells one after the other (Shift+Enter), reading what each one says first. "
        "The first code cell holds what you may change before running: the data file, the "
        "number of epochs and the run's settings. " + NEEDS,
    ]
    if caveats:
        intro += ["", "**What this notebook does not reproduce:**", ""]
        intro += [f"- {caveat}" for caveat in caveats]
    intro += ["", f"*Exported by the MNIST Playground on {datetime.date.today().isoformat()}.*"]
    parameters = parameter_lines(
        DATA_FILE_COMMENT,
        [
            (
                "epochs",
                EPOCHS_VARIABLE,
                str(config.epochs),
                f"Epochs to train (the run: {config.epochs}).",
            )
        ],
    )
    cells = [
        markdown_cell("\n".join(intro), "intro"),
        code_cell(
            [
                *parameters,
                "",
                "# The run's settings. Change one, run again, and see what it does.",
                *recipe.settings,
            ],
            "parameters",
        ),
        markdown_cell(LIBRARIES_WHY, "imports-why"),
        code_cell(import_lines(steps), "imports"),
    ]
    for number, step in enumerate(steps, start=1):
        cells += step_cells(step, number)
        if step.key == "test" and reached:
            cells.append(markdown_cell(f"> {reached}", "in-the-app"))
    cells.append(markdown_cell(_next_steps(), "next"))
    return new_notebook(cells)


def _next_steps() -> str:
    return (
        "## What next\n\n"
        "Change one thing in the first code cell and run the notebook again (Run All): "
        "`LEARNING_RATE` ten times larger or smaller, more `epochs`, another `BATCH_SIZE`. "
        "Predict what the curves will do before you look. In the MNIST Playground, "
        '"Change one thing" on the Train page does the same, and Compare puts the runs '
        "side by side."
    )
