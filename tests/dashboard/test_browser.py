import pytest
from django.conf import settings
from django.urls import reverse

# The tests commit, so the rows that migrations create (the default tiers) are restored from
# a serialized copy before each test.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_completion_chart_renders(live_server, client, users, dataset, chromium_path):
    from playwright.sync_api import sync_playwright

    client.force_login(users["platform"])
    session_cookie = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": live_server.url,
    }
    page_errors = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        try:
            context = browser.new_context()
            context.add_cookies([session_cookie])
            page = context.new_page()
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            page.goto(live_server.url + reverse("dashboard:index"))

            # The charts are drawn as SVG, which prints sharply.
            page.wait_for_selector("#completion-chart svg", timeout=10_000)
            section_charts = [
                page.locator(f"#{name}-chart svg").count() for name in ("campaign", "branch", "assignee", "tier")
            ]
            echarts_type = page.evaluate("typeof window.echarts")
            page.emulate_media(media="print")
            navbar_display = page.evaluate("getComputedStyle(document.querySelector('nav.navbar')).display")
            filter_form_display = page.evaluate(
                "getComputedStyle(document.querySelector('form.saved-filter-form')).display"
            )
            pdf = page.pdf(format="A4")
        finally:
            browser.close()

    assert page_errors == []
    assert echarts_type == "object"
    assert section_charts == [1, 1, 1, 1]
    assert navbar_display == "none"
    assert filter_form_display == "none"
    assert pdf.startswith(b"%PDF")


def test_analysis_charts_render(live_server, client, users, dataset, chromium_path):
    from playwright.sync_api import sync_playwright

    client.force_login(users["platform"])
    session_cookie = {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": live_server.url,
    }
    page_errors = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        try:
            context = browser.new_context()
            context.add_cookies([session_cookie])
            page = context.new_page()
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            page.goto(live_server.url + reverse("dashboard:next_campaign_analysis"))

            page.wait_for_selector("#response_occupation-chart svg", timeout=10_000)
            drawn = page.locator(".dashboard-chart svg").count()
            charts = page.locator(".dashboard-chart").count()
        finally:
            browser.close()

    assert page_errors == []
    assert charts == 11
    assert drawn == charts
