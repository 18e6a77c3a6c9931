"""Masking of phone numbers, ID numbers and e-mail addresses in free text and log records."""

import io
import logging

import pytest
from django.conf import settings

from portal.logging import MaskPersonalDataFilter
from portal.masking import mask_identifiers_in_text

PHONE = "13912345678"
ID_NUMBER = "11010519491231002X"
EMAIL = "zhang.wei@mail.example"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"call {PHONE} today", "call 139****5678 today"),
        (f"call +86 {PHONE}", "call +86********5678"),
        ("call +85291234567", "call +85*****4567"),
        (f"id {ID_NUMBER}.", "id 1101**********002X."),
        ("old id 110105491231002", "old id 1101*******1002"),
        (f"mail {EMAIL}, please", "mail z***@mail.example, please"),
        (f"({PHONE},{ID_NUMBER})", "(139****5678,1101**********002X)"),
    ],
)
def test_identifiers_masked_in_text(text, expected):
    assert mask_identifiers_in_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Import 12: 1500 rows in 3.2 s",
        "Task 139123456789 changed",  # 12 digits: not a mobile number
        "order A13912345678",  # part of a longer token
        "amount 1391234567.50",  # 10 digits before the point
        "2026-03-02 08:00:00",
    ],
)
def test_other_numbers_left_alone(text):
    assert mask_identifiers_in_text(text) == text


def test_masking_twice_changes_nothing():
    once = mask_identifiers_in_text(f"{PHONE} {ID_NUMBER} {EMAIL}")

    assert mask_identifiers_in_text(once) == once


def log_through_filter(logger_name, *args, exc_info=None):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskPersonalDataFilter())
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        logger.error(*args, exc_info=exc_info)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_filter_masks_message_arguments():
    output = log_through_filter("tests.masking", "Customer %s: phone %s, mail %s", ID_NUMBER, PHONE, EMAIL)

    assert output == "Customer 1101**********002X: phone 139****5678, mail z***@mail.example\n"


def test_filter_masks_exception_text():
    try:
        raise ValueError(f"duplicate key (phone)=({PHONE})")
    except ValueError as error:
        output = log_through_filter("tests.masking", "Saving failed", exc_info=error)

    assert "Traceback" in output
    assert "(phone)=(139****5678)" in output
    assert PHONE not in output


def test_filter_keeps_percent_signs():
    output = log_through_filter("tests.masking", "Progress %s%%, phone %s", 50, PHONE)

    assert output == "Progress 50%, phone 139****5678\n"


def test_filter_lets_broken_call_through():
    record = logging.LogRecord("tests.masking", logging.INFO, __file__, 1, "%s and %s", (PHONE,), None)

    assert MaskPersonalDataFilter().filter(record) is True
    assert record.args == (PHONE,)


def configured_filters(handler):
    return [item for item in handler.filters if isinstance(item, MaskPersonalDataFilter)]


def test_logging_settings_mask_every_handler():
    handlers = settings.LOGGING["handlers"]

    assert handlers, "LOGGING defines no handlers"
    for name, handler in handlers.items():
        assert "mask_personal_data" in handler.get("filters", []), f"handler {name} has no masking filter"


def test_configured_loggers_mask_output():
    # Django's default handlers have no masking filter, so "django" must not keep any of them.
    assert logging.getLogger("django").handlers == []
    for logger_name in ("", "django.server"):
        handlers = logging.getLogger(logger_name).handlers
        configured = [handler for handler in handlers if handler.get_name() in settings.LOGGING["handlers"]]
        assert configured, f"logger {logger_name or 'root'} has no handler from LOGGING"
        for handler in configured:
            assert configured_filters(handler), f"handler {handler.get_name()} of {logger_name or 'root'} does not mask"


def test_forbidden_warning_logged_without_traceback(client, users):
    from django.urls import reverse

    from portal.logging import ForbiddenTracebackFilter

    for name, handler in settings.LOGGING["handlers"].items():
        assert "forbidden_traceback" in handler["filters"], name
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ForbiddenTracebackFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    client.force_login(users["manager_a"])
    try:
        response = client.get(reverse("audit_log"))
    finally:
        logger.removeHandler(handler)

    output = stream.getvalue()
    assert response.status_code == 403
    assert "Forbidden" in output
    assert "Traceback" not in output
