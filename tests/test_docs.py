"""The docs stay true to the code: generated tables current, README short, links alive."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scripts import docs_tables
from tap_claude_enterprise.endpoints import ENDPOINTS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOC_PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 400
# [text](target): a relative target is everything that is not a URL or an anchor alone.
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_generated_tables_are_current() -> None:
    assert docs_tables.stale_files() == [], "run: python scripts/docs_tables.py"


def test_readme_carries_both_generated_tables() -> None:
    text = README.read_text()
    for name in ("settings", "streams", "stream-count"):
        assert f"<!-- generated:{name} -->" in text, name
    for endpoint in ENDPOINTS:
        assert f"| `{endpoint.name}` | `/{endpoint.path}` |" in text, endpoint.name


def test_a_stale_table_is_detected(tmp_path: Path) -> None:
    """--check fails when the code and the README disagree (here: a stream's row edited)."""
    fresh = docs_tables.render(README.read_text())
    stale = fresh.replace("| `summaries` | `/summaries` |", "| `summaries` | `/old` |")
    assert stale != fresh
    (tmp_path / "README.md").write_text(stale)
    assert docs_tables.stale_files(tmp_path) == ["README.md"]
    assert docs_tables.render(stale) == fresh
    (tmp_path / "README.md").write_text(fresh)
    assert docs_tables.stale_files(tmp_path) == []


def test_readme_is_short() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines (at most {README_MAX_LINES})"


@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_files(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if not (page.parent / path).exists():
            broken.append(target)
    assert broken == [], f"{page.name}: links to missing files: {broken}"


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for the page's headings."""
    found = set()
    for line in page.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_anchors_point_to_headings(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target) or "#" not in target:
            continue
        path, anchor = target.split("#", 1)
        linked = (page.parent / path) if path else page
        if linked.suffix == ".md" and linked.exists() and anchor not in anchors(linked):
            broken.append(target)
    assert broken == [], f"{page.name}: links to missing headings: {broken}"


def test_every_docs_page_is_linked_from_the_readme() -> None:
    text = README.read_text()
    missing = [p.name for p in (ROOT / "docs").glob("*.md") if f"(docs/{p.name}" not in text]
    assert missing == []
