#!/usr/bin/env python3
"""Set up and run the portal, or its tests, with nothing but Python on the machine.

    python3 dev.py start   install into .venv, migrate, load demo data, then run the web
                           server, a Celery worker and Celery beat until Ctrl-C
    python3 dev.py test    install into .venv with the test tools, then run pytest
                           (extra arguments go to pytest)

Without REDIS_URL the Celery processes use kombu's file-system broker under var/broker,
so no server is needed. Mails are written to var/mail as files unless EMAIL_HOST is set.

With PORTAL_WITH_LDAP=1 both commands also install requirements-ldap.txt (LDAP sign-in),
which compiles python-ldap and so needs the libldap2-dev and libsasl2-dev headers.
"""

import hashlib
import os
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def run(*args, **kwargs):
    print("+", " ".join(str(arg) for arg in args), flush=True)
    subprocess.run([str(arg) for arg in args], check=True, cwd=ROOT, **kwargs)


def ensure_venv(requirements: str):
    """Create .venv and install `requirements` unless the same file was installed before."""
    if not PYTHON.exists():
        print(f"Creating the virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    requirement_files = [ROOT / "requirements.txt", ROOT / requirements]
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in requirement_files)).hexdigest()
    marker = VENV / f".installed-{requirements}"
    if marker.exists() and marker.read_text() == digest:
        return
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "-r", ROOT / requirements)
    marker.write_text(digest)


def ensure_ldap():
    """Install requirements-ldap.txt too when PORTAL_WITH_LDAP is set."""
    if os.environ.get("PORTAL_WITH_LDAP", "").strip().lower() in {"1", "true", "yes", "on"}:
        ensure_venv("requirements-ldap.txt")


def start():
    ensure_venv("requirements.txt")
    ensure_ldap()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "portal.settings.local")}
    for folder in ("var/broker/out", "var/broker/processed", "var/mail", "var/media"):
        (ROOT / folder).mkdir(parents=True, exist_ok=True)
    run(PYTHON, "manage.py", "migrate", "--no-input", env=env)
    run(PYTHON, "manage.py", "seed_demo", "--if-empty", env=env)
    address = os.environ.get("PORTAL_ADDRESS", "127.0.0.1:8000")
    # Links in the reminder mails point at this server.
    env.setdefault("PORTAL_BASE_URL", f"http://{address}")
    commands = {
        "web": [PYTHON, "manage.py", "runserver", address, "--noreload"],
        "worker": [PYTHON, "-m", "celery", "-A", "portal", "worker", "--loglevel=INFO", "--pool=solo"],
        "beat": [PYTHON, "-m", "celery", "-A", "portal", "beat", "--loglevel=INFO"],
    }
    processes = {}
    for name, command in commands.items():
        processes[name] = subprocess.Popen([str(part) for part in command], cwd=ROOT, env=env)
    # A reminder run queued at start-up shows the whole path (broker, worker, mail) without
    # waiting for the morning schedule. The ledger still sends each reminder only once a day.
    run(PYTHON, "manage.py", "shell", "-c",
        "from campaigns.tasks import send_daily_reminders; send_daily_reminders.delay()", env=env)
    print(f"\nThe portal runs at http://{address}/ (Ctrl-C stops it). Mails go to var/mail/.\n", flush=True)
    try:
        while all(process.poll() is None for process in processes.values()):
            time.sleep(1)
        stopped = [name for name, process in processes.items() if process.poll() is not None]
        print(f"Stopped unexpectedly: {', '.join(stopped)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT if os.name != "nt" else signal.CTRL_BREAK_EVENT)
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def test(pytest_args):
    ensure_venv("requirements-dev.txt")
    ensure_ldap()
    completed = subprocess.run([str(PYTHON), "-m", "pytest", *pytest_args], cwd=ROOT)
    return completed.returncode


def main(argv):
    if len(argv) < 2 or argv[1] not in {"start", "test"}:
        print(__doc__)
        return 2
    if argv[1] == "start":
        return start()
    return test(argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
