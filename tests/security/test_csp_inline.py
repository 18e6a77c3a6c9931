"""The Content-Security-Policy allows scripts from the portal's own static files only, so no
template or rendered page may contain inline script: a <script> element without src (other
than a json_script data block), an on* event handler attribute, an htmx hx-on attribute or a
javascript: URL."""

from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import CampaignFactory, CustomerFactory, TaskFactory

TEMPLATE_DIRS = [Path(directory) for directory in settings.TEMPLATES[0]["DIRS"]]
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href"}
# <script> types that browsers do not execute and the policy does not need to allow.
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}


class InlineCodeFinder(HTMLParser):
    """Collect every inline script, event handler and javascript: URL of one HTML text."""

    def __init__(self):
        super().__init__()
        self.problems = []

    def handle_starttag(self, tag, attrs):
        line = self.getpos()[0]
        names = {name.lower(): value for name, value in attrs}
        if tag == "script" and "src" not in names and (names.get("type") or "").lower() not in DATA_SCRIPT_TYPES:
            self.problems.append(f"line {line}: <script> without src")
        for name, value in names.items():
            if name.startswith("on") and name.isalpha():
                self.problems.append(f"line {line}: event handler attribute {name}")
            if name.startswith(("hx-on", "data-hx-on")):
                self.problems.append(f"line {line}: htmx handler attribute {name}")
            if name in URL_ATTRIBUTES and (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"line {line}: javascript: URL in {name}")


def inline_code_in(text: str) -> list[str]:
    finder = InlineCodeFinder()
    finder.feed(text)
    finder.close()
    return finder.problems


def template_files() -> list[Path]:
    return sorted(path for directory in TEMPLATE_DIRS for path in directory.rglob("*.html"))


def script_sources(response) -> str:
    return dict(
        directive.strip().split(" ", 1) for directive in response["Content-Security-Policy"].split(";")
    )["script-src"]


# The finder itself


@pytest.mark.parametrize(
    "snippet",
    [
        "<script>alert(1)</script>",
        '<script type="module">alert(1)</script>',
        '<button onclick="window.print()">Print</button>',
        "<body ONLOAD='start()'>",
        '<a href=" javascript:void(0)">x</a>',
        '<div hx-on:click="alert(1)"></div>',
    ],
)
def test_finder_reports_inline_code(snippet):
    assert inline_code_in(snippet) != []


@pytest.mark.parametrize(
    "snippet",
    [
        '<script src="/static/portal/js/dashboard.js"></script>',
        '<script id="data" type="application/json">{"a": 1}</script>',
        '<button type="button" data-print>Print</button>',
        '<a href="/dashboard/?online=1">x</a>',
        '<input name="one" value="javascript:">',
    ],
)
def test_finder_accepts_safe_markup(snippet):
    assert inline_code_in(snippet) == []


# Templates and pages


def test_templates_found():
    assert len(template_files()) > 20


@pytest.mark.parametrize("path", template_files(), ids=lambda path: str(path.relative_to(settings.BASE_DIR)))
def test_template_has_no_inline_code(path):
    # E-mail templates are not served by the portal, but stay clean all the same.
    assert inline_code_in(path.read_text(encoding="utf-8")) == []


@pytest.mark.django_db
def test_login_page_script_src(client):
    response = client.get(reverse("login"))

    sources = script_sources(response).split()
    assert "'unsafe-inline'" not in sources
    assert "'unsafe-eval'" not in sources
    assert sources == ["'self'"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url_name", ["dashboard:index", "dashboard:next_campaign_analysis", "campaigns:task_list", "customers:list"]
)
def test_rendered_page_has_no_inline_code(client, users, branch_tree, url_name):
    campaign = CampaignFactory(owner=users["platform"])
    TaskFactory(
        campaign=campaign, assignee=users["manager_a"], customer=CustomerFactory(branch=branch_tree["a"]),
        status="done", outcome="converted",
    )
    client.force_login(users["platform"])

    response = client.get(reverse(url_name))

    assert response.status_code == 200
    assert "'unsafe-inline'" not in script_sources(response)
    # Tables build some of their HTML in Python (format_html), which the template scan misses.
    assert inline_code_in(response.content.decode()) == []
