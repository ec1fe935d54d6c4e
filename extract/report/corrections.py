"""The ``corrections`` table: reviewers' steps on figures, written to the store and applied on export.

The table only ever grows (see ``schemas.corrections``). ``apply_corrections`` replays it over the
raw figures: the result is what the report shows, what ``figures_corrected`` holds and what
``export-gold`` writes. The raw ``figures`` table is never changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from extract.store import FIGURES, Store, TableSpec, quote
from schemas.corrections import CORRECTABLE, CORRECTION_COLUMNS, Correction, FigureValues
from schemas.figures import FIGURE_COLUMNS

log = logging.getLogger(__name__)

CORRECTIONS = TableSpec(
    "corrections",
    tuple(
        (c, {"seq": "BIGINT", "created": "TIMESTAMP", "start": "BIGINT", "end": "BIGINT"}.get(c, "VARCHAR"))
        for c in CORRECTION_COLUMNS
    ),
    ("seq",),
)
# Columns the corrected figures table adds to the figures table.
REVIEW_COLUMNS = ("review", "reviewer", "reviewed_at")
CORRECTED_COLUMNS = (*FIGURE_COLUMNS, "sha256", *REVIEW_COLUMNS)
CORRECTED_NAME = "figures_corrected"


def figure_id(doc_id: str, start: int, end: int, metric: str) -> str:
    """The id of an added figure, made as the extractor makes its ids (doc, span, metric).

    >>> figure_id("seed#1", 10, 13, "cb.wage_contracts")
    '974e9c8f229e8e39'
    """
    return hashlib.sha1(f"{doc_id}|{start}|{end}|{metric}".encode()).hexdigest()[:16]


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = ?", [name]
    ).fetchall()
    return bool(rows[0][0])


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(CORRECTIONS.ddl())


def new_correction(**fields: Any) -> Correction:
    """A correction stamped now with a fresh id (``seq`` is assigned when it is written)."""
    return Correction(
        correction_id=uuid.uuid4().hex,
        created=dt.datetime.now().replace(microsecond=0),
        **fields,
    )


def write_corrections(store: Store, items: Sequence[Correction]) -> list[Correction]:
    """Append ``items`` to the corrections table in one transaction; returns them with ``seq`` set."""
    con = store.con
    ensure_table(con)
    con.execute("BEGIN")
    try:
        first = int(con.execute("SELECT coalesce(max(seq), 0) + 1 FROM corrections").fetchall()[0][0])
        stored = [c.model_copy(update={"seq": first + i}) for i, c in enumerate(items)]
        cols = ", ".join(quote(c) for c in CORRECTIONS.names)
        marks = ", ".join("?" for _ in CORRECTIONS.names)
        for c in stored:
            row = c.row()
            con.execute(f"INSERT INTO corrections ({cols}) VALUES ({marks})", [row[k] for k in CORRECTIONS.names])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    log.info("stored %d corrections", len(stored))
    return stored


def read_corrections(
    con: duckdb.DuckDBPyConnection, *, sha256: str | None = None, doc_id: str | None = None
) -> list[Correction]:
    """Every correction (or those of one document), in the order they were made."""
    if not has_table(con, "corrections"):
        return []
    where, params = [], []
    if sha256 is not None:
        where.append("sha256 = ?")
        params.append(sha256)
    if doc_id is not None:
        where.append("doc_id = ?")
        params.append(doc_id)
    sql = f"SELECT {CORRECTIONS.select_list()} FROM corrections"
    if where:
        sql += " WHERE " + " AND ".join(where)
    cur = con.execute(sql + " ORDER BY seq", params)
    names = [d[0] for d in cur.description]
    return [Correction.from_row(dict(zip(names, r, strict=True))) for r in cur.fetchall()]


def values_of(row: Mapping[str, Any]) -> FigureValues:
    """The correctable fields of a figure row, as the model holds them."""
    data = {}
    for key in CORRECTABLE:
        v = row.get(key)
        if isinstance(v, float) and v != v:  # NaN from pandas
            v = None
        if key == "approx":
            v = bool(v) if v is not None else False
        data[key] = v
    return FigureValues.model_validate(data)


@dataclass
class Applied:
    """Figure rows with corrections replayed: ``rows`` keeps rejected ones (``review == 'reject'``);
    ``orphans`` are corrections whose figure is no longer in the store."""

    rows: list[dict[str, Any]]
    orphans: list[Correction] = field(default_factory=list)

    def kept(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r.get("review") != "reject"]


def apply_corrections(figures: Iterable[Mapping[str, Any]], corrections: Sequence[Correction]) -> Applied:
    """Replay ``corrections`` (in ``seq`` order) over figure rows (dicts with the figures columns).

    Each output row gains ``review`` (the last action, or None), ``reviewer``, ``reviewed_at`` and
    ``raw`` (the correctable fields as extracted; None for an added figure). A correction finds its
    figure by id, else (after a re-extraction changed the id) by the same document and span.
    """
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    by_span: dict[tuple[str, str, int, int], list[tuple[str, str, str]]] = {}
    for f in figures:
        row = {**f, "review": None, "reviewer": None, "reviewed_at": None}
        row["raw"] = values_of(row).given()
        key = (str(row.get("sha256")), str(row["doc_id"]), str(row["figure_id"]))
        rows[key] = row
        by_span.setdefault((key[0], key[1], int(row["start"]), int(row["end"])), []).append(key)
    orphans: list[Correction] = []
    for c in sorted(corrections, key=lambda c: c.seq):
        key = (c.sha256, c.doc_id, c.figure_id)
        row = rows.get(key)
        if row is None and c.action != "add":
            same = by_span.get((c.sha256, c.doc_id, c.start, c.end), [])
            if len(same) > 1 and c.old is not None and c.old.metric:
                same = [k for k in same if rows[k].get("metric") == c.old.metric] or same
            row = rows[same[0]] if same else None
        if row is None and c.action == "add":
            row = _added_row(c)
            rows[key] = row
            by_span.setdefault((c.sha256, c.doc_id, c.start, c.end), []).append(key)
        elif row is None:
            orphans.append(c)
            continue
        if c.action in ("correct", "add") and c.new is not None:
            for k, v in c.new.given().items():
                row[k] = v
        row["review"] = "add" if row.get("raw") is None and c.action != "reject" else c.action
        row["reviewer"] = c.reviewer
        row["reviewed_at"] = c.created.isoformat(sep=" ")
    if orphans:
        log.warning("%d corrections name figures no longer in the store", len(orphans))
    return Applied(list(rows.values()), orphans)


def _added_row(c: Correction) -> dict[str, Any]:
    row: dict[str, Any] = {k: None for k in FIGURE_COLUMNS}
    row.update(
        figure_id=c.figure_id,
        doc_id=c.doc_id,
        sha256=c.sha256,
        start=c.start,
        end=c.end,
        surface=c.surface,
        unit="",
        unit_class="",
        approx=False,
        sentence="",
        extractor=f"review:{c.reviewer}",
        confidence=1.0,
        flags="",
        raw=None,
    )
    return row


def figure_rows(con: duckdb.DuckDBPyConnection, *, sha256: str | None = None, doc_id: str | None = None) -> list:
    """Raw figure rows (dicts) of the store, or of one document, in text order."""
    where, params = [], []
    if sha256 is not None:
        where.append("sha256 = ?")
        params.append(sha256)
    if doc_id is not None:
        where.append("doc_id = ?")
        params.append(doc_id)
    sql = f"SELECT {FIGURES.select_list()} FROM figures"
    if where:
        sql += " WHERE " + " AND ".join(where)
    cur = con.execute(sql + ' ORDER BY sha256, doc_id, start, "end", figure_id', params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def corrected_frame(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, Applied]:
    """The whole figures table with corrections applied, rejected figures left out."""
    applied = apply_corrections(figure_rows(con), read_corrections(con))
    kept = sorted(applied.kept(), key=lambda r: (str(r["doc_id"]), int(r["start"]), int(r["end"]), r["figure_id"]))
    frame = pd.DataFrame([{c: r.get(c) for c in CORRECTED_COLUMNS} for r in kept], columns=list(CORRECTED_COLUMNS))
    return frame, applied


def export_corrected(store: Store, directory: Path | None = None) -> list[Path]:
    """``figures_corrected.csv`` and ``.parquet`` beside ``figures.csv`` (which stays as extracted)."""
    from extract.tables import write_table

    directory = Path(directory or store.directory)
    frame, _ = corrected_frame(store.con)
    for col in ("value", "value_max", "confidence"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    for col in ("start", "end"):
        frame[col] = frame[col].astype("int64")
    frame["approx"] = frame["approx"].fillna(False).astype(bool)
    write_table(frame, directory, CORRECTED_NAME)
    return [directory / f"{CORRECTED_NAME}.csv", directory / f"{CORRECTED_NAME}.parquet"]
