"""The deployment guide and service files agree with the code: every environment variable the
settings read is documented in both languages, and the files the units name exist."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from portal.settings.ldap_config import ROLE_GROUP_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
GUIDES = [ROOT / "docs" / "deployment.md", ROOT / "docs" / "deployment.zh-CN.md"]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
# os.environ["X"], os.environ.get("X"), env_int("X"), log_choice("X"), _required(environ, "X") and the like.
VARIABLE_READ = re.compile(
    r"""(?:environ(?:\.get)?\s*[\[(]|env_\w+\(|log_choice\(|_required\(environ,)\s*["']([A-Z][A-Z0-9_]+)["']"""
)


def variables_read() -> set[str]:
    sources = [*(ROOT / "portal" / "settings").glob("*.py"), ROOT / "deploy" / "gunicorn.conf.py"]
    names = set()
    for source in sources:
        names |= set(VARIABLE_READ.findall(source.read_text()))
    # The LDAP group variables are read through a table of roles.
    return names | {variable for _role, variable in ROLE_GROUP_VARIABLES}


def test_variable_scan_finds_variables():
    names = variables_read()

    assert {"DATABASE_URL", "REDIS_URL", "LOG_FORMAT", "LDAP_SERVER_URI", "LDAP_USER_SEARCH_BASE", "GUNICORN_BIND"} <= names


@pytest.mark.parametrize("guide", GUIDES, ids=lambda path: path.name)
def test_guide_lists_every_variable(guide):
    text = guide.read_text()

    missing = sorted(name for name in variables_read() if f"`{name}`" not in text)

    assert missing == []


@pytest.mark.parametrize("unit", UNITS, ids=lambda path: path.name)
def test_unit_referenced_in_guides(unit):
    for guide in GUIDES:
        assert f"deploy/systemd/{unit.name}" in guide.read_text()


def test_units_exist():
    assert [unit.name for unit in UNITS] == ["portal-beat.service", "portal-web.service", "portal-worker.service"]


def test_gunicorn_config_loads_application():
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "DJANGO_SECRET_KEY": "gunicorn-check-" + "z" * 50,
        "DJANGO_ALLOWED_HOSTS": "portal.bank.example",
    }
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)

    completed = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--check-config"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
