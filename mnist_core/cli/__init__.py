"""The command line of mnist_core: `mnist-playground <command> [options]`, or
`python -m mnist_core <command> [options]` (the same program).

Commands:
    prepare-data  Load a dataset, verify it against its checksums and cache it.
    presets       List the presets with their description and parameter count.
    train         Train a preset with a progress bar and save it to the model store.
    models        List the stored models (broken entries too, with the reason).
    evaluate      Accuracy, loss, per-class report and confusion matrix of a stored model.
    predict       Classify image files the way the drawing page does.
    runs          List the recorded runs; show, compare or export one.
    lessons       List the notebooks' lessons; export one as a Jupyter notebook.
    drawings      The class's shared drawings: counts; export as .npz or a zip of PNGs.

Every command prints what it did on stdout. Errors print one line, ``error: ...``, on stderr
and exit with status 2 (130 after Ctrl-C); the user never sees a traceback.

Adding a command: write a function ``<command>(args) -> int`` below, and register it in
`build_parser` with ``subparser.set_defaults(handler=<command>)``. Import heavy modules
(TensorFlow, Keras) inside the function, and call `import_keras()` before the first use of
Keras, so that `--help`, `presets` and `models` stay fast and TensorFlow's start-up lines stay
off the terminal.
"""

import argparse
import os
import sys
from collections.abc import Sequence

from mnist_core.cli import (
    data_commands,
    drawings_commands,
    lesson_commands,
    model_commands,
    runs_commands,
    train_command,
)
from mnist_core.cli.common import (
    BROKEN_PIPE_EXIT_STATUS,
    ERROR_EXIT_STATUS,
    INTERRUPTED_EXIT_STATUS,
    USER_ERRORS,
    ArgumentParser,
    CommandError,
    one_line,
)

CONSOLE_SCRIPT = "mnist-playground"


def program_name() -> str:
    """How the user called us: `mnist-playground` (the console script) or `python -m mnist_core`."""
    called = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return CONSOLE_SCRIPT if called.startswith(CONSOLE_SCRIPT) else "python -m mnist_core"


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the whole command line, one subparser per command."""
    from mnist_core import __version__

    parser = ArgumentParser(
        prog=program_name(),
        description="Work with the MNIST playground from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"mnist-playground {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="command")

    for module in (
        data_commands, model_commands, train_command, runs_commands, lesson_commands,
        drawings_commands,
    ):  # fmt: skip
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status.

    Args:
        argv: Arguments without the program name; None (default) means sys.argv[1:].
    """
    # TensorFlow's C++ start-up lines (missing CUDA drivers...) are noise on the command line.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        # argparse prints usage errors (one line, see ArgumentParser) and --help itself.
        args = build_parser().parse_args(argv)
    except SystemExit as exit_request:
        return exit_request.code if isinstance(exit_request.code, int) else ERROR_EXIT_STATUS
    try:
        return args.handler(args)
    except CommandError as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
        return error.exit_status
    except BrokenPipeError:
        # The reader stopped reading (`presets | head`): stop quietly, as other tools do; what
        # is left unwritten goes nowhere instead of failing once more at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE_EXIT_STATUS
    except USER_ERRORS as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return INTERRUPTED_EXIT_STATUS
    except Exception as error:  # a bug; still one line, with enough to report it
        print(f"error: unexpected {type(error).__name__}: {one_line(error)}", file=sys.stderr)
    return ERROR_EXIT_STATUS
