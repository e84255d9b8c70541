"""The README and docs/: short enough to read, and every link and path they name exists."""

import pathlib
import re

from tests.conftest import ROOT

PAGES = [pathlib.Path(ROOT) / "README.md", *sorted((pathlib.Path(ROOT) / "docs").glob("*.md"))]


def test_the_readme_is_a_tour_not_a_log():
    assert len((pathlib.Path(ROOT) / "README.md").read_text().splitlines()) <= 300


def test_every_link_and_every_path_named_in_the_docs_exists():
    missing = []
    for page in PAGES:
        text = page.read_text()
        for link in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):  # markdown links to files
            if not link.startswith("http") and not (page.parent / link).exists():
                missing.append(f"{page.name}: link {link}")
        for path in re.findall(r"\b((?:common|bench|tests|examples)/[\w/]+\.py)\b", text):
            if not (pathlib.Path(ROOT) / path).exists():
                missing.append(f"{page.name}: {path}")
    assert not missing, missing
