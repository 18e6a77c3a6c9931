"""The dashboard and the analysis page in Chromium under the portal's real
Content-Security-Policy: the charts draw, the browser reports no policy violation, the print
button works without an inline handler and the charts fit the printed page."""

import datetime
import os

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from tests.factories import CampaignFactory, CustomerFactory, TaskFactory

# Playwright's sync API runs an event loop in this thread, which Django's ORM otherwise rejects.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

# The tests commit, so the rows that migrations create (the default tiers) are restored from
# a serialized copy before each test.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
# Runs before any page script. It records policy violations and replaces window.print, whose
# dialog a headless browser cannot show, with a counter.
INIT_SCRIPT = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline"));
});
window.__printCalls = 0;
window.print = function () { window.__printCalls += 1; };
"""


@pytest.fixture
def tasks(users, branch_tree):
    today = timezone.localdate()
    campaign = CampaignFactory(name="Autumn offer", owner=users["platform"])
    for number, (status, outcome) in enumerate(
        [("verified", "converted"), ("done", "declined"), ("open", ""), ("cancelled", "")]
    ):
        TaskFactory(
            campaign=campaign, assignee=users["manager_a"], status=status, outcome=outcome, channel="phone",
            due_on=today + datetime.timedelta(days=number),
            completed_at=timezone.now() if status in ("done", "verified") else None,
            customer=CustomerFactory(branch=branch_tree["a"], occupation=["student", "retired"][number % 2]),
        )
    return campaign


def open_page(playwright, chromium_path, live_server, client, user, url):
    client.force_login(user)
    browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
    context = browser.new_context(locale="en")
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
          "url": live_server.url}]
    )
    context.add_init_script(INIT_SCRIPT)
    page = context.new_page()
    page.set_default_timeout(15_000)
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page_errors = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    response = page.goto(live_server.url + url)
    return browser, page, response, console, page_errors


def csp_messages(console: list[str]) -> list[str]:
    return [line for line in console if "Content Security Policy" in line or "Content-Security-Policy" in line]


def test_dashboard_under_csp(live_server, client, users, tasks, chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser, page, response, console, page_errors = open_page(
            playwright, chromium_path, live_server, client, users["platform"], reverse("dashboard:index")
        )
        try:
            page.wait_for_selector("#completion-chart svg")
            page.wait_for_selector("#campaign-chart svg")
            policy = response.headers["content-security-policy"]
            bars = page.locator("#campaign-chart svg path").count()

            page.click("button[data-print]")
            print_calls = page.evaluate("window.__printCalls")

            page.emulate_media(media="print")
            page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
            chart_width = page.evaluate("document.querySelector('#campaign-chart svg').getBoundingClientRect().width")
            container_width = page.evaluate("document.querySelector('#campaign-chart').getBoundingClientRect().width")
            pdf = page.pdf(format="A4")
            violations = page.evaluate("window.__cspViolations")
        finally:
            browser.close()

    assert "script-src 'self';" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    assert page_errors == []
    assert violations == []
    assert csp_messages(console) == []
    assert bars > 0
    assert print_calls == 1
    assert 0 < chart_width <= container_width + 1
    assert pdf.startswith(b"%PDF")


def test_analysis_under_csp(live_server, client, users, tasks, chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser, page, _response, console, page_errors = open_page(
            playwright, chromium_path, live_server, client, users["platform"], reverse("dashboard:next_campaign_analysis")
        )
        try:
            page.wait_for_selector("#response_occupation-chart svg")
            charts = page.locator(".dashboard-chart").count()
            drawn = page.locator(".dashboard-chart svg").count()
            page.click("button[data-print]")
            print_calls = page.evaluate("window.__printCalls")
            violations = page.evaluate("window.__cspViolations")
        finally:
            browser.close()

    assert page_errors == []
    assert violations == []
    assert csp_messages(console) == []
    assert drawn == charts
    assert print_calls == 1
