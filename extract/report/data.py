"""What the report reads from the store: documents, their original text, figures (as corrected),
findings, and the metric names. Reading streams document by document, so memory stays flat."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb

from extract.audit.report import finding_dict
from extract.report.corrections import FIGURES, apply_corrections, has_table, read_corrections
from extract.resources import rules_path
from extract.rules import read_yaml
from schemas.corrections import Correction
from schemas.rules import Taxonomy

log = logging.getLogger(__name__)

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
STREAM_BATCH = 10_000  # figure rows fetched at a time while pages are built


def page_name(doc_id: str, sha256: str | None) -> str:
    """The file name of a document's page: ASCII, unique per (file content, document id).

    >>> page_name("seed-town-union-summaries#3", "ab" * 32)
    'seed-town-union-summaries-3-6cf8ea98.html'
    >>> page_name("青石镇2017", None)
    'doc-2017-4be6da56.html'
    """
    slug = _SAFE.sub("-", doc_id).strip("-.")[:60] or "doc"
    if not slug[0].isalpha():
        slug = "doc-" + slug
    digest = hashlib.sha1(f"{sha256}|{doc_id}".encode()).hexdigest()[:8]
    return f"{slug}-{digest}.html"


@dataclass(frozen=True)
class MetricInfo:
    """The taxonomy, as the report shows it: each metric's Chinese meaning and family."""

    names: dict[str, str]
    families: dict[str, str]

    def family(self, metric: str | None) -> str:
        if not metric:
            return "other"
        return self.families.get(metric) or metric.split(".", 1)[0]

    def family_list(self) -> list[str]:
        return sorted(set(self.families.values()), key=lambda f: (f == "other", f))


@lru_cache(maxsize=1)
def metric_info() -> MetricInfo:
    taxonomy = Taxonomy.model_validate(read_yaml(rules_path("taxonomy.yaml")))
    return MetricInfo(
        names={k: m.zh for k, m in taxonomy.metrics.items()},
        families={k: m.family for k, m in taxonomy.metrics.items()},
    )


def clean(value: Any) -> Any:
    """A value from DuckDB/pandas made JSON-ready: NaN → None, dates → ISO text, whole floats → int."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


@dataclass
class DocBundle:
    """One document with everything its page shows."""

    meta: dict[str, Any]
    text: str | None  # the part's text: the file's original text [start:end]
    figures: list[dict[str, Any]]  # corrected, rejected included (``review == 'reject'``)
    findings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return (str(self.meta.get("sha256")), str(self.meta["doc_id"]))

    @property
    def page(self) -> str:
        return page_name(str(self.meta["doc_id"]), self.meta.get("sha256"))


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def documents(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every document row, JSON-ready, in a stable order."""
    rows = _rows(con.execute("SELECT * FROM documents ORDER BY sha256, doc_id"))
    return [{k: clean(v) for k, v in r.items()} for r in rows]


def findings(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every finding (lists for its figure columns), or none before the audit has run."""
    if not has_table(con, "findings"):
        return []
    return [{k: clean(v) for k, v in finding_dict(r).items()} for r in _rows(con.execute("SELECT * FROM findings"))]


class TextSource:
    """Original texts by sha256: from the store's ``texts`` table, else (a store made before it
    existed) by reading the document's file again if its content is unchanged."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.table = has_table(con, "texts")
        self._last: tuple[str, str | None] | None = None

    def get(self, sha256: str, source_path: str | None) -> str | None:
        if self._last is not None and self._last[0] == sha256:
            return self._last[1]
        text = None
        if self.table:
            rows = self.con.execute("SELECT text FROM texts WHERE sha256 = ?", [sha256]).fetchall()
            text = rows[0][0] if rows else None
        if text is None and source_path:
            text = _reread(source_path, sha256)
        self._last = (sha256, text)
        return text


def _reread(source_path: str, sha256: str) -> str | None:
    from extract.ingest import IngestError, Limits, read_bytes

    path = Path(source_path.split("!/", 1)[0])
    try:
        data = path.read_bytes()
        raws, _ = read_bytes(data, path.suffix, source_path.split("!/", 1)[0], Limits())
    except (OSError, IngestError, ValueError) as exc:
        log.warning("no stored text for %s and cannot read it again: %s", source_path, exc)
        return None
    for raw in raws:
        if raw.sha256 == sha256:
            return raw.text
    log.warning("no stored text for %s, and the file has changed since it was extracted", source_path)
    return None


