"""A running tally of how well a model reads one person's own drawings.

The Draw page asks which digit the user meant and keeps score: how many the model got
right, and which digits it took for which (a small confusion table). Readings made with noise
on are kept apart (`part`): noise is a test of the model, not of the handwriting. The tally is
an immutable value, so a page keeps it in its session state and replaces it on each record.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DrawingTally:
    """The drawings a user has labelled, in the order they were recorded.

    Attributes:
        true_labels: the class the user meant, one per drawing.
        predicted_labels: the class the model said, one per drawing.
        drawing_ids: an identifier of each drawing (to correct a record instead of
            counting the same drawing twice).
        noisy: whether the model read each drawing with noise added.
    """

    true_labels: tuple[int, ...] = ()
    predicted_labels: tuple[int, ...] = ()
    drawing_ids: tuple[str, ...] = ()
    noisy: tuple[bool, ...] = ()

    def record(
        self, true_label: int, predicted_label: int, drawing_id: str = "", noisy: bool = False
    ) -> DrawingTally:
        """A new tally with one more drawing; the same drawing again replaces its record.

        Args:
            true_label: the class the user meant, 0..9.
            predicted_label: the class the model said, 0..9.
            drawing_id: identifies the drawing; if it equals the last record's id (and is
                not empty), that record is corrected instead of adding a new one.
            noisy: the model read it with noise added (default False).
        """
        for field, label in (("true_label", true_label), ("predicted_label", predicted_label)):
            if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label <= 9:
                raise ValueError(f"{field} is {label!r}; expected an integer from 0 to 9.")
        keep = len(self.true_labels)
        if drawing_id and self.drawing_ids and self.drawing_ids[-1] == drawing_id:
            keep -= 1
        return DrawingTally(
            true_labels=self.true_labels[:keep] + (true_label,),
            predicted_labels=self.predicted_labels[:keep] + (predicted_label,),
            drawing_ids=self.drawing_ids[:keep] + (drawing_id,),
            noisy=self._noisy_flags()[:keep] + (bool(noisy),),
        )

    def _noisy_flags(self) -> tuple[bool, ...]:
        # A tally kept before noise was recorded has no flags: its readings were all counted
        # as clean.
        return self.noisy + (False,) * (len(self.true_labels) - len(self.noisy))

    def part(self, noisy: bool) -> DrawingTally:
        """The records read with noise (`noisy=True`) or without it, as a tally of their own."""
        kept = [index for index, flag in enumerate(self._noisy_flags()) if flag == noisy]
        return DrawingTally(
            true_labels=tuple(self.true_labels[index] for index in kept),
            predicted_labels=tuple(self.predicted_labels[index] for index in kept),
            drawing_ids=tuple(self.drawing_ids[index] for index in kept),
            noisy=(noisy,) * len(kept),
        )

    @property
    def count(self) -> int:
        """How many drawings were recorded."""
        return len(self.true_labels)

    @property
    def correct(self) -> int:
        """How many of them the model read right."""
        return sum(
            true == predicted
            for true, predicted in zip(self.true_labels, self.predicted_labels, strict=True)
        )

    @property
    def accuracy(self) -> float | None:
        """The share read right, in [0, 1]; None before the first record."""
        return self.correct / self.count if self.count else None

    def confusion_table(self) -> tuple[tuple[int, ...], list[list[int]]]:
        """Counts of (meant, predicted) over the classes that occurred.

        Returns:
            (labels, counts): the classes met as meant or predicted, sorted; counts[i][j] is
            how often labels[i] was meant and labels[j] predicted.
        """
        labels = tuple(sorted(set(self.true_labels) | set(self.predicted_labels)))
        position = {label: index for index, label in enumerate(labels)}
        counts = [[0] * len(labels) for _ in labels]
        for true, predicted in zip(self.true_labels, self.predicted_labels, strict=True):
            counts[position[true]][position[predicted]] += 1
        return labels, counts
