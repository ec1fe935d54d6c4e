"""Archives laid out as archivists keep them: a folder per year with the same file names, copies
inside zips, the output folder beside (or inside) the inputs, files of types not read.

Every archive is built here from the team's own documents in ``corpus/dev``.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from extract.cli import cli
from extract.runner import RunOptions, RunStats, run
from extract.store import Store

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "corpus" / "dev"
RULES = RunOptions(workers=1, audit=False, export=(), pipeline_args={"extractor": "rules"})


def dev_text(name: str, shift: int = 0) -> str:
    """A dev document, every Arabic number moved by ``shift`` (another year's figures)."""
    text = (DEV / f"{name}.txt").read_text(encoding="utf-8")
    return re.sub(r"\d+", lambda m: str(int(m.group()) + shift), text) if shift else text


def tables(out: Path) -> dict[str, pd.DataFrame]:
    with Store(out, read_only=True) as store:
        return {t: store.frame(t) for t in ("documents", "figures", "errors", "inputs", "document_inputs")}


def extract(inputs: list[Path], out: Path, **options: object) -> RunStats:
    from dataclasses import replace

    return run(inputs, out, replace(RULES, **options))  # type: ignore[arg-type]


def test_same_names_in_two_year_folders_get_their_own_ids_and_keep_them(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    for year, shift in (("2021", 0), ("2022", 3)):
        (archive / year).mkdir(parents=True)
        (archive / year / "工作总结.txt").write_text(dev_text("dev-town-union-2012", shift), encoding="utf-8")
    extract([archive], tmp_path / "out")
    first = tables(tmp_path / "out")
    assert sorted(first["documents"]["doc_id"]) == ["2021/工作总结", "2022/工作总结"]
    by_doc = first["figures"].groupby("doc_id")["figure_id"].apply(set)
    assert by_doc["2021/工作总结"] and by_doc["2022/工作总结"]
    assert not by_doc["2021/工作总结"] & by_doc["2022/工作总结"]  # no shared figure_id
    assert first["figures"]["figure_id"].is_unique

    # a rerun changes nothing; a fresh store from the same archive gives the same ids
    extract([archive], tmp_path / "out")
    extract([archive], tmp_path / "again")
    for out in ("out", "again"):
        again = tables(tmp_path / out)
        assert sorted(again["figures"]["figure_id"]) == sorted(first["figures"]["figure_id"])


def test_two_roots_and_two_suffixes_wanting_one_id_are_resolved_the_same_way_each_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for year, shift in (("2021", 0), ("2022", 3)):
        (tmp_path / year).mkdir()
        (tmp_path / year / "工作总结.txt").write_text(dev_text("dev-street-union-2015", shift), encoding="utf-8")
    (tmp_path / "2022" / "工作总结.md").write_text(dev_text("dev-street-union-2015", 7), encoding="utf-8")
    roots = [tmp_path / "2021", tmp_path / "2022"]
    with caplog.at_level(logging.WARNING, logger="extract.runner"):
        extract(roots, tmp_path / "out")
    ids = sorted(tables(tmp_path / "out")["documents"]["doc_id"])
    # the first met keeps the stem; one from another root takes its root's name; a sibling its suffix
    assert ids == ["2022/工作总结", "2022/工作总结.txt", "工作总结"]
    assert "is another input's" in caplog.text  # resolved visibly
    inputs = tables(tmp_path / "out")["inputs"].set_index("source_path")["doc_key"]
    assert inputs[str(tmp_path / "2022" / "工作总结.md")] == "2022/工作总结"
    extract(roots, tmp_path / "fresh")
    assert sorted(tables(tmp_path / "fresh")["documents"]["doc_id"]) == ids
    # a changed file keeps the id it had
    (tmp_path / "2022" / "工作总结.txt").write_text(dev_text("dev-street-union-2015", 9), encoding="utf-8")
    extract(roots, tmp_path / "out")
    assert sorted(tables(tmp_path / "out")["documents"]["doc_id"]) == ids


def test_the_output_folder_and_reports_inside_the_inputs_are_never_read(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "summary.txt").write_text(dev_text("dev-county-union-2018"), encoding="utf-8")
    out = archive / "out"
    assert CliRunner().invoke(cli, ["extract", str(archive), "--out", str(out), "--no-progress"]).exit_code == 0
    assert CliRunner().invoke(cli, ["report", str(out)]).exit_code == 0
    assert (out / "report.html").exists()
    before = tables(out)
    result = CliRunner().invoke(cli, ["extract", str(archive), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    after = tables(out)
    assert after["documents"]["doc_id"].tolist() == before["documents"]["doc_id"].tolist() == ["summary"]
    assert not after["inputs"]["source_path"].str.startswith(str(out)).any()
    # an old output folder elsewhere in the archive, and a report page copied out of it, are rows
    (archive / "out").rename(archive / "old-run")
    (archive / "page.html").write_bytes((archive / "old-run" / "report.html").read_bytes())
    extract([archive], tmp_path / "new")
    errors = tables(tmp_path / "new")["errors"].set_index("path")
    assert errors.loc[str(archive / "old-run"), "stage"] == "skip"
    assert "zongjie output folder" in errors.loc[str(archive / "old-run"), "reason"]
    assert "written by zongjie" in errors.loc[str(archive / "page.html"), "reason"]
    assert tables(tmp_path / "new")["documents"]["doc_id"].tolist() == ["summary"]


def test_every_file_met_is_read_linked_or_a_row_with_its_reason(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    (archive / "2019").mkdir(parents=True)
    text = dev_text("dev-school-union-2008")
    (archive / "2019" / "总结.txt").write_text(text, encoding="utf-8")
    (archive / "2019" / "旧总结.doc").write_bytes(b"\xd0\xcf\x11\xe0 not read yet")
    (archive / "2019" / "统计.xlsx").write_bytes(b"PK not read yet")
    (archive / "2019" / "copy.txt").write_text(text, encoding="utf-8")
    stats = extract([archive], tmp_path / "out")
    got = tables(tmp_path / "out")
    assert stats.files == 4 and stats.not_read == 2 and stats.errors == 0
    inputs = got["inputs"].set_index("source_path")
    assert set(inputs.index) == {str(p) for p in (archive / "2019").iterdir()}
    assert inputs.loc[str(archive / "2019" / "旧总结.doc"), "status"] == "not_read"
    copy, original = str(archive / "2019" / "总结.txt"), str(archive / "2019" / "copy.txt")  # in sorted order
    assert (inputs.loc[copy, "status"], inputs.loc[copy, "duplicate_of"]) == ("duplicate", original)
    reasons = got["errors"].set_index("path")["reason"]
    assert reasons[str(archive / "2019" / "旧总结.doc")].startswith("unsupported file type '.doc'")
    assert reasons[str(archive / "2019" / "统计.xlsx")].startswith("unsupported file type '.xlsx'")


def test_a_copy_inside_a_zip_is_linked_not_extracted_again(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    text = dev_text("dev-union-news-2018")
    (archive / "news.txt").write_text(text, encoding="utf-8")
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as zf:
        zf.writestr("2018/新闻稿.txt", text.encode("utf-8"))  # the same bytes under another name
        zf.writestr("2018/计划.txt", dev_text("dev-work-plan-2019").encode("utf-8"))
        zf.writestr("inner.zip", _zip({"again/news.txt": text.encode("utf-8")}))
        zf.writestr("readme.rtf", b"{\\rtf1 not read}")
    (archive / "bundle.zip").write_bytes(sink.getvalue())
    extract([archive], tmp_path / "out")
    got = tables(tmp_path / "out")
    assert sorted(got["documents"]["doc_id"]) == ["bundle.zip/2018/计划", "news"]
    news_figures = (got["figures"]["doc_id"] == "news").sum()
    assert news_figures > 5 and len(got["figures"]) == news_figures + (got["figures"]["doc_id"] != "news").sum()
    links = got["document_inputs"][got["document_inputs"]["doc_id"] == "news"]
    assert sorted(links["member_path"]) == sorted(
        [
            str(archive / "bundle.zip") + "!/2018/新闻稿.txt",
            str(archive / "bundle.zip") + "!/inner.zip!/again/news.txt",
            str(archive / "news.txt"),
        ]
    )
    assert (
        "unsupported file type '.rtf'"
        in got["errors"].set_index("path")["reason"][str(archive / "bundle.zip") + "!/readme.rtf"]
    )


def _zip(members: dict[str, bytes]) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return sink.getvalue()


def test_parts_sort_in_their_natural_order(tmp_path: Path, seed_text: str) -> None:
    (tmp_path / "seed.txt").write_text(seed_text, encoding="utf-8")
    extract([tmp_path / "seed.txt"], tmp_path / "out", export=("csv",))
    ids = pd.read_csv(tmp_path / "out" / "documents.csv", encoding="utf-8-sig")["doc_id"].tolist()
    assert ids[:3] == ["seed#1", "seed#2", "seed#3"] and ids[-2:] == ["seed#10", "seed#11"]
    figure_docs = pd.read_csv(tmp_path / "out" / "figures.csv", encoding="utf-8-sig")["doc_id"]
    order = [int(d.split("#")[1]) for d in figure_docs.drop_duplicates()]
    assert order == sorted(order)


def test_a_store_of_the_old_id_scheme_is_rebuilt_with_a_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "in" / "2021").mkdir(parents=True)
    (tmp_path / "in" / "2021" / "a.txt").write_text(dev_text("dev-town-union-2012"), encoding="utf-8")
    extract([tmp_path / "in"], tmp_path / "out")
    with Store(tmp_path / "out") as store:  # as a store made before ids came from paths
        store.con.execute("DELETE FROM store_meta")
        store.con.execute("UPDATE documents SET doc_id = 'a'")
        store.con.execute("UPDATE figures SET doc_id = 'a'")
    with caplog.at_level(logging.WARNING, logger="extract.runner"):
        extract([tmp_path / "in"], tmp_path / "out")
    assert "made by an older zongjie" in caplog.text
    got = tables(tmp_path / "out")
    assert got["documents"]["doc_id"].tolist() == ["2021/a"]
    assert set(got["figures"]["doc_id"]) == {"2021/a"}


def _tree_peak_mb(argv: list[str]) -> tuple[int, float, str]:
    """Run ``argv``; its exit code, the peak resident memory of its whole process tree, stderr."""
    import subprocess
    import sys
    import threading

    import psutil

    proc = subprocess.Popen([sys.executable, "-m", "extract.cli", *argv], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in procs))
            except psutil.Error:
                pass
            done.wait(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    _, err = proc.communicate(timeout=600)
    done.set()
    thread.join()
    return proc.returncode, peak / 2**20, err


@pytest.mark.parametrize(
    ("figures", "separator", "end"),
    [(2_000, "，", "。"), (20_000, " ", "")],
    ids=["2000-in-one-sentence", "20000-without-punctuation"],
)
def test_a_document_of_thousands_of_figures_gives_them_all_in_bounded_memory(
    tmp_path: Path, figures: int, separator: str, end: str
) -> None:
    """A long statistical table flattened to text: every figure, exit 0, under 1.5 GB for the whole
    process tree (each figure once carried its whole "sentence", here the whole text)."""
    counts = [str(100 + (i * 37) % 900) for i in range(figures)]
    (tmp_path / "table.txt").write_text(separator.join(f"会员{n}人" for n in counts) + end, encoding="utf-8")
    code, peak_mb, err = _tree_peak_mb(
        ["extract", str(tmp_path / "table.txt"), "--out", str(tmp_path / "out"), "--no-progress"]
    )
    assert code == 0, err
    got = pd.read_parquet(tmp_path / "out" / "figures.parquet")
    assert len(got) == figures and sorted(got["value"].astype(int)) == sorted(map(int, counts))
    assert got["sentence"].str.len().max() <= 1000  # a sentence is bounded, whatever the text
    assert peak_mb < 1536, peak_mb


def test_an_input_the_store_cannot_take_becomes_its_error_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit that fails is retried input by input; the one that fails alone is an errors row, the
    others are stored, and the error reported is the first one, not the rollback's."""
    for name in ("a", "b", "c"):
        (tmp_path / "in").mkdir(exist_ok=True)
        (tmp_path / "in" / f"{name}.txt").write_text(dev_text("dev-town-union-2012", ord(name)), encoding="utf-8")
    original = Store._commit

    def failing(self: Store, inputs: list[dict]) -> list[str]:
        if any(row["source_path"].endswith("b.txt") and row["status"] == "ok" for row in inputs):
            self.con.execute("ROLLBACK")  # as DuckDB does after an out-of-memory: the later ROLLBACK fails
            raise MemoryError("failed to pin block of size 256.0 KiB")
        return original(self, inputs)

    monkeypatch.setattr(Store, "_commit", failing)
    stats = extract([tmp_path / "in"], tmp_path / "out")
    got = tables(tmp_path / "out")
    assert sorted(got["documents"]["doc_id"]) == ["a", "c"]
    row = got["errors"].set_index("path").loc[str(tmp_path / "in" / "b.txt")]
    assert row["stage"] == "store" and "MemoryError: failed to pin block" in row["reason"]
    assert stats.errors == 1 and stats.documents == 2


def test_year_from_the_path_and_facts_from_a_sidecar_each_say_where_they_came_from(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    (archive / "2019").mkdir(parents=True)
    text = dev_text("dev-town-union-2012")
    undated = "\n".join(line for line in text.splitlines() if "2012" not in line and "二〇一二" not in line)
    (archive / "2019" / "总结.txt").write_text(undated, encoding="utf-8")  # the text gives no year
    (archive / "2019" / "新闻.txt").write_text(dev_text("dev-county-union-2018"), encoding="utf-8")
    (archive / "年报2017.txt").write_text(undated.replace("23家", "24家"), encoding="utf-8")  # not a copy
    extract([archive], tmp_path / "out")
    docs = tables(tmp_path / "out")["documents"].set_index("doc_id")
    assert (docs.loc["2019/总结", "period_year"], docs.loc["2019/总结", "period_year_from"]) == (2019, "path")
    assert (docs.loc["年报2017", "period_year"], docs.loc["年报2017", "period_year_from"]) == (2017, "path")
    assert docs.loc["2019/新闻", "period_year_from"] == "text"  # the text's own year wins over the folder's
    assert docs.loc["2019/新闻", "period_year"] == 2018

    sidecar = tmp_path / "metadata.csv"
    sidecar.write_text(
        "path,organisation,year,doc_type\n2019/总结.txt,城南街道总工会,2020,work_summary\n2019/新闻.txt,,,\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["extract", str(archive), "--out", str(tmp_path / "side"), "--metadata", str(sidecar), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    docs = tables(tmp_path / "side")["documents"].set_index("doc_id")
    row = docs.loc["2019/总结"]
    assert (row["organisation"], row["period_year"], row["doc_type"]) == ("城南街道总工会", 2020, "work_summary")
    assert (row["organisation_from"], row["period_year_from"], row["doc_type_from"]) == ("sidecar",) * 3
    assert docs.loc["2019/新闻", "period_year_from"] == "text"  # blank cells override nothing

    sidecar.write_text("path,year\n2019/总结.txt,二〇二〇\n", encoding="utf-8")
    bad = ["extract", str(archive), "--out", str(tmp_path / "bad"), "--metadata", str(sidecar)]
    result = CliRunner().invoke(cli, bad)
    assert result.exit_code == 1 and "line 2, year" in result.output
    assert not (tmp_path / "bad").exists()


def test_eval_of_a_folder_extracted_whole_matches_gold_named_by_stems(tmp_path: Path) -> None:
    """Gold names documents by stem; extracted from the folder above, they are dev/<stem>."""
    import json
    import shutil

    shutil.copytree(DEV, tmp_path / "corpus" / "dev")
    extract([tmp_path / "corpus"], tmp_path / "out", export=("parquet",))
    assert all(d.startswith("dev/") for d in tables(tmp_path / "out")["documents"]["doc_id"])
    result = CliRunner().invoke(cli, ["eval", str(tmp_path / "corpus"), str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["figures"]["f1"] >= 0.95


def test_the_python_api_gives_the_same_ids_as_the_command(tmp_path: Path) -> None:
    from extract.pipeline import DocumentResult, iter_results

    for year, shift in (("2021", 0), ("2022", 3)):
        (tmp_path / year).mkdir()
        (tmp_path / year / "工作总结.txt").write_text(dev_text("dev-town-union-2012", shift), encoding="utf-8")
    ids = [
        r.document.doc_id for r in iter_results([tmp_path / "2021", tmp_path / "2022"]) if isinstance(r, DocumentResult)
    ]
    assert ids == ["工作总结", "2022/工作总结"]
    extract([tmp_path / "2021", tmp_path / "2022"], tmp_path / "out")
    assert sorted(tables(tmp_path / "out")["documents"]["doc_id"]) == sorted(ids)
