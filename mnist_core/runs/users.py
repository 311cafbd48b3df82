"""Who a user is: a name chosen in a browser, not a login.

A Streamlit session ends with every reload or new tab, so the app remembers the name in the
browser (a cookie, with the URL's `?user=` as fallback) and shows it wherever runs and models
are listed. Anyone may pick any name; the teacher key guards what is shared.
"""

from __future__ import annotations

import random
import re

MAX_USER_NAME_LENGTH = 40
RESERVED_USER_NAMES = ("cli",)
_ALLOWED = re.compile(r"^[\w][\w .\-']*$", re.UNICODE)
_ANIMALS = (
    "otter", "heron", "lynx", "panda", "koala", "gecko", "puffin", "walrus", "badger", "ibis",
    "marten", "okapi", "quokka", "tapir", "wombat", "yak", "zebra", "egret", "falcon", "newt",
)  # fmt: skip


def validate_user_name(name: object) -> str:
    """The cleaned-up name, or ValueError saying what is allowed.

    Args:
        name: 1 to 40 letters, digits, spaces, '.', '-', '_' or apostrophes, starting with a
            letter or digit; "cli" is kept for the command line.
    """
    if not isinstance(name, str):
        raise ValueError(f"user name must be text, got {type(name).__name__}.")
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ValueError("user name is empty; type a name (letters, digits, spaces, '-', '_').")
    if len(cleaned) > MAX_USER_NAME_LENGTH:
        raise ValueError(
            f"user name must be at most {MAX_USER_NAME_LENGTH} characters, got {len(cleaned)}."
        )
    if not _ALLOWED.match(cleaned):
        raise ValueError(
            f"user name {cleaned!r} may hold only letters, digits, spaces, '.', '-', '_' and "
            "apostrophes, starting with a letter or digit."
        )
    if cleaned.lower() in RESERVED_USER_NAMES:
        raise ValueError(f"user name {cleaned!r} is kept for the command line; choose another.")
    return cleaned


def anonymous_name(generator: random.Random | None = None) -> str:
    """A made-up name for a browser whose user has not typed one, e.g. "anonymous-otter-417"."""
    generator = generator or random.Random()
    return f"anonymous-{generator.choice(_ANIMALS)}-{generator.randint(100, 999)}"
