"""The Chinese catalogue must be complete and compiled: users work in Chinese first."""

import gettext
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

LOCALE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"


def read_po_entries(path: Path):
    """Yield (flags, context, msgid, msgstr list) for every entry of a PO file, header excluded."""
    entry = {"flags": "", "msgctxt": None, "msgid": None, "msgstr": []}
    current = None
    lines = path.read_text(encoding="utf-8").splitlines() + [""]
    for line in lines:
        if not line.strip():
            if entry["msgid"]:
                yield entry["flags"], entry["msgctxt"], entry["msgid"], entry["msgstr"]
            entry = {"flags": "", "msgctxt": None, "msgid": None, "msgstr": []}
            current = None
        elif line.startswith("#,"):
            entry["flags"] += line
        elif line.startswith("#"):
            continue
        elif line.startswith("msgctxt "):
            entry["msgctxt"] = eval(line[8:])  # noqa: S307
            current = "msgctxt"
        elif line.startswith("msgid "):
            entry["msgid"] = eval(line[6:])  # noqa: S307 - a PO string literal is a C string literal
            current = "msgid"
        elif line.startswith("msgid_plural "):
            current = "plural"
        elif line.startswith("msgstr"):
            entry["msgstr"].append(eval(line.split(" ", 1)[1]))  # noqa: S307
            current = "msgstr"
        elif line.startswith('"'):
            value = eval(line)  # noqa: S307
            if current == "msgid":
                entry["msgid"] = (entry["msgid"] or "") + value
            elif current == "msgstr":
                entry["msgstr"][-1] += value


def test_catalogue_has_no_untranslated_or_fuzzy():
    problems = []
    for flags, _context, msgid, msgstrs in read_po_entries(LOCALE / "django.po"):
        if "fuzzy" in flags:
            problems.append(f"fuzzy: {msgid!r}")
        elif not all(msgstrs):
            problems.append(f"untranslated: {msgid!r}")
    assert problems == []


def test_compiled_catalogue_matches_source():
    with open(LOCALE / "django.mo", "rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)
    stale = []
    for _flags, context, msgid, msgstrs in read_po_entries(LOCALE / "django.po"):
        translated = catalogue.pgettext(context, msgid) if context else catalogue.gettext(msgid)
        if len(msgstrs) == 1 and translated != msgstrs[0]:
            stale.append(msgid)
    assert stale == [], "run compilemessages: django.mo is older than django.po"


@pytest.mark.django_db
def test_login_page_follows_browser_language():
    chinese = Client(HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").get(reverse("login"))
    english = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").get(reverse("login"))
    assert "登录" in chinese.content.decode()
    assert "Sign in" in english.content.decode()


@pytest.mark.django_db
def test_language_switch_sets_cookie_and_preference(client, users):
    client.force_login(users["manager_a"])
    response = client.post(reverse("language_switch"), {"language": "zh-hans", "next": "/customers/"})
    users["manager_a"].refresh_from_db()
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    assert users["manager_a"].language == "zh-hans"
    with translation.override("zh-hans"):
        assert translation.gettext("My tasks") == "我的任务"


@pytest.mark.django_db
def test_language_switch_rejects_foreign_redirect(client):
    response = client.post(reverse("language_switch"), {"language": "en", "next": "https://evil.example/"})
    assert response["Location"] == reverse("home")
