"""Each role's main journey in Chromium, in the Chinese interface the users work in.

The journeys also take the screenshots of the user guides, as <role>-<step>.png (Chinese) and
<role>-<step>-en.png (English, for each role's main step). With UPDATE_GUIDE_SCREENSHOTS=1 they
are written to docs/guide/img/, which refreshes the guides; otherwise to a temporary folder, so
a test run leaves the working tree unchanged."""

import contextlib
import csv
import datetime
import io
import os
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.utils import timezone
from openpyxl import load_workbook

from campaigns.models import Campaign, ContactRecord, FollowUpTask
from customers.models import Customer, RosterImport
from portal.celery import app as celery_app
from tests.celery_workers import reset_broker_connections
from tests.conftest import need
from tests.factories import CampaignFactory, ContactRecordFactory, CustomerFactory, TaskFactory

# Playwright's sync API runs an event loop in this thread, which Django's ORM otherwise rejects.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = pytest.mark.browser

GUIDE_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "guide" / "img"
PASSWORD = "portal-test-pass"
DESKTOP = {"width": 1280, "height": 800}
PHONE_WIDTH, PHONE_HEIGHT = 390, 844
CHROMIUM_ARGS = ["--lang=zh-CN", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
# Over the threshold above which the commit runs in a Celery worker with a progress bar.
ROSTER_ROWS = 1500
WORKER_TIMEOUT_MS = 120_000


@pytest.fixture
def playwright_api(chromium_path):
    """Playwright's sync API, and a check that Chinese text renders in the screenshots."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    need(sync_playwright is not None, "the playwright package is not installed (requirements-dev.txt)")
    # Without a CJK font Chromium draws every Chinese character as an empty box.
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False).stdout
    need(bool(fonts.strip()), "no Chinese font is installed (apt-get install fonts-wqy-microhei)")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture
def open_browser(playwright_api, chromium_path):
    """Return a function that opens a page in a new Chinese-language browser context."""
    browsers = []

    def open_page(viewport=DESKTOP, **context_options):
        browser = playwright_api.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        browsers.append(browser)
        context = browser.new_context(viewport=viewport, locale="zh-CN", **context_options)
        page = context.new_page()
        page.set_default_timeout(20_000)
        return page

    yield open_page
    for browser in browsers:
        browser.close()


CHINESE_BRANCH_NAMES = {"head": "总行", "a": "城西支行", "a1": "城西支行文三路网点", "b": "城东支行"}
CHINESE_USER_NAMES = {
    "platform": ("陈", "静"), "admin": ("周", "明"), "supervisor_a": ("刘", "洋"), "supervisor_b": ("孙", "丽"),
    "manager_a": ("张", "伟"), "manager_a1": ("赵", "敏"), "manager_b": ("黄", "磊"),
}


@pytest.fixture
def staff(users, branch_tree):
    """The users of the `users` fixture with Chinese names, working in the Chinese interface."""
    for key, name in CHINESE_BRANCH_NAMES.items():
        branch_tree[key].name = name
        branch_tree[key].save(update_fields=["name"])
    for key, (last_name, first_name) in CHINESE_USER_NAMES.items():
        user = users[key]
        user.last_name, user.first_name, user.language = last_name, first_name, "zh-hans"
        user.save(update_fields=["last_name", "first_name", "language"])
    return users


def sign_in(page, live_server, user):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "zh-hans"


def screenshot_folder() -> Path:
    if os.environ.get("UPDATE_GUIDE_SCREENSHOTS") == "1":
        return GUIDE_IMAGES
    return Path(tempfile.gettempdir()) / "portal-guide-screenshots"


def screenshot(page, name):
    folder = screenshot_folder()
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


def switch_language(page, language):
    """Press the navigation bar's language button, which may sit in the collapsed menu."""
    with page.expect_navigation():
        page.evaluate(
            "language => document.querySelector(`form[action$='/language/'] button[value='${language}']`).click()",
            language,
        )
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == language


def screenshot_in_english(page, name):
    switch_language(page, "en")
    screenshot(page, f"{name}-en")
    switch_language(page, "zh-hans")


def assert_no_horizontal_scroll(page):
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"{page.url} scrolls sideways: {widths[0]}px content in {widths[1]}px"


def roster_csv(rows: int) -> bytes:
    """A roster extract as Chinese Excel saves it: GB18030, Chinese headers, amounts in 万."""
    managers = ["cm_a", "cm_a1", "cm_b"]
    branches = {"cm_a": "BA", "cm_a1": "BA1", "cm_b": "BB"}
    lines = ["客户号,姓名,网点,客户经理,资产,手机号"]
    for number in range(1, rows + 1):
        manager = managers[number % 3]
        lines.append(f"W{number:05d},客户{number},{branches[manager]},{manager},{50 + number % 300}万,139{number:08d}")
    return ("\n".join(lines) + "\n").encode("gb18030")


@contextlib.contextmanager
def celery_queue(redis_url: str):
    """Point the portal's Celery app at a new queue on `redis_url` and yield a function that
    starts a worker on it. Unlike tests.celery_workers.worker_on_own_queue, the worker starts
    only when the test calls the yielded function, so the page shows the progress bar before any row is written."""
    queue = f"journey-{uuid.uuid4().hex}"
    overrides = {
        "broker_url": redis_url,
        "broker_transport_options": {"visibility_timeout": 3600},
        "task_default_queue": queue,
        "task_always_eager": False,
    }
    previous = {key: celery_app.conf.get(key) for key in overrides}
    celery_app.conf.update(overrides)
    reset_broker_connections(celery_app)
    try:
        yield lambda: start_worker(celery_app, perform_ping_check=False, queues=[queue], shutdown_timeout=30)
    finally:
        celery_app.conf.update(previous)
        reset_broker_connections(celery_app)
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"*{queue}*"):
            client.delete(key)
        client.close()


