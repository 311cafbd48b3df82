"""The standalone Keras script of a config, written as a lesson, assembled from its recipe.

`script_text(recipe, ...)` writes it: the docstring (what it trains, how to run it), what it
does not reproduce, the imports, the settings, every definition of the recipe's script steps
at the top level (`import`ing the script gives `build_model`), then `main()`, which parses
`--data` and `--epochs` and runs the steps' code in order, each under its title and why as
comments. `export.training_script` and `export.script_for_run` are how the rest of the project
asks for one."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from mnist_core.teaching.recipe import Recipe, import_lines
from mnist_core.teaching.recipe_step import SCRIPT, Step
from mnist_core.teaching.script_network import wrapped


def script_text(
    recipe: Recipe,
    *,
    title: str,
    caveats: Sequence[str],
    parameter_count: int | None,
    file_name: str,
) -> str:
    """The script that trains `recipe.config` again (keras and numpy only).

    Args:
        recipe: the config's steps (`recipe.run_recipe(config, SCRIPT)`).
        title: the first line of the script's docstring.
        caveats: what the script does not reproduce, one sentence each.
        parameter_count: the run's parameter count, quoted in a comment (None: none).
        file_name: the script's file name, shown in its usage lines.
    """
    config = recipe.config
    steps = recipe.for_medium(SCRIPT)
    command = f"python {file_name}"
    pad = " " * len(command)
    lines = [
        "#!/usr/bin/env python3",
        f'"""{title}',
        "",
        *wrapped(recipe.description, 92),
        "",
        "Run it:",
        "",
        f"    {command}                    # the data from Keras' own loader (internet)",
        f"    {command} --data mnist.npz   # offline: an .npz with x_train, y_train,",
        f"    {pad}                    # x_test and y_test (uint8, as Keras gives)",
        f"    {command} --epochs 2         # other than the run's {config.epochs} epoch(s)",
        "",
        "Needs only keras (3, with its TensorFlow, JAX or PyTorch backend) and numpy. It prints",
        "the model summary with its parameter count, one line an epoch, the test accuracy, the",
        "confusion matrix and the classification report.",
        "Exported by the MNIST Playground on " + datetime.date.today().isoformat() + ".",
        '"""',
    ]
    if caveats:
        lines += ["", "# What this script does not reproduce:"]
        for caveat in caveats:
            lines += wrapped(caveat, 90, first="# - ", rest="#   ")
    if parameter_count is not None:
        lines += ["", f"# The run's model had {parameter_count:,} parameters; so does this one."]
    lines += [
        "",
        *import_lines(steps, extra=("import argparse",)),
        "",
        "# The run's settings. Change one, train again, and see what it does.",
        f"EPOCHS = {config.epochs}",
        *recipe.settings,
    ]
    for step in steps:
        if step.definitions:
            lines += ["", "", *step.definitions]
    lines += ["", "", *_main(steps), "", "", 'if __name__ == "__main__":', "    main()", ""]
    return "\n".join(lines)


def _main(steps: Sequence[Step]) -> list[str]:
    lines = [
        "def main():",
        "    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])",
        "    parser.add_argument(",
        '        "--epochs", type=int, default=EPOCHS, help=f"epochs to train (default {EPOCHS})"',
        "    )",
        "    parser.add_argument(",
        '        "--data",',
        '        metavar="FILE",',
        '        help="an .npz with x_train, y_train, x_test and y_test (default: Keras\' loader)",',
        "    )",
        "    args = parser.parse_args()",
        "    if args.epochs < 1:",
        '        parser.error(f"--epochs must be at least 1, got {args.epochs}")',
        "    data_file, epochs = args.data, args.epochs",
    ]
    for step in steps:
        if not step.code:
            continue
        lines += ["", f"    # --- {step.title} ---"]
        lines += wrapped(step.why.replace("`", ""), 88, first="    # ", rest="    # ")
        lines += [f"    {line}" if line else "" for line in step.code]
    return lines
