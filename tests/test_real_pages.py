"""The real-page set's committed part: manifest, gold and document facts (the texts are git-ignored,
so nothing here needs them; where they are present, every gold surface must be found in its text)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from extract import realpages
from extract.realpages import ROOT, read_manifest, sha256_text, validate_gold

PAGES = read_manifest()


def test_the_manifest_names_200_documents_of_every_kind_split_about_70_30() -> None:
    assert len(PAGES) >= 200
    assert len({p.id for p in PAGES}) == len(PAGES) and len({p.url for p in PAGES}) == len(PAGES)
    kinds = {p.kind for p in PAGES}
    assert kinds >= {"work_summary", "news_report", "funds_report", "statistics_table", "election_report"}
    assert {p.script for p in PAGES} >= {"simplified", "traditional"}
    test_share = sum(p.split == "test" for p in PAGES) / len(PAGES)
    assert 0.2 <= test_share <= 0.4
    assert all(p.split == realpages.split_for(p.id) for p in PAGES)  # fixed by the id, never by hand


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.id)
def test_gold_is_valid(page: realpages.Page) -> None:
    assert validate_gold(page) == []


def test_every_document_has_its_facts() -> None:
    facts = [json.loads(line) for line in (ROOT / "documents.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {f["doc"].split("#", 1)[0] for f in facts} == {p.id for p in PAGES}
    for f in facts:
        assert set(f) == {"doc", "title", "doc_type", "organisation", "period_year"}, f
        assert f["doc_type"] in realpages.DOC_TYPES, f
        assert f["period_year"] is None or 1900 <= f["period_year"] <= 2030, f


def test_second_annotator_gold_covers_20_documents_blind() -> None:
    second = sorted((ROOT / "second").glob("*.gold.jsonl"))
    assert len(second) >= 20
    ids = {p.id for p in PAGES}
    assert {p.name.removesuffix(".gold.jsonl") for p in second} <= ids


def test_without_the_texts_check_and_eval_say_so_plainly(tmp_path: Path) -> None:
    root = tmp_path / "real"
    root.mkdir()
    shutil.copy(ROOT / "manifest.tsv", root / "manifest.tsv")
    missing, changed = realpages.check(root)
    assert len(missing) == len(PAGES) and changed == []
    report = realpages.evaluate(tmp_path / "out", root)
    assert f"{len(PAGES)} of {len(PAGES)} real-page texts missing" in report
    assert "nothing scored" in report


def test_restore_saves_only_the_exact_text(tmp_path: Path) -> None:
    root = tmp_path / "real"
    page = realpages.add("t", "http://example.invalid/1", "q", 1, "news_report", "simplified", "工会会员120人。", root)
    realpages.text_path(page.id, root).unlink()
    with pytest.raises(SystemExit, match="not saved"):
        realpages.restore(page.id, "工会会员121人。", root)
    assert "sha256 matches" in realpages.restore(page.id, "工会会员120人。", root)
    assert sha256_text(realpages.text_path(page.id, root).read_text(encoding="utf-8")) == page.sha256