@pytest.mark.redis
def test_platform_imports_roster(live_server, transactional_db, staff, open_browser, redis_url, tmp_path):
    platform = staff["platform"]
    roster_file = tmp_path / "2026年11月客户名单.csv"
    roster_file.write_bytes(roster_csv(ROSTER_ROWS))
    page = open_browser()
    sign_in(page, live_server, platform)

    with celery_queue(redis_url) as start_import_worker:
        page.goto(f"{live_server.url}/customers/imports/upload/")
        page.set_input_files("#id_file", str(roster_file))
        screenshot(page, "platform-import-upload")
        page.click("main button[type=submit]")
        page.wait_for_url("**/mapping/")

        # The Chinese headers are matched to the portal's fields without any choice by hand.
        assert page.input_value("select[name=column_0]") == "customer_no"
        assert page.input_value("select[name=column_3]") == "client_manager"
        assert page.input_value("select[name=column_4]") == "aum"
        screenshot(page, "platform-import-mapping")
        screenshot_in_english(page, "platform-import-mapping")
        page.click("main form button[type=submit]")
        page.wait_for_selector("#count-new")

        assert page.inner_text("#count-new") == str(ROSTER_ROWS)
        assert page.inner_text("#count-invalid") == "0"
        assert page.is_checked("#commit-background")
        screenshot(page, "platform-import-preview")
        page.click("text=提交有效行")
        page.wait_for_selector("#import-progress .progress")

        assert Customer.objects.count() == 0
        assert "在后台运行" in page.inner_text("main")
        screenshot(page, "platform-import-progress")
        with start_import_worker():
            # The progress partial polls every 2 s and reloads the page once the worker is done.
            page.wait_for_selector("#diff-new", timeout=WORKER_TIMEOUT_MS)

    assert page.inner_text("#diff-new") == str(ROSTER_ROWS)
    assert page.locator("#import-progress").count() == 0
    screenshot(page, "platform-import-done")
    roster_import = RosterImport.objects.get()
    assert roster_import.status == RosterImport.Status.COMMITTED
    assert Customer.objects.count() == ROSTER_ROWS
    assert Customer.objects.get(customer_no="W00012").client_manager == staff["manager_a"]


