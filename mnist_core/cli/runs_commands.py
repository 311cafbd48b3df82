"""The `runs` commands: list the recorded runs; show, compare or export one."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mnist_core.cli.common import (
    CommandError,
    check_notebook_path,
    check_output_files,
    format_epoch_seconds,
    format_number,
    json_ready,
    print_table,
)


def register(subparsers: Any) -> None:
    """Add `runs` and its subcommands to the command line."""
    runs_parser = subparsers.add_parser(
        "runs",
        help="list the recorded runs; show, compare or export one",
        description=(
            "Every training (in the app or with `train`) is a run, kept in the run log "
            "($MNIST_RUNS_DB, default <data directory>/runs.sqlite3). Without a subcommand, "
            "list them, newest first."
        ),
    )
    runs_parser.add_argument(
        "--json", action="store_true", help="print a JSON list, one object per run"
    )
    runs_parser.add_argument("--user", metavar="NAME", help="only this user's runs")
    runs_parser.add_argument("--limit", type=int, metavar="N", help="at most N runs")
    runs_parser.add_argument("--all", action="store_true", help="also the runs their users hid")
    runs_parser.set_defaults(handler=runs_list)
    commands = runs_parser.add_subparsers(dest="runs_command", metavar="subcommand")

    show_parser = commands.add_parser(
        "show", help="one run in full", description="Show one run: settings, figures, epochs."
    )
    show_parser.add_argument("run_id", metavar="ID", help="the run's id (see `runs`)")
    show_parser.add_argument(
        "--json", action="store_true", dest="json_output", help="print it as JSON"
    )
    show_parser.set_defaults(handler=runs_show)

    compare_parser = commands.add_parser(
        "compare",
        help="the differing settings and the figures of runs, side by side",
        description="Print the settings that differ between runs, then their figures.",
    )
    compare_parser.add_argument("run_ids", nargs="+", metavar="ID", help="two or more run ids")
    compare_parser.add_argument(
        "--json", action="store_true", dest="json_output", help="print it as JSON"
    )
    compare_parser.set_defaults(handler=runs_compare)

    export_parser = commands.add_parser(
        "export",
        help="a run as a Keras script or notebook, its history as CSV, its model file",
        description=(
            "Write a run as a standalone Python script (keras and numpy only) or a Jupyter "
            "notebook (keras, numpy and matplotlib) that trains it again, its history as CSV, "
            "and/or its trained model as a .keras file."
        ),
    )
    export_parser.add_argument("run_id", metavar="ID", help="the run's id (see `runs`)")
    export_parser.add_argument("--code", metavar="FILE", help="write the training script here")
    export_parser.add_argument(
        "--notebook", metavar="FILE", help="write the run as a Jupyter notebook here (.ipynb)"
    )
    export_parser.add_argument("--csv", metavar="FILE", help="write the history here")
    export_parser.add_argument(
        "--model", metavar="FILE", help="copy the trained model here (a .keras file)"
    )
    export_parser.add_argument("--overwrite", action="store_true", help="replace files that exist")
    export_parser.set_defaults(handler=runs_export)


def _open_run_log() -> Any:
    """The run log, which must exist already: reading runs never creates one."""
    from mnist_core.base.paths import RUNS_DB_ENVIRONMENT_VARIABLE
    from mnist_core.runs.log import RunLog

    run_log = RunLog()
    if not run_log.path.is_file():
        raise CommandError(
            f"no run log at {run_log.path}: nothing has been recorded there yet (train with "
            f"`python -m mnist_core train`, or point {RUNS_DB_ENVIRONMENT_VARIABLE} at a log)."
        )
    run_log.check()
    return run_log


def runs_list(args: argparse.Namespace) -> int:
    """List the recorded runs, newest first (no TensorFlow).

    Args:
        args: Parsed arguments: `json`, `user` (None: everyone's), `limit`, `all` (hidden too).
    """
    from mnist_core.modeling.summary import architecture_summary

    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be at least 1, got {args.limit}.")
    run_log = _open_run_log()
    runs = run_log.list_runs(user=args.user, include_hidden=args.all, limit=args.limit)
    if args.json:
        print(json.dumps(json_ready([run.to_dict() for run in runs]), indent=2))
        return 0
    if not runs:
        print(f"no runs in {run_log.path}")
        return 0
    print(f"runs in {run_log.path}:")
    rows = [
        (
            run.id,
            format_epoch_seconds(run.created_at),
            run.user,
            run.status,
            run.label or run.preset or "-",
            architecture_summary(run.config),
            f"{len(run.history)}/{run.config.epochs}",
            f"{run.test_accuracy:.2%}" if run.test_accuracy is not None else "-",
            f"{run.parameter_count:,}" if run.parameter_count is not None else "-",
        )
        for run in runs
    ]
    print_table(
        ("id", "created", "user", "status", "name", "network", "epochs", "test accuracy",
         "parameters"),
        rows,
        right_aligned={6, 7, 8},
    )  # fmt: skip
    return 0


def runs_show(args: argparse.Namespace) -> int:
    """Show one run: what it is, its settings, its figures and its epochs.

    Args:
        args: Parsed arguments: `run_id`, `json_output`.
    """
    import dataclasses

    from mnist_core.modeling.config import ModelConfig
    from mnist_core.modeling.summary import architecture_summary
    from mnist_core.teaching.compare import (
        setting_value,
        side_by_side_metrics,
    )

    run = _open_run_log().get_run(args.run_id)
    if args.json_output:
        print(json.dumps(json_ready(run.to_dict()), indent=2))
        return 0
    print(f"run {run.id}: {run.status}" + (f" ({run.reason})" if run.reason else ""))
    facts = [
        ("user", run.user),
        ("name", run.label or "-"),
        ("preset", run.preset or "-"),
        ("lesson", run.lesson or "-"),
        ("network", architecture_summary(run.config)),
        ("dataset", run.dataset),
        ("training images", "all" if run.training_images is None else f"{run.training_images:,}"),
        ("created", format_epoch_seconds(run.created_at)),
        ("model", run.model_path if run.model_kept else "not kept"),
    ]
    if run.model_name:
        facts.append(("saved as", run.model_name))
    if run.class_limited:
        facts.append(("class limits", json.dumps(run.limits)))
    width = max(len(key) for key, _ in facts) + 2
    for key, value in facts:
        print(f"  {key:<{width}}{value}")
    print("\nsettings:")
    print_table(
        ("setting", "value"),
        [
            (field.name, setting_value(run.config, field.name))
            for field in dataclasses.fields(ModelConfig)
            if field.name != "dataset"
        ],
    )
    print("\nfigures:")
    print_table(
        ("figure", "value"), [(row.metric, row.values[0]) for row in side_by_side_metrics([run])]
    )
    if run.history:
        print("\nepochs:")
        print_table(
            ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"),
            [
                (
                    str(entry.get("epoch", index + 1)),
                    format_number(entry.get("loss"), ".4f"),
                    format_number(entry.get("accuracy"), ".4f"),
                    format_number(entry.get("val_loss"), ".4f"),
                    format_number(entry.get("val_accuracy"), ".4f"),
                    format_number(entry.get("elapsed_seconds"), ".1f"),
                )
                for index, entry in enumerate(run.history)
            ],
            right_aligned={0, 1, 2, 3, 4, 5},
        )
    return 0


def runs_compare(args: argparse.Namespace) -> int:
    """Print the settings that differ between runs, then their figures side by side.

    Args:
        args: Parsed arguments: `run_ids` (two or more), `json_output`.
    """
    from mnist_core.teaching.compare import (
        differing_settings,
        run_label,
        side_by_side_metrics,
    )
    from mnist_core.teaching.fairness import uneven_work_sentence

    if len(args.run_ids) < 2:
        raise ValueError(
            f"runs compare needs at least two run ids, got {len(args.run_ids)}; "
            "`python -m mnist_core runs` lists them."
        )
    if len(set(args.run_ids)) != len(args.run_ids):
        raise ValueError("runs compare got the same run id twice; give each run once.")
    run_log = _open_run_log()
    runs = [run_log.get_run(run_id) for run_id in args.run_ids]
    labels = [run_label(run) for run in runs]
    settings = differing_settings(runs)
    metrics = side_by_side_metrics(runs)
    unfair = uneven_work_sentence(runs)
    if args.json_output:
        document = {
            "runs": [run.id for run in runs],
            "labels": labels,
            "not_a_fair_comparison": unfair,
            "differing_settings": [
                {"setting": row.setting, "field": row.field, "values": list(row.values)}
                for row in settings
            ],
            "metrics": [
                {
                    "metric": row.metric,
                    "values": list(row.values),
                    "numbers": list(row.numbers),
                    "best": row.best,
                }
                for row in metrics
            ],
        }
        print(json.dumps(json_ready(document), indent=2))
        return 0
    if unfair:
        print(f"{unfair}\n")
    if settings:
        print("settings that differ:")
        print_table(("setting", *labels), [(row.setting, *row.values) for row in settings])
    else:
        print("the runs have the same settings")
    print("\nfigures (* best):")
    print_table(
        ("figure", *labels),
        [
            (
                row.metric,
                *(
                    value + (" *" if index == row.best else "")
                    for index, value in enumerate(row.values)
                ),
            )
            for row in metrics
        ],
        right_aligned=set(range(1, len(labels) + 1)),
    )
    return 0


def runs_export(args: argparse.Namespace) -> int:
    """Write a run as a standalone Keras script or notebook, its history as CSV and/or its
    model file.

    Args:
        args: Parsed arguments: `run_id`, `code`, `notebook`, `csv`, `model` (paths; at least
            one), `overwrite`.
    """
    from pathlib import Path

    from mnist_core.teaching import export

    targets = [path for path in (args.code, args.notebook, args.csv, args.model) if path]
    if not targets:
        raise ValueError(
            "runs export needs --code FILE, --notebook FILE, --csv FILE and/or --model FILE."
        )
    if args.notebook:
        check_notebook_path(args.notebook)
    check_output_files(targets, overwrite=args.overwrite, command="runs export")
    run = _open_run_log().get_run(args.run_id)
    # Everything is prepared before anything is written: a run that cannot be exported
    # (a schedule the exporter does not know, no kept model) leaves no half of its files.
    code = export.script_for_run(run, file_name=Path(args.code).name) if args.code else None
    notebook = export.notebook_for_run(run) if args.notebook else None
    if args.model and not run.model_kept:
        export.copy_model(run, args.model)  # raises ValueError saying why
    if code is not None:
        Path(args.code).write_text(code)
        print(f"wrote {args.code}: train it again with `python {args.code} --data mnist.npz`")
    if notebook is not None:
        Path(args.notebook).write_text(notebook)
        print(
            f"wrote {args.notebook}: open it in Jupyter or Colab and run it cell by cell "
            f"(offline: MNIST_NPZ=mnist.npz jupyter lab {args.notebook})"
        )
    if args.csv:
        Path(args.csv).write_text(export.history_csv(run))
        print(f"wrote {args.csv}: {len(run.history)} epoch(s)")
    if args.model:
        export.copy_model(run, args.model)
        print(f"wrote {args.model}")
    return 0
