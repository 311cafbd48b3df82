"""The notebooks a page offers for download: a run's (Train, Compare) and a lesson's (Compare).

Both are exported by the core (`mnist_core.teaching.export`, `...lesson_notebook`) as Jupyter
notebooks that train the same thing again with keras, numpy and matplotlib alone."""

from __future__ import annotations

from typing import Any

from mnist_core.runs.record import Run
from mnist_core.teaching.lessons import Lesson

NOTEBOOK_MIME = "application/x-ipynb+json"


def run_notebook_button(container: Any, run: Run, *, key: str) -> None:
    """A download of `run` as a notebook in `container` (a column, say), or why there is none.

    Args:
        container: where to draw it (st, a column, an expander).
        run: the run.
        key: the button's widget key.
    """
    from mnist_core.teaching.export import notebook_file_name, notebook_for_run

    try:
        notebook = notebook_for_run(run)
    except ValueError as error:
        container.caption(f"No notebook for this run: {error}")
        return
    container.download_button(
        "Notebook (.ipynb)",
        notebook,
        file_name=notebook_file_name(run),
        mime=NOTEBOOK_MIME,
        icon=":material/menu_book:",
        key=key,
        help="The same training as a Jupyter notebook to run at home or in Colab, one step a "
        "cell, with its curves, a test digit with noise and the confusion matrix (keras, "
        "numpy and matplotlib only).",
    )


def lesson_notebook_button(container: Any, lesson: Lesson, *, key: str) -> None:
    """A download of `lesson` as a notebook in `container`.

    Args:
        container: where to draw it (st, a column).
        lesson: the lesson.
        key: the button's widget key.
    """
    from mnist_core.teaching.lesson_notebook import lesson_notebook, lesson_notebook_file_name

    container.download_button(
        "Notebook (.ipynb)",
        lesson_notebook(lesson),
        file_name=lesson_notebook_file_name(lesson),
        mime=NOTEBOOK_MIME,
        icon=":material/menu_book:",
        key=key,
        help="This lesson as a Jupyter notebook: its runs trained one after the other, their "
        "curves overlaid and the same conclusions, computed from the notebook's own results.",
    )
