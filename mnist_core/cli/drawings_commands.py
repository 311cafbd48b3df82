"""The `drawings` commands: the class's shared drawings in numbers; export them to take home."""

from __future__ import annotations

import argparse
from typing import Any

from mnist_core.cli.common import check_output_files, print_table


def register(subparsers: Any) -> None:
    """Add `drawings` and its subcommand `export` to the command line."""
    drawings_parser = subparsers.add_parser(
        "drawings",
        help="the class's shared drawings: counts; export as .npz or a zip of PNGs",
        description=(
            "The drawings students shared with their class (the app's Our digits page), in "
            "the server's run log ($MNIST_RUNS_DB). Without a subcommand, count them per "
            "digit and per student (as pseudonyms)."
        ),
    )
    drawings_parser.set_defaults(handler=drawings_counts)
    commands = drawings_parser.add_subparsers(dest="drawings_command", metavar="subcommand")
    export_parser = commands.add_parser(
        "export",
        help="the class's drawings in MNIST's format (.npz) and/or as a zip of PNGs",
        description=(
            "Write the class's shared drawings: --npz as an .npz with x_train, y_train, "
            "x_test, y_test (uint8, 28x28, light digits on dark, as mnist.load_data() gives "
            "them; the held-out classmates are the test part), --zip as 28x28 PNGs with "
            "labels.csv (file,label,writer,part; students as pseudonyms)."
        ),
    )
    export_parser.add_argument(
        "--class",
        dest="whole_class",
        action="store_true",
        required=True,
        help="the class's shared drawings (the only drawings this command exports)",
    )
    export_parser.add_argument("--npz", metavar="FILE", help="write the .npz here")
    export_parser.add_argument("--zip", metavar="FILE", help="write the zip of PNGs here")
    export_parser.add_argument("--overwrite", action="store_true", help="replace files that exist")
    export_parser.set_defaults(handler=drawings_export)


def _class_drawings(images: bool) -> list[Any]:
    from mnist_core.base.paths import default_runs_path
    from mnist_core.data.class_drawings import ClassDrawings
    from mnist_core.data.drawings import DrawingStore

    return ClassDrawings(DrawingStore(default_runs_path())).list_drawings(images=images)


def drawings_counts(args: argparse.Namespace) -> int:
    """Print the class's drawings per digit and per student (pseudonyms), and whether they are
    enough to train on.

    Args:
        args: Parsed arguments (none are used).
    """
    from collections import Counter

    from mnist_core.data.class_split import class_readiness, held_out_writers, pseudonyms

    drawings = _class_drawings(images=False)
    if not drawings:
        print("No drawings are shared with the class yet.")
        return 0
    names = pseudonyms(drawing.writer_id for drawing in drawings)
    held = held_out_writers(names)
    counts: dict[str, Counter[int]] = {writer: Counter() for writer in names}
    for drawing in drawings:
        counts[drawing.writer_id][drawing.label] += 1
    rows = [
        (
            names[writer],
            "test" if writer in held else "train",
            *[str(counts[writer][digit]) for digit in range(10)],
            str(sum(counts[writer].values())),
        )
        for writer in sorted(names, key=names.get)
    ]
    totals = Counter(drawing.label for drawing in drawings)
    rows.append(("all", "", *[str(totals[digit]) for digit in range(10)], str(len(drawings))))
    headers = ("student", "part", *[str(digit) for digit in range(10)], "drawings")
    print_table(headers, rows, right_aligned=set(range(2, 13)))
    print(f"\n{class_readiness(drawings).reason}")
    return 0


def drawings_export(args: argparse.Namespace) -> int:
    """Write the class's drawings as an .npz and/or a zip of PNGs.

    Args:
        args: Parsed arguments: `whole_class`, `npz` and `zip` (files; at least one),
            `overwrite`.
    """
    from pathlib import Path

    from mnist_core.data.class_split import class_arrays, class_npz, class_zip
    from mnist_core.runs.lifecycle import write_atomically

    files = [path for path in (args.npz, args.zip) if path]
    if not files:
        raise ValueError("drawings export needs --npz FILE and/or --zip FILE.")
    if args.npz and not args.npz.endswith(".npz"):
        raise ValueError(f"--npz must name a file ending in .npz, got {args.npz!r}.")
    check_output_files(files, overwrite=args.overwrite, command="drawings export")
    drawings = _class_drawings(images=True)
    if not drawings:
        raise ValueError(
            "no drawings are shared with the class yet; students share theirs on the app's "
            "Teach or Our digits page."
        )
    if args.npz:
        write_atomically(Path(args.npz), class_npz(drawings))
        arrays = class_arrays(drawings)
        print(
            f"wrote {args.npz}: x_train {arrays['x_train'].shape}, x_test "
            f"{arrays['x_test'].shape} (uint8, light digits on dark; "
            "np.load(file) gives x_train, y_train, x_test, y_test)"
        )
    if args.zip:
        write_atomically(Path(args.zip), class_zip(drawings))
        print(f"wrote {args.zip}: {len(drawings)} PNGs and labels.csv (file,label,writer,part)")
    return 0
