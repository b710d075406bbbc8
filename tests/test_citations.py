"""Every repository file and facts section that the code, notebooks and pages cite exists.

A citation is a path from the repository root (``docs/…``, ``data_cards/…``, ``libreface_nb/…``,
``benchmarks/…``, ``tests/…``), a relative link in a Markdown page or
notebook cell (``[text](page.md#section)``), or a section of the LibreFace facts sheet: ``§N`` right
after ``docs/libreface_facts.md`` (or its short name ``LIBREFACE_FACTS``), which must be a numbered
heading ``## N.`` of that sheet. Nothing may cite the sibling ``shared`` folder of the project's
workspace: a clone does not have it, so its facts were copied into the facts sheet.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from libreface_nb.config import REPO_ROOT

#: Where citations are looked for: (folder, file patterns), relative to the repository root.
SCANNED = [
    ("libreface_nb", ("*.py", "*.md")),
    ("tests", ("*.py", "*.md")),
    ("benchmarks", ("*.py", "*.md")),
    ("data_cards", ("*.md",)),
    ("docs", ("*.md",)),
    ("profiles", ("*.yaml", "*.md")),
    ("notebooks", ("*.ipynb",)),
]
#: Single files scanned besides the folders above.
SCANNED_FILES = [
    "README.md",
    "requirements.txt",
    "requirements-dev.txt",
    "Makefile",
    "outputs/README.md",
]

FACTS_SHEET = "docs/libreface_facts.md"

#: A path from the repository root, ending in a file extension. Not ``profiles/`` or ``notebooks/``:
#: their paths in the text are mostly examples of files a user makes (``profiles/disfa.yaml``).
PATH_RE = re.compile(
    r"(?<![\w./-])((?:docs|data_cards|libreface_nb|benchmarks|tests)"
    r"/[\w./-]*\.(?:md|py|yaml|ipynb|png|pdf|txt|csv))(?![\w/-])"
)
#: The facts sheet (by path or short name) followed by one or more sections: "§1", "§1 and §4".
FACTS_RE = re.compile(
    r"(?:docs/libreface_facts\.md|LIBREFACE_FACTS(?:\.md)?)\s*"
    r"(§\s*\d+(?:\s*(?:,|and|or|&)\s*§\s*\d+)*)"
)
#: A Markdown link's target: [text](target).
LINK_RE = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
#: A citation of the workspace's shared folder, which is not in the repository.
SHARED_RE = re.compile(r"\.\./shared/")

#: Files allowed to cite the shared folder (none: every citation points inside the repository).
#: The test fails on an entry that no longer needs to be here.
SHARED_ALLOWED: frozenset[str] = frozenset()


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces → '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _headings(text: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.MULTILINE)]


def facts_sections(text: str) -> set[int]:
    """Section numbers of the facts sheet: headings such as ``## 2. Face preprocessing``."""
    return {int(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(\d+)\.", text, re.MULTILINE)}


def problems(text: str, where: Path, root: Path = REPO_ROOT, *, links: bool = False) -> list[str]:
    """Every citation in ``text`` (from file ``where``) whose file or section does not exist.

    ``links``: also check relative Markdown links, resolved from ``where``'s folder.
    """
    found: list[str] = []
    for m in PATH_RE.finditer(text):
        if not (root / m.group(1)).exists():
            found.append(f"cites {m.group(1)}, which does not exist")
    sheet = root / FACTS_SHEET
    sections = facts_sections(sheet.read_text(encoding="utf-8")) if sheet.exists() else set()
    for m in FACTS_RE.finditer(text):
        for number in re.findall(r"§\s*(\d+)", m.group(1)):
            if int(number) not in sections:
                found.append(f"cites {FACTS_SHEET} §{number}, which has no such section")
    if links:
        for m in LINK_RE.finditer(text):
            target = m.group(1)
            if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                continue  # http:, https:, mailto:
            path_part, _, anchor = target.partition("#")
            path = (where.parent / path_part).resolve() if path_part else where
            if not path.exists():
                found.append(f"links {target}, which does not exist")
            elif anchor and path.suffix == ".md":
                slugs = {_slug(h) for h in _headings(path.read_text(encoding="utf-8"))}
                if anchor not in slugs:
                    found.append(f"links {target}, whose page has no heading #{anchor}")
    return found


def _texts(path: Path) -> list[str]:
    """The text a file cites from: a notebook's markdown and code cells, any other file whole."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return ["".join(c["source"]) for c in cells if c["cell_type"] in ("markdown", "code")]
    return [path.read_text(encoding="utf-8")]


def scanned_files(root: Path = REPO_ROOT) -> list[Path]:
    files = [root / name for name in SCANNED_FILES if (root / name).exists()]
    for folder, patterns in SCANNED:
        for pattern in patterns:
            files += (p for p in (root / folder).rglob(pattern) if "__pycache__" not in p.parts)
    return sorted(set(files))


def test_scanned_files_cover_the_repository():
    names = {p.relative_to(REPO_ROOT).as_posix() for p in scanned_files()}
    assert {"README.md", FACTS_SHEET, "libreface_nb/config.py", "data_cards/disfa.md"} <= names
    assert any(n.startswith("notebooks/") and n.endswith(".ipynb") for n in names)
    assert len(names) > 100


def test_every_cited_file_and_section_exists():
    failures = []
    for path in scanned_files():
        rel = path.relative_to(REPO_ROOT).as_posix()
        links = path.suffix in (".md", ".ipynb")
        for text in _texts(path):
            failures += [f"{rel}: {p}" for p in problems(text, path, links=links)]
    assert not failures, "broken citations:\n" + "\n".join(sorted(set(failures)))


def test_nothing_cites_the_shared_folder():
    citing = set()
    for path in scanned_files():
        rel = path.relative_to(REPO_ROOT).as_posix()
        if rel == "tests/test_citations.py":
            continue  # this rule's own text
        if any(SHARED_RE.search(text) for text in _texts(path)):
            citing.add(rel)
    assert not citing - SHARED_ALLOWED, (
        f"cite {FACTS_SHEET} §N instead of the shared folder: {sorted(citing - SHARED_ALLOWED)}"
    )
    assert not SHARED_ALLOWED - citing, (
        f"no longer cite the shared folder, remove from SHARED_ALLOWED: "
        f"{sorted(SHARED_ALLOWED - citing)}"
    )


def test_facts_sheet_has_the_numbered_sections():
    sections = facts_sections((REPO_ROOT / FACTS_SHEET).read_text(encoding="utf-8"))
    assert sections == set(range(1, 10))


def test_scanner_finds_a_missing_file_and_a_missing_section(tmp_path):
    """The scanner can fail: a made-up page, section and link are all reported."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "libreface_facts.md").write_text("# Facts\n\n## 1. Tasks\n\n## 2. Faces\n")
    (tmp_path / "docs" / "page.md").write_text("# Page\n\n## Real heading\n")
    missing, page = "docs/" + "no_such_page.md", "docs/" + "page.md"
    text = (
        f"See {missing} and {page}; facts: docs/libreface_facts.md §1 and §"
        + "7; LIBREFACE_FACTS §"
        + "2; [ok](page.md#real-heading) [gone](nowhere.md) [bad anchor](page.md#no-such-heading)"
    )
    found = problems(text, tmp_path / "docs" / "index.md", tmp_path, links=True)
    assert found == [
        f"cites {missing}, which does not exist",
        "cites docs/libreface_facts.md §7, which has no such section",
        "links nowhere.md, which does not exist",
        "links page.md#no-such-heading, whose page has no heading #no-such-heading",
    ]
    assert problems(f"{page} §1, LIBREFACE_FACTS §1", tmp_path / "x.py", tmp_path) == []


def test_slug_matches_github_anchors():
    assert _slug("What facial-expression data cannot tell you") == (
        "what-facial-expression-data-cannot-tell-you"
    )
    assert _slug("2. Face preprocessing [code]") == "2-face-preprocessing-code"
