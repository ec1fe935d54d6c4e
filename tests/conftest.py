"""Shared fixtures: the loaded rule set and pipeline (built once), and paths to the corpora."""

from __future__ import annotations

from pathlib import Path

import pytest

from extract.pipeline import Pipeline, iter_results
from extract.rules import RuleSet, load_rules
from schemas.documents import ErrorRow

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared"
SEED = SHARED / "corpus" / "seed-town-union-summaries.txt"
SEED_GOLD = SHARED / "corpus" / "seed-town-union-summaries.gold.jsonl"


def predictions(paths: list[Path], pipeline: Pipeline) -> list[dict]:
    """The figure rows ``pipeline`` extracts from the files at ``paths`` (none may fail)."""
    rows = []
    for item in iter_results(paths, pipeline):
        assert not isinstance(item, ErrorRow), item
        rows.extend(f.row() for f in item.figures)
    return rows


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    return load_rules()


@pytest.fixture(scope="session")
def pipeline(rules: RuleSet) -> Pipeline:
    """The rules-only pipeline (the library's default; the command line defaults to hybrid)."""
    return Pipeline(rules, extractor="rules")


@pytest.fixture(scope="session")
def seed_text() -> str:
    if not SEED.exists():
        pytest.skip("../shared is not beside the project (the seed lives there)")
    return SEED.read_text(encoding="utf-8")
