"""Django's system checks, including the database checks, report no warnings on the database
the tests run on, so migrate and runserver in the quick start print none."""

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_checks_raise_no_warnings():
    # Raises SystemCheckError when a check reports a warning or worse. Without --database,
    # Django skips the checks that depend on the database, such as index support.
    call_command("check", database=["default"], fail_level="WARNING")
