"""The README documents every command, and every output column of the figures table."""

from __future__ import annotations

from extract.cli import cli
from schemas.figures import FIGURE_COLUMNS
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_command_is_in_the_readme() -> None:
    missing = [name for name in cli.commands if f"zongjie {name}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def test_every_figures_column_is_in_the_readme() -> None:
    missing = [c for c in FIGURE_COLUMNS if f"`{c}`" not in README]
    assert not missing, f"figures columns missing from README.md: {missing}"
