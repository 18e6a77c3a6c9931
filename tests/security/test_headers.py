"""Content-Security-Policy header."""

import re

from django.test import override_settings
from django.urls import reverse


def policy_of(response):
    return dict(
        directive.strip().split(" ", 1) for directive in response["Content-Security-Policy"].split(";")
    )


def test_policy_on_login_page(client, db):
    response = client.get(reverse("login"))

    policy = policy_of(response)
    assert response.status_code == 200
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'self'"
    assert policy["form-action"] == "'self'"


def test_policy_on_not_found(client, db):
    response = client.get("/no-such-page/")

    assert "Content-Security-Policy" in response


@override_settings(CONTENT_SECURITY_POLICY={"script-src": "'self' 'nonce-{nonce}'"})
def test_nonce_fresh_per_request(client, db):
    first = client.get(reverse("login"))
    second = client.get(reverse("login"))

    first_nonce = re.fullmatch(r"'self' 'nonce-([\w-]{22})'", policy_of(first)["script-src"]).group(1)
    second_nonce = re.fullmatch(r"'self' 'nonce-([\w-]{22})'", policy_of(second)["script-src"]).group(1)
    assert first_nonce != second_nonce
    assert first.wsgi_request.csp_nonce == first_nonce
