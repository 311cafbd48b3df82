"""What the teacher does to people: merge a student's two users into one.

A student who used two browsers (or two names) has two users. Merging moves everything the one
owns to the other — runs, labelled drawings, saved models — and forgets the first user; the
runs keep the names they were started under. (The browser of the first user is a new user on
its next visit: a student who wants both devices as one uses a device code.)
"""

from __future__ import annotations

import json
from typing import Any

from mnist_core.modeling.store import list_models, models_directory
from mnist_core.runs.lifecycle import write_atomically


def merge_users(run_log: Any, users: Any, source_id: str, target_id: str) -> int:
    """Move what `source_id` owns to `target_id`, then forget `source_id`; returns the runs moved.

    Raises:
        ValueError: the two are one user, or either is unknown.
    """
    if source_id == target_id:
        raise ValueError("Choose two different users to merge.")
    source, target = users.get(source_id), users.get(target_id)
    if source is None or target is None:
        raise ValueError("One of the two users is no longer known; reload the page.")
    with run_log.database.connect() as connection:
        moved = connection.execute(
            "UPDATE runs SET user_id = ? WHERE user_id = ?", (target_id, source_id)
        ).rowcount
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        if "drawings" in tables:
            # A drawing both kept (the same picture) stays once, with the target's label.
            connection.execute(
                "UPDATE OR IGNORE drawings SET user = ? WHERE user = ?", (target_id, source_id)
            )
            connection.execute("DELETE FROM drawings WHERE user = ?", (source_id,))
    _move_saved_models(source_id, target)
    users.forget([source_id])
    return moved


def _move_saved_models(source_id: str, target: Any) -> None:
    directory = models_directory()
    for entry in list_models():
        metadata = entry.metadata or {}
        if not entry.is_valid or metadata.get("saved_by_id") != source_id:
            continue
        metadata = {**metadata, "saved_by_id": target.id, "saved_by": target.name}
        text = json.dumps(metadata, indent=2, allow_nan=False) + "\n"
        write_atomically(directory / entry.metadata_path.name, text.encode("utf-8"))
