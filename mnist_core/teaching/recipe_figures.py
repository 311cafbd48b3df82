"""The steps of a run's recipe that look at the data and the results.

Notebook only (figures drawn with matplotlib): a few training images, the loss and accuracy
curves, a random test digit with its confidence, the same digit with Gaussian noise, and the
confusion matrix as a picture. In both media: the confusion matrix and the classification
report, counted with numpy and printed. `teaching.recipe` puts them in their place.
"""

from __future__ import annotations

from typing import Any

from mnist_core.teaching.recipe_step import NOTEBOOK_ONLY, Step

# The standard deviation of the Gaussian noise the notebooks add to a test digit.
NOISE_SIGMA = 0.4
_MATPLOTLIB = ("import matplotlib.pyplot as plt",)


def _step(**fields: Any) -> Step:
    return Step(media=NOTEBOOK_ONLY, **fields)


def look_step() -> Step:
    """Look at the first ten training images and their labels."""
    return _step(
        key="look",
        title="Look at a few images",
        why="Before training anything, look at the data: the first ten training images with "
        "their labels. Each one is a 28x28 array of grey levels, which matplotlib draws as a "
        "picture.",
        code=(
            "figure, axes = plt.subplots(1, 10, figsize=(12, 1.8))",
            "for index, axis in enumerate(axes):",
            '    axis.imshow(x_train[index], cmap="gray")',
            "    axis.set_title(CLASS_NAMES[y_train[index]])",
            '    axis.axis("off")',
            "plt.show()",
            'print(f"grey levels from {x_train.min()} to {x_train.max()}, as {x_train.dtype}")',
        ),
        imports=_MATPLOTLIB,
    )


def curves_step() -> Step:
    """The loss and accuracy curves of the training and the validation, epoch by epoch."""
    return _step(
        key="curves",
        title="Loss and accuracy curves",
        why="The training loss should fall epoch after epoch. When the validation loss stops "
        "falling, or turns back up, while the training loss still falls, the network has "
        "started to learn its training images by heart (overfitting).",
        code=(
            'epoch_numbers = range(1, len(history.history["loss"]) + 1)',
            "figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(11, 3.5))",
            'for axis, metric in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):',
            '    axis.plot(epoch_numbers, history.history[metric], "o-", label="training")',
            '    axis.plot(epoch_numbers, history.history[f"val_{metric}"], "o-", label="validation")',
            '    axis.set_xlabel("epoch")',
            "    axis.set_title(metric)",
            "    axis.legend()",
            "plt.show()",
        ),
        imports=_MATPLOTLIB,
    )


def one_digit_step() -> Step:
    """A random test digit, what the network reads and how sure it is."""
    return _step(
        key="one_digit",
        title="A random test digit",
        why="One test image picked at random, the class the network gives it and the "
        "probability it gives that class (its confidence). Run the cell again for another.",
        code=(
            "random = np.random.default_rng()",
            "index = int(random.integers(len(x_test)))",
            "image = x_test[index]",
            "probabilities = model.predict(image[np.newaxis], verbose=0)[0]",
            "guess = int(np.argmax(probabilities))",
            "plt.figure(figsize=(2.5, 2.5))",
            'plt.imshow(image, cmap="gray")',
            'plt.axis("off")',
            'plt.title(f"read as {CLASS_NAMES[guess]} ({probabilities[guess]:.1%})")',
            "plt.show()",
            'print(f"test image {index}: the label is {CLASS_NAMES[test_digits[index]]}, the "',
            '      f"network reads {CLASS_NAMES[guess]} with {probabilities[guess]:.1%} confidence")',
        ),
        imports=("import numpy as np", *_MATPLOTLIB),
    )


