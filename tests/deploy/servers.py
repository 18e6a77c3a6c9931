"""Real gunicorn servers with the production settings, started by the deploy tests against
the test database, and an HTTP client that plays a browser behind the load balancer."""

import contextlib
import http.client
import os
import re
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from tests.reminders.test_reminders_celery import free_loopback_port

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_HOST = "portal.bank.example"
PUBLIC_ORIGIN = f"https://{PUBLIC_HOST}"
# Both servers must sign sessions and CSRF tokens with the same key, as production's do.
SECRET_KEY = "deploy-test-" + "Qm7vX2kP9rT4wN8zL1cB6dH3jF5gS0aY" * 2
START_TIMEOUT_SECONDS = 60
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def production_environment(*, database_url: str, redis_url: str, static_root: Path) -> dict[str, str]:
    """The environment of a process that runs portal.settings.production against the test's
    database and Redis."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": PUBLIC_HOST,
        "DJANGO_CSRF_TRUSTED_ORIGINS": PUBLIC_ORIGIN,
        "DJANGO_STATIC_ROOT": str(static_root),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LOG_FORMAT": "json",
        "LOG_STREAM": "stdout",
        "LOG_LEVEL": "INFO",
    }
    # The browser tests set this in the test process, and production must not run with it.
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return environment


def collect_static(static_root: Path, environment: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input"],
        cwd=ROOT, env=environment, check=True, capture_output=True, timeout=300,
    )


class GunicornServer:
    """One gunicorn master with its workers on a free loopback port, writing its log to a file."""

    def __init__(self, *, environment: dict[str, str], log_path: Path, workers: int = 2):
        self.port = free_loopback_port()
        self.log_path = log_path
        command = [
            sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
        ]
        self._log = open(log_path, "ab")
        self.process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.process.returncode}:\n{self.log_text()[-3000:]}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/health/", headers={"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https"})
                connection.getresponse().read()
                connection.close()
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"gunicorn did not serve within {START_TIMEOUT_SECONDS} s:\n{self.log_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextlib.contextmanager
def gunicorn_servers(count: int, *, environment: dict[str, str], log_dir: Path):
    servers = []
    try:
        for number in range(1, count + 1):
            servers.append(GunicornServer(environment=environment, log_path=log_dir / f"gunicorn-{number}.log"))
        for server in servers:
            server.wait_until_serving()
        yield servers
    finally:
        for server in servers:
            server.stop()


class Response:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class BrowserBehindProxy:
    """A browser's cookie jar, sending each request to the web server the test names, as a
    load balancer would. Requests carry the public Host and the proxy's X-Forwarded-Proto, so
    the production settings treat them as HTTPS requests to the public address."""

    def __init__(self):
        self.cookies: dict[str, str] = {}

    def request(self, server: GunicornServer, method: str, path: str, *, form: dict | None = None,
                headers: dict[str, str] | None = None) -> Response:
        request_headers = {"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https", **(headers or {})}
        if self.cookies:
            request_headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            request_headers["Content-Type"] = "application/x-www-form-urlencoded"
            request_headers["Origin"] = PUBLIC_ORIGIN
            request_headers["Referer"] = f"{PUBLIC_ORIGIN}{path}"
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        try:
            connection.request(method, path, body=body, headers=request_headers)
            response = connection.getresponse()
            result = Response(response.status, response.headers, response.read())
        finally:
            connection.close()
        for header in result.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return result

    def get(self, server: GunicornServer, path: str, **kwargs) -> Response:
        return self.request(server, "GET", path, **kwargs)

    def post(self, server: GunicornServer, path: str, form: dict, **kwargs) -> Response:
        """POST `form` with the CSRF token of the browser's csrftoken cookie."""
        return self.request(server, "POST", path, form={"csrfmiddlewaretoken": self.cookies["csrftoken"], **form}, **kwargs)

    def log_in(self, server: GunicornServer, username: str, password: str) -> Response:
        page = self.get(server, "/accounts/login/")
        assert page.status == 200, page.text[:500]
        token = CSRF_FIELD.search(page.text).group(1)
        return self.request(
            server, "POST", "/accounts/login/",
            form={"csrfmiddlewaretoken": token, "username": username, "password": password},
        )
