"""One step of a run's recipe (`teaching.recipe`), and the media a step appears in."""

from __future__ import annotations

from dataclasses import dataclass

SCRIPT = "script"
NOTEBOOK = "notebook"
MEDIA = (SCRIPT, NOTEBOOK)
BOTH = frozenset(MEDIA)
NOTEBOOK_ONLY = frozenset({NOTEBOOK})
SCRIPT_ONLY = frozenset({SCRIPT})


@dataclass(frozen=True)
class Step:
    """One step of training a run again.

    Attributes:
        key: short id ("load", "fit"); a notebook's cell ids are made from it.
        title: what the step does, a few words ("Load the data").
        why: what it does and why, a paragraph of markdown.
        code: statements at top level (a notebook cell; the script's `main()`).
        definitions: functions and classes the code calls (the script keeps them at the top
            level, where `import` finds them).
        imports: the import lines it needs ("import numpy as np").
        media: where it appears (SCRIPT, NOTEBOOK or both).
    """

    key: str
    title: str
    why: str
    code: tuple[str, ...] = ()
    definitions: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    media: frozenset[str] = BOTH


def check_medium(medium: str) -> None:
    """Raise ValueError unless `medium` is SCRIPT or NOTEBOOK."""
    if medium not in MEDIA:
        raise ValueError(f"medium must be one of {', '.join(MEDIA)}, got {medium!r}.")
