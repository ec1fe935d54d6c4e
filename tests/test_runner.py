"""Runs over a small archive: incremental reruns, changed and copied files, workers, Ctrl-C, audit, Dask."""

from __future__ import annotations

import gc
import importlib.machinery
import os
import re
import shutil
import signal
import sys
import types
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from extract import runner
from extract.audit import AUDIT_TABLES
from extract.audit import run_audit as whole_store_audit
from extract.runner import RunOptions, RunStats, run, run_audit_hook
from extract.store import Store

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
COMPARED = ("documents", "figures", "rejected", "errors", "document_inputs")


def make_archive(root: Path) -> Path:
    """The dev corpus in two folders, a zip holding two more texts, and one unreadable file."""
    texts = sorted((CORPUS / "dev").glob("*.txt"))
    assert len(texts) >= 6, "the dev corpus is missing"
    for i, src in enumerate(texts[:6]):
        dest = root / ("2018" if i % 2 else "2019") / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dest)
    with zipfile.ZipFile(root / "bundle.zip", "w") as zf:
        for src in texts[6:8]:
            zf.writestr(f"inner/{src.name}", src.read_bytes())
    (root / "empty.txt").write_bytes(b"")
    return root


def tables(out: Path) -> dict[str, pd.DataFrame]:
    with Store(out, read_only=True) as store:
        snap = {t: store.frame(t).reset_index(drop=True) for t in COMPARED}
        snap["inputs"] = store.frame("inputs").drop(columns=["run_id", "seconds"])
    return snap


def assert_same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_archive(tmp_path_factory.mktemp("archive"))


