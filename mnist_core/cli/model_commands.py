"""Commands about models: `presets`, `models`, `evaluate` and `predict`."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

from mnist_core.cli.common import (
    ERROR_EXIT_STATUS,
    find_stored_model,
    format_timestamp,
    load_dataset_noting_problems,
    load_stored_model,
    one_line,
    print_table,
)
from mnist_core.runs.saved_models import ModelRecord

# Noise added by `predict --noise` is drawn from this seed, so a run can be repeated.
NOISE_SEED = 0


# Images per model call in `predict`: large enough that a thousand files take a few calls,
# small enough to bound the memory of a CNN's activations.
PREDICT_BATCH_SIZE = 1024


BLANK_IMAGE_NOTE = "blank image: no ink found, nothing to classify"


def register(subparsers: Any) -> None:
    """Add `presets`, `models`, `evaluate` and `predict` to the command line."""
    presets_parser = subparsers.add_parser(
        "presets",
        help="list the presets",
        description="List every preset with its parameter count and what it teaches.",
    )
    presets_parser.set_defaults(handler=presets)

    models_parser = subparsers.add_parser(
        "models",
        help="list the stored models",
        description="List the stored models; broken entries are listed with the reason.",
    )
    models_parser.set_defaults(handler=models)

    evaluate_parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a stored model on its test set",
        description=(
            "Evaluate a stored model on the test set of its dataset: accuracy, loss, "
            "per-class precision, recall and F1, and the confusion matrix."
        ),
    )
    evaluate_parser.add_argument(
        "--model", required=True, metavar="NAME", help="stored model (see `models`)"
    )
    evaluate_parser.add_argument(
        "--json", action="store_true", help="print the report as JSON instead of text"
    )
    evaluate_parser.set_defaults(handler=evaluate)

    predict_parser = subparsers.add_parser(
        "predict",
        help="classify image files",
        description=(
            "Classify image files with the preprocessing of the drawing page (cropped, fitted "
            "into 20x20 and centred by mass, like MNIST), naming the runner-up and saying when "
            "the reading is not sure. A blank image is reported, not an error. A file that "
            'cannot be read gets one line on stderr (and a {"file", "error"} entry in '
            "JSON), the others are still classified, and the exit status is then 2."
        ),
    )
    predict_parser.add_argument(
        "--model",
        default="default",
        metavar="NAME",
        help="stored model (default: default)",
    )
    predict_parser.add_argument(
        "--json", action="store_true", help="print a JSON list, one object per file"
    )
    predict_parser.add_argument(
        "--noise",
        type=float,
        default=0.0,
        metavar="SIGMA",
        help=(
            "add Gaussian noise of this standard deviation (on the [0, 1] pixel scale) after "
            "preprocessing, seeded so that runs repeat (default: 0, none)"
        ),
    )
    predict_parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    predict_parser.set_defaults(handler=predict)


def presets(args: argparse.Namespace) -> int:
    """Print one line per preset: name, title, parameter count and description (no
    TensorFlow).

    Args:
        args: Parsed arguments (none used).
    """
    from mnist_core.modeling.presets import (
        DEFAULT_PRESET_NAME,
        PRESETS,
    )
    from mnist_core.modeling.summary import count_parameters

    rows = [
        (
            name + (" (default)" if name == DEFAULT_PRESET_NAME else ""),
            preset.title,
            f"{count_parameters(preset.config):,}",
            preset.description,
        )
        for name, preset in PRESETS.items()
    ]
    print_table(("preset", "title", "parameters", "description"), rows, right_aligned={2})
    return 0


def models(args: argparse.Namespace) -> int:
    """List the stored models without loading them (no TensorFlow).

    Args:
        args: Parsed arguments (none used).
    """
    from mnist_core.base.paths import models_directory
    from mnist_core.modeling.presets import DEFAULT_MODEL_PRESET_NAME
    from mnist_core.modeling.store import list_models

    directory = models_directory()
    entries = list_models()
    if not entries:
        print(
            f"no models in {directory}; train one with "
            f"`python -m mnist_core train --preset {DEFAULT_MODEL_PRESET_NAME} --name default`"
        )
        return 0
    print(f"models in {directory}:")
    rows = []
    for entry in entries:
        if entry.error is not None:
            rows.append((entry.name, f"broken: {entry.error}", "", "", ""))
            continue
        record = ModelRecord.from_sidecar(entry.metadata or {})
        accuracy = record.test_accuracy
        rows.append(
            (
                entry.name,
                record.dataset,
                f"{accuracy:.2%}" if accuracy is not None else "-",
                f"{record.parameter_count:,}" if record.parameter_count is not None else "-",
                format_timestamp(record.saved_at or ""),
            )
        )
    # A broken entry's reason spans the other columns; keep it out of the width computation.
    print_table(
        ("name", "dataset", "test accuracy", "parameters", "saved"),
        rows,
        right_aligned={2, 3},
        spanning=lambda row: row[1].startswith("broken: "),
    )
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """Evaluate a stored model on the test set of its dataset.

    Args:
        args: Parsed arguments: `model` (a stored model's name), `json` (print JSON).
    """
    from mnist_core.data.format import base_dataset
    from mnist_core.evaluation.evaluate import (
        LOSS_NAMES,
        evaluate_model,
    )

    entry = find_stored_model(args.model)
    record = ModelRecord.from_sidecar(entry.metadata or {})
    # A model that learned the class's digits too is tested on MNIST's test set.
    dataset = load_dataset_noting_problems(base_dataset(record.dataset))
    loss = record.config.loss if record.config is not None else "categorical_crossentropy"
    if loss not in LOSS_NAMES:
        loss = "categorical_crossentropy"
    model = load_stored_model(entry.name)
    report = evaluate_model(
        model, dataset.x_test, dataset.y_test, class_names=dataset.class_names, loss=loss
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    print(f"model {entry.name!r} on the {dataset.name} test set ({report.num_examples} images)")
    print(f"accuracy {report.accuracy:.2%}  loss {report.loss:.4f} ({report.loss_name})")
    print()
    print(report.format_classification_report(digits=4))
    print(format_confusion_matrix(report.confusion_matrix, report.class_names))
    return 0


def format_confusion_matrix(matrix: Any, class_names: Sequence[str]) -> str:
    """The confusion matrix as a text table: rows are true classes, columns predictions.

    Args:
        matrix: (K, K) counts, ``matrix[true, predicted]``.
        class_names: the K class names; columns are headed by class index.
    """
    count_width = max(4, len(str(int(matrix.max()))) + 1)
    label_width = max(len(name) for name in class_names)
    lines = ["confusion matrix (rows: true class, columns: predicted class)"]
    if any(name != str(index) for index, name in enumerate(class_names)):
        lines.append(
            "columns: " + ", ".join(f"{index} = {name}" for index, name in enumerate(class_names))
        )
    header = " " * label_width + "".join(
        f"{index:>{count_width}}" for index in range(len(class_names))
    )
    lines.append(header)
    for name, row in zip(class_names, matrix):
        lines.append(f"{name:>{label_width}}" + "".join(f"{int(c):>{count_width}}" for c in row))
    return "\n".join(lines)


def predict(args: argparse.Namespace) -> int:
    """Classify image files: all are read and preprocessed first, then one `predict_batch` call.

    A file that cannot be read is reported on stderr as it is met and in the results; the
    others are classified all the same, and the exit status says that some failed.

    Args:
        args: Parsed arguments: `images` (paths), `model` (a stored model's name), `json`,
            `noise` (standard deviation of Gaussian noise added after preprocessing).
    """
    import numpy as np

    from mnist_core.reading.images import load_image_file
    from mnist_core.reading.preprocess import (
        add_gaussian_noise,
        preprocess_drawing,
    )

    if not (math.isfinite(args.noise) and 0.0 <= args.noise <= 1.0):
        raise ValueError(
            f"--noise must be a number from 0 to 1 (a standard deviation on the [0, 1] pixel "
            f"scale), got {args.noise}."
        )
    entry = find_stored_model(args.model)
    # Only the (28, 28) results are kept: a thousand canvas-sized RGBA images take 300 MB.
    prepared: dict[int, Any] = {}
    errors: dict[int, str] = {}
    for index, path in enumerate(args.images):
        try:
            prepared[index] = preprocess_drawing(load_image_file(path))
        except ValueError as error:  # load_image_file's message names the file and why
            errors[index] = one_line(error)
            print(f"error: {errors[index]}", file=sys.stderr, flush=True)

    inked = [index for index, image in prepared.items() if image is not None]
    class_names = ModelRecord.from_sidecar(entry.metadata or {}).class_names
    results = [
        {"file": path, "error": errors[index]}
        if index in errors
        else _prediction_result(path, None, class_names)
        for index, path in enumerate(args.images)
    ]
    if inked:
        from mnist_core.reading.predict import predict_batch

        batch = np.stack([prepared[index] for index in inked])
        if args.noise > 0:
            batch = add_gaussian_noise(batch, args.noise, seed=NOISE_SEED)
        model = load_stored_model(entry.name)
        probabilities = predict_batch(model, batch, batch_size=PREDICT_BATCH_SIZE)
        # The drawings themselves (without the noise) are checked, as the Draw page does.
        flags = _not_a_digit_flags(
            entry, model, np.stack([prepared[index] for index in inked]), class_names
        )
        for position, (index, row) in enumerate(zip(inked, probabilities)):
            results[index] = _prediction_result(args.images[index], row, class_names)
            results[index]["not_a_digit"] = None if flags is None else bool(flags[position])
    exit_status = ERROR_EXIT_STATUS if errors else 0
    if args.json:
        print(json.dumps(results, indent=2))
        return exit_status
    show_names = any(name != str(index) for index, name in enumerate(class_names))

    def label(index: int) -> str:
        name = class_names[index] if index < len(class_names) else str(index)
        return f"{index} {name}" if show_names else str(index)

    lines = []
    for result in results:
        if "error" in result:
            continue  # already reported on stderr
        if result["digit"] is None:
            lines.append(f"{result['file']}: no digit ({result['note']})")
            continue
        line = f"{result['file']}: {label(result['digit'])} ({result['confidence']:.1%})"
        if result["not_a_digit"]:
            line += ", but it does not look like a digit"
        if result["unsure"]:
            line += (
                f", not sure: or maybe {label(result['runner_up'])} "
                f"({result['runner_up_probability']:.1%})"
            )
        lines.append(line)
    if lines:
        print("\n".join(lines))
    return exit_status


def _prediction_result(path: str, probabilities: Any, class_names: Sequence[str]) -> dict[str, Any]:
    """The JSON object of one file; `probabilities` None means a blank image."""
    if probabilities is None:
        return {
            "file": path,
            "digit": None,
            "class_name": None,
            "confidence": None,
            "probabilities": None,
            "runner_up": None,
            "runner_up_probability": None,
            "unsure": None,
            "not_a_digit": None,
            "note": BLANK_IMAGE_NOTE,
        }
    from mnist_core.reading.predict import prediction_from_probabilities

    prediction = prediction_from_probabilities(probabilities)
    digit = prediction.digit
    return {
        "file": path,
        "digit": digit,
        "class_name": class_names[digit] if digit < len(class_names) else str(digit),
        "confidence": prediction.confidence,
        "probabilities": list(prediction.probabilities),
        "runner_up": prediction.runner_up,
        "runner_up_probability": prediction.runner_up_probability,
        "unsure": prediction.unsure,
        "not_a_digit": None,
        "note": None,
    }


def _not_a_digit_flags(entry: Any, model: Any, images: Any, class_names: Sequence[str]) -> Any:
    """Whether each image does not look like a digit, by the default model's not-a-digit check
    (`mnist_core.reading.not_a_digit`); None for a model of clothes, or when the default model
    on disk has no detector fitted for it."""
    if list(class_names) != [str(digit) for digit in range(10)]:
        return None
    from mnist_core.base.paths import models_directory
    from mnist_core.modeling.store import ModelStoreError
    from mnist_core.reading.not_a_digit import load_not_a_digit_check

    default_path = models_directory() / "default.keras"
    if not default_path.is_file():
        return None
    try:
        default = model if entry.name == "default" else load_stored_model("default")
    except ModelStoreError:
        return None
    check = load_not_a_digit_check(default, default_path)
    return None if check is None else check.not_a_digit(images)
