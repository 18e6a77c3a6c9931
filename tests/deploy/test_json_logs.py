"""JSON log lines: one object per line, with the request id, Celery task id and user id, and
without phone numbers, ID numbers or balances."""

import io
import json
import logging
import os
import subprocess
import sys
from decimal import Decimal
from http import HTTPStatus

import pytest
from celery import shared_task
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from portal.log_json import JsonFormatter
from portal.logging import MaskPersonalDataFilter, RequestContextFilter, remove_amounts
from portal.request_id import REQUEST_ID_HEADER, request_id_from_header
from portal.settings.base import LOG_FORMATS, log_choice
from tests.factories import CustomerFactory

from .servers import BrowserBehindProxy, gunicorn_servers
from .test_scale_out import PASSWORD, web_users  # noqa: F401

PHONE = "13987654321"
ID_NUMBER = "11010519800101123X"
AUM = Decimal("7654321.98")
AUM_TEXTS = ("7654321.98", "7,654,321.98")


def json_handler() -> tuple[logging.Handler, io.StringIO]:
    """A handler set up as settings.LOGGING sets up the console handler for LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContextFilter())
    handler.addFilter(MaskPersonalDataFilter())
    handler.setFormatter(JsonFormatter())
    return handler, stream


@pytest.fixture
def captured_json_lines():
    """Attach a JSON handler to the root logger and return a function that parses its lines."""
    handler, stream = json_handler()
    root = logging.getLogger()
    # Celery's in-thread test worker, started by other tests, leaves the root level at ERROR.
    previous_level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("aum=1200000.00", "aum=[removed]"),
        ("{'aum': Decimal('1200000.00'), 'tier': 3}", "{'aum': Decimal('[removed]'), 'tier': 3}"),
        ('Key (aum)=(1200000.00) violates', "Key (aum)=([removed]) violates"),
        ("aum_before: 1,200,000.50 aum_after: -3.5", "aum_before: [removed] aum_after: [removed]"),
        ("AUM：800000", "AUM：[removed]"),
        ("balance=42", "balance=[removed]"),
    ],
)
def test_amounts_removed(text, expected):
    assert remove_amounts(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Roster import 5: 1200 AUM snapshots for 2026-03-02, diff {'aum_drop': 3}",
        "min_aum_rank=4 customer 12",
        "amount 1391234567.50",
    ],
)
def test_counts_and_other_fields_kept(text):
    assert remove_amounts(text) == text


@pytest.mark.parametrize("value", ["abc-123", "7f3e1c2a9b8d4e6f", "req.42:edge-1"])
def test_sane_request_id_kept(value):
    assert request_id_from_header(value) == value


@pytest.mark.parametrize("value", [None, "", "bad\nid", 'x" injected', "a" * 129, "-leading-dash", "id with space"])
def test_insane_request_id_replaced(value):
    generated = request_id_from_header(value)

    assert generated != value
    assert len(generated) == 32
    assert int(generated, 16) >= 0


def test_formatter_writes_one_object_per_line(captured_json_lines):
    logger = logging.getLogger("tests.deploy.json")
    try:
        raise ValueError(f"duplicate key (phone)=({PHONE})\nsecond line")
    except ValueError:
        logger.exception("Saving customer %s failed: aum=%s", 17, AUM)

    (entry,) = captured_json_lines()
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "tests.deploy.json"
    assert entry["message"] == "Saving customer 17 failed: aum=[removed]"
    assert "Traceback" in entry["exception"]
    assert PHONE not in entry["exception"]
    assert entry["request_id"] is None
    assert entry["task_id"] is None
    assert entry["user_id"] is None


def test_extra_values_filtered(captured_json_lines):
    logging.getLogger("tests.deploy.json").warning(
        "Customer changed",
        extra={"customer_id": 5, "note": f"call {PHONE}", "aum": str(AUM), "phone": PHONE, "request": object()},
    )

    (entry,) = captured_json_lines()
    assert entry["customer_id"] == 5
    assert entry["note"] == "call 139****4321"
    assert "aum" not in entry
    assert "phone" not in entry
    assert "request" not in entry


@pytest.mark.django_db
def test_request_lines_carry_ids(client, users, captured_json_lines):
    client.force_login(users["platform"])

    response = client.get("/campaigns/", headers={REQUEST_ID_HEADER: "proxy-id-1"})
    anonymous = client.get(f"/no-such-page/{PHONE}/")

    assert response[REQUEST_ID_HEADER] == "proxy-id-1"
    lines = captured_json_lines()
    request_lines = [entry for entry in lines if entry["request_id"] == "proxy-id-1"]
    assert len(request_lines) == 1
    assert request_lines[0]["message"].startswith("GET /campaigns/ 200 ")
    assert request_lines[0]["user_id"] == users["platform"].pk
    not_found = [entry for entry in lines if entry["request_id"] == anonymous[REQUEST_ID_HEADER]]
    assert {entry["logger"] for entry in not_found} == {"django.request", "portal.request"}
    assert PHONE not in json.dumps(lines)


@shared_task(name="tests.deploy.log_from_task")
def log_from_task():
    logging.getLogger("tests.deploy.json").info("Inside the task")


def test_task_lines_carry_task_id(captured_json_lines):
    result = log_from_task.apply()

    (entry,) = [entry for entry in captured_json_lines() if entry["message"] == "Inside the task"]
    assert entry["task_id"] == result.id
    assert entry["request_id"] is None


def test_invalid_log_format_rejected(monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "xml")

    with pytest.raises(ImproperlyConfigured, match="Invalid LOG_FORMAT 'xml'"):
        log_choice("LOG_FORMAT", "plain", LOG_FORMATS)


def production_settings_values(**environment) -> dict:
    """Import the production settings in a new process and return the logging and shared-state
    settings, because the settings read the environment when they are imported."""
    code = (
        "import json; from django.conf import settings; "
        "print(json.dumps({'cache': settings.CACHES['default']['BACKEND'], 'session': settings.SESSION_ENGINE, "
        "'axes': settings.AXES_HANDLER, 'console': settings.LOGGING['handlers']['console']}, default=str))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "DJANGO_SECRET_KEY": "settings-test-" + "x" * 50,
        "DJANGO_ALLOWED_HOSTS": "portal.bank.example",
        **environment,
    }
    for name in ("LOG_FORMAT", "LOG_STREAM"):
        if name not in environment:
            env.pop(name, None)
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=settings.BASE_DIR, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_production_shares_state_outside_processes():
    with_redis = production_settings_values(REDIS_URL="redis://127.0.0.1:6379/13")
    without_redis = production_settings_values(REDIS_URL="")

    assert with_redis["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert without_redis["cache"] == "django.core.cache.backends.db.DatabaseCache"
    assert with_redis["session"] == "django.contrib.sessions.backends.db"
    assert with_redis["axes"] == "axes.handlers.database.AxesDatabaseHandler"


def test_production_logs_json_to_stdout():
    default = production_settings_values()
    plain = production_settings_values(LOG_FORMAT="plain", LOG_STREAM="stderr")

    assert (default["console"]["formatter"], default["console"]["stream"]) == ("json", "ext://sys.stdout")
    assert (plain["console"]["formatter"], plain["console"]["stream"]) == ("plain", "ext://sys.stderr")
    assert default["console"]["filters"] == ["forbidden_traceback", "request_context", "mask_personal_data"]


def test_gunicorn_lines_are_json_without_personal_data(web_environment, web_users, branch_tree, tmp_path):  # noqa: F811
    manager = web_users["manager_a"]
    customer = CustomerFactory(
        branch=branch_tree["a"], client_manager=manager, phone=PHONE, id_number=ID_NUMBER, aum=AUM
    )

    with gunicorn_servers(1, environment=web_environment, log_dir=tmp_path) as (server,):
        browser = BrowserBehindProxy()
        browser.log_in(server, manager.username, PASSWORD)
        pages = [
            browser.get(server, f"/customers/{customer.pk}/", headers={REQUEST_ID_HEADER: "deploy-log-1"}),
            browser.post(server, f"/customers/{customer.pk}/reveal/phone/", {}, headers={REQUEST_ID_HEADER: "deploy-log-2"}),
            browser.get(server, f"/customers/?q={PHONE}", headers={REQUEST_ID_HEADER: "deploy-log-3"}),
            browser.get(server, f"/customers/{PHONE}/aum={AUM}/{ID_NUMBER}/", headers={REQUEST_ID_HEADER: "deploy-log-4"}),
        ]
        log_text = server.log_text()

    assert [page.status for page in pages] == [HTTPStatus.OK, HTTPStatus.OK, HTTPStatus.OK, HTTPStatus.NOT_FOUND]
    assert [page.headers[REQUEST_ID_HEADER] for page in pages] == [f"deploy-log-{number}" for number in range(1, 5)]
    # The pages showed the identifiers, so the test would notice them in the log.
    assert PHONE in pages[1].text
    entries = [json.loads(line) for line in log_text.splitlines()]
    for number in range(1, 5):
        lines = [entry for entry in entries if entry["request_id"] == f"deploy-log-{number}"]
        assert lines, f"no log line of request deploy-log-{number}"
        assert {entry["user_id"] for entry in lines} == {manager.pk}
    not_found = [entry for entry in entries if entry["request_id"] == "deploy-log-4"]
    assert "django.request" in {entry["logger"] for entry in not_found}
    for text in (PHONE, ID_NUMBER, *AUM_TEXTS):
        assert text not in log_text