@pytest.fixture(scope="module")
def clean(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    out = tmp_path_factory.mktemp("clean")
    stats = run([archive], out, RunOptions(workers=1))
    assert stats.status == "done" and stats.figures > 50
    return tables(out)


def copy_archive(archive: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(archive, tmp_path / "archive"))


def test_clean_run_reads_every_input(clean: dict[str, pd.DataFrame]) -> None:
    inputs = clean["inputs"].set_index("source_path")
    assert len(inputs) == 8  # 6 texts, the zip, the empty file
    assert inputs["status"].value_counts().to_dict() == {"ok": 7, "error": 1}
    assert len(clean["documents"]) >= 8
    assert any(p.endswith("bundle.zip!/inner/" + Path(p).name) for p in clean["documents"]["source_path"])
    assert clean["errors"]["reason"].str.contains("empty").any()
    # every figure belongs to a stored document
    keys = set(zip(clean["documents"]["sha256"], clean["documents"]["doc_id"], strict=True))
    assert set(zip(clean["figures"]["sha256"], clean["figures"]["doc_id"], strict=True)) <= keys


def test_rerun_adds_nothing(archive: Path, tmp_path: Path, clean: dict[str, pd.DataFrame]) -> None:
    out = tmp_path / "out"
    first = run([archive], out, RunOptions(workers=1))
    again = run([archive], out, RunOptions(workers=1))
    assert again.processed == 0 and again.skipped == first.processed == 8
    assert_same(clean, tables(out))
    figures_csv = pd.read_csv(out / "figures.csv", encoding="utf-8-sig")
    assert len(figures_csv) == len(clean["figures"])  # exports hold the whole store, not the last run
    with Store(out, read_only=True) as store:
        assert store.frame("runs")["processed"].tolist() == [8, 0]


def test_changed_file_replaces_its_rows(archive: Path, tmp_path: Path, clean: dict[str, pd.DataFrame]) -> None:
    src = copy_archive(archive, tmp_path)
    out = tmp_path / "out"
    run([src], out, RunOptions(workers=1))
    target = sorted((src / "2019").glob("*.txt"))[0]
    old_sha = clean["inputs"].set_index("source_path").loc[str(target).replace(str(src), str(archive)), "sha256"]
    text = target.read_text(encoding="utf-8")
    changed = re.sub(r"\d+", lambda m: str(int(m.group()) + 7), text)
    target.write_text(changed, encoding="utf-8")

    stats = run([src], out, RunOptions(workers=1))
    assert stats.processed == 1 and stats.skipped == 7
    after = tables(out)
    doc = after["documents"][after["documents"]["source_path"] == str(target)]
    assert len(doc) == 1 and doc["sha256"].item() != old_sha
    assert old_sha not in set(after["figures"]["sha256"]) and old_sha not in set(after["documents"]["sha256"])
    new_figures = after["figures"][after["figures"]["sha256"] == doc["sha256"].item()]
    assert len(new_figures) > 0
    assert all(sur in changed for sur in new_figures["surface"])
    # everything else is untouched
    others = after["figures"][after["figures"]["sha256"] != doc["sha256"].item()].reset_index(drop=True)
    before = clean["figures"][clean["figures"]["sha256"] != old_sha].reset_index(drop=True)
    pd.testing.assert_frame_equal(others, before.reset_index(drop=True), check_like=True)


def test_copy_under_another_name_is_linked_not_extracted(
    archive: Path, tmp_path: Path, clean: dict[str, pd.DataFrame]
) -> None:
    src = copy_archive(archive, tmp_path)
    out = tmp_path / "out"
    run([src], out, RunOptions(workers=1))
    original = sorted((src / "2018").glob("*.txt"))[0]
    shutil.copy(original, src / "copy-of-it.txt")
    stats = run([src], out, RunOptions(workers=1))
    assert stats.processed == 0 and stats.skipped == 9
    after = tables(out)
    assert len(after["documents"]) == len(clean["documents"])
    assert len(after["figures"]) == len(clean["figures"])
    row = after["inputs"].set_index("source_path").loc[str(src / "copy-of-it.txt")]
    assert row["status"] == "duplicate" and row["duplicate_of"] == str(original)
    assert str(src / "copy-of-it.txt") in set(after["document_inputs"]["input_path"])


def test_rebuild_starts_afresh(archive: Path, tmp_path: Path, clean: dict[str, pd.DataFrame]) -> None:
    out = tmp_path / "out"
    run([archive], out, RunOptions(workers=1))
    stats = run([archive], out, RunOptions(workers=1, rebuild=True))
    assert stats.processed == 8
    assert_same(clean, tables(out))
    with Store(out, read_only=True) as store:
        assert store.count("runs") == 1


def test_two_workers_give_the_same_tables_as_one(archive: Path, tmp_path: Path, clean: dict[str, pd.DataFrame]) -> None:
    out = tmp_path / "out"
    stats = run([archive], out, RunOptions(workers=2, chunk_files=2, batch_inputs=3))
    assert stats.status == "done" and stats.processed == 8
    assert_same(clean, tables(out))


def test_a_run_leaves_garbage_collection_as_it_found_it(archive: Path, tmp_path: Path) -> None:
    """The serial engine tunes the collector for its run only: a process using zongjie as a library
    keeps its own settings, and nothing stays frozen."""
    before = gc.get_threshold(), gc.get_freeze_count()
    seen = []
    extract_chunk = runner.process_chunk

    def process_chunk(*args: Any, **kwargs: Any) -> runner.ChunkResult:
        seen.append((gc.get_threshold()[0], gc.get_freeze_count() > 0))
        return extract_chunk(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "process_chunk", process_chunk)
        run([archive], tmp_path / "out", RunOptions(workers=1, audit=False, export=()))
    assert seen and set(seen) == {(runner.GC_YOUNG_THRESHOLD, True)}
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_interrupt_keeps_what_finished_and_the_next_run_completes(
    archive: Path, tmp_path: Path, clean: dict[str, pd.DataFrame]
) -> None:
    out = tmp_path / "out"

    def ctrl_c_after_three(stats: RunStats) -> None:
        if stats.processed >= 3 and stats.status == "running":
            raise KeyboardInterrupt

    stats = run([archive], out, RunOptions(workers=1, chunk_files=1, batch_inputs=2), ctrl_c_after_three)
    assert stats.status == "interrupted"
    with Store(out, read_only=True) as store:
        kept = store.count("inputs")
        assert store.frame("runs")["status"].tolist() == ["interrupted"]
    assert 3 <= kept < 8  # finished inputs were committed, the rest were not started
    assert (out / "figures.csv").exists()
    again = run([archive], out, RunOptions(workers=1))
    assert again.processed == 8 - kept and again.skipped == kept
    assert_same(clean, tables(out))


def test_ctrl_c_during_a_commit_lets_it_finish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real SIGINT in the middle of a DuckDB statement: DuckDB would turn it into "Query
    interrupted" and fail the run; the commit finishes and the run stops as interrupted."""
    archive = make_archive(tmp_path / "archive")
    out = tmp_path / "out"
    real_commit = Store.commit

    def commit_with_ctrl_c(self: Store, *args: object, **kwargs: object) -> object:
        if self.count("inputs") == 0:  # the first commit: Ctrl-C as DuckDB starts on it
            os.kill(os.getpid(), signal.SIGINT)
        return real_commit(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "commit", commit_with_ctrl_c)
    stats = run([archive], out, RunOptions(workers=1, chunk_files=1, batch_inputs=2))
    assert stats.status == "interrupted"
    with Store(out, read_only=True) as store:
        assert store.frame("runs")["status"].tolist() == ["interrupted"]
        assert 2 <= store.count("inputs") < 8  # the interrupted commit went in whole


def fake_audit(monkeypatch: pytest.MonkeyPatch, run_audit: object) -> None:
    module = types.ModuleType("extract.audit")
    module.__spec__ = importlib.machinery.ModuleSpec("extract.audit", None)
    module.run_audit = run_audit  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "extract.audit", module)


