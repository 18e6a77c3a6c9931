"""The roster, task, campaign and audit lists filter, sort and page in place with htmx under the
portal's real Content-Security-Policy, and every state gets its own URL in the address bar and
the history."""

import os
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings

from portal.models import AuditEvent
from tests.factories import CampaignFactory, CustomerFactory, TaskFactory

# Playwright's sync API runs an event loop in this thread, which Django's ORM otherwise rejects.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
# A full page load replaces window, so a value set on it survives only in-place updates.
INIT_SCRIPT = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline"));
});
"""


@pytest.fixture
def desk_page(desk_page_for, users):
    return desk_page_for(users["supervisor_a"])


@pytest.fixture
def desk_page_for(chromium_path, live_server, client):
    """Return a function that opens a desktop-sized page signed in as the given user."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browsers = []

        def open_page(user):
            client.force_login(user)
            browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            browsers.append(browser)
            context = browser.new_context(locale="en", viewport={"width": 1280, "height": 900})
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                  "url": live_server.url}]
            )
            context.add_init_script(INIT_SCRIPT)
            page = context.new_page()
            page.set_default_timeout(15000)
            return page

        yield open_page
        for browser in browsers:
            browser.close()


@pytest.fixture
def roster(users):
    manager = users["manager_a"]
    campaign = CampaignFactory(owner=users["platform"])
    customers = []
    for index in range(1, 6):
        customer = CustomerFactory(
            name=f"Customer {index}", branch=manager.branch, client_manager=manager, aum=Decimal(index * 1000)
        )
        TaskFactory(campaign=campaign, customer=customer, assignee=manager)
        customers.append(customer)
    return customers


def query(page):
    return parse_qs(urlparse(page.url).query)


def mark_window(page):
    page.evaluate("window.__samePage = true")


def assert_same_page(page):
    assert page.evaluate("window.__samePage === true"), "the list reloaded the whole page"
    assert page.evaluate("window.__cspViolations") == []


def test_roster_filter_sort_page_update_url(live_server, transactional_db, settings, roster, desk_page):
    settings.PORTAL_PAGE_SIZE = 2
    page = desk_page
    page.goto(f"{live_server.url}/customers/")
    mark_window(page)

    page.fill("#id_q", "Customer")
    page.press("#id_q", "Enter")
    page.wait_for_url("**/customers/?*q=Customer*")
    assert_same_page(page)

    page.click("#list-results thead a:text-is('AUM (CNY)')")
    page.wait_for_url("**sort=aum*")
    assert_same_page(page)
    assert query(page)["q"] == ["Customer"]
    assert page.locator("#list-results tbody tr").first.inner_text().count("Customer 1") == 1

    page.click("#list-results .pagination a:text-is('2')")
    page.wait_for_url("**page=2*")
    assert_same_page(page)
    assert query(page)["sort"] == ["aum"]
    assert "Customer 3" in page.inner_text("#list-results tbody")

    # The URL of each state opens the same list in a new tab.
    shared = page.context.new_page()
    shared.goto(page.url)
    assert "Customer 3" in shared.inner_text("#list-results tbody")
    shared.close()

    page.go_back()
    page.wait_for_url(lambda url: "page=2" not in url)
    assert "Customer 1" in page.inner_text("#list-results tbody")
    assert page.evaluate("window.__cspViolations") == []


def test_task_list_filter_updates_url(live_server, transactional_db, roster, desk_page):
    page = desk_page
    page.goto(f"{live_server.url}/campaigns/tasks/")
    mark_window(page)

    page.select_option("#id_overdue", "false")
    page.wait_for_url("**overdue=false*")

    assert_same_page(page)
    assert page.locator("#list-results tbody tr").count() == 5
    # The export links are part of the partial, so they export the filtered tasks.
    export_href = page.locator("#list-results a:text-is('Export CSV')").get_attribute("href")
    assert "overdue=false" in export_href


def test_total_loads_after_rows(live_server, transactional_db, settings, roster, desk_page):
    settings.PORTAL_LIST_COUNT_LIMIT = 3
    page = desk_page
    page.goto(f"{live_server.url}/campaigns/tasks/?overdue=false")
    mark_window(page)

    page.wait_for_selector("#list-count-exact")
    assert "More than 3 tasks" in page.inner_text("#list-count")
    # Loading the total leaves the address alone; counting exactly gets its own URL.
    assert "count=" not in page.url
    page.click("#list-count-exact")
    page.wait_for_url("**count=exact*")

    page.wait_for_function("document.querySelector('#list-count').innerText.includes('5 tasks')")
    assert_same_page(page)


