"""A small extracted store shared by the report and review tests (built once per test session)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from extract.runner import RunOptions, run
from extract.store import Store

ROOT = Path(__file__).resolve().parent.parent
# team-written documents: one with a failing audit check, a compilation (parts start past 0), a summary
FILES = (
    ROOT / "corpus" / "audit" / "ballots-valid-invalid.fail.txt",
    ROOT / "corpus" / "dev" / "dev-grassroots-compilation-2013.txt",
    ROOT / "corpus" / "dev" / "dev-county-union-2018.txt",
)
FAILING_DOC = "ballots-valid-invalid.fail"


def extracted_store(factory: pytest.TempPathFactory) -> Path:
    """The extracted store, made on first use in this session; callers copy it before writing."""
    base = factory.getbasetemp() / "report-store"
    if not (base / "zongjie.duckdb").exists():
        missing = [f for f in FILES if not f.exists()]
        if missing:
            pytest.skip(f"corpus files missing: {missing}")
        run(list(FILES), base, RunOptions(workers=1))
    return base


def fresh_copy(factory: pytest.TempPathFactory, name: str) -> Path:
    """A private copy of the extracted store (tables and database) to write corrections into."""
    target = factory.mktemp(name)
    shutil.copytree(extracted_store(factory), target, dirs_exist_ok=True)
    return target


def figures_of(directory: Path, doc_id: str) -> list[dict]:
    with Store(directory, read_only=True) as store:
        cur = store.con.execute('SELECT * FROM figures WHERE doc_id = ? ORDER BY start, "end", figure_id', [doc_id])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
