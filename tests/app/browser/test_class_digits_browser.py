"""The class's own digits in a real browser, on one server started like `make run`: three
students share their labelled drawings (one labelled on the Draw page's canvas), the teacher
removes one of them, and a student's run on "MNIST + our class's digits" records exactly the
drawings that were shared and not removed, and is scored on the held-out classmate."""

from __future__ import annotations

import time

import numpy as np
import pytest
from page_actions import (
    DIGIT_STROKES,
    draw_strokes,
    expect_no_exception,
    keyed_button,
    prediction,
    wait_until_idle,
)
from playwright.sync_api import Page, expect

from mnist_core.data.class_drawings import ClassDrawings
from mnist_core.data.drawings import DrawingStore, image_id
from mnist_core.runs.class_data import recorded_drawings
from mnist_core.runs.log import RunLog
from mnist_core.runs.users import user_id_of

pytestmark = [pytest.mark.browser, pytest.mark.cluster]

KEY = "class digits key"
VIEWPORT = {"width": 1366, "height": 900}
TRAINING_TIMEOUT_SECONDS = 300
NAMES = ("Ann", "Ben", "Cat")


def user_id(page: Page) -> str:
    """The id of the user a tab's browser is (from its token cookie)."""
    deadline = time.monotonic() + 30
    while True:
        tokens = [c["value"] for c in page.context.cookies() if c["name"] == "mnist_user_token"]
        if tokens:
            return user_id_of(tokens[0])
        assert time.monotonic() < deadline, "the browser was given no token"
        page.wait_for_timeout(200)


