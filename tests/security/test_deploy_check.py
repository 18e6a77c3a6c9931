"""`manage.py check --deploy` on the production settings, with the variables production sets."""

import os
import subprocess
import sys

from django.conf import settings

PRODUCTION_ENVIRONMENT = {
    "DJANGO_SETTINGS_MODULE": "portal.settings.production",
    "DJANGO_SECRET_KEY": "deploy-check-" + "k3Yq8vZ2rT6wP0mN4sL7xC1bH5jF9dG" * 2,
    "DJANGO_ALLOWED_HOSTS": "portal.bank.example",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://portal.bank.example",
}


def run_deploy_check(**overrides):
    # A subprocess, because the production settings read the environment when they are imported.
    environment = {**os.environ, **PRODUCTION_ENVIRONMENT, **overrides}
    # The browser tests set this in the test process, and the deploy check rejects it.
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        capture_output=True, text=True, env=environment, cwd=settings.BASE_DIR, timeout=120,
    )


def test_production_passes_deploy_check():
    completed = run_deploy_check()

    assert completed.returncode == 0, completed.stderr
    assert "no issues" in completed.stdout


def test_deploy_check_catches_missing_hsts():
    completed = run_deploy_check(DJANGO_SECURE_HSTS_SECONDS="0")

    assert completed.returncode != 0
    assert "security.W004" in completed.stderr
