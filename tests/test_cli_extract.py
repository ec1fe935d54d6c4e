"""``zongjie extract`` and ``zongjie export``, including real kill -9 and Ctrl-C of a running extract."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from extract.cli import cli
from extract.runner import RunOptions, run
from extract.store import Store

ROOT = Path(__file__).resolve().parent.parent
COMPARED = ("documents", "figures", "rejected", "errors", "document_inputs")


def generated_archive(root: Path, n: int, seed: int = 5) -> Path:
    """``n`` texts made from the dev corpus with every Arabic number changed, so each differs."""
    rng = random.Random(seed)
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "corpus" / "dev").glob("*.txt"))]
    for i in range(n):
        text = re.sub(r"\d+", lambda m: str(int(m.group()) + rng.randint(1, 9)), texts[i % len(texts)])
        path = root / f"batch{i // 40:02d}" / f"summary-{i:04d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def store_tables(out: Path) -> dict[str, pd.DataFrame]:
    with Store(out, read_only=True) as store:
        snap = {t: store.frame(t).reset_index(drop=True) for t in COMPARED}
        snap["inputs"] = store.frame("inputs").drop(columns=["run_id", "seconds"])
    return snap


def zongjie(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "extract.cli", *args],
        cwd=ROOT,
        text=True,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        **kwargs,
    )  # type: ignore[call-overload]


def wait_for_commits(proc: subprocess.Popen[str], n: int, timeout: float = 120) -> None:
    """Read the run's debug log until it has committed ``n`` batches."""
    seen, deadline = 0, time.monotonic() + timeout
    assert proc.stderr is not None
    for line in proc.stderr:
        if "extract.runner: committed" in line:
            seen += 1
            if seen >= n:
                return
        if time.monotonic() > deadline:
            break
    proc.kill()
    pytest.fail(f"the run committed {seen} batches, not {n}, before ending (exit {proc.wait()})")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated_archive(tmp_path_factory.mktemp("gen"), 80)


def test_extract_then_export_xlsx(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(
        cli, ["extract", str(ROOT / "corpus" / "dev"), "--out", str(out), "--workers", "1", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "figures" in result.output and "0 unchanged" in result.output
    for table in ("documents", "figures", "rejected", "errors", "runs", "inputs"):
        assert (out / f"{table}.csv").read_bytes().startswith(b"\xef\xbb\xbf"), table
        assert (out / f"{table}.parquet").exists(), table
    n_figures = len(pd.read_parquet(out / "figures.parquet"))
    assert n_figures > 50

    result = runner.invoke(cli, ["export", str(out), "--format", "xlsx"])
    assert result.exit_code == 0, result.output
    wb = openpyxl.load_workbook(out / "zongjie.xlsx", read_only=True)
    assert {"notes", "documents", "figures", "rejected", "errors", "runs"} <= set(wb.sheetnames)
    rows = list(wb["figures"].values)
    assert len(rows) == n_figures + 1
    header = rows[0]
    sentence, surface = header.index("sentence"), header.index("surface")
    assert all(row[surface] in row[sentence] for row in rows[1:])
    assert all(row[header.index("source_path")] for row in rows[1:])


def test_progress_lines_when_not_a_terminal(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["extract", str(ROOT / "corpus" / "dev"), "--out", str(tmp_path), "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    # 10 documents and their 10 gold files: every file met is counted, the gold ones as not read
    line = r"done: files 20/20 · documents \d+ · figures \d+ · errors 0 · not read 10 · [\d,]+ chars/s"
    assert re.search(line, result.output)
    assert "10 not read: errors.csv says why" in result.output


def test_dask_engine_without_dask_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    result = CliRunner().invoke(
        cli, ["extract", str(ROOT / "corpus" / "dev"), "--out", str(tmp_path), "--engine", "dask", "--no-progress"]
    )
    assert result.exit_code == 1
    assert "pip install 'zongjie[dask]'" in result.output


def test_scheduler_needs_the_dask_engine(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "extract",
            str(ROOT / "corpus" / "dev"),
            "--out",
            str(tmp_path),
            "--scheduler",
            "tcp://127.0.0.1:8786",
            "--workers",
            "1",
            "--no-progress",
        ],
    )
    assert result.exit_code == 2 and "--scheduler needs --engine dask" in result.output  # a usage error


def test_export_without_a_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["export", str(tmp_path), "--format", "csv"])
    assert result.exit_code == 1 and "no store" in result.output


@pytest.mark.slow
def test_kill_9_leaves_a_readable_store_and_the_next_run_completes(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = zongjie(
        "-vv", "extract", str(archive), "--out", str(out), "--workers", "1", "--batch-size", "4", "--no-progress"
    )
    wait_for_commits(proc, 3)
    time.sleep(random.uniform(0, 0.3))  # "at any moment": maybe mid-extraction, maybe mid-commit
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL

    with Store(out, read_only=True) as store:  # readable, holding whole inputs only
        done = store.count("inputs")
        assert 12 <= done < 80
        assert store.frame("runs")["status"].tolist() == ["running"]
        partial = store.frame("document_inputs")
        assert set(partial["input_path"]) <= set(store.frame("inputs")["source_path"])

    proc = zongjie("extract", str(archive), "--out", str(out), "--workers", "1", "--no-progress")
    assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
    after = store_tables(out)
    # the uninterrupted run to compare with, made now so that it runs the same rules (and the
    # command line's default extractor, hybrid with the packaged model)
    clean_run = RunOptions(workers=1, pipeline_args={"extractor": "hybrid"})
    assert run([archive], tmp_path / "clean", clean_run).status == "done"
    clean = store_tables(tmp_path / "clean")
    for name, frame in clean.items():
        pd.testing.assert_frame_equal(frame, after[name], obj=name)
    with Store(out, read_only=True) as store:
        runs = store.frame("runs")
        assert runs["status"].tolist() == ["aborted", "done"]
        assert runs["skipped"].tolist()[1] == done
    assert len(pd.read_csv(out / "figures.csv", encoding="utf-8-sig")) == len(clean["figures"])


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_with_exit_130(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    # a terminal's Ctrl-C goes to the whole process group: the main process and its workers
    proc = zongjie(
        "-vv", "extract", str(archive), "--out", str(out), "--workers", "2", "--batch-size", "2", start_new_session=True
    )
    wait_for_commits(proc, 1)
    os.killpg(proc.pid, signal.SIGINT)
    try:  # a run that hangs on the way out fails the test instead of holding it for ever
        _, stderr = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("the run was still going 120 s after Ctrl-C")
    assert proc.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr
    with Store(out, read_only=True) as store:
        assert store.frame("runs")["status"].tolist() == ["interrupted"]
        kept = store.count("inputs")
        assert 0 < kept < 80
        assert store.count("documents") == store.count("document_inputs")
    assert len(pd.read_csv(out / "inputs.csv", encoding="utf-8-sig")) == kept


@pytest.mark.slow
def test_kill_9_of_a_multi_worker_run_leaves_no_worker_behind(archive: Path, tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil")
    proc = zongjie(
        "-vv",
        "extract",
        str(archive),
        "--out",
        str(tmp_path / "out"),
        "--workers",
        "2",
        "--batch-size",
        "2",
        "--no-progress",
    )
    wait_for_commits(proc, 1)
    workers = psutil.Process(proc.pid).children(recursive=True)
    assert len(workers) >= 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, alive = psutil.wait_procs(workers, timeout=30)
    for p in alive:
        p.kill()
    assert not alive, f"workers outlived the killed run: {[p.pid for p in alive]}"
