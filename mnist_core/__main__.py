"""Run the command line: `python -m mnist_core --help`."""

from mnist_core.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