def go_to(page: Page, title: str) -> None:
    """Open another page from the sidebar (the same session: an unlocked key stays)."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    wait_until_idle(page, timeout_ms=60_000)


def pick(page: Page, label: str, option: str) -> None:
    """Choose an option of the selectbox labelled `label` with the keyboard (type it, Enter), as
    a student can, and check that the box shows it. (Clicking the option in the open list
    failed on a loaded machine: the list was drawn outside the window for a whole minute. A part
    of the page that refreshes on its own can close the list: then it is tried again.)"""
    box = page.get_by_test_id("stSelectbox").filter(has_text=label).get_by_role("combobox")
    for _ in range(5):
        wait_until_idle(page, timeout_ms=60_000)
        box.click()
        page.keyboard.type(option)
        page.keyboard.press("Enter")
        wait_until_idle(page, timeout_ms=60_000)
        try:
            expect(box).to_have_value(option, timeout=5_000)
        except AssertionError:
            page.keyboard.press("Escape")
            continue
        return
    raise AssertionError(f"{option!r} could not be chosen in the list {label!r}")


def test_shared_drawings_less_the_removed_one_are_exactly_what_a_run_records(
    chromium, served_app, tmp_path, mnist
):
    database = tmp_path / "runs.sqlite3"
    contexts = []

    def tab(url: str, viewport: dict = VIEWPORT) -> Page:
        context = chromium.new_context(viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        wait_until_idle(page, timeout_ms=60_000)
        return page

    with served_app(MNIST_TEACHER_KEY=KEY, MNIST_RUNS_DB=str(database)) as (url, _):
        log = RunLog(database)
        store = DrawingStore(database)
        try:
            students = {}
            for number, name in enumerate(NAMES):
                page = tab(url)
                field = page.get_by_role("textbox", name="Your name")
                field.fill(name)
                field.press("Enter")
                wait_until_idle(page)
                students[name] = page
                # Drawings they labelled before: 3 of every digit (MNIST test digits).
                entries = []
                for digit in range(10):
                    for index in np.flatnonzero(mnist.y_test == digit)[number * 3 : number * 3 + 3]:
                        entries.append((image_id(mnist.x_test[index]), mnist.x_test[index], digit))
                store.add_drawings(user_id(page), entries)
            ids = {name: user_id(page) for name, page in students.items()}

            # Ann labels one more on the canvas: "Was it right?" keeps it.
            ann = students["Ann"]
            draw_strokes(ann, DIGIT_STROKES[7])
            expect(prediction(ann)).to_have_text("7")
            ann.locator("[class*='st-key-draw_meant_'] button", has_text="7").click()
            wait_until_idle(ann)
            deadline = time.monotonic() + 30
            while len(store.list_drawings(ids["Ann"])) != 31:
                assert time.monotonic() < deadline, "the labelled drawing was not kept"
                time.sleep(0.2)

            # Nothing is shared until each switches it on.
            class_drawings = ClassDrawings(DrawingStore(database))
            assert class_drawings.list_drawings(images=False) == []
            for page in students.values():
                go_to(page, "Our digits")
                page.get_by_test_id("stCheckbox").get_by_text(
                    "Share my drawings with my class"
                ).click()
                expect(page.get_by_text("Your drawings are shared with your class")).to_be_visible()
            assert len(class_drawings.list_drawings(images=False)) == 91

            # The teacher unlocks the key, sees the class's digits by name and removes one of Ben's.
            teacher = tab(f"{url}/class")
            teacher.get_by_label("Teacher key").fill(KEY)
            teacher.get_by_role("button", name="Unlock").click()
            expect(teacher.get_by_text("Who is here")).to_be_visible()
            go_to(teacher, "Our digits")
            pick(teacher, "Student", "Ben")
            # Every student shares three 0s, so the count alone cannot tell Ben's tiles from the
            # ones shown before the pick: each tile's key names its writer.
            bens_tiles = teacher.locator(
                f".st-key-digits_remove_tiles [class*='st-key-digits_remove_{ids['Ben']}_']"
            )
            expect(bens_tiles).to_have_count(3)
            expect(
                teacher.locator(".st-key-digits_remove_tiles").get_by_role("button", name="Remove")
            ).to_have_count(3)
            bens_tiles.first.get_by_role("button", name="Remove").click()
            expect(teacher.get_by_test_id("stAlertContentSuccess")).to_contain_text("Removed from")
            (removed,) = class_drawings.removed_drawings()
            assert removed.writer_id == ids["Ben"]
            teacher.screenshot(path="test-artifacts/class_digits_teacher.png", full_page=True)

            # Cat trains on MNIST + our class's digits.
            cat = students["Cat"]
            cat.goto(
                f"{url}/train?preset=dense_fast&dataset=mnist_and_class&training_images=1000"
                "&epochs=1"
            )
            wait_until_idle(cat, timeout_ms=60_000)
            keyed_button(cat, "train_start").click()
            deadline = time.monotonic() + TRAINING_TIMEOUT_SECONDS
            while True:
                runs = [run for run in log.list_runs() if run.owner_id == ids["Cat"]]
                if runs and runs[0].ended:
                    break
                assert time.monotonic() < deadline, f"the run is still {runs and runs[0].status}"
                time.sleep(1)
            (run,) = runs
            assert run.status == "finished", run.reason
            assert run.config.dataset == "mnist_and_class"

            # Its record: exactly the drawings shared and not removed, by writer in two parts.
            shared = {
                (writer, drawing.id)
                for writer in ids.values()
                for drawing in store.list_drawings(writer)
            } - {removed.key}
            spec = recorded_drawings(log, run.id)
            assert {(d.writer_id, d.drawing_id) for d in spec.drawings} == shared
            assert len(spec.drawings) == len(shared) == 90
            test_writers = {d.writer_id for d in spec.part("test")}
            assert len(test_writers) == 1
            assert not test_writers & {d.writer_id for d in spec.part("train")}
            figures = run.metrics["class_digits"]
            assert figures["test_count"] == len(spec.part("test"))
            assert figures["training_drawings"] == len(spec.part("train"))
            expect(cat.get_by_text("Our held-out classmates")).to_be_visible(timeout=60_000)
            for page in (*students.values(), teacher):
                expect_no_exception(page)
        finally:
            for context in contexts:
                context.close()
