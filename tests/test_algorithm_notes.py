"""The algorithm notes the code relies on live in the repository: every citation of
docs/algorithms.md in the code names one of its sections, and nothing cites a file outside it."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTES = ROOT / "docs" / "algorithms.md"
CITATION = re.compile(r'docs/algorithms\.md,\s*"([^"]+)"')


def _sources():
    return {p: p.read_text(encoding="utf-8") for p in (ROOT / "sdedit_desktop").rglob("*.py")}


def test_every_citation_names_a_section_of_the_notes():
    headings = {line[3:].strip() for line in NOTES.read_text(encoding="utf-8").splitlines()
                if line.startswith("## ")}
    cited = {(path.name, m.group(1)) for path, text in _sources().items()
             for m in CITATION.finditer(text)}
    assert len({name for name, _ in cited}) >= 6  # diffusion/, edits/ and models/ cite them
    assert {section for _, section in cited} - headings == set()


def test_no_code_cites_notes_outside_the_repository():
    assert [p.name for p, text in _sources().items() if "DESIGN.md" in text] == []
