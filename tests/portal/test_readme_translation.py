"""README.zh-CN.md is the Chinese translation of README.md and must not drift from it: the same
sections in the same order, the same code blocks, links, inline code (paths, commands, names)
and environment variables."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
ENGLISH = ROOT / "README.md"
CHINESE = ROOT / "README.zh-CN.md"

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^(#{1,6}) ", re.MULTILINE)
LINK_TARGET = re.compile(r"\]\(([^)\s]+)\)")
# A code span may wrap onto the next line, so spans are compared with whitespace collapsed.
INLINE_CODE = re.compile(r"`([^`]+)`")
# Names such as DATABASE_URL or CI: capitals, digits and underscores, outside code blocks too.
ENV_NAME = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def prose(text: str) -> str:
    """Return `text` without its fenced code blocks."""
    return FENCE.sub("", text)


def code_lines(text: str) -> list[str]:
    """Return the lines of every fenced code block, comments excluded because they are translated."""
    lines = []
    for block in FENCE.findall(text):
        for line in block.splitlines():
            command = line.split(" #", 1)[0].rstrip()
            if command and not command.lstrip().startswith("#"):
                lines.append(command)
    return lines


def inline_code(text: str) -> set[str]:
    return {" ".join(span.split()) for span in INLINE_CODE.findall(prose(text))}


def link_targets(text: str) -> set[str]:
    """Return the link targets, each README linking to the other language's version: a Chinese
    page "X.zh-CN.md" counts as its English original "X.md"."""
    return {target.replace(".zh-CN.md", ".md") for target in LINK_TARGET.findall(prose(text))}


def mismatch(name: str, english, chinese) -> str:
    return f"{name} differ between README.md and README.zh-CN.md:\n  only in English: {english}\n  only in Chinese: {chinese}"


@pytest.fixture(scope="module")
def readmes():
    return read(ENGLISH), read(CHINESE)


def test_same_heading_levels(readmes):
    english, chinese = (HEADING.findall(prose(text)) for text in readmes)

    assert english == chinese, "sections differ in number, level or order"


def section_shapes(text: str) -> list[tuple[int, int, int]]:
    """Return (list items, table rows, paragraphs) for each section, so a section that lost
    or gained a paragraph, a list item or a table row in one language shows up."""
    shapes = []
    for section in re.split(r"^#{1,6} .*$", prose(text), flags=re.MULTILINE)[1:]:
        items = len(re.findall(r"^\s*(?:[-*]|\d+\.) ", section, flags=re.MULTILINE))
        rows = len(re.findall(r"^\|", section, flags=re.MULTILINE))
        paragraphs = len([block for block in re.split(r"\n\s*\n", section) if block.strip()])
        shapes.append((items, rows, paragraphs))
    return shapes


def test_same_section_shapes(readmes):
    english, chinese = (section_shapes(text) for text in readmes)

    assert english == chinese, "a section has other list items, table rows or paragraphs"


def test_same_code_blocks(readmes):
    english, chinese = (code_lines(text) for text in readmes)

    missing = [line for line in english if line not in chinese]
    extra = [line for line in chinese if line not in english]
    assert missing == [], mismatch("commands", missing, extra)
    assert extra == [], mismatch("commands", missing, extra)
    assert english == chinese, "commands are in a different order"


def test_same_links(readmes):
    english, chinese = (link_targets(text) for text in readmes)

    assert english == chinese, mismatch("links", sorted(english - chinese), sorted(chinese - english))


def test_same_inline_code(readmes):
    english, chinese = (inline_code(text) for text in readmes)

    assert english == chinese, mismatch("inline code spans", sorted(english - chinese), sorted(chinese - english))


def test_same_environment_variables(readmes):
    english, chinese = (set(ENV_NAME.findall(text)) for text in readmes)

    assert english == chinese, mismatch("environment variables", sorted(english - chinese), sorted(chinese - english))


def test_check_finds_drift():
    english = "# Title\n\n## Tests\n\n```sh\nmake test  # all\n```\n\nSet `DATABASE_URL`, see [docs](docs/a.md).\n"
    chinese = "# 标题\n\n```sh\nmake check\n```\n\n设置 `REDIS_URL`，见 [文档](docs/b.md)。\n"

    assert HEADING.findall(prose(english)) != HEADING.findall(prose(chinese))
    assert section_shapes("## A\n\n- one\n- two\n") != section_shapes("## A\n\n- one\n")
    assert code_lines(english) == ["make test"]
    assert code_lines(english) != code_lines(chinese)
    assert link_targets(english) != link_targets(chinese)
    assert link_targets("[中文](README.zh-CN.md)") == link_targets("[English](README.md)")
    assert inline_code(english) != inline_code(chinese)
    assert inline_code("`apt-get install\n  chromium`") == {"apt-get install chromium"}
    assert set(ENV_NAME.findall(english)) == {"DATABASE_URL"}
