"""Every page works offline and fits its screen (chromium): at 390, 1366 and 1920 px nothing is
fetched from beyond the server and no button's label is cut (one walk through the pages a
width checks both), and on a phone the Train button comes before the model summary."""

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
WIDTHS = (390, 1366, 1920)


def open_settled(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("[data-testid='stMain']")).to_be_visible(timeout=60_000)
    wait_until_idle(page, timeout_ms=60_000)
    page.wait_for_timeout(500)  # charts and tables lay out after the script run
    wait_until_idle(page, timeout_ms=60_000)


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_fits_its_screen_and_fetches_nothing_from_beyond_the_server(
    chromium, app_url, width
):
    """At each width, one walk through the pages checks both: no button's label is cut, and
    no request (page, script, font, socket) leaves the server."""
    server = urlparse(app_url).netloc
    phone = width < 500
    context = chromium.new_context(
        viewport={"width": width, "height": 844 if phone else 1000},
        is_mobile=phone,
        has_touch=phone,
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
            open_settled(page, f"{app_url}{path}")
            expect_no_exception(page)
            if labels := cut_button_labels(page):
                cut[path] = labels
                page.screenshot(
                    path=f"test-artifacts/cut_labels_{width}{path.replace('/', '_')}.png"
                )
        icon = page.locator("link[rel*='icon']").first.get_attribute("href") or ""
        assert not icon.startswith("http") or urlparse(icon).netloc == server, icon
        assert not cut, f"button labels cut at {width} px: {cut}"
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
