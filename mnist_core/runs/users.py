"""Who a user is: a browser, known by a random token kept in a cookie; the name is a label.

On a first visit the server gives the browser a token (`new_token`, 192 random bits) that it
keeps in a cookie. The token never leaves that browser: what the server keeps and shows is the
user's id (`user_id_of`, a hash of the token), and everything a user owns (runs, the line's
one-run rule, saved models, drawings) is owned by that id, never by the name. A name is a
label the id holds, one id at a time on a server: names compare after NFKC normalisation,
case folding and folding of letters that look alike (`name_key`), so "Alice", "ALICE" and
"аlice" (a Cyrillic а) are one name.

Moving to another device: the owner asks for a device code (`UserDirectory.issue_device_code`),
valid for 10 minutes and once; typed or opened on the other device, it gives that browser the
same user. The teacher (`runs.classroom`) sees every name with its last visit, releases a name
(its runs and drawings stay, listed under it) and merges a student's two users into one.
"""

from __future__ import annotations

import hashlib
import random
import re
import secrets
import sqlite3
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

MAX_USER_NAME_LENGTH = 40
RESERVED_USER_NAMES = ("cli",)
TOKEN_BYTES = 24
# A token as the cookie carries it: url-safe base64 of TOKEN_BYTES bytes.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")
USER_ID_LENGTH = 32
DEVICE_CODE_SECONDS = 600.0
# Letters and digits nobody misreads: no 0/O, 1/I/L, 5/S, 2/Z, 8/B.
DEVICE_CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
DEVICE_CODE_LENGTH = 8
# How often a user's "last seen" is written (a page reruns far more often than that).
SEEN_WRITE_SECONDS = 30.0
NAME_TAKEN = "“{name}” is taken on this server: choose another name, or ask your teacher."
_ALLOWED = re.compile(r"^[\w][\w .\-']*$", re.UNICODE)
_ANIMALS = (
    "otter", "heron", "lynx", "panda", "koala", "gecko", "puffin", "walrus", "badger", "ibis",
    "marten", "okapi", "quokka", "tapir", "wombat", "yak", "zebra", "egret", "falcon", "newt",
)  # fmt: skip
# Letters (after NFKC and case folding) that look like a Latin letter or digit, and the one
# they look like: Cyrillic and Greek look-alikes, dotless i, and the digits read as letters
# (after Unicode TR39's confusables, for the characters a name may hold).
_LOOK_ALIKES = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i",
        "ј": "j", "ԁ": "d", "ӏ": "l", "ԛ": "q", "ԝ": "w", "һ": "h", "ү": "y", "ɡ": "g",
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "γ": "y", "ı": "i", "ɩ": "i",
        "0": "o", "1": "l",
    }
)  # fmt: skip


class NameTakenError(ValueError):
    """Another user holds that name on this server; the message says what to do."""


@dataclass(frozen=True)
class User:
    """A user of the app, as the server knows them.

    Attributes:
        id: the hash of the browser's token ("cli" for the command line): what owns runs.
        name: the name the user goes by now.
        created_at: the first visit; last_seen: the latest (seconds since the epoch).
        released: the teacher released the name (it may be taken by someone else now).
    """

    id: str
    name: str
    created_at: float = 0.0
    last_seen: float = 0.0
    released: bool = False


# The command line is a user of its own: runs it trains are the machine owner's.
CLI_USER = User(id="cli", name="cli")
# The id of a user known by a name alone (a run recorded before users had tokens, a script
# that queues runs): no token hashes to it, so no browser owns what it owns.
NAME_ONLY_PREFIX = "name:"


def name_only_user_id(name: str) -> str:
    """The id of a user known by a name alone (see NAME_ONLY_PREFIX)."""
    return f"{NAME_ONLY_PREFIX}{name_key(name)}"


def as_user(user: User | str) -> User:
    """A `User`; a plain name (a script's, a test's) stands for the user known by it alone."""
    if isinstance(user, User):
        return user
    if not isinstance(user, str) or not user.strip():
        raise ValueError(f"user must be a User or a non-empty name, got {user!r}.")
    name = user.strip()
    return CLI_USER if name == CLI_USER.name else User(name_only_user_id(name), name)


def new_token() -> str:
    """A fresh browser token: 192 random bits, url-safe."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def valid_token(text: object) -> bool:
    """Whether `text` looks like a token this server hands out."""
    return isinstance(text, str) and TOKEN_PATTERN.fullmatch(text) is not None


def user_id_of(token: str) -> str:
    """The id a token stands for (what the server keeps; the token itself stays secret)."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()[:USER_ID_LENGTH]


def validate_user_name(name: object) -> str:
    """The cleaned-up name, or ValueError saying what is allowed.

    Args:
        name: 1 to 40 letters, digits, spaces, '.', '-', '_' or apostrophes, starting with a
            letter or digit; "cli" is kept for the command line.
    """
    if not isinstance(name, str):
        raise ValueError(f"user name must be text, got {type(name).__name__}.")
    cleaned = " ".join(unicodedata.normalize("NFKC", name).split())
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
    if name_key(cleaned) in {name_key(reserved) for reserved in RESERVED_USER_NAMES}:
        raise ValueError(f"user name {cleaned!r} is kept for the command line; choose another.")
    return cleaned


