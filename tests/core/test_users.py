"""runs.users: a user is a browser's token; a name is a label one user holds at a time."""

from __future__ import annotations

import pytest

from mnist_core.runs.database import Database
from mnist_core.runs.users import (
    DEVICE_CODE_SECONDS,
    NameTakenError,
    UserDirectory,
    name_key,
    new_token,
    user_id_of,
    valid_token,
    validate_user_name,
)


@pytest.fixture
def users(tmp_path):
    return UserDirectory(Database(tmp_path / "runs.sqlite3"))


def test_a_token_has_at_least_128_random_bits_and_its_id_reveals_nothing():
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200 and all(valid_token(token) for token in tokens)
    token = next(iter(tokens))
    assert len(token) * 6 >= 128
    assert user_id_of(token) != token and token not in user_id_of(token)
    assert user_id_of(token) == user_id_of(token) and len(user_id_of(token)) == 32
    assert not valid_token("short") and not valid_token(None) and not valid_token("a" * 31 + "!")


@pytest.mark.parametrize("other", ["Alice", "ALICE", "аlice", "alicе", "  alice ", "ａｌｉｃｅ"])
def test_names_that_look_the_same_are_the_same_name(other):
    assert name_key(validate_user_name(other)) == name_key("alice")


@pytest.mark.parametrize("other", ["alicia", "alice b", "bob"])
def test_other_names_stay_apart(other):
    assert name_key(other) != name_key("alice")


def test_a_new_browser_gets_a_free_made_up_name_and_is_seen(users):
    first = users.sign_in(user_id_of(new_token()), now=100.0)
    second = users.sign_in(user_id_of(new_token()), now=100.0)
    assert first.name.startswith("anonymous-") and first.name != second.name
    again = users.sign_in(first.id, now=200.0)
    assert again.name == first.name and again.last_seen == 200.0
    assert [user.id for user in users.list_users()] == [first.id, second.id]


def test_a_name_is_held_by_one_user_at_a_time(users):
    alice, mallory = user_id_of(new_token()), user_id_of(new_token())
    assert users.claim_name(alice, "Alice").name == "Alice"
    for typed in ("alice", "ALICE", "аlice"):
        with pytest.raises(NameTakenError, match="is taken on this server: choose another name"):
            users.claim_name(mallory, typed)
    assert users.get(mallory).name.startswith("anonymous-")
    assert users.claim_name(alice, "alice").name == "alice"  # her own name, another spelling
    with pytest.raises(ValueError, match="kept for the command line"):
        users.claim_name(mallory, "CLI")


def test_a_released_name_can_be_taken_and_the_old_user_keeps_it_as_a_label(users):
    alice, other = user_id_of(new_token()), user_id_of(new_token())
    users.claim_name(alice, "alice")
    users.release(alice)
    assert users.claim_name(other, "alice").name == "alice"
    old = users.get(alice)
    assert old.name == "alice" and old.released


def test_a_device_code_works_once_within_ten_minutes(users):
    token = new_token()
    users.sign_in(user_id_of(token))
    code = users.issue_device_code(token, now=1000.0)
    assert users.redeem_device_code(code.lower(), now=1000.0 + DEVICE_CODE_SECONDS - 1) == token
    with pytest.raises(ValueError, match="already used"):
        users.redeem_device_code(code, now=1001.0)
    late = users.issue_device_code(token, now=1000.0)
    with pytest.raises(ValueError, match="10 minutes"):
        users.redeem_device_code(late, now=1000.0 + DEVICE_CODE_SECONDS + 1)
    with pytest.raises(ValueError):
        users.redeem_device_code("NOPE")