def test_audit_hook_replaces_its_tables_over_the_whole_store(
    archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []

    def run_audit(documents: pd.DataFrame, figures: pd.DataFrame) -> dict[str, pd.DataFrame]:
        seen.append(len(figures))
        return {
            "records_membership": figures[["doc_id", "value"]].head(3),
            "findings": pd.DataFrame({"rule": ["count"], "detail": [f"{len(documents)} documents"]}),
        }

    fake_audit(monkeypatch, run_audit)
    out = tmp_path / "out"
    run([archive / "2018"], out, RunOptions(workers=1))
    run([archive], out, RunOptions(workers=1))
    assert seen[1] > seen[0]  # the second audit saw the whole store, not only what the run added
    with Store(out, read_only=True) as store:
        assert store.count("findings") == 1
        assert store.frame("runs")["audit"].tolist() == ["ok: findings, records_membership"] * 2
        n_docs = store.count("documents")
    findings = pd.read_csv(out / "findings.csv", encoding="utf-8-sig")
    assert findings["detail"].tolist() == [f"{n_docs} documents"]
    assert (out / "records_membership.parquet").exists()


def test_a_failing_audit_keeps_the_extraction(
    archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean: dict[str, pd.DataFrame]
) -> None:
    def run_audit(documents: pd.DataFrame, figures: pd.DataFrame) -> dict[str, pd.DataFrame]:
        raise RuntimeError("rule table missing")

    fake_audit(monkeypatch, run_audit)
    out = tmp_path / "out"
    stats = run([archive], out, RunOptions(workers=1))
    assert stats.status == "done"
    assert_same(clean, tables(out))
    with Store(out, read_only=True) as store:
        assert store.frame("runs")["audit"].item() == "failed: RuntimeError: rule table missing"


def stored(store: Store, table: str) -> tuple[list[tuple[str, str]], pd.DataFrame]:
    """A table as the store holds it: its column types, and its rows in stored order."""
    types = store.con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index", [table]
    ).fetchall()
    return types, store.con.sql(f"SELECT * FROM {table}").df()


