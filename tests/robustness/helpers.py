"""Helpers of the robustness tests: the good files, a run through the real command, its tables.

Every bad input is built on the fly in ``tmp_path``; the good files are copied from the
committed corpus. A run goes through the real command (``zongjie extract``, in this process
with click's runner); ``conftest.py`` hands it the session's pipeline, so a run costs the store
and the exports, not loading the rules and jieba again.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from click.testing import CliRunner, Result

from extract.cli import cli
from extract.store import Store

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
#: the good files every hostile archive also holds: two texts and a .docx
GOOD_FILES = (
    CORPUS / "dev" / "dev-county-union-2018.txt",
    CORPUS / "dev" / "dev-enterprise-union-2017.txt",
    CORPUS / "formats" / "power_supply_report.docx",
)
#: figures are compared in this order; none of these depends on where the file was found but
#: doc_id, whose path part does (a file under good/ is good/<stem>): it is compared by its stem
FIGURE_KEY = ["sha256", "doc_id", "start", "end"]


def copy_good(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for src in GOOD_FILES:
        shutil.copy(src, folder / src.name)
    return folder


def zongjie_extract(inputs: Sequence[Path | str], out: Path, *args: str) -> Result:
    """``zongjie extract INPUTS --out OUT ARGS`` in this process: one worker, no audit, no progress."""
    argv = ["extract", *map(str, inputs), "--out", str(out), "--workers", "1", "--no-audit", "--no-progress", *args]
    return CliRunner().invoke(cli, argv)


@dataclass
class Tables:
    """The tables of a finished run, read back from its Parquet exports."""

    out: Path

    def __getitem__(self, table: str) -> pd.DataFrame:
        return pd.read_parquet(self.out / f"{table}.parquet")

    def errors(self) -> list[tuple[str, str, str]]:
        frame = self["errors"]
        return sorted(zip(frame["path"], frame["stage"], frame["reason"], strict=True))

    def good_figures(self, clean: pd.DataFrame) -> pd.DataFrame:
        """This run's figures of the documents in ``clean`` (by content hash), in a fixed order."""
        figures = self["figures"]
        mine = figures[figures["sha256"].isin(set(clean["sha256"]))]
        return mine.sort_values(FIGURE_KEY).reset_index(drop=True)


def placeless(figures: pd.DataFrame) -> pd.DataFrame:
    """``figures`` without what names where the file was found: doc_id by its stem, no figure_id."""
    out = figures.drop(columns=["figure_id"]).assign(doc_id=figures["doc_id"].str.rsplit("/", n=1).str[-1])
    return out.sort_values(FIGURE_KEY).reset_index(drop=True)


def assert_good_unchanged(tables: Tables, clean: pd.DataFrame) -> None:
    """The good files beside the bad input gave exactly the figures they give alone."""
    pd.testing.assert_frame_equal(placeless(tables.good_figures(clean)), placeless(clean))


def store_errors(out: Path) -> list[tuple[str, str, str]]:
    """The errors table as the DuckDB store holds it."""
    with Store(out, read_only=True) as store:
        return sorted(store.con.execute("SELECT path, stage, reason FROM errors").fetchall())