@pytest.mark.redis
def test_platform_launches_and_verifies(live_server, transactional_db, staff, branch_tree, open_browser, redis_url, settings):
    platform = staff["platform"]
    # Launches of more than 3 tasks run in a Celery worker, so the 6-task launch below shows
    # the progress bar that a launch of thousands of customers shows.
    settings.CAMPAIGN_LAUNCH_BACKGROUND_TASKS = 3
    for number in range(6):
        manager = staff["manager_a"] if number % 2 else staff["manager_b"]
        CustomerFactory(customer_no=f"P{number:05d}", name=f"客户{number}", branch=manager.branch, client_manager=manager)
    CustomerFactory(customer_no="Q00001", name="吴刚", branch=branch_tree["a"], client_manager=staff["manager_a"])
    finished = CampaignFactory(name="三季度理财到期回访", owner=platform)
    done_tasks = [
        TaskFactory(
            campaign=finished, assignee=staff["manager_a"], status=FollowUpTask.Status.DONE, outcome="converted",
            channel="phone", completed_at=timezone.now(), sampled_for_verification=True,
            customer=CustomerFactory(name=name, branch=branch_tree["a"], client_manager=staff["manager_a"]),
        )
        for name in ("郑华", "冯雪")
    ]
    for task in done_tasks:
        ContactRecordFactory(task=task, outcome="converted", note="客户购买了 30 万元三个月期理财产品")
    page = open_browser()
    sign_in(page, live_server, platform)

    # Segment: the roster filtered to the target customers, saved under a name.
    page.goto(f"{live_server.url}/customers/?q=P0")
    assert page.locator("main table tbody tr").count() == 6
    screenshot(page, "platform-roster-filter")
    page.click("text=保存为客户群")
    page.fill("#id_name", "到期存款客户")
    screenshot(page, "platform-segment")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/campaigns/segments/")

    page.goto(f"{live_server.url}/campaigns/new/")
    page.fill("#id_name", "冬季理财产品推介")
    page.fill("#id_objective", "向存款即将到期的客户介绍冬季理财产品")
    page.fill("#id_talking_points", "先确认存款到期日，再介绍产品的期限和风险等级。")
    page.select_option("#id_segment", label="到期存款客户")
    page.fill("#id_starts_on", timezone.localdate().isoformat())
    page.fill("#id_due_on", (timezone.localdate() + datetime.timedelta(days=14)).isoformat())
    page.fill("#id_verification_sample_percent", "100")
    screenshot(page, "platform-campaign-form")
    page.click("main form button[type=submit]")
    page.wait_for_selector("text=预览发布")
    campaign = Campaign.objects.get(name="冬季理财产品推介")

    with celery_queue(redis_url) as start_launch_worker:
        page.click("text=预览发布")
        page.wait_for_selector("#launch-loads")
        assert page.inner_text("#launch-segment") == "6"
        assert page.inner_text("#launch-to-contact") == "6"
        assert page.locator("#launch-background-note").count() == 1
        screenshot(page, "platform-launch-preview")
        screenshot_in_english(page, "platform-launch-preview")
        page.click("#launch-form button[type=submit]")
        page.wait_for_url(f"**/campaigns/{campaign.pk}/")
        page.wait_for_selector("#launch-progress .progress")

        # Queued: the button is disabled and nothing is written until a worker takes the launch.
        assert "在后台运行" in page.inner_text("main")
        assert page.is_disabled("#launch-running")
        assert campaign.tasks.count() == 0
        screenshot(page, "platform-launch-progress")
        with start_launch_worker():
            # The progress partial polls every 2 s and reloads the page once the worker is done.
            page.wait_for_selector("#target-build", timeout=WORKER_TIMEOUT_MS)

    assert page.locator("#launch-progress").count() == 0
    assert page.inner_text("#target-targeted") == "6"
    screenshot(page, "platform-campaign-launched")

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ACTIVE
    assert campaign.tasks.count() == 6
    assert campaign.tasks.filter(assignee=staff["manager_a"]).count() == 3

    # Verification: one sampled task passes, the other goes back to its client manager.
    page.goto(f"{live_server.url}/campaigns/tasks/verification/")
    assert page.locator("main table tbody tr").count() == 2
    screenshot(page, "platform-verification-queue")
    page.click(f"main table a[href$='/campaigns/tasks/{done_tasks[0].pk}/']")
    page.wait_for_selector("text=核查通过")
    screenshot(page, "platform-verify-task")
    page.click("button:has-text('核查通过')")
    page.wait_for_load_state()

    page.goto(f"{live_server.url}/campaigns/tasks/{done_tasks[1].pk}/")
    page.fill("#id_reason", "联系记录没有写明客户购买的产品")
    page.click("button:has-text('退回给客户经理')")
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/campaigns/tasks/verification/")
    assert page.locator(f"main table a[href$='/campaigns/tasks/{done_tasks[0].pk}/']").count() == 0
    assert page.locator(f"main table a[href$='/campaigns/tasks/{done_tasks[1].pk}/']").count() == 0

    for task in done_tasks:
        task.refresh_from_db()
    assert done_tasks[0].status == FollowUpTask.Status.VERIFIED
    assert done_tasks[1].status == FollowUpTask.Status.RETURNED
    assert done_tasks[1].return_reason == "联系记录没有写明客户购买的产品"