def noise_step() -> Step:
    """The same digit with Gaussian noise of sigma 0.4, and the noisy test set's accuracy."""
    return _step(
        key="noise",
        title=f"The same digit with Gaussian noise (σ {NOISE_SIGMA})",
        why="Add random noise, drawn from a normal distribution of standard deviation "
        f"{NOISE_SIGMA}, to every pixel (then keep it within [0, 1]). People still read the "
        "digit; does the network? The last line measures the whole test set with noise.",
        code=(
            f"NOISE_SIGMA = {NOISE_SIGMA}",
            "noisy = np.clip(image + random.normal(0.0, NOISE_SIGMA, image.shape), 0.0, 1.0)",
            'noisy = noisy.astype("float32")',
            "noisy_probabilities = model.predict(noisy[np.newaxis], verbose=0)[0]",
            "noisy_guess = int(np.argmax(noisy_probabilities))",
            "figure, (left, right) = plt.subplots(1, 2, figsize=(5, 2.8))",
            "for axis, picture, read, sure in (",
            "    (left, image, guess, probabilities[guess]),",
            "    (right, noisy, noisy_guess, noisy_probabilities[noisy_guess]),",
            "):",
            '    axis.imshow(picture, cmap="gray")',
            '    axis.set_title(f"read as {CLASS_NAMES[read]} ({sure:.1%})")',
            '    axis.axis("off")',
            "plt.show()",
            "noisy_test = np.clip(x_test + random.normal(0.0, NOISE_SIGMA, x_test.shape), 0.0, 1.0)",
            "_, noisy_accuracy = model.evaluate(",
            '    noisy_test.astype("float32"), y_test, batch_size=1000, verbose=0',
            ")",
            'print(f"test accuracy with noise: {noisy_accuracy:.2%} (without: {test_accuracy:.2%})")',
        ),
        imports=("import numpy as np", *_MATPLOTLIB),
    )


def confusion_figure_step() -> Step:
    """The confusion matrix as a picture, with its counts."""
    return _step(
        key="confusion_figure",
        title="The confusion matrix as a picture",
        why="The same counts, darker where there are more: the diagonal stands out, and so do "
        "the pairs of classes the network mixes up most.",
        code=(
            "figure, axis = plt.subplots(figsize=(6, 5))",
            'shown = axis.imshow(confusion, cmap="Blues")',
            "for row in range(10):",
            "    for column in range(10):",
            "        count = confusion[row, column]",
            "        if count:",
            "            dark = count > confusion.max() / 2",
            '            axis.text(column, row, count, ha="center", va="center", fontsize=8,',
            '                      color="white" if dark else "black")',
            "axis.set_xticks(range(10), CLASS_NAMES, rotation=90)",
            "axis.set_yticks(range(10), CLASS_NAMES)",
            'axis.set_xlabel("read as")',
            'axis.set_ylabel("true class")',
            "figure.colorbar(shown)",
            "plt.show()",
        ),
        imports=_MATPLOTLIB,
    )


def confusion_step() -> Step:
    """The confusion matrix, counted with numpy and printed (script and notebook)."""
    return Step(
        "confusion",
        "The confusion matrix",
        "Row: the true class; column: what the network read. The diagonal holds the right "
        "answers; every other count is a kind of mistake (which digits it takes for which).",
        code=(
            "predicted = np.argmax(model.predict(x_test, batch_size=1000, verbose=0), axis=1)",
            "confusion = np.zeros((10, 10), dtype=int)",
            "np.add.at(confusion, (test_digits, predicted), 1)",
            'print("confusion matrix (rows: the true class, columns: what the network read)")',
            'print("     " + "".join(f"{column:>6}" for column in range(10)))',
            "for row in range(10):",
            '    print(f"{row:>5}" + "".join(f"{count:>6}" for count in confusion[row]))',
        ),
        imports=("import numpy as np",),
    )


def report_step() -> Step:
    """The classification report, from the confusion matrix (script and notebook)."""
    return Step(
        "report",
        "The classification report",
        "Per class: precision (of the images read as this class, the share that are), recall "
        "(of the images of this class, the share read right), their harmonic mean (f1) and "
        "the number of test images (support).",
        code=(
            "print(f\"{'class':>12}{'precision':>11}{'recall':>9}{'f1-score':>10}{'support':>9}\")",
            "for digit in range(10):",
            "    right = confusion[digit, digit]",
            "    precision = right / max(1, confusion[:, digit].sum())",
            "    recall = right / max(1, confusion[digit].sum())",
            "    f1 = 2 * precision * recall / (precision + recall) if right else 0.0",
            "    print(",
            '        f"{CLASS_NAMES[digit]:>12}{precision:>11.2f}{recall:>9.2f}{f1:>10.2f}"',
            '        f"{confusion[digit].sum():>9}"',
            "    )",
            "print(f\"{'accuracy':>12}{np.trace(confusion) / confusion.sum():>30.2f}{confusion.sum():>9}\")",
        ),
        imports=("import numpy as np",),
    )