def _figure_stream(
    con: duckdb.DuckDBPyConnection, where: str = "", params: list[Any] | None = None
) -> Iterator[tuple[tuple[str, str], list[dict[str, Any]]]]:
    # its own cursor: the texts and corrections read meanwhile on ``con`` must not end this result
    cur = con.cursor()
    cur.execute(
        f'SELECT {FIGURES.select_list()} FROM figures {where} ORDER BY sha256, doc_id, start, "end", figure_id',
        params or [],
    )
    names = [d[0] for d in cur.description]
    key: tuple[str, str] | None = None
    group: list[dict[str, Any]] = []
    while batch := cur.fetchmany(STREAM_BATCH):
        for r in batch:
            row = dict(zip(names, r, strict=True))
            k = (str(row["sha256"]), str(row["doc_id"]))
            if k != key:
                if key is not None:
                    yield key, group
                key, group = k, []
            group.append(row)
    if key is not None:
        yield key, group
    cur.close()


class FindingIndex:
    """Findings by the documents they concern (their own and those of every figure they name)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.by_doc: dict[str, list[dict[str, Any]]] = {}
        for f in rows:
            for doc in dict.fromkeys([f["doc_id"], *f.get("figure_docs", [])]):
                self.by_doc.setdefault(str(doc), []).append(f)

    def of(self, doc_id: str) -> list[dict[str, Any]]:
        return self.by_doc.get(doc_id, [])


def _corrections_by_doc(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], list[Correction]]:
    out: dict[tuple[str, str], list[Correction]] = {}
    for c in read_corrections(con):
        out.setdefault((c.sha256, c.doc_id), []).append(c)
    return out


def iter_bundles(con: duckdb.DuckDBPyConnection, docs: list[dict[str, Any]]) -> Iterator[DocBundle]:
    """Every document of ``docs`` (in sha256, doc_id order) with its text, figures and findings."""
    index = FindingIndex(findings(con))
    corrections = _corrections_by_doc(con)
    texts = TextSource(con)
    stream = _figure_stream(con)
    pending = next(stream, None)
    for meta in docs:
        key = (str(meta.get("sha256")), str(meta["doc_id"]))
        rows: list[dict[str, Any]] = []
        while pending is not None and pending[0] < key:
            pending = next(stream, None)  # figures of a document no longer listed
        if pending is not None and pending[0] == key:
            rows = pending[1]
            pending = next(stream, None)
        yield _bundle(meta, rows, corrections.get(key, []), texts, index)


def bundle(con: duckdb.DuckDBPyConnection, sha256: str, doc_id: str) -> DocBundle | None:
    """One document, read afresh (the review server re-renders a page after each correction)."""
    metas = _rows(con.execute("SELECT * FROM documents WHERE sha256 = ? AND doc_id = ?", [sha256, doc_id]))
    if not metas:
        return None
    meta = {k: clean(v) for k, v in metas[0].items()}
    rows = next((g for _, g in _figure_stream(con, "WHERE sha256 = ? AND doc_id = ?", [sha256, doc_id])), [])
    corrections = read_corrections(con, sha256=sha256, doc_id=doc_id)
    related = [f for f in findings(con) if f["doc_id"] == doc_id or doc_id in f.get("figure_docs", [])]
    return _bundle(meta, rows, corrections, TextSource(con), FindingIndex(related))


def _bundle(
    meta: dict[str, Any],
    rows: list[dict[str, Any]],
    corrections: list[Correction],
    texts: TextSource,
    index: FindingIndex,
) -> DocBundle:
    full = texts.get(str(meta.get("sha256")), meta.get("source_path"))
    text = None if full is None else full[int(meta["start"]) : int(meta["end"])]
    applied = apply_corrections(rows, corrections)
    figures = []
    for row in applied.rows:
        fig = {k: clean(v) for k, v in row.items()}
        start, end = int(row["start"]), int(row["end"])
        fig["span_ok"] = full is not None and full[start:end] == row["surface"]
        figures.append(fig)
    figures.sort(key=lambda f: (f["start"], f["end"], f["figure_id"]))
    return DocBundle(meta, text, figures, index.of(str(meta["doc_id"])))