def name_key(name: str) -> str:
    """What two names are compared by: NFKC, case folded, look-alike letters folded."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return " ".join(folded.translate(_LOOK_ALIKES).split())


def anonymous_name(generator: random.Random | None = None) -> str:
    """A made-up name for a browser whose user has not typed one, e.g. "anonymous-otter-417"."""
    generator = generator or random.Random()
    return f"anonymous-{generator.choice(_ANIMALS)}-{generator.randint(100, 999)}"


class UserDirectory:
    """The users of a server and their names, in the server's database (`runs.database`).

    Args:
        database: the server's `Database` (the run log's file).
    """

    def __init__(self, database: Any) -> None:
        self.database = database
        self._seen_written: dict[str, float] = {}

    def _connect(self) -> Iterator[Any]:
        return self.database.connect()

    def get(self, user_id: str) -> User | None:
        """The user of this id, or None when the server has not met them."""
        with self._connect() as connection:
            row = connection.execute(
                "SELECT id, name, created_at, last_seen, released FROM users WHERE id = ?",
                (user_id,),
            ).fetchone()
        return _user(row) if row else None

    def sign_in(self, user_id: str, *, now: float | None = None) -> User:
        """The user of this id, met now: a new id gets a free made-up name; a known one is
        seen again (written at most every SEEN_WRITE_SECONDS)."""
        now = time.time() if now is None else now
        user = self.get(user_id)
        if user is None:
            return self._create(user_id, now)
        if now - self._seen_written.get(user_id, 0.0) >= SEEN_WRITE_SECONDS:
            with self._connect() as connection:
                connection.execute("UPDATE users SET last_seen = ? WHERE id = ?", (now, user_id))
            self._seen_written[user_id] = now
            user = User(user.id, user.name, user.created_at, now, user.released)
        return user

    def _create(self, user_id: str, now: float) -> User:
        generator = random.Random()
        for _ in range(50):
            name = anonymous_name(generator)
            try:
                with self._connect() as connection:
                    connection.execute(
                        "INSERT INTO users (id, name, name_key, created_at, last_seen) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (user_id, name, name_key(name), now, now),
                    )
            except sqlite3.IntegrityError as error:
                if "users.id" in str(error):  # another tab of this browser was first
                    return self.get(user_id) or User(user_id, name, now, now)
                continue
            self._seen_written[user_id] = now
            return User(user_id, name, now, now)
        raise RuntimeError("no free made-up name was found; try again.")

    def claim_name(self, user_id: str, name: object) -> User:
        """Give the user this name; NameTakenError when another user holds it.

        Raises:
            ValueError: the name is not allowed (the message says why).
            NameTakenError: another user holds a name that compares equal (`name_key`).
        """
        cleaned = validate_user_name(name)
        key = name_key(cleaned)
        self.sign_in(user_id)
        try:
            with self._connect() as connection:
                holder = connection.execute(
                    "SELECT id FROM users WHERE name_key = ? AND id != ?", (key, user_id)
                ).fetchone()
                if holder is not None:
                    raise NameTakenError(NAME_TAKEN.format(name=cleaned))
                connection.execute(
                    "UPDATE users SET name = ?, name_key = ?, released = 0 WHERE id = ?",
                    (cleaned, key, user_id),
                )
        except sqlite3.IntegrityError:
            raise NameTakenError(NAME_TAKEN.format(name=cleaned)) from None
        user = self.get(user_id)
        assert user is not None
        return user

    def list_users(self, *, seen_within_seconds: float | None = None) -> list[User]:
        """Every user (those seen lately, when asked), the most recently seen first."""
        since = 0.0 if seen_within_seconds is None else time.time() - seen_within_seconds
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT id, name, created_at, last_seen, released FROM users "
                "WHERE last_seen >= ? ORDER BY last_seen DESC",
                (since,),
            ).fetchall()
        return [_user(row) for row in rows]

    def release(self, user_id: str) -> None:
        """Free the user's name for someone else; their runs and drawings keep it."""
        with self._connect() as connection:
            connection.execute(
                "UPDATE users SET released = 1, name_key = NULL WHERE id = ?", (user_id,)
            )

    def forget(self, user_ids: Sequence[str]) -> None:
        """Remove users (the teacher clears the class's data)."""
        with self._connect() as connection:
            connection.executemany("DELETE FROM users WHERE id = ?", [(uid,) for uid in user_ids])
            connection.executemany(
                "DELETE FROM device_codes WHERE user_id = ?", [(uid,) for uid in user_ids]
            )

    def issue_device_code(self, token: str, *, now: float | None = None) -> str:
        """A code that gives another browser this browser's user (it carries the token),
        valid DEVICE_CODE_SECONDS and once."""
        now = time.time() if now is None else now
        code = "".join(secrets.choice(DEVICE_CODE_ALPHABET) for _ in range(DEVICE_CODE_LENGTH))
        with self._connect() as connection:
            connection.execute("DELETE FROM device_codes WHERE expires_at < ?", (now,))
            connection.execute(
                "INSERT INTO device_codes (code, token, user_id, expires_at) VALUES (?, ?, ?, ?)",
                (code, token, user_id_of(token), now + DEVICE_CODE_SECONDS),
            )
        return code

    def redeem_device_code(self, code: object, *, now: float | None = None) -> str:
        """The token a device code carries; the code is used up. ValueError if it is unknown,
        used or expired."""
        now = time.time() if now is None else now
        cleaned = "".join(str(code or "").upper().split()).replace("-", "")
        with self._connect() as connection:
            row = connection.execute(
                "SELECT token, expires_at FROM device_codes WHERE code = ?", (cleaned,)
            ).fetchone()
            connection.execute("DELETE FROM device_codes WHERE code = ?", (cleaned,))
        if row is None or row[1] < now:
            raise ValueError(
                "That code is unknown, already used or more than 10 minutes old: ask for a new "
                "one on your other device (“Use my name on another device”)."
            )
        return str(row[0])


def _user(row: Sequence[Any]) -> User:
    return User(id=row[0], name=row[1], created_at=row[2], last_seen=row[3], released=bool(row[4]))
