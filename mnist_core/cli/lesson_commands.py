"""The `lessons` commands: list the notebooks' lessons; export one as a Jupyter notebook."""

from __future__ import annotations

import argparse
from typing import Any

from mnist_core.cli.common import (
    check_notebook_path,
    check_output_files,
    print_table,
)


def register(subparsers: Any) -> None:
    """Add `lessons` and its subcommand `export` to the command line."""
    lessons_parser = subparsers.add_parser(
        "lessons",
        help="list the lessons; export one as a Jupyter notebook",
        description=(
            "The notebooks' lessons: comparisons of two or three runs that teach one thing "
            "(started on the app's Compare page). Without a subcommand, list them by name."
        ),
    )
    lessons_parser.set_defaults(handler=lessons_list)
    commands = lessons_parser.add_subparsers(dest="lessons_command", metavar="subcommand")
    export_parser = commands.add_parser(
        "export",
        help="a lesson as a Jupyter notebook that trains its runs and compares them",
        description=(
            "Write a lesson as a Jupyter notebook (keras, numpy and matplotlib only): what to "
            "look for, one section per run, the curves overlaid and the conclusions the app "
            "writes, computed from the notebook's own results."
        ),
    )
    export_parser.add_argument("name", metavar="NAME", help="the lesson's name (see `lessons`)")
    export_parser.add_argument(
        "--notebook", metavar="FILE", required=True, help="write the notebook here (.ipynb)"
    )
    export_parser.add_argument(
        "--overwrite", action="store_true", help="replace the file if it exists"
    )
    export_parser.set_defaults(handler=lessons_export)


def lessons_list(args: argparse.Namespace) -> int:
    """List the lessons: name, runs, the quick default's images and epochs, title.

    Args:
        args: Parsed arguments (none are used).
    """
    from mnist_core.teaching.lessons import LESSONS

    rows = [
        (
            lesson.name,
            str(len(lesson.runs)),
            f"{lesson.training_images:,}",
            str(lesson.epochs) if lesson.epochs is not None else "own",
            lesson.title,
        )
        for lesson in LESSONS.values()
    ]
    print_table(("lesson", "runs", "images", "epochs", "title"), rows, right_aligned={1, 2, 3})
    print(
        "\nexport one with `python -m mnist_core lessons export NAME --notebook NAME.ipynb`; "
        "run one in the app on the Compare page."
    )
    return 0


def lessons_export(args: argparse.Namespace) -> int:
    """Write one lesson as a Jupyter notebook.

    Args:
        args: Parsed arguments: `name`, `notebook` (the file), `overwrite`.
    """
    from pathlib import Path

    from mnist_core.teaching.lesson_notebook import TRAINING_IMAGES_VARIABLE, lesson_notebook
    from mnist_core.teaching.lessons import get_lesson

    lesson = get_lesson(args.name)  # ValueError naming the lessons
    check_notebook_path(args.notebook)
    check_output_files([args.notebook], overwrite=args.overwrite, command="lessons export")
    Path(args.notebook).write_text(lesson_notebook(lesson))
    print(
        f"wrote {args.notebook}: open it in Jupyter or Colab and run it cell by cell; it trains "
        f"{len(lesson.runs)} runs on {lesson.training_images:,} images each "
        f"(offline: MNIST_NPZ=mnist.npz; {TRAINING_IMAGES_VARIABLE}=60000 for all the images)"
    )
    return 0
