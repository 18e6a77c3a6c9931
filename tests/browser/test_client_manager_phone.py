"""A client manager works a task from a phone-sized browser: sign in, open my tasks, record a
conversion and mark the task done."""

import datetime
import os

import pytest
from django.utils import timezone

from campaigns.models import ContactRecord, FollowUpTask
from tests.factories import CampaignFactory, CustomerFactory, TaskFactory

# Playwright's sync API runs an event loop in this thread, which Django's ORM otherwise rejects.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = pytest.mark.browser

PHONE_WIDTH, PHONE_HEIGHT = 390, 844
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PASSWORD = "portal-test-pass"


@pytest.fixture
def phone_page(chromium_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT}, is_mobile=True, has_touch=True, locale="en"
        )
        page = context.new_page()
        page.set_default_timeout(15000)
        yield page
        context.close()
        browser.close()


def assert_no_horizontal_scroll(page):
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= PHONE_WIDTH, f"{page.url} is {scroll_width}px wide"


def test_client_manager_records_conversion(live_server, transactional_db, users, phone_page, tmp_path):
    manager = users["manager_a"]
    today = timezone.localdate()
    campaign = CampaignFactory(
        name="Wealth product autumn offer", owner=users["platform"],
        talking_points="Ask about maturing deposits first.",
    )
    customer = CustomerFactory(name="Wang Fang", branch=manager.branch, client_manager=manager, phone="13812345678")
    task = TaskFactory(campaign=campaign, customer=customer, assignee=manager, due_on=today - datetime.timedelta(days=2))
    TaskFactory(campaign=campaign, assignee=manager, due_on=today + datetime.timedelta(days=5))
    page = phone_page

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", manager.username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/campaigns/tasks/mine/")

    cards = page.locator(".task-card")
    assert cards.count() == 2
    first_card = cards.first
    assert first_card.get_attribute("data-task") == str(task.pk)
    assert "Overdue" in first_card.inner_text()
    assert "138****5678" in first_card.inner_text()
    assert "13812345678" not in page.content()
    assert_no_horizontal_scroll(page)
    page.screenshot(path=str(tmp_path / "my_tasks.png"), full_page=True)

    first_card.click()
    page.wait_for_url(f"{live_server.url}/campaigns/tasks/{task.pk}/")
    assert "Ask about maturing deposits first." in page.inner_text("body")
    page.select_option("#id_channel", "phone")
    page.select_option("#id_outcome", "converted")
    page.fill("#id_note", "Bought the autumn wealth product")
    page.check("#id_complete")
    assert_no_horizontal_scroll(page)
    page.screenshot(path=str(tmp_path / "task_detail.png"), full_page=True)
    page.click("text=Save contact")
    page.wait_for_url(f"{live_server.url}/campaigns/tasks/mine/")

    assert page.locator(".task-card").count() == 1
    assert "task marked as done" in page.inner_text("body")
    task.refresh_from_db()
    assert task.status == FollowUpTask.Status.DONE
    assert task.outcome == "converted"
    assert task.channel == "phone"
    assert task.completed_at is not None
    contact = ContactRecord.objects.get(task=task)
    assert contact.recorded_by == manager
    assert contact.note == "Bought the autumn wealth product"
    assert list(task.events.values_list("from_status", "to_status")) == [("open", "done")]