def test_the_audit_in_groups_gives_the_whole_store_audit(tmp_path: Path) -> None:
    """dev + heldout audited in groups of about 40 figures: every table as the whole-store audit's, to
    the column types and the row order. The 2012 reports of 青石镇总工会 (dev-town-union-2012,
    ho-township-union-2012) disagree (cross.same_year) and must meet in one group. (A copy of one
    named like a document of another organisation no longer shares its doc_id: ids come from paths.)"""
    archive = tmp_path / "archive"
    for folder in ("dev", "heldout"):
        shutil.copytree(CORPUS / folder, archive / folder, ignore=shutil.ignore_patterns("*.jsonl"))
    out = tmp_path / "out"
    roots = [archive / "dev", archive / "heldout"]
    assert run(roots, out, RunOptions(workers=1, audit=False, export=())).status == "done"
    with Store(out) as store:
        documents, figures = store.frame("documents"), store.frame("figures")
        whole = whole_store_audit(documents, figures)
        cross = whole["findings"][whole["findings"]["rule"] == "cross.same_year"]
        assert "ho-township-union-2012" in set(cross["doc_id"])
        # the finding needs both reports in one audit: each alone gives none
        for doc_id in ("dev-town-union-2012", "ho-township-union-2012"):
            alone = whole_store_audit(documents[documents.doc_id == doc_id], figures[figures.doc_id == doc_id])
            assert not (alone["findings"]["rule"] == "cross.same_year").any()
        assert len(list(store.organisation_groups(40))) >= 8
        for name, frame in whole.items():
            store.replace_table(f"whole_{name}", frame)
        assert run_audit_hook(store, max_figures=40) == "ok: " + ", ".join(sorted(AUDIT_TABLES))
        for name in AUDIT_TABLES:
            (types, grouped), (whole_types, expected) = stored(store, name), stored(store, f"whole_{name}")
            assert types == whole_types, name
            pd.testing.assert_frame_equal(grouped, expected, obj=name)
        assert store.count("findings") > len(cross) > 0 and store.count("contracts") > 0


def test_an_audit_failing_midway_leaves_the_previous_tables(
    archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    run([archive], out, RunOptions(workers=1, audit=False, export=()))
    groups: list[int] = []

    def run_audit(documents: pd.DataFrame, figures: pd.DataFrame) -> dict[str, pd.DataFrame]:
        groups.append(len(figures))
        if len(groups) == 3:
            raise RuntimeError("rule table missing")
        return {"findings": documents[["doc_id"]], f"records_{len(groups)}": figures[["doc_id"]]}

    fake_audit(monkeypatch, run_audit)
    with Store(out) as store:
        store.replace_table("findings", pd.DataFrame({"doc_id": ["from the last run"]}))
        assert run_audit_hook(store, max_figures=1) == "failed: RuntimeError: rule table missing"
        assert len(groups) == 3
        assert store.frame("findings")["doc_id"].tolist() == ["from the last run"]
        assert [t for t in store.tables() if t.startswith("records")] == []
        assert store.publish_staged() == []  # the failed audit's staged tables are gone


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_tables(
    archive: Path, tmp_path: Path, clean: dict[str, pd.DataFrame]
) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        stats = run(
            [archive], tmp_path / "out", RunOptions(engine="dask", scheduler=cluster.scheduler_address, chunk_files=2)
        )
    assert stats.status == "done" and stats.processed == 8
    assert_same(clean, tables(tmp_path / "out"))


def test_content_handed_to_a_worker_is_held_to_the_size_limit(tmp_path: Path) -> None:
    """A small file travels to a local worker with its task (read once, to hash it); the size
    limit refuses it all the same, with the reason a worker reading the file itself gives."""
    from extract.ingest import Limits
    from extract.pipeline import Pipeline
    from extract.runner import Task, file_sha256, process_input

    path = tmp_path / "a.txt"
    path.write_text("全年新发展会员1860人。" * 100, encoding="utf-8")
    sha, size, data = file_sha256(path, keep=64 << 10)
    assert data == path.read_bytes() and size == len(data) and file_sha256(path)[2] is None
    pipeline = Pipeline()
    for limits, status in ((Limits(max_file_bytes=1000, max_document_bytes=1000), "error"), (Limits(), "ok")):
        read, handed = (
            process_input(Task(str(path), "a.txt", size, content), pipeline, limits) for content in (None, data)
        )
        assert read[0]["status"] == handed[0]["status"] == status
        assert read[0]["sha256"] == handed[0]["sha256"] == (sha if status == "ok" else None)
        assert read[1] == handed[1]
