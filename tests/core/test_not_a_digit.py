"""Not a digit: the committed set of non-digits, its generators, and the detector on the default
model (mnist_core.data.non_digits, mnist_core.reading.not_a_digit)."""

import shutil

import numpy as np
import pytest

from mnist_core.data.non_digits import (
    DIGIT_LIKE_LETTERS,
    KINDS,
    LETTERS,
    NonDigitSet,
    load_non_digit_set,
    make_non_digits,
    save_non_digit_set,
)
from mnist_core.reading.not_a_digit import (
    DETECTOR_PATH,
    NotADigitDetector,
    file_digest,
    ink_features,
    ink_pieces,
    load_not_a_digit_check,
)


@pytest.fixture(scope="module")
def non_digits():
    return load_non_digit_set()


@pytest.fixture(scope="module")
def check():
    from mnist_core.base.paths import models_directory
    from mnist_core.modeling.store import load_model

    found = load_not_a_digit_check(
        load_model("default").model, models_directory() / "default.keras"
    )
    assert found is not None, (
        "no detector fits models/default.keras: python bench/not_a_digit.py --fit"
    )
    return found


def test_the_committed_set_holds_every_kind_and_no_letter_that_looks_like_a_digit(non_digits):
    assert len(non_digits.images) >= 500
    assert non_digits.images.shape[1:] == (280, 280) and non_digits.images.dtype == np.uint8
    assert set(np.unique(non_digits.images)) <= {0, 255}
    assert sorted(set(non_digits.kind_names())) == sorted(KINDS)
    letters = set(non_digits.letters[non_digits.kinds == KINDS.index("letter")].tolist())
    assert letters <= set(LETTERS) and not letters & set(DIGIT_LIKE_LETTERS)
    assert len(set(non_digits.fonts.tolist()) - {""}) >= 5


def test_shapes_are_made_the_same_from_the_same_seed_and_saved_compactly(tmp_path):
    counts = {"scribble": 2, "shape": 2, "cross": 2, "dot": 2, "stroke": 2}
    made = make_non_digits(counts, [], seed=3)
    again = make_non_digits(counts, [], seed=3)
    np.testing.assert_array_equal(made.images, again.images)
    assert not np.array_equal(made.images, make_non_digits(counts, [], seed=4).images)
    assert made.kind_names() == [kind for kind in counts for _ in range(2)]
    path = tmp_path / "set.npz"
    save_non_digit_set(made, path)
    loaded = load_non_digit_set(path)
    np.testing.assert_array_equal(loaded.images, np.where(made.images < 128, 0, 255))
    assert path.stat().st_size < 10 * 1024  # a bit a pixel, zipped
    with pytest.raises(ValueError, match="kind 'digit'"):
        make_non_digits({"digit": 1}, [], seed=0)


def test_ink_is_measured_in_pieces_and_by_the_shape_of_its_box():
    images = np.zeros((3, 28, 28), dtype=np.float32)
    images[0, 4:24, 13:15] = 1.0  # an upright bar: one piece, tall
    images[1, 13:15, 4:24] = 1.0  # a flat bar: one piece, wide
    images[2, 5:8, 5:8] = images[2, 20:23, 20:23] = 1.0  # two dots
    assert ink_pieces(images >= 0.3).tolist() == [1, 1, 2]
    features = ink_features(images)
    assert features[0, 2] > 2 and features[1, 2] < -2 and features[2, 1] == 2
    assert features[0, 4] == pytest.approx(1.0)  # the bar fills its box


def test_the_detector_is_fitted_for_the_committed_default_model_and_no_other(check, tmp_path):
    from mnist_core.base.paths import models_directory

    assert NotADigitDetector.load(DETECTOR_PATH).model_digest == file_digest(
        models_directory() / "default.keras"
    )
    other = tmp_path / "other.keras"
    shutil.copy(models_directory() / "default.keras", other)
    with other.open("ab") as changed:
        changed.write(b"\0")
    assert load_not_a_digit_check(check.model, other) is None
    assert load_not_a_digit_check(check.model, other, tmp_path / "missing.npz") is None


def test_real_digits_pass_and_drawings_that_are_no_digits_are_caught(check, non_digits):
    """Half the pen dev set (real pen-drawn digits) and the whole committed non-digit set, read
    through the Draw page's preprocessing: the benchmark's goals (bench/not_a_digit.py)."""
    from mnist_core.data.pen_digits import load_pen_dev_set
    from mnist_core.reading.preprocess import preprocess_drawing

    pen = load_pen_dev_set()
    digits = np.stack([preprocess_drawing(image) for image in pen.images[::2]])
    assert check.not_a_digit(digits).mean() <= 0.01
    prepared = [preprocess_drawing(image) for image in non_digits.images]
    caught = check.not_a_digit(np.stack([image for image in prepared if image is not None]))
    assert (caught.sum() + sum(image is None for image in prepared)) / len(prepared) >= 0.80


def test_a_reading_carries_the_check_only_when_asked(check, non_digits, mnist):
    from mnist_core.reading.predict import predict_image
    from mnist_core.reading.preprocess import preprocess_drawing

    cross = preprocess_drawing(
        non_digits.images[list(non_digits.kinds).index(KINDS.index("cross"))]
    )
    seven = mnist.x_test[0].astype(np.float32) / 255
    assert predict_image(check.model, cross).not_a_digit is None
    assert predict_image(check.model, cross, check).not_a_digit is True
    assert predict_image(check.model, seven, check).not_a_digit is False
    # With noise the model reads one image, and the check looks at the drawing itself.
    noisy = np.clip(seven + 0.5, 0, 1)
    assert predict_image(check.model, noisy, check, drawing28=seven).not_a_digit is False


def test_a_set_needs_matching_arrays(tmp_path):
    broken = NonDigitSet(
        images=np.full((2, 280, 280), 255, np.uint8),
        kinds=np.zeros(1, np.uint8),
        letters=np.array(["", ""]),
        fonts=np.array(["", ""]),
    )
    save_non_digit_set(broken, tmp_path / "broken.npz")
    with pytest.raises(ValueError, match="matching arrays"):
        load_non_digit_set(tmp_path / "broken.npz")
    with pytest.raises(ValueError, match="missing"):
        load_non_digit_set(tmp_path / "nothing.npz")
