"""The command line of mnist_core: `python -m mnist_core <command> [options]`.

Commands:
    prepare-data  Load a dataset, verify it against its checksums and cache it.

Every command prints what it did on stdout. Errors print one line, ``error: ...``, on stderr
and exit with status 2; the user never sees a traceback.

Adding a command: write a function ``<command>(args) -> int`` below, and register it in
`build_parser` with ``subparser.set_defaults(handler=<command>)``. Import heavy modules
(TensorFlow, Keras) inside the function, so that `--help` and the other commands stay fast.
"""

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Iterator, Sequence

from mnist_core.data import DATASET_NAMES, DatasetUnavailableError, cache_path, load_dataset

ERROR_EXIT_STATUS = 2

# Errors that a user can cause or fix: reported in one line. Anything else is a bug.
USER_ERRORS = (ValueError, DatasetUnavailableError, OSError)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the whole command line, one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="python -m mnist_core",
        description="Work with the MNIST playground from the command line.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="command")

    prepare = subparsers.add_parser(
        "prepare-data",
        help="load a dataset, verify its checksums and cache it",
        description=(
            "Load a dataset from the cache, Keras' loader or the offline copy, verify it "
            "against the reference checksums and cache it under the data directory "
            "($MNIST_DATA_DIR, default <repo>/data)."
        ),
    )
    prepare.add_argument(
        "--dataset", choices=DATASET_NAMES, default="mnist", help="dataset (default: mnist)"
    )
    prepare.set_defaults(handler=prepare_data)

    return parser


def prepare_data(args: argparse.Namespace) -> int:
    """Load, verify and cache one dataset; print one line saying where it came from.

    Args:
        args: Parsed arguments with `dataset`, one of DATASET_NAMES.
    """
    with warnings.catch_warnings(record=True) as caught, native_stderr_silenced():
        warnings.simplefilter("always")
        dataset = load_dataset(args.dataset)
    cache = cache_path(args.dataset)
    if not cache.is_file():
        reasons = "; ".join(str(warning.message) for warning in caught)
        raise OSError(
            f"{args.dataset} loaded and verified, but its cache {cache} could not be written"
            + (f" ({reasons})" if reasons else "")
        )
    summary = (
        f"{dataset.name}: {len(dataset.y_train)} train / {len(dataset.y_test)} test images, "
        f"verified, from {dataset.source}"
    )
    if not dataset.source.startswith("cache "):
        summary += f"; cached in {cache}"
    print(summary)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status.

    Args:
        argv: Arguments without the program name; None (default) means sys.argv[1:].
    """
    # TensorFlow's C++ start-up lines (missing CUDA drivers...) are noise on the command line.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        # argparse prints usage errors and --help itself, then exits (status 2 or 0).
        args = build_parser().parse_args(argv)
    except SystemExit as exit_request:
        return exit_request.code if isinstance(exit_request.code, int) else ERROR_EXIT_STATUS
    try:
        return args.handler(args)
    except USER_ERRORS as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
    except Exception as error:  # a bug; still one line, with enough to report it
        print(f"error: unexpected {type(error).__name__}: {_one_line(error)}", file=sys.stderr)
    return ERROR_EXIT_STATUS


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for a while, then restore it.

    Importing TensorFlow writes start-up lines (oneDNN, absl) from C++ straight to the file
    descriptor, past TF_CPP_MIN_LOG_LEVEL and sys.stderr. Commands wrap such imports in this;
    their own errors are raised as exceptions and printed by `main` after it is restored.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