def test_keyboard_filters_roster(live_server, transactional_db, roster, desk_page):
    page = desk_page
    page.goto(f"{live_server.url}/customers/")
    mark_window(page)

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#main"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    page.focus("#id_q")
    page.keyboard.type("Customer 2")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: parse_qs(urlparse(url).query).get("q") == ["Customer 2"])

    assert_same_page(page)
    assert page.locator("#list-results tbody tr").count() == 1
    # htmx puts the focus back on the search box, which the swap replaced.
    assert page.evaluate("document.activeElement.id") == "id_q"


def test_campaign_list_sorts_and_pages_in_place(live_server, transactional_db, settings, users, desk_page_for):
    settings.PORTAL_PAGE_SIZE = 2
    for name in ("Alpha", "Bravo", "Charlie", "Delta", "Echo"):
        CampaignFactory(name=name, owner=users["platform"])
    page = desk_page_for(users["platform"])
    page.goto(f"{live_server.url}/campaigns/")
    mark_window(page)

    page.click("#list-results thead a:text-is('Name')")
    page.wait_for_url("**sort=name*")
    assert_same_page(page)
    assert page.locator("#list-results tbody tr").first.inner_text().startswith("Alpha")

    page.click("#list-results .pagination a:text-is('2')")
    page.wait_for_url("**page=2*")
    assert_same_page(page)
    assert query(page)["sort"] == ["name"]
    assert page.locator("#list-results tbody tr").first.inner_text().startswith("Charlie")

    # The pushed URL opens the same state as a whole page.
    shared = page.context.new_page()
    shared.goto(page.url)
    assert shared.locator("#list-results tbody tr").first.inner_text().startswith("Charlie")
    shared.close()

    page.go_back()
    page.wait_for_url(lambda url: "page=2" not in url)
    assert page.locator("#list-results tbody tr").first.inner_text().startswith("Alpha")


def test_audit_list_filters_and_pages_in_place(live_server, transactional_db, settings, users, desk_page_for):
    settings.PORTAL_PAGE_SIZE = 2
    for number in range(5):
        AuditEvent.objects.create(
            actor=users["platform"], action=AuditEvent.Action.EXPORT, object_type="page", object_id=f"export-{number}"
        )
    page = desk_page_for(users["admin"])
    page.goto(f"{live_server.url}/audit/")
    mark_window(page)

    page.select_option("#id_action", "export")
    page.wait_for_url("**action=export*")
    assert_same_page(page)
    assert page.locator("#list-results tbody tr").count() == 2
    assert "export-4" in page.inner_text("#list-results tbody")

    page.click("#list-results .pagination a:text-is('2')")
    page.wait_for_url("**page=2*")
    assert_same_page(page)
    assert query(page)["action"] == ["export"]
    assert "export-2" in page.inner_text("#list-results tbody")
    export_href = page.locator("#list-results a:text-is('Export CSV')").get_attribute("href")
    assert "action=export" in export_href


def test_dashboard_tables_page_in_place(live_server, transactional_db, monkeypatch, users, desk_page_for):
    """Each figure table of the dashboard pages on its own without reloading the page or its
    charts, and the links in its rows still open the task list as a new page."""
    from portal.dashboard import views as dashboard_views

    monkeypatch.setattr(dashboard_views, "FIGURE_TABLE_PAGE_SIZE", 2)
    manager = users["manager_a"]
    for index in range(1, 4):
        campaign = CampaignFactory(owner=users["platform"], name=f"Campaign {index}")
        customer = CustomerFactory(branch=manager.branch, client_manager=manager)
        TaskFactory(campaign=campaign, customer=customer, assignee=manager)
    page = desk_page_for(users["platform"])
    page.goto(f"{live_server.url}/dashboard/")
    page.wait_for_selector("#campaign-chart svg")
    mark_window(page)
    first_page = page.inner_text("#campaign-table tbody")
    branch_table = page.inner_text("#branch-table")

    page.click("#campaign-table .pagination a:text-is('2')")
    page.wait_for_url("**campaign-page=2*")
    page.wait_for_function(
        "(first) => !document.querySelector('#campaign-table tbody').innerText.includes(first)",
        arg=first_page.splitlines()[0],
    )

    assert_same_page(page)
    assert page.locator("#campaign-table tbody tr").count() == 1
    assert page.inner_text("#branch-table") == branch_table
    assert page.locator("#campaign-chart svg").count() == 1

    page.locator("#campaign-table tbody a").first.click()
    page.wait_for_url("**/campaigns/tasks/*")
    assert page.evaluate("window.__samePage === undefined"), "a row link was loaded in place"
