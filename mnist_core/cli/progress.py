"""The command line's progress bar, and Ctrl-C as a stop request."""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
from collections.abc import Iterator
from typing import IO, Any

from mnist_core.training.progress import (
    BatchProgress,
    EpochMetrics,
    TrainingObserver,
    TrainingPlan,
)

PROGRESS_BAR_WIDTH = 30


class ProgressPrinter(TrainingObserver):
    """A training observer that prints a progress bar per epoch and carries Ctrl-C stop requests.

    On a terminal the bar is redrawn in place (``\\r``) from `on_batch`; elsewhere (a pipe, a
    log file) only the final line of each epoch is printed, with the validation metrics.

    Args:
        stream: where to print (default sys.stdout).
        interactive: redraw in place; default: whether `stream` is a terminal.
    """

    def __init__(self, stream: IO[str] | None = None, interactive: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        if interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self._stop = threading.Event()
        self._stop_announced = False
        self._drawn_width = 0  # characters of the bar now on the line; 0: the line is clean

    def on_train_begin(self, plan: TrainingPlan) -> None:
        """Print what the run is about to do."""
        validation = (
            f"{plan.validation_images} held out for validation"
            if plan.validation == "split"
            else f"validation on the {plan.validation_images} test images"
        )
        self._print_line(
            f"{plan.epochs} epoch(s) of {plan.batches_per_epoch} batches: "
            f"{plan.training_images_used} training images, {validation}"
        )

    def on_batch(self, progress: BatchProgress) -> None:
        """Redraw the bar of the current epoch (terminal only)."""
        if not self.interactive:
            return
        fraction = progress.batch / progress.batches_per_epoch
        line = (
            f"{epoch_bar(progress.epoch, progress.epochs, fraction)} "
            f"loss {progress.loss:.4f} accuracy {progress.accuracy:.4f} | "
            f"{progress.samples_per_second:.0f} samples/s"
        )
        if math.isfinite(progress.seconds_left):
            line += f" | {progress.seconds_left:.0f} s left"
        self._draw(line)

    def on_epoch(self, metrics: EpochMetrics, weight_summary: list[dict[str, Any]]) -> None:
        """Print the final line of an epoch, with the validation metrics."""
        self._print_line(
            f"{epoch_bar(metrics.epoch, metrics.epochs, 1.0)} "
            f"loss {metrics.loss:.4f} accuracy {metrics.accuracy:.4f} "
            f"val_loss {metrics.val_loss:.4f} val_accuracy {metrics.val_accuracy:.4f} | "
            f"{metrics.samples_per_second:.0f} samples/s"
        )

    def should_stop(self) -> bool:
        """True once a stop was requested (Ctrl-C); says so once."""
        if not self._stop.is_set():
            return False
        if not self._stop_announced:
            self._stop_announced = True
            self._print_line("Ctrl-C: stopping after this batch (press it again to abort)")
        return True

    # Stop requests and clean-up.

    def request_stop(self) -> None:
        """Ask the run to stop after the current batch; safe from a signal handler."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        """Whether a stop was requested."""
        return self._stop.is_set()

    def finish(self) -> None:
        """End a bar left on the line, so that what follows starts on a new line."""
        if self._drawn_width:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn_width = 0

    def _draw(self, line: str) -> None:
        padding = " " * max(0, self._drawn_width - len(line))
        self.stream.write(f"\r{line}{padding}")
        self.stream.flush()
        self._drawn_width = len(line)

    def _print_line(self, line: str) -> None:
        if self._drawn_width:
            self._draw(line)
            self.stream.write("\n")
            self._drawn_width = 0
        else:
            self.stream.write(f"{line}\n")
        self.stream.flush()


def epoch_bar(epoch: int, epochs: int, fraction: float) -> str:
    filled = round(PROGRESS_BAR_WIDTH * fraction)
    bar = "#" * filled + "-" * (PROGRESS_BAR_WIDTH - filled)
    return f"epoch {epoch}/{epochs} [{bar}] {fraction:4.0%}"


@contextlib.contextmanager
def stop_on_interrupt(progress: ProgressPrinter) -> Iterator[None]:
    """Turn the first Ctrl-C into a stop request; a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def handle_interrupt(signal_number: int, frame: Any) -> None:
        if progress.stop_requested:
            raise KeyboardInterrupt
        # Only set a flag here: printing from a signal handler can collide with a print in
        # progress. The observer announces the stop when it is next polled.
        progress.request_stop()

    previous = signal.signal(signal.SIGINT, handle_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
