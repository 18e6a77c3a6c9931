"""Sign-in through a TLS-terminating proxy: the production settings' proxy header and trusted
origins, read from the environment, applied to a live server and checked with real form posts.

The proxy in front of the portal terminates TLS, sets X-Forwarded-Proto and passes its upstream
address as Host, so the browser's Origin (the public https address) differs from the Host the
portal sees. Only CSRF_TRUSTED_ORIGINS makes such a post acceptable."""

import http.client
import re
import runpy
from http import HTTPStatus
from http.cookies import SimpleCookie
from urllib.parse import urlparse

import pytest
from pytest_django.live_server_helper import LiveServer

PUBLIC_ORIGIN = "https://portal.bank.example"
PRODUCTION_ENVIRONMENT = {
    "DJANGO_SECRET_KEY": "proxy-test-" + "Vb7nQ2xL9mK4pR8tW1zY6cD3fH5jG0sA" * 2,
    "DJANGO_ALLOWED_HOSTS": "portal.bank.example,127.0.0.1,localhost",
    "DJANGO_CSRF_TRUSTED_ORIGINS": PUBLIC_ORIGIN,
}
# The settings that decide how a request through the proxy is treated.
PROXY_SETTINGS = (
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
)
PASSWORD = "portal-test-pass"


def production_settings(monkeypatch, **environment) -> dict:
    """Execute portal/settings/production.py with the given environment and return its names."""
    for name, value in {**PRODUCTION_ENVIRONMENT, **environment}.items():
        monkeypatch.setenv(name, value)
    return runpy.run_module("portal.settings.production")


@pytest.fixture
def proxy_server(settings, monkeypatch, transactional_db):
    """Return a function that starts a live server with the production proxy settings for the
    given environment and returns its host and port.

    The server starts after the settings change, because Django's security and CSRF middleware
    read some settings once, when the server builds them."""
    servers = []

    def start(**environment):
        production = production_settings(monkeypatch, **environment)
        for name in PROXY_SETTINGS:
            setattr(settings, name, production[name])
        server = LiveServer("127.0.0.1:0")
        servers.append(server)
        address = urlparse(server.url)
        return address.hostname, address.port

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def behind_proxy(proxy_server):
    return proxy_server()


def request(server, method, path, *, headers, body=None):
    host, port = server
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read().decode("utf-8", errors="replace")
    finally:
        connection.close()


def set_cookies(headers) -> SimpleCookie:
    cookies = SimpleCookie()
    for value in headers.get_all("Set-Cookie") or []:
        cookies.load(value)
    return cookies


def login_form(server):
    """Open the sign-in page through the proxy; return the CSRF cookie and the form's token."""
    host, port = server
    status, headers, body = request(
        server, "GET", "/accounts/login/", headers={"Host": f"{host}:{port}", "X-Forwarded-Proto": "https"}
    )
    assert status == HTTPStatus.OK, body[:500]
    cookie = set_cookies(headers)["csrftoken"]
    assert cookie["secure"], "the CSRF cookie must be Secure behind the proxy"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
    return cookie.value, token


def login_post(server, username, *, origin=None, referer=None):
    host, port = server
    cookie, token = login_form(server)
    headers = {
        "Host": f"{host}:{port}",
        "X-Forwarded-Proto": "https",
        "Content-Type": "application/x-www-form-urlencoded",
        # http.client keeps cookies of a Secure jar only over TLS, so the proxy's plain hop sends it by hand.
        "Cookie": f"csrftoken={cookie}",
    }
    if origin:
        headers["Origin"] = origin
    if referer:
        headers["Referer"] = referer
    body = f"username={username}&password={PASSWORD}&csrfmiddlewaretoken={token}"
    return request(server, "POST", "/accounts/login/", headers=headers, body=body)


def test_production_reads_proxy_environment(monkeypatch):
    production = production_settings(monkeypatch, DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Scheme: https")

    assert production["CSRF_TRUSTED_ORIGINS"] == [PUBLIC_ORIGIN]
    assert production["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_SCHEME", "https")


def test_production_proxy_header_default(monkeypatch):
    monkeypatch.delenv("DJANGO_SECURE_PROXY_SSL_HEADER", raising=False)

    production = production_settings(monkeypatch)

    assert production["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


def test_production_proxy_header_empty_disables(monkeypatch):
    production = production_settings(monkeypatch, DJANGO_SECURE_PROXY_SSL_HEADER="")

    assert production["SECURE_PROXY_SSL_HEADER"] is None


def test_production_proxy_header_invalid(monkeypatch):
    with pytest.raises(ValueError, match="X-Forwarded-Proto: https"):
        production_settings(monkeypatch, DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")


def test_plain_http_redirected_to_https(behind_proxy):
    host, port = behind_proxy

    status, headers, _body = request(behind_proxy, "GET", "/accounts/login/", headers={"Host": f"{host}:{port}"})

    assert status == HTTPStatus.MOVED_PERMANENTLY
    assert headers["Location"] == f"https://{host}:{port}/accounts/login/"


def test_login_from_trusted_origin_accepted(behind_proxy, users):
    status, headers, body = login_post(behind_proxy, "platform", origin=PUBLIC_ORIGIN)

    assert status == HTTPStatus.FOUND, body[:500]
    assert headers["Location"] == "/"
    session = set_cookies(headers)["sessionid"]
    assert session.value
    assert session["secure"]
    assert session["httponly"]
    assert headers["Strict-Transport-Security"].startswith("max-age=")


def test_login_with_trusted_referer_accepted(behind_proxy, users):
    status, headers, body = login_post(behind_proxy, "platform", referer=f"{PUBLIC_ORIGIN}/accounts/login/")

    assert status == HTTPStatus.FOUND, body[:500]
    assert set_cookies(headers)["sessionid"].value


def test_login_from_untrusted_origin_rejected(behind_proxy, users):
    status, headers, _body = login_post(behind_proxy, "platform", origin="https://portal.attacker.example")

    assert status == HTTPStatus.FORBIDDEN
    assert "sessionid" not in set_cookies(headers)


def test_login_with_untrusted_referer_rejected(behind_proxy, users):
    status, headers, _body = login_post(
        behind_proxy, "platform", referer="https://portal.attacker.example/accounts/login/"
    )

    assert status == HTTPStatus.FORBIDDEN
    assert "sessionid" not in set_cookies(headers)


def test_login_from_plain_http_origin_rejected(behind_proxy, users):
    # The public address is https only: an http page with the same host name is another origin.
    status, _headers, _body = login_post(behind_proxy, "platform", origin="http://portal.bank.example")

    assert status == HTTPStatus.FORBIDDEN


def test_login_without_trusted_origins_rejected(proxy_server, users):
    server = proxy_server(DJANGO_CSRF_TRUSTED_ORIGINS="")

    status, _headers, _body = login_post(server, "platform", origin=PUBLIC_ORIGIN)

    assert status == HTTPStatus.FORBIDDEN
