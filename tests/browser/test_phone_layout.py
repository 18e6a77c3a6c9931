"""One-handed use on a 390x844 phone, in Chinese: "my tasks", the task page and recording a
contact fit the screen width, every control is a 44px touch target and the next action is a
large button in the first screen."""

import datetime
import os

import pytest
from django.utils import timezone

from tests.factories import CampaignFactory, CustomerFactory, TaskFactory

# Playwright's sync API runs an event loop in this thread, which Django's ORM otherwise rejects.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = pytest.mark.browser

PHONE_WIDTH, PHONE_HEIGHT = 390, 844
MIN_TARGET_PX = 44
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
PASSWORD = "portal-test-pass"
# Visible controls a thumb has to hit, with their rendered height in CSS pixels.
SMALL_TARGETS_SCRIPT = """
(minimum) => Array.from(document.querySelectorAll(
  "main .btn, main .form-control, main .form-select, main .page-link, .task-card, .navbar-toggler, nav .btn"
)).filter((element) => element.offsetParent !== null)
  .map((element) => ({
    control: (element.id || element.getAttribute("name") || element.innerText || element.className).slice(0, 60),
    height: element.getBoundingClientRect().height,
  }))
  .filter((target) => target.height < minimum)
"""


@pytest.fixture
def phone_page(chromium_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT}, is_mobile=True, has_touch=True, locale="zh-CN"
        )
        page = context.new_page()
        page.set_default_timeout(15000)
        yield page
        context.close()
        browser.close()


@pytest.fixture
def manager_tasks(users):
    manager = users["manager_a"]
    manager.language = "zh-hans"
    manager.save(update_fields=["language"])
    today = timezone.localdate()
    campaign = CampaignFactory(
        name="二〇二六年秋季理财产品到期客户回访活动（高净值客户专属）",
        owner=users["platform"],
        talking_points="先询问存款到期情况，再介绍秋季理财产品。" * 5,
    )
    overdue = TaskFactory(
        campaign=campaign,
        customer=CustomerFactory(name="王芳", branch=manager.branch, client_manager=manager),
        assignee=manager,
        due_on=today - datetime.timedelta(days=3),
    )
    for days in range(1, 4):
        TaskFactory(campaign=campaign, assignee=manager, due_on=today + datetime.timedelta(days=days))
    return manager, overdue


def assert_fits_phone(page):
    widths = page.evaluate(
        "({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth})"
    )
    assert widths["scroll"] <= widths["client"], f"{page.url} scrolls sideways: {widths}"


def assert_touch_targets(page):
    small = page.evaluate(SMALL_TARGETS_SCRIPT, MIN_TARGET_PX)
    assert small == [], f"{page.url} has controls under {MIN_TARGET_PX}px"


def assert_in_first_screen(page, selector):
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not shown on {page.url}"
    assert box["height"] >= MIN_TARGET_PX
    assert box["y"] + box["height"] <= PHONE_HEIGHT, f"{selector} is below the first screen"


def sign_in(page, live_server, manager):
    page.goto(f"{live_server.url}/accounts/login/")
    assert_fits_phone(page)
    assert_touch_targets(page)
    page.fill("#id_username", manager.username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/campaigns/tasks/mine/")


def test_my_tasks_fits_phone(live_server, transactional_db, manager_tasks, phone_page):
    manager, overdue = manager_tasks
    page = phone_page

    sign_in(page, live_server, manager)

    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert_fits_phone(page)
    assert_touch_targets(page)
    assert_in_first_screen(page, "#next-task")
    assert page.locator("#next-task").get_attribute("href") == f"/campaigns/tasks/{overdue.pk}/"
    page.click(".navbar-toggler")
    page.locator("#main-nav.show").wait_for()
    assert_touch_targets(page)
    assert_fits_phone(page)


def test_task_page_and_contact_fit_phone(live_server, transactional_db, manager_tasks, phone_page):
    manager, overdue = manager_tasks
    page = phone_page
    sign_in(page, live_server, manager)

    page.click("#next-task")
    page.wait_for_url(f"{live_server.url}/campaigns/tasks/{overdue.pk}/")

    assert_fits_phone(page)
    assert_touch_targets(page)
    assert_in_first_screen(page, "#jump-to-contact")
    page.click("#jump-to-contact")
    save_button = page.locator(".task-contact-form button[type=submit]")
    save_button.wait_for()
    assert save_button.bounding_box()["height"] >= MIN_TARGET_PX
    assert save_button.bounding_box()["width"] >= PHONE_WIDTH / 2

    # A validation error keeps the entries and shows the message beside the field.
    yesterday = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    page.select_option("#id_outcome", "interested")
    page.fill("#id_note", "客户下周回电")
    page.fill("#id_next_follow_up_on", yesterday)
    save_button.click()
    page.wait_for_url(f"{live_server.url}/campaigns/tasks/{overdue.pk}/contact/")

    assert page.locator("#id_next_follow_up_on").get_attribute("aria-invalid") == "true"
    assert page.locator("#id_next_follow_up_on_error").is_visible()
    assert page.input_value("#id_note") == "客户下周回电"
    assert page.input_value("#id_outcome") == "interested"
    assert_fits_phone(page)
    assert_touch_targets(page)
