"""Every page works offline and fits its screen (chromium): at 390, 1366 and 1920 px nothing is
fetched from beyond the server and no button's label is cut (a walk through the pages on a
phone, and one on a desktop that checks each page at 1920 px and resized to 1366 px), and on a
phone the Train button comes before the model summary."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from page_actions import cut_button_labels, expect_no_exception, keyed_button, wait_until_idle
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PAGES = (
    "/",
    "/teach",
    "/data",
    "/train",
    "/compare",
    "/evaluate",
    "/inside",
    "/fit_line",
    "/class",
)
PHONE = {"width": 390, "height": 844}
# The widths one walk through the pages checks: the phone's in a touch context of its own; the
# laptop's and the wide screen's in one desktop walk, each page opened at the first width and
# then resized (the app's layout is CSS only: a resized page lays out as one opened at that
# width, and the pages are not opened twice).
WALKS = {"phone": (390,), "desktop": (1920, 1366)}


def open_settled(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("[data-testid='stMain']")).to_be_visible(timeout=60_000)
    settle(page)


def settle(page: Page) -> None:
    """Wait for the app's script, then for charts and tables to lay out after it."""
    wait_until_idle(page, timeout_ms=60_000)
    page.wait_for_timeout(500)
    wait_until_idle(page, timeout_ms=60_000)


@pytest.mark.parametrize("walk", WALKS)
def test_every_page_fits_its_screen_and_fetches_nothing_from_beyond_the_server(
    chromium, app_url, walk
):
    """In each walk, one pass through the pages checks both: no button's label is cut at any
    of its widths, and no request (page, script, font, socket) leaves the server."""
    server = urlparse(app_url).netloc
    widths = WALKS[walk]
    phone = walk == "phone"
    height = PHONE["height"] if phone else 1000
    context = chromium.new_context(
        viewport={"width": widths[0], "height": height}, is_mobile=phone, has_touch=phone
    )
    elsewhere: list[str] = []
    context.on(
        "request",
        lambda request: (
            elsewhere.append(request.url)
            if urlparse(request.url).scheme in ("http", "https", "ws", "wss")
            and urlparse(request.url).netloc != server
            else None
        ),
    )
    try:
        page = context.new_page()
        cut = {}
        for path in PAGES:
            page.set_viewport_size({"width": widths[0], "height": height})
            open_settled(page, f"{app_url}{path}")
            expect_no_exception(page)
            for number, width in enumerate(widths):
                if number:
                    page.set_viewport_size({"width": width, "height": height})
                    settle(page)
                if labels := cut_button_labels(page):
                    cut[f"{path} at {width} px"] = labels
                    page.screenshot(
                        path=f"test-artifacts/cut_labels_{width}{path.replace('/', '_')}.png"
                    )
        icon = page.locator("link[rel*='icon']").first.get_attribute("href") or ""
        assert not icon.startswith("http") or urlparse(icon).netloc == server, icon
        assert not cut, f"button labels cut: {cut}"
    finally:
        context.close()
    assert not elsewhere, f"fetched from beyond the server: {sorted(set(elsewhere))}"


def test_on_a_phone_train_comes_before_the_model_summary(chromium, app_url):
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        open_settled(page, f"{app_url}/train")
        train = keyed_button(page, "train_start").bounding_box()
        summary = page.get_by_role("heading", name="Model summary").bounding_box()
        assert train is not None and summary is not None
        assert train["y"] + train["height"] <= summary["y"], (train, summary)
        assert train["y"] < 2 * PHONE["height"], "Train is more than a screen's scroll down"
        page.screenshot(path="test-artifacts/phone_train_top.png")
    finally:
        context.close()