def test_client_manager_works_tasks_on_phone(live_server, transactional_db, staff, open_browser):
    manager = staff["manager_a"]
    today = timezone.localdate()
    campaign = CampaignFactory(
        name="冬季理财产品推介", owner=staff["platform"], talking_points="先确认存款到期日，再介绍产品的期限和风险等级。"
    )
    overdue = TaskFactory(
        campaign=campaign, assignee=manager, due_on=today - datetime.timedelta(days=2),
        customer=CustomerFactory(name="王芳", branch=manager.branch, client_manager=manager, phone="13812345678"),
    )
    soon = TaskFactory(
        campaign=campaign, assignee=manager, due_on=today + datetime.timedelta(days=3),
        customer=CustomerFactory(name="李强", branch=manager.branch, client_manager=manager, phone="13987654321"),
    )
    TaskFactory(
        campaign=campaign, assignee=manager, due_on=today + datetime.timedelta(days=9),
        customer=CustomerFactory(name="周婷", branch=manager.branch, client_manager=manager),
    )
    page = open_browser(
        viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT}, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    sign_in(page, live_server, manager)

    page.wait_for_url("**/campaigns/tasks/mine/")
    cards = page.locator(".task-card")
    assert cards.count() == 3
    assert cards.first.get_attribute("data-task") == str(overdue.pk)
    assert "已逾期" in cards.first.inner_text()
    assert "138****5678" in cards.first.inner_text()
    assert_no_horizontal_scroll(page)
    screenshot(page, "client-manager-my-tasks")
    screenshot_in_english(page, "client-manager-my-tasks")

    cards.first.click()
    page.wait_for_url(f"**/campaigns/tasks/{overdue.pk}/")
    assert "先确认存款到期日" in page.inner_text("main")
    assert_no_horizontal_scroll(page)
    screenshot(page, "client-manager-task")
    page.select_option("#id_channel", "phone")
    page.select_option("#id_outcome", "converted")
    page.fill("#id_note", "客户购买了冬季理财产品 50 万元")
    page.check("#id_complete")
    page.locator("button:has-text('保存联系记录')").scroll_into_view_if_needed()
    assert_no_horizontal_scroll(page)
    screenshot(page, "client-manager-record")
    page.click("button:has-text('保存联系记录')")
    page.wait_for_url("**/campaigns/tasks/mine/")
    assert page.locator(".task-card").count() == 2
    assert_no_horizontal_scroll(page)

    # The second task: the customer wants a call back next week, so the task stays on the list.
    page.click(f".task-card[data-task='{soon.pk}']")
    page.wait_for_url(f"**/campaigns/tasks/{soon.pk}/")
    page.select_option("#id_channel", "wechat")
    page.select_option("#id_outcome", "interested")
    page.fill("#id_next_follow_up_on", (today + datetime.timedelta(days=7)).isoformat())
    page.click("button:has-text('保存联系记录')")
    page.wait_for_load_state()
    assert_no_horizontal_scroll(page)
    screenshot(page, "client-manager-saved")

    overdue.refresh_from_db()
    soon.refresh_from_db()
    assert overdue.status == FollowUpTask.Status.DONE
    assert overdue.outcome == "converted"
    assert soon.status == FollowUpTask.Status.IN_PROGRESS
    assert soon.outcome == "interested"
    assert ContactRecord.objects.filter(recorded_by=manager).count() == 2


