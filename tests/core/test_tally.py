"""tally: the Draw page's running score on the user's own drawings."""

import dataclasses

import pytest

from mnist_core.reading.tally import DrawingTally


def test_an_empty_tally_has_no_accuracy():
    tally = DrawingTally()
    assert tally.count == 0 and tally.correct == 0
    assert tally.accuracy is None
    assert tally.confusion_table() == ((), [])


def test_records_count_and_score():
    tally = DrawingTally().record(3, 3, "a").record(7, 1, "b").record(7, 7, "c")
    assert tally.count == 3 and tally.correct == 2
    assert tally.accuracy == pytest.approx(2 / 3)
    labels, counts = tally.confusion_table()
    assert labels == (1, 3, 7)
    # Rows: meant 1, 3, 7; columns: predicted 1, 3, 7.
    assert counts == [[0, 0, 0], [0, 1, 0], [1, 0, 1]]


def test_recording_the_same_drawing_again_corrects_it():
    tally = DrawingTally().record(4, 9, "same").record(9, 9, "same")
    assert tally.count == 1 and tally.true_labels == (9,) and tally.accuracy == 1.0
    # Without an id every record counts.
    assert DrawingTally().record(4, 9).record(9, 9).count == 2


def test_the_tally_is_immutable():
    tally = DrawingTally()
    assert tally.record(1, 1).count == 1 and tally.count == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        tally.true_labels = (1,)


@pytest.mark.parametrize(
    "true_label, predicted_label, field",
    [(10, 1, "true_label"), (-1, 1, "true_label"), (1, "2", "predicted_label"), (True, 1, "true")],
)
def test_bad_labels_raise_a_value_error(true_label, predicted_label, field):
    with pytest.raises(ValueError, match=field):
        DrawingTally().record(true_label, predicted_label)


def test_readings_with_noise_are_scored_apart():
    tally = DrawingTally().record(3, 3, "a").record(7, 1, "b", noisy=True).record(7, 7, "c")
    clean, noisy = tally.part(noisy=False), tally.part(noisy=True)
    assert (clean.count, clean.correct) == (2, 2) and clean.accuracy == 1.0
    assert (noisy.count, noisy.correct) == (1, 0) and noisy.true_labels == (7,)
    assert noisy.part(noisy=True) == noisy and clean.part(noisy=True).count == 0
    # Correcting the last record keeps or changes its noise flag with it.
    corrected = tally.record(7, 7, "c", noisy=True)
    assert corrected.part(noisy=True).count == 2 and corrected.part(noisy=False).count == 1
