"""Two gunicorn servers with the production settings on one PostgreSQL database and one Redis.
A browser's session, CSRF token and work carry over from one server to the other. Two users on
different servers read the same data while it changes."""

import csv
import io
import json
import threading
from http import HTTPStatus

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from campaigns.models import Campaign, FollowUpTask, Segment
from tests.factories import CampaignFactory, CustomerFactory, SegmentFactory

from .servers import BrowserBehindProxy, gunicorn_servers

pytestmark = pytest.mark.redis

PASSWORD = "deploy-test-pass"
CUSTOMERS_PER_BRANCH = 80


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    # Production's hasher checks the iteration count stored in the hash, so a hash with few
    # iterations signs in there too, without a second of hashing per sign-in.
    iterations = 1000


def set_production_password(user) -> None:
    """Store a PBKDF2 hash, which production accepts, in place of the test settings' MD5 hash."""
    hasher = FastPBKDF2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt())
    user.save(update_fields=["password"])


@pytest.fixture
def web_users(users):
    for user in users.values():
        set_production_password(user)
    return users


def test_session_moves_between_servers(web_environment, web_users, tmp_path):
    with gunicorn_servers(2, environment=web_environment, log_dir=tmp_path) as (first, second):
        browser = BrowserBehindProxy()

        signed_in = browser.log_in(first, "platform", PASSWORD)
        campaigns_page = browser.get(second, "/campaigns/")
        created = browser.post(second, "/campaigns/segments/new/", {"name": "Made on the second server", "description": ""})
        segments_page = browser.get(first, "/campaigns/segments/")
        signed_out = browser.post(first, "/accounts/logout/", {})
        after_sign_out = browser.get(second, "/campaigns/")

    assert signed_in.status == HTTPStatus.FOUND, signed_in.text[:500]
    assert campaigns_page.status == HTTPStatus.OK
    # The CSRF token and session from the first server are accepted by the second.
    assert created.status == HTTPStatus.FOUND, created.text[:500]
    assert Segment.objects.filter(name="Made on the second server", created_by=web_users["platform"]).exists()
    assert "Made on the second server" in segments_page.text
    assert signed_out.status == HTTPStatus.FOUND
    assert after_sign_out.status == HTTPStatus.FOUND
    assert after_sign_out.headers["Location"].startswith("/accounts/login/")


def test_session_cookie_is_the_same_session(web_environment, web_users, tmp_path):
    with gunicorn_servers(2, environment=web_environment, log_dir=tmp_path) as (first, second):
        browser = BrowserBehindProxy()
        browser.log_in(first, "sup_a", PASSWORD)
        session_after_sign_in = browser.cookies["sessionid"]
        pages = [browser.get(server, "/dashboard/") for server in (second, first, second)]

    assert [page.status for page in pages] == [HTTPStatus.OK] * 3
    assert browser.cookies["sessionid"] == session_after_sign_in


def dashboard_campaign_rows(browser, server) -> dict[str, int]:
    """Read the supervisor's dashboard export "by campaign" and return tasks per campaign."""
    response = browser.get(server, "/dashboard/?_export=csv&table=campaign")
    assert response.status == HTTPStatus.OK, response.text[:500]
    rows = list(csv.reader(io.StringIO(response.body.decode("utf-8-sig"))))
    return {row[0]: int(row[1].replace(",", "")) for row in rows[1:] if row and row[1].replace(",", "").isdigit()}


def test_launch_and_dashboard_agree(web_environment, web_users, branch_tree, tmp_path):
    users = web_users
    for branch, manager in ((branch_tree["a"], users["manager_a"]), (branch_tree["a1"], users["manager_a1"]),
                            (branch_tree["b"], users["manager_b"])):
        CustomerFactory.create_batch(CUSTOMERS_PER_BRANCH, branch=branch, client_manager=manager)
    segment = SegmentFactory(name="Everyone", filters={}, created_by=users["platform"])
    campaign = CampaignFactory(
        name="Scale-out review", owner=users["platform"], segment=segment, status=Campaign.Status.DRAFT,
        fallback_branch=branch_tree["a"],
    )
    reads = []

    with gunicorn_servers(2, environment=web_environment, log_dir=tmp_path) as (first, second):
        operator = BrowserBehindProxy()
        supervisor = BrowserBehindProxy()
        operator.log_in(first, "platform", PASSWORD)
        supervisor.log_in(second, "sup_a", PASSWORD)
        before = dashboard_campaign_rows(supervisor, second)

        launch_result = {}
        launch = threading.Thread(
            target=lambda: launch_result.update(response=operator.post(first, f"/campaigns/{campaign.pk}/launch/", {}))
        )
        launch.start()
        while launch.is_alive():
            reads.append(dashboard_campaign_rows(supervisor, second).get(campaign.name, 0))
        launch.join()
        after_on_second = dashboard_campaign_rows(supervisor, second)
        after_on_first = dashboard_campaign_rows(supervisor, first)
        detail = operator.get(second, f"/campaigns/{campaign.pk}/")

    expected = FollowUpTask.objects.filter(campaign=campaign, branch__in=[branch_tree["a"], branch_tree["a1"]]).count()
    assert launch_result["response"].status == HTTPStatus.FOUND, launch_result["response"].text[:500]
    assert FollowUpTask.objects.filter(campaign=campaign).count() == 3 * CUSTOMERS_PER_BRANCH
    assert expected == 2 * CUSTOMERS_PER_BRANCH
    assert campaign.name not in before
    # The launch commits all tasks in one transaction, so a read during it returns none or all of them.
    assert set(reads) <= {0, expected}
    assert after_on_second[campaign.name] == expected
    assert after_on_first == after_on_second
    assert detail.status == HTTPStatus.OK
    assert campaign.name in detail.text


def test_static_files_compressed_and_cached(web_environment, static_root, tmp_path):
    manifest = json.loads((static_root / "staticfiles.json").read_text())
    hashed_css = manifest["paths"]["portal/portal.css"]

    with gunicorn_servers(1, environment=web_environment, log_dir=tmp_path) as (server,):
        response = BrowserBehindProxy().get(server, f"/static/{hashed_css}", headers={"Accept-Encoding": "gzip"})

    assert response.status == HTTPStatus.OK
    assert response.headers["Content-Encoding"] == "gzip"
    assert "immutable" in response.headers["Cache-Control"]
    assert "max-age=315360000" in response.headers["Cache-Control"]
