"""Runs in a real browser: a reload during a run, the user's name across reloads and tabs,
a lesson end to end on the Compare page, and the Train and Compare pages on a phone."""

from __future__ import annotations

import re
import time

import pytest
from page_actions import cut_button_labels, expect_no_exception, wait_until_idle
from playwright.sync_api import Page, expect

from app_glue.run_queries import COMPARE_COLUMN_WIDTH
from mnist_core.base.paths import default_runs_path
from mnist_core.runs.log import RunLog
from mnist_core.runs.users import UserDirectory, user_id_of

pytestmark = pytest.mark.browser
expect.set_options(timeout=45_000)

TRAINING_TIMEOUT_MS = 240_000
PHONE = {"width": 390, "height": 844}
# Height of a row (and of the header) of a table drawn by Streamlit's data editor.
TABLE_ROW_PIXELS = 35


def user_name_field(page: Page):
    return page.get_by_test_id("stSidebar").get_by_role("textbox", name="Your name")


def test_a_reload_during_a_run_shows_the_same_run_still_updating(chromium, app_url):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        # A run long enough to reload in the middle of: 40 epochs of 1,000 images.
        page.goto(f"{app_url}/train?preset=dense_fast&training_images=1000&epochs=40&batch_size=32")
        expect(page.get_by_role("heading", name="Train a network")).to_be_visible()
        expect(user_name_field(page)).to_have_value(re.compile("^anonymous-"))
        name = user_name_field(page).input_value()
        page.locator(".st-key-train_start").get_by_role("button", name="Train").click()
        bar = page.get_by_test_id("stProgress")
        expect(bar).to_contain_text(re.compile(r"Epoch \d+ of 40"), timeout=TRAINING_TIMEOUT_MS)
        page.reload()
        # The same user (the browser remembered the name) and the same run, still moving.
        expect(user_name_field(page)).to_have_value(name)
        bar = page.get_by_test_id("stProgress")
        expect(bar).to_contain_text(re.compile(r"Epoch \d+ of 40"), timeout=60_000)
        first = int(re.search(r"Epoch (\d+) of 40", bar.inner_text()).group(1))
        expect(bar).not_to_contain_text(f"Epoch {first} of 40", timeout=60_000)
        # A second tab of the same browser shows it too, and can stop it.
        other = context.new_page()
        other.goto(f"{app_url}/train")
        expect(user_name_field(other)).to_have_value(name)
        other.get_by_role("button", name="Stop").click()
        expect(other.get_by_text("Stopped on request")).to_be_visible(timeout=60_000)
        expect_no_exception(page)
        expect_no_exception(other)
    finally:
        context.close()


def test_a_typed_name_is_kept_across_reloads(chromium, app_url):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(app_url)
        field = user_name_field(page)
        field.fill("Ada L")
        field.press("Enter")
        # The browser keeps its token (not the name) in a cookie; the name is the token's.
        deadline = time.monotonic() + 60
        while not any(cookie["name"] == "mnist_user_token" for cookie in context.cookies()):
            assert time.monotonic() < deadline, f"no cookie: {context.cookies()}"
            page.wait_for_timeout(200)
        (token,) = [c["value"] for c in context.cookies() if c["name"] == "mnist_user_token"]
        assert len(token) == 32 and "Ada" not in token
        # The server holds the name before the reload: a reload within a moment of Enter can
        # close the page before its rerun reaches the server (seen once on a loaded machine).
        users = UserDirectory(RunLog(default_runs_path()).database)
        while getattr(users.get(user_id_of(token)), "name", None) != "Ada L":
            assert time.monotonic() < deadline, f"the name never reached the server: {token}"
            page.wait_for_timeout(200)
        page.reload()
        expect(user_name_field(page)).to_have_value("Ada L")
        page.goto(f"{app_url}/compare")
        expect(user_name_field(page)).to_have_value("Ada L")
    finally:
        context.close()


@pytest.mark.parametrize(
    ("path", "landmark"),
    [("/train", ".st-key-train_start button"), ("/compare", ".st-key-compare_start button")],
)
def test_train_and_compare_fit_a_phone(chromium, app_url, path, landmark):
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(f"{app_url}{path}")
        expect(page.locator(landmark).first).to_be_attached(timeout=60_000)
        wait_until_idle(page)
        expect_no_exception(page)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{path} is {overflow}px wider than a 390px phone"
        page.screenshot(path=f"test-artifacts/phone{path.replace('/', '_')}.png")
    finally:
        context.close()


def test_a_lesson_runs_end_to_end_and_its_curves_are_overlaid(chromium, app_url):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(f"{app_url}/compare")
        expect(page.get_by_role("heading", name="Compare runs")).to_be_visible()
        wait_until_idle(page)
        page.get_by_test_id("stSelectbox").filter(has_text="Lesson").click()
        page.get_by_role(
            "option", name="SGD against adam against RMSprop on the same network"
        ).click()
        wait_until_idle(page)
        page.locator(".st-key-compare_start").get_by_role("button").click()
        # The conclusion is written from the results once every run has ended.
        expect(page.get_by_text("What the lesson shows")).to_be_visible(
            timeout=TRAINING_TIMEOUT_MS * 2
        )
        charts = page.get_by_test_id("stVegaLiteChart")
        expect(charts.first).to_be_visible()
        assert charts.count() >= 3  # loss, accuracy, accuracy per class
        legend = page.locator(".st-key-compare_chart_loss")
        for label in ("sgd", "adam", "rmsprop"):
            expect(legend).to_contain_text(label)
        page.screenshot(path="test-artifacts/lesson_compare.png", full_page=True)
        expect_no_exception(page)
        assert not cut_button_labels(page)
        cards = page.locator("[class*='st-key-compare_metrics_card_']")
        expect(cards).to_have_count(3)
        # A tap on the first run's tick in the runs table (a grid drawn on a canvas: by its
        # place) leaves two runs compared.
        table = page.get_by_test_id("stDataFrameResizable").first
        box = table.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + COMPARE_COLUMN_WIDTH / 2, box["y"] + TABLE_ROW_PIXELS * 1.5)
        expect(cards).to_have_count(2)
        wait_until_idle(page)
        # Two of the lesson's three runs: no conclusion under the lesson's heading, but why.
        expect(page.get_by_text("What the lesson shows")).to_have_count(0)
        expect(page.get_by_text("Tick just those 3 to read it.", exact=False)).to_be_visible()
        page.mouse.click(box["x"] + COMPARE_COLUMN_WIDTH / 2, box["y"] + TABLE_ROW_PIXELS * 1.5)
        expect(cards).to_have_count(3)
        expect(page.get_by_text("What the lesson shows")).to_be_visible()
        wait_until_idle(page)
        # On a phone the runs' cards stack: every run shows, none wider than the screen.
        page.set_viewport_size({"width": 390, "height": 844})
        wait_until_idle(page)
        expect(cards).to_have_count(3)
        for index in range(3):
            box = cards.nth(index).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 391, box
        assert not cut_button_labels(page)
        page.screenshot(path="test-artifacts/lesson_compare_phone.png", full_page=True)
    finally:
        context.close()
