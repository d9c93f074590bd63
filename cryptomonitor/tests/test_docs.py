"""The docs stay navigable: every page one link from the architecture page, every link landing.

Links are checked the way GitHub renders them: a relative path to a file in
the repository, and an anchor that is one of that file's heading slugs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
DOCS = BASE_DIR / "docs"
PAGES = sorted([BASE_DIR / "README.md", BASE_DIR / "bench" / "README.md", *DOCS.glob("*.md")])
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCED = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{1,6} (.+?)\s*$", re.MULTILINE)
SKIPPED_DIRS = {
    ".venv", "node_modules", "staticfiles", "var", ".git", "test-artifacts", ".pytest_cache",
    ".ruff_cache",
}  # fmt: skip


def prose(path: Path) -> str:
    return FENCED.sub("", path.read_text())


def relative_links(path: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(prose(path))
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto:
    ]


def slugs(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file."""
    found: set[str] = set()
    for heading in HEADING.findall(prose(path)):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchor, n = slug, 0
        while anchor in found:
            n += 1
            anchor = f"{slug}-{n}"
        found.add(anchor)
    return found


def test_the_architecture_page_links_every_doc_in_one_hop() -> None:
    architecture = DOCS / "architecture.md"
    linked = {
        (architecture.parent / target.split("#")[0]).resolve()
        for target in relative_links(architecture)
    }
    pages = {path.resolve() for path in [*DOCS.glob("*.md"), BASE_DIR / "bench" / "README.md"]}

    assert sorted(map(str, pages - linked - {architecture.resolve()})) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda path: str(path.relative_to(BASE_DIR)))
def test_every_relative_link_finds_its_file_and_section(page: Path) -> None:
    broken = []
    for target in relative_links(page):
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in slugs(linked):
            broken.append(f"{target}: no such section")

    assert broken == []


def test_docs_and_comments_name_sections_not_issue_or_contract_numbers() -> None:
    # An issue's or a contract's number means nothing to a reader of the
    # repository: link the doc section that states the rule instead.
    numbered = re.compile(r"\b(?:contract|issue)[ -]#?\d", re.IGNORECASE)
    found = []
    for root, dirs, files in os.walk(BASE_DIR):
        dirs[:] = [name for name in dirs if name not in SKIPPED_DIRS]
        for path in (Path(root) / name for name in files if name.endswith((".py", ".md"))):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if numbered.search(line):
                    found.append(f"{path.relative_to(BASE_DIR)}:{number}: {line.strip()}")

    assert found == []
