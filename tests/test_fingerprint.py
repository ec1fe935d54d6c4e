"""A rerun skips unchanged files only while the rules, version and extractor are the same."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import extract.fingerprint as fingerprint
from extract.runner import RunOptions, run
from tests.conftest import ROOT

TEXT = "青石镇总工会2012年工作总结\n全年新建工会23家，新发展会员1860人。\n"


@pytest.fixture()
def archive(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(TEXT, encoding="utf-8")
    return folder


def test_unchanged_rules_skip_unchanged_files(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run([archive], out, RunOptions(workers=1, audit=False))
    again = run([archive], out, RunOptions(workers=1, audit=False))
    assert (first.processed, again.processed, again.skipped) == (1, 0, 1)


def test_changed_rules_extract_afresh(archive: Path, tmp_path: Path, monkeypatch, caplog) -> None:
    out = tmp_path / "out"
    run([archive], out, RunOptions(workers=1, audit=False))
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    with (rules / "units.yaml").open("a", encoding="utf-8") as f:
        f.write("# an edit\n")
    monkeypatch.setattr(fingerprint, "rules_root", lambda: rules)
    again = run([archive], out, RunOptions(workers=1, audit=False))
    assert (again.processed, again.skipped) == (1, 0)
    assert "extracting afresh" in caplog.text
    assert run([archive], out, RunOptions(workers=1, audit=False)).skipped == 1


def test_the_extractor_choice_is_part_of_the_fingerprint() -> None:
    rules_only = fingerprint.pipeline_fingerprint({"extractor": "rules"})
    assert rules_only != fingerprint.pipeline_fingerprint({"extractor": "rules", "threshold": 0.5})


def test_the_model_is_part_of_the_fingerprint(tmp_path: Path) -> None:
    """A rerun under a retrained model (same folder, other weights) extracts afresh."""
    model = tmp_path / "model"
    (model / "metric").mkdir(parents=True)
    (model / "metric" / "model").write_bytes(b"weights 1")
    args = {"extractor": "hybrid", "model_path": model}
    before = fingerprint.pipeline_fingerprint(args)
    rules_only = fingerprint.pipeline_fingerprint({"extractor": "rules", "model_path": model})
    assert before == fingerprint.pipeline_fingerprint(args)
    (model / "metric" / "model").write_bytes(b"weights 2")
    assert fingerprint.pipeline_fingerprint(args) != before
    # the rules alone do not depend on the model
    assert fingerprint.pipeline_fingerprint({"extractor": "rules", "model_path": model}) == rules_only
