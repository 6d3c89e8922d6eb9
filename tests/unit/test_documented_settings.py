"""Every environment variable the code reads is documented, so the tables cannot drift."""

from __future__ import annotations

import re

from tests.conftest import ROOT

VARIABLE = re.compile(r"\b((?:IMAGEGEN|GUNICORN|LOCALBEDROCK)_[A-Z0-9_]+)\b")


def variables_in(paths: list[str]) -> set[str]:
    found: set[str] = set()
    for pattern in paths:
        for path in ROOT.glob(pattern):
            found |= set(VARIABLE.findall(path.read_text(encoding="utf-8")))
    return found


def test_service_variables_are_in_the_readme_table():
    used = variables_in(
        ["app/**/*.py", "imagegen/**/*.py", "worker/**/*.py", "gunicorn.conf.py", "scripts/*.sh"]
    )
    used = {name for name in used if not name.startswith("LOCALBEDROCK_")}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table_rows = {row for row in readme.splitlines() if row.startswith("| `")}
    documented = variables_in_text("\n".join(table_rows))
    assert used, "the scan found no variables: the pattern or paths are wrong"
    assert used <= documented, f"not in README's configuration table: {sorted(used - documented)}"


def test_localbedrock_variables_are_in_its_readme():
    used = variables_in(["localbedrock/**/*.py"])
    documented = variables_in_text(
        (ROOT / "localbedrock" / "README.md").read_text(encoding="utf-8")
    )
    assert used
    assert used <= documented, f"not in localbedrock/README.md: {sorted(used - documented)}"


def variables_in_text(text: str) -> set[str]:
    return set(VARIABLE.findall(text))