def test_supervisor_drills_down_and_exports(live_server, transactional_db, staff, branch_tree, open_browser, tmp_path):
    supervisor = staff["supervisor_a"]
    today = timezone.localdate()
    campaign = CampaignFactory(name="冬季理财产品推介", owner=staff["platform"])
    for number, (status, outcome) in enumerate(
        [("verified", "converted"), ("done", "interested"), ("open", ""), ("open", ""), ("verified", "declined")]
    ):
        TaskFactory(
            campaign=campaign, assignee=staff["manager_a"] if number % 2 else staff["manager_a1"], status=status,
            outcome=outcome, channel="phone" if outcome else "", due_on=today + datetime.timedelta(days=number - 2),
            completed_at=timezone.now() if outcome else None,
            customer=CustomerFactory(name=f"客户{number}", branch=branch_tree["a"]),
        )
    # Branch B's task is outside the supervisor's branch, so no figure or export counts it.
    TaskFactory(campaign=campaign, assignee=staff["manager_b"], customer=CustomerFactory(name="何军", branch=branch_tree["b"]))
    page = open_browser()
    sign_in(page, live_server, supervisor)

    page.wait_for_url("**/dashboard/")
    page.wait_for_selector("#completion-chart svg")
    screenshot(page, "supervisor-dashboard")
    screenshot_in_english(page, "supervisor-dashboard")
    page.wait_for_selector("#completion-chart svg")

    # Drill down: a figure in the campaign table opens the task list behind it.
    figure = page.locator("#campaigns table a[href*='/campaigns/tasks/']").first
    figure.scroll_into_view_if_needed()
    screenshot(page, "supervisor-figures")
    figure_value = int(figure.inner_text())
    figure.click()
    page.wait_for_url("**/campaigns/tasks/?**")
    rows = page.locator("main table tbody tr")
    assert figure_value == 5
    assert rows.count() == figure_value
    assert "客户" in page.inner_text("main table tbody")
    screenshot(page, "supervisor-task-list")

    with page.expect_download() as csv_download:
        page.click("text=导出 CSV")
    csv_path = tmp_path / "tasks.csv"
    csv_download.value.save_as(csv_path)
    text = csv_path.read_bytes().decode("utf-8-sig")
    exported = list(csv.reader(io.StringIO(text)))
    assert csv_download.value.suggested_filename.endswith(".csv")
    assert len(exported) == rows.count() + 1

    page.goto(f"{live_server.url}/campaigns/tasks/")
    with page.expect_download() as xlsx_download:
        page.click("text=导出 XLSX")
    xlsx_path = tmp_path / "tasks.xlsx"
    xlsx_download.value.save_as(xlsx_path)
    sheet_rows = list(load_workbook(xlsx_path).active.iter_rows(values_only=True))
    assert xlsx_download.value.suggested_filename.endswith(".xlsx")
    # A header row and the branch subtree's five tasks, without branch B's.
    assert len(sheet_rows) == 5 + 1
    screenshot(page, "supervisor-export")


def test_administrator_reads_reminders_and_audit(live_server, transactional_db, staff, open_browser):
    administrator = staff["admin"]
    page = open_browser()
    sign_in(page, live_server, administrator)

    page.goto(f"{live_server.url}/reminders/")
    assert page.locator("#schedules").count() == 1
    assert page.locator("#beat-heartbeat").count() == 1
    assert "提醒状态" in page.inner_text("main h1")
    screenshot(page, "administrator-reminders")
    screenshot_in_english(page, "administrator-reminders")

    page.goto(f"{live_server.url}/audit/")
    assert "审计日志" in page.inner_text("main h1")
    # The sign-in above is recorded under the administrator's username.
    audit_rows = page.inner_text("main table tbody")
    assert administrator.username in audit_rows
    assert "登录" in audit_rows
    screenshot(page, "administrator-audit-log")
