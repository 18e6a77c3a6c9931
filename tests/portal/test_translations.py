"""The Chinese catalogue must be complete and compiled: users work in Chinese first."""

import gettext
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from tests.conftest import need

LOCALE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"


def parse_po_entries(text: str):
    """Yield (flags, context, msgid, msgstr list) for every entry of a PO text, header and
    obsolete ("#~") entries excluded. A plural entry has one msgstr per plural form."""
    entry = {"flags": "", "msgctxt": None, "msgid": None, "msgstr": []}
    current = None
    for line in text.splitlines() + [""]:
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
            entry["msgctxt"] = eval(line[8:])  # noqa: S307 - a PO string literal is a C string literal
            current = "msgctxt"
        elif line.startswith("msgid "):
            entry["msgid"] = eval(line[6:])  # noqa: S307
            current = "msgid"
        elif line.startswith("msgid_plural "):
            current = "plural"
        elif line.startswith("msgstr"):
            entry["msgstr"].append(eval(line.split(" ", 1)[1]))  # noqa: S307
            current = "msgstr"
        elif line.startswith('"'):
            value = eval(line)  # noqa: S307
            if current == "msgctxt":
                entry["msgctxt"] += value
            elif current == "msgid":
                entry["msgid"] = (entry["msgid"] or "") + value
            elif current == "msgstr":
                entry["msgstr"][-1] += value


def read_po_entries(path: Path):
    return parse_po_entries(path.read_text(encoding="utf-8"))


def catalogue_problems(entries) -> list[str]:
    """List the fuzzy entries and the entries with a missing or empty translation, in any
    plural form."""
    problems = []
    for flags, context, msgid, msgstrs in entries:
        name = f"{context}|{msgid}" if context else msgid
        if "fuzzy" in flags:
            problems.append(f"fuzzy: {name!r}")
        elif not msgstrs or not all(msgstrs):
            problems.append(f"untranslated: {name!r}")
    return problems


def test_catalogue_has_no_untranslated_or_fuzzy():
    assert catalogue_problems(read_po_entries(LOCALE / "django.po")) == []


def test_catalogue_check_finds_each_problem():
    text = "\n".join(
        [
            'msgid ""',
            'msgstr "Plural-Forms: nplurals=1; plural=0;\\n"',
            "",
            "#, fuzzy, python-format",
            'msgid "Guessed %(name)s"',
            'msgstr "猜的 %(name)s"',
            "",
            'msgctxt "object name"',
            'msgid "Name"',
            'msgstr ""',
            "",
            'msgid "%(count)s task"',
            'msgid_plural "%(count)s tasks"',
            'msgstr[0] ""',
            "",
            'msgid "No translation line"',
            "",
            'msgid ""',
            '"Long text"',
            'msgstr ""',
            '"长文本"',
            "",
            '#~ msgid "Obsolete"',
            '#~ msgstr ""',
        ]
    )
    problems = catalogue_problems(parse_po_entries(text))
    assert "fuzzy: 'Guessed %(name)s'" in problems
    assert "untranslated: 'object name|Name'" in problems
    assert "untranslated: '%(count)s task'" in problems
    assert "untranslated: 'No translation line'" in problems
    assert len(problems) == 4


def test_catalogue_placeholders_match(tmp_path):
    msgfmt = shutil.which("msgfmt")
    need(msgfmt is not None, "msgfmt (GNU gettext) is not installed")
    result = subprocess.run(
        [msgfmt, "--check-format", "--check-header", "-o", str(tmp_path / "django.mo"), str(LOCALE / "django.po")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


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
