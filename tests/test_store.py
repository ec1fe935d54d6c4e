"""The DuckDB store on hand-made batches: keys, replacement, copies, rebuild, exports."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pyarrow as pa
import pytest

from extract.store import CORE_TABLES, SCHEMA_VERSION, Store, StoreError, empty_results, result_schema


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def batch(*inputs: tuple[str, str, int]) -> tuple[list[dict[str, Any]], dict[str, pa.Table]]:
    """Inputs ``(source_path, content, n_figures)``: one document each, stem as doc id."""
    rows: list[dict[str, Any]] = []
    tables: dict[str, list[dict[str, Any]]] = {"documents": [], "figures": [], "rejected": [], "errors": []}
    for path, content, n in inputs:
        digest = sha(content)
        doc_id = Path(path).stem
        rows.append(
            {
                "source_path": path,
                "sha256": digest,
                "bytes": len(content),
                "status": "ok",
                "documents": 1,
                "figures": n,
                "errors": 0,
                "chars": len(content),
                "run_id": 1,
            }
        )
        tables["documents"].append(
            {
                "doc_id": doc_id,
                "source_path": path,
                "part": None,
                "start": 0,
                "end": len(content),
                "title": content[:4],
                "doc_type": "work_summary",
                "period_year": 2018,
                "report_date": dt.date(2019, 1, 5),
                "script": "simplified",
                "encoding": "utf-8",
                "format": "txt",
                "chars": len(content),
                "sha256": digest,
                "input_path": path,
            }
        )
        for i in range(n):
            tables["figures"].append(
                {
                    "figure_id": f"{doc_id}-{i}",
                    "doc_id": doc_id,
                    "start": i,
                    "end": i + 1,
                    "surface": f"{i}人",
                    "value": float(i),
                    "unit": "人",
                    "unit_class": "person",
                    "metric": "members.total",
                    "status": "actual",
                    "approx": False,
                    "sentence": content,
                    "extractor": "r1",
                    "confidence": 0.9,
                    "flags": "",
                    "sha256": digest,
                    "input_path": path,
                }
            )
        tables["rejected"].append(
            {
                "doc_id": doc_id,
                "start": 0,
                "end": 1,
                "surface": "x",
                "errors": "[]",
                "candidate": "{}",
                "sha256": digest,
                "input_path": path,
            }
        )
    return rows, {name: pa.Table.from_pylist(t, schema=result_schema(name)) for name, t in tables.items()}


def snapshot(store: Store) -> dict[str, pd.DataFrame]:
    return {t: store.frame(t) for t in ("documents", "figures", "rejected", "errors", "document_inputs")}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "out") as s:
        yield s


def test_recommitting_the_same_inputs_adds_nothing(store: Store) -> None:
    store.commit(*batch(("a/one.txt", "工会会员120人", 2), ("a/two.txt", "职工代表45人", 3)))
    first = snapshot(store)
    store.commit(*batch(("a/one.txt", "工会会员120人", 2), ("a/two.txt", "职工代表45人", 3)))
    again = snapshot(store)
    for name, frame in first.items():
        pd.testing.assert_frame_equal(frame, again[name], obj=name)
    assert store.count("documents") == 2 and store.count("figures") == 5 and store.count("inputs") == 2


def test_decide_skips_known_files_and_spots_copies(store: Store) -> None:
    store.commit(*batch(("a/one.txt", "工会会员120人", 2)))
    decisions = store.decide(
        [
            ("a/one.txt", sha("工会会员120人")),  # unchanged
            ("b/copy.txt", sha("工会会员120人")),  # same bytes elsewhere
            ("a/one.txt", sha("工会会员121人")),  # changed
            ("c/new.txt", sha("新")),
        ]
    )
    assert [d.action for d in decisions] == ["skip", "duplicate", "process", "process"]
    assert decisions[1].duplicate_of == "a/one.txt"


def test_decide_links_a_copy_to_the_first_readable_original(store: Store) -> None:
    store.commit(*batch(("z/late.txt", "工会会员120人", 2), ("m/mid.txt", "工会会员120人", 2)))
    rows, tables = batch(("a/broken.txt", "工会会员120人", 0))
    rows[0].update(status="error", documents=0, errors=2)
    store.commit(rows, {"errors": tables["errors"]})
    decisions = store.decide([("n/new.txt", sha("工会会员120人")), ("a/broken.txt", sha("工会会员120人"))])
    # the copy commit() made of z/late.txt is no owner; an input that failed is none either
    assert (decisions[0].action, decisions[0].duplicate_of) == ("duplicate", "m/mid.txt")
    # an unchanged input that failed is skipped with its errors counted
    assert (decisions[1].action, decisions[1].errors) == ("skip", 2)


def test_a_changed_file_replaces_its_rows(store: Store) -> None:
    store.commit(*batch(("a/one.txt", "工会会员120人", 2), ("a/two.txt", "职工代表45人", 3)))
    store.commit(*batch(("a/one.txt", "工会会员999人", 4)))
    docs = store.frame("documents")
    assert sorted(docs["title"]) == ["工会会员", "职工代表"]
    assert set(docs["sha256"]) == {sha("工会会员999人"), sha("职工代表45人")}
    figures = store.frame("figures")
    assert len(figures) == 4 + 3
    assert sha("工会会员120人") not in set(figures["sha256"])
    assert store.count("rejected") == 2
    inputs = store.frame("inputs").set_index("source_path")
    assert inputs.loc["a/one.txt", "sha256"] == sha("工会会员999人")


def test_a_copy_is_linked_not_stored_twice_and_outlives_its_original(store: Store) -> None:
    store.commit(*batch(("a/one.txt", "工会会员120人", 2)))
    store.commit(
        [
            {
                "source_path": "b/copy.txt",
                "sha256": sha("工会会员120人"),
                "status": "duplicate",
                "duplicate_of": "a/one.txt",
            }
        ],
        empty_results(),
    )
    assert store.count("documents") == 1 and store.count("figures") == 2
    links = store.frame("document_inputs")
    assert sorted(links["input_path"]) == ["a/one.txt", "b/copy.txt"]
    # the original changes: the copy still refers to the old content, so it stays
    store.commit(*batch(("a/one.txt", "工会会员130人", 1)))
    assert set(store.frame("documents")["sha256"]) == {sha("工会会员120人"), sha("工会会员130人")}
    assert store.count("figures") == 3


def test_copies_in_one_batch_are_stored_once(store: Store) -> None:
    store.commit(*batch(("a/one.txt", "同一内容7人", 1), ("b/one.txt", "同一内容7人", 1)))
    assert store.count("documents") == 1 and store.count("figures") == 1
    inputs = store.frame("inputs").set_index("source_path")
    assert inputs.loc["b/one.txt", "status"] == "duplicate"
    assert inputs.loc["b/one.txt", "duplicate_of"] == "a/one.txt"


def test_errors_and_rerun_of_unreadable_input(store: Store) -> None:
    errors = pa.Table.from_pylist(
        [{"path": "bad.docx", "stage": "ingest", "reason": "truncated", "input_path": "bad.docx"}],
        schema=result_schema("errors"),
    )
    row = {"source_path": "bad.docx", "sha256": sha("bad"), "status": "error", "errors": 1}
    store.commit([row], {"errors": errors})
    store.commit([row], {"errors": errors})
    assert store.frame("errors")[["path", "stage", "reason"]].values.tolist() == [["bad.docx", "ingest", "truncated"]]


def test_a_failed_commit_leaves_the_previous_state(store: Store) -> None:
    store.commit(*batch(("a/one.txt", "工会会员120人", 2)))
    before = snapshot(store)
    rows, tables = batch(("a/one.txt", "工会会员999人", 4))
    tables["figures"] = tables["figures"].drop_columns(["sha256"])  # breaks the insert half-way
    with pytest.raises(Exception, match="sha256"):
        store.commit(rows, tables)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(frame, snapshot(store)[name], obj=name)


def test_rebuild_and_runs(store: Store) -> None:
    run_id = store.begin_run("local", 1, ["corpus"])
    store.commit(*batch(("a/one.txt", "工会会员120人", 2)))
    store.replace_table("findings", pd.DataFrame({"rule": ["x"]}))
    store.finish_run(run_id, "done", {"documents": 1, "figures": 2})
    assert store.begin_run("local", 1, []) == run_id + 1
    runs = store.frame("runs")
    assert runs["status"].tolist() == ["done", "running"] and runs["figures"].tolist()[0] == 2
    store.rebuild()
    assert store.tables() == list(CORE_TABLES)
    assert all(store.count(t) == 0 for t in CORE_TABLES if t != "store_meta")
    assert store.schema_version() == SCHEMA_VERSION  # a rebuilt store is of the current layout


def test_a_killed_run_is_marked_aborted(tmp_path: Path) -> None:
    with Store(tmp_path) as s:
        s.begin_run("local", 1, [])
    with Store(tmp_path) as s:
        s.begin_run("local", 1, [])
        assert s.frame("runs")["status"].tolist() == ["aborted", "running"]


def test_replace_table_refuses_core_tables(store: Store) -> None:
    with pytest.raises(StoreError):
        store.replace_table("figures", pd.DataFrame({"a": [1]}))
    with pytest.raises(StoreError):
        store.replace_table("x; DROP TABLE figures", pd.DataFrame({"a": [1]}))


def test_append_table_matches_columns_by_name_and_widens_types(store: Store) -> None:
    store.append_table("findings", pd.DataFrame({"doc_id": ["b", "a"], "note": [None, None], "n": [1, 2]}))
    store.append_table("findings", pd.DataFrame({"n": [2.5], "doc_id": ["a"], "note": ["x"], "extra": [True]}))
    types = dict(
        store.con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'findings'"
        ).fetchall()
    )
    assert types == {"doc_id": "VARCHAR", "note": "VARCHAR", "n": "DOUBLE", "extra": "BOOLEAN"}
    rows = store.con.execute("SELECT doc_id, note, n FROM findings").fetchall()
    assert rows == [("b", None, 1.0), ("a", None, 2.0), ("a", "x", 2.5)]
    with pytest.raises(StoreError):
        store.append_table("figures", pd.DataFrame({"a": [1]}))


def test_staged_tables_wait_unseen_until_published_in_order(store: Store) -> None:
    store.replace_table("findings", pd.DataFrame({"doc_id": ["old"]}))
    store.replace_table("findings", pd.DataFrame({"doc_id": ["b", "a"], "i": [1, 2]}), staged=True)
    store.append_table("findings", pd.DataFrame({"doc_id": ["a"], "i": [3]}), staged=True)
    store.replace_table("records_x", pd.DataFrame({"n": [2, 1]}), staged=True)
    assert store.tables() == [*CORE_TABLES, "findings"]
    assert store.frame("findings")["doc_id"].tolist() == ["old"]
    assert store.publish_staged(order_by="doc_id") == ["findings", "records_x"]
    # stable: the two rows of 'a' as they were written; a table without doc_id as it was
    assert store.con.execute("SELECT doc_id, i FROM findings").fetchall() == [("a", 2), ("a", 3), ("b", 1)]
    assert store.con.execute("SELECT n FROM records_x").fetchall() == [(2,), (1,)]
    store.replace_table("findings", pd.DataFrame({"doc_id": ["half"]}), staged=True)
    store.drop_staged()
    assert store.publish_staged() == [] and store.count("findings") == 3


def test_a_failed_transaction_keeps_the_tables_as_they_were(store: Store) -> None:
    store.replace_table("findings", pd.DataFrame({"doc_id": ["old"]}))
    with pytest.raises(RuntimeError), store.transaction():
        store.replace_table("findings", pd.DataFrame({"doc_id": ["new"]}))
        store.append_table("findings", pd.DataFrame({"doc_id": ["newer"]}))
        store.replace_table("records_x", pd.DataFrame({"doc_id": ["new"]}))
        raise RuntimeError("midway")
    assert store.con.execute("SELECT doc_id FROM findings").fetchall() == [("old",)]
    assert "records_x" not in store.tables()


def test_organisation_groups_keep_organisations_and_doc_ids_whole(store: Store) -> None:
    store.commit(*batch(("a/one.txt", "工会会员120人", 3), ("a/two.txt", "职工代表45人", 2), ("b/one.txt", "x", 1)))
    store.commit(*batch(("c/three.txt", "y", 4), ("c/four.txt", "z", 1), ("c/five.txt", "w", 0)))
    orgs = {"a/two.txt": " 青石镇总工会", "c/four.txt": "青石镇总工会\u3000", "c/three.txt": "南湖区总工会"}
    for path, org in orgs.items():
        store.con.execute("UPDATE documents SET organisation = ? WHERE source_path = ?", [org, path])
    groups = list(store.organisation_groups(max_figures=7))
    ids = [sorted(set(d["doc_id"])) for d, _ in groups]
    # sizes (figures + rows): five 1; four + two 5, one organisation once stripped; one 6, two rows of one
    # doc_id; three 5. Packed in that order up to 7.
    assert ids == [["five", "four", "two"], ["one"], ["three"]]
    for documents, figures in groups:
        assert list(documents.columns) == list(store.frame("documents").columns)
        assert list(figures.columns) == list(store.frame("figures").columns)
        assert set(figures["doc_id"]) <= set(documents["doc_id"])
    assert sum(len(f) for _, f in groups) == store.count("figures")
    assert sum(len(d) for d, _ in groups) == store.count("documents")
    with Store(store.directory / "empty") as empty:  # one empty group, so a pass still writes its tables
        assert [(len(d), len(f)) for d, f in empty.organisation_groups()] == [(0, 0)]


def test_a_column_added_to_a_model_reaches_an_old_store(tmp_path: Path) -> None:
    with Store(tmp_path) as s:
        s.con.execute("ALTER TABLE documents DROP COLUMN region")
    with Store(tmp_path) as s:
        assert "region" in s.frame("documents").columns


def test_csv_and_parquet_exports_hold_the_whole_store(store: Store, tmp_path: Path) -> None:
    store.commit(*batch(("a/one.txt", "工会会员120人", 2)))
    store.export()
    store.commit(*batch(("a/two.txt", "职工代表45人", 3)))
    written = store.export()
    out = store.directory
    assert {p.name for p in written} >= {"figures.csv", "figures.parquet", "documents.csv", "runs.parquet"}
    assert (out / "figures.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    figures = pd.read_csv(out / "figures.csv", encoding="utf-8-sig")
    assert len(figures) == 5 and set(figures["doc_id"]) == {"one", "two"}
    assert len(pd.read_parquet(out / "figures.parquet")) == 5
    docs = pd.read_parquet(out / "documents.parquet")
    assert docs["report_date"].tolist() == [dt.date(2019, 1, 5)] * 2
    assert not list(out.glob(".*.tmp"))


def test_xlsx_has_a_sheet_per_table_and_splits_long_ones(store: Store, tmp_path: Path) -> None:
    store.commit(*batch(("a/one.txt", "工会会员120人\x07", 7)))
    store.replace_table("findings", pd.DataFrame({"rule": ["r1"], "detail": ["ok"]}))
    path = store.export_xlsx(tmp_path / "book.xlsx", max_rows=4)  # 3 rows a sheet
    wb = openpyxl.load_workbook(path, read_only=True)
    assert wb.sheetnames == [
        "notes",
        "documents",
        "figures",
        "figures (2)",
        "figures (3)",
        "rejected",
        "errors",
        "document_inputs",
        "inputs",
        "runs",
        "findings",
    ]
    rows = list(wb["figures"].values)
    header = rows[0]
    assert "sentence" in header and "source_path" in header
    assert rows[1][header.index("sentence")] == "工会会员120人"  # control character dropped
    assert sum(len(list(wb[n].values)) - 1 for n in ("figures", "figures (2)", "figures (3)")) == 7
    notes = {r[0]: r for r in wb["notes"].values}
    assert notes["figures"][1] == 7 and "split" in notes["figures"][3]
    assert list(wb["errors"].values) == [("path", "stage", "reason", "input_path")]


def test_read_only_store_must_exist(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store"):
        Store(tmp_path / "nothing", read_only=True)
