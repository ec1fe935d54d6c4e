"""``zongjie extract`` exit codes: 0 run completed, 2 usage error, 1 output cannot be written,
1 with --strict when any input failed (everything still written). Ctrl-C (130) and kill -9 are
tested on a real process in ``tests/test_cli_extract.py`` (``test_ctrl_c_stops_cleanly_with_exit_130``,
``test_kill_9_leaves_a_readable_store_and_the_next_run_completes``)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

from extract.cli import cli
from extract.store import Store
from tests.robustness.helpers import Tables, assert_good_unchanged, copy_good, zongjie_extract


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """The good files and one that fails (zero bytes)."""
    root = copy_good(tmp_path / "archive")
    (root / "empty.txt").write_bytes(b"")
    return root


@pytest.mark.parametrize(
    "argv",
    [
        ["extract"],
        ["extract", "IN"],
        ["extract", "--out", "OUT"],
        ["extract", "IN", "--out", "OUT", "--workers", "0"],
        ["extract", "IN", "--out", "OUT", "--max-file-mb", "0"],
        ["extract", "IN", "--out", "OUT", "--engine", "spark"],
        ["extract", "IN", "--out", "OUT", "--no-such-option"],
    ],
    ids=["nothing", "no-out", "no-inputs", "workers-0", "max-file-mb-0", "unknown-engine", "unknown-option"],
)
def test_usage_errors_exit_2_and_write_nothing(tmp_path: Path, argv: list[str]) -> None:
    out = tmp_path / "out"
    argv = [str(out) if a == "OUT" else str(tmp_path) if a == "IN" else a for a in argv]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    assert "Usage:" in result.output and "Error:" in result.output
    assert not out.exists()


def test_a_completed_run_exits_0_with_its_failures_in_errors(
    archive: Path, tmp_path: Path, clean_figures: pd.DataFrame
) -> None:
    missing = tmp_path / "no-such-file.txt"
    result = zongjie_extract([archive, missing], tmp_path / "out")
    assert result.exit_code == 0, result.output
    tables = Tables(tmp_path / "out")
    assert [(p, s) for p, s, _ in tables.errors()] == [(str(archive / "empty.txt"), "ingest"), (str(missing), "ingest")]
    assert_good_unchanged(tables, clean_figures)


def test_strict_exits_1_after_writing_everything_and_stays_1_while_the_failure_is_there(
    archive: Path, tmp_path: Path, clean_figures: pd.DataFrame
) -> None:
    out = tmp_path / "out"
    result = zongjie_extract([archive], out, "--strict")
    assert result.exit_code == 1, result.output
    assert "--strict: inputs failed" in result.output
    tables = Tables(out)  # everything was written before the exit
    assert [p for p, _, _ in tables.errors()] == [str(archive / "empty.txt")]
    assert_good_unchanged(tables, clean_figures)
    assert len(pd.read_csv(out / "figures.csv", encoding="utf-8-sig")) == len(clean_figures)
    with Store(out, read_only=True) as store:
        assert store.frame("runs")["status"].tolist() == ["done"]

    # nothing changed: the failing file is not read again, but its failure still counts
    again = zongjie_extract([archive], out, "--strict")
    assert again.exit_code == 1, again.output
    assert "1 errors kept from unchanged files" in again.output
    assert zongjie_extract([archive], out).exit_code == 0  # without --strict the run completed: 0

    (archive / "empty.txt").write_text("全年新发展会员12人。", encoding="utf-8")  # the file is mended
    mended = zongjie_extract([archive], out, "--strict")
    assert mended.exit_code == 0, mended.output
    assert Tables(out).errors() == []


def test_strict_with_nothing_failing_exits_0(tmp_path: Path) -> None:
    result = zongjie_extract([copy_good(tmp_path / "good")], tmp_path / "out", "--strict")
    assert result.exit_code == 0, result.output


def test_out_is_a_file(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.write_bytes(b"someone's file")
    result = zongjie_extract([archive], out)
    assert result.exit_code == 1, result.output
    assert f"cannot write to --out {out}: it is a file, not a folder" in result.output
    assert out.read_bytes() == b"someone's file"


def test_out_below_a_file(archive: Path, tmp_path: Path) -> None:
    (tmp_path / "taken").write_bytes(b"x")
    result = zongjie_extract([archive], tmp_path / "taken" / "out")
    assert result.exit_code == 1, result.output
    assert "cannot write the output in" in result.output and "Not a directory" in result.output
    assert "Traceback" not in result.output


def test_out_not_writable(archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Permission denied on creating --out (injected: the tests run as root)."""
    out = tmp_path / "locked" / "out"
    real_mkdir = Path.mkdir

    def mkdir(self: Path, *args: object, **kwargs: object) -> None:
        if self == out:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        real_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", mkdir)
    result = zongjie_extract([archive], out)
    assert result.exit_code == 1, result.output
    assert f"cannot write the output in {out}: Permission denied: {out}" in result.output


def test_store_cannot_be_opened(archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise duckdb.IOException("IO Error: Cannot open file: Permission denied")

    monkeypatch.setattr(duckdb, "connect", refuse)
    result = zongjie_extract([archive], tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert "cannot open" in result.output and "Permission denied" in result.output


def test_disk_full_while_exporting_keeps_what_was_committed(
    archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_figures: pd.DataFrame
) -> None:
    """The store commits before the exports; a full disk at export time loses no extraction."""
    out = tmp_path / "out"

    def full(self: Store, sql: str, path: Path) -> Path:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(Store, "_export_csv", full)
    result = zongjie_extract([archive], out)
    assert result.exit_code == 1, result.output
    assert f"cannot write the output in {out}: No space left on device" in result.output
    assert not (out / "figures.csv").exists()
    with Store(out, read_only=True) as store:
        assert store.count("figures") == len(clean_figures)
    monkeypatch.undo()
    # once there is room, a rerun adds nothing twice and writes the exports
    assert zongjie_extract([archive], out).exit_code == 0
    assert len(pd.read_csv(out / "figures.csv", encoding="utf-8-sig")) == len(clean_figures)
