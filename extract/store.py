"""The DuckDB store: every table of an archive in ``DIR/zongjie.duckdb``, kept incrementally.

The unit of work is an *input* (a file as found on disk; a zip is one input). Its content is
keyed by sha256, so the store can tell, before reading anything, whether a file is unchanged
(skip), a byte-identical copy of one already stored (record the link, extract nothing), new, or
changed (replace its old rows). Documents are keyed by ``(sha256, doc_id)``; ``document_inputs``
says which inputs hold each document, so a document stays while any input still refers to it.

Every batch of inputs is written in one transaction: a run killed at any moment leaves the
previous committed state, and the next run, finding those inputs unknown, does them again.
Exports (CSV with BOM, Parquet, xlsx) always cover the whole store and are written to a temp
name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import types
import typing
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.csv as pa_csv

from extract.doc_ids import doc_order_sql
from extract.tables import DOCUMENT_COLUMNS, ERROR_COLUMNS, REJECTED_COLUMNS
from schemas.documents import DocumentMeta, ErrorRow
from schemas.figures import FIGURE_COLUMNS, Figure, Rejected

log = logging.getLogger(__name__)

DB_NAME = "zongjie.duckdb"
EXCEL_MAX_ROWS = 1_048_576  # rows per sheet, header included
EXCEL_MAX_CELL = 32_767  # characters per cell
ExportFormat = Literal["csv", "parquet", "xlsx"]
# Figures per group of :meth:`Store.organisation_groups` (a document counts as one more): what a
# whole-store pass such as the audit holds in memory at once.
GROUP_FIGURES = 50_000
# Where tables written piece by piece wait (``staged=True``) until :meth:`Store.publish_staged` puts
# them in place at once: a schema of their own, which no reader of the store lists.
STAGING_SCHEMA = "staging"

_ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
}
_PY_TYPES: dict[type, str] = {
    bool: "BOOLEAN",
    int: "BIGINT",
    float: "DOUBLE",
    Decimal: "DOUBLE",
    dt.date: "DATE",
    str: "VARCHAR",
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _bytes(size: str) -> int:
    """A DuckDB size setting in bytes.

    >>> _bytes("64MB"), _bytes("1.5GB"), _bytes("512KiB")
    (67108864, 1610612736, 524288)
    """
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)i?B?\s*", size, re.IGNORECASE)
    if not match:
        raise ValueError(f"not a size: {size!r}")
    return int(float(match.group(1)) * 1024 ** " KMGT".index(match.group(2).upper() or " "))


class StoreError(Exception):
    """The store cannot be opened or written."""


class StoreBusy(StoreError):
    """Another process has the database open for writing."""


def sql_type(annotation: Any) -> str:
    """The DuckDB column type for a pydantic field annotation (optional → its inner type).

    >>> sql_type(int | None), sql_type(Literal["a", "b"]), sql_type(tuple[str, ...]), sql_type(dt.date)
    ('BIGINT', 'VARCHAR', 'VARCHAR', 'DATE')
    """
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return sql_type(inner[0]) if len(inner) == 1 else "VARCHAR"
    if origin is Literal or origin is not None:
        return "VARCHAR"
    return _PY_TYPES.get(annotation, "VARCHAR")


def quote(name: str) -> str:
    """A column or table name as a SQL identifier (``end`` is a keyword)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class TableSpec:
    """One table of the store: its columns in order, their types, and the export order."""

    name: str
    columns: tuple[tuple[str, str], ...]
    order_by: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        return [c for c, _ in self.columns]

    def ddl(self) -> str:
        cols = ", ".join(f"{quote(c)} {t}" for c, t in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.name} ({cols})"

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([(c, _ARROW_TYPES[t]) for c, t in self.columns])

    def select_list(self, alias: str = "") -> str:
        prefix = f"{alias}." if alias else ""
        return ", ".join(prefix + quote(c) for c in self.names)


def _model_columns(
    model: type, names: Sequence[str], override: Mapping[str, str] | None = None
) -> tuple[tuple[str, str], ...]:
    fields = model.model_fields  # type: ignore[attr-defined]
    override = override or {}
    return tuple((n, override.get(n) or (sql_type(fields[n].annotation) if n in fields else "VARCHAR")) for n in names)


# The columns follow the models, so a field the lead adds to DocumentMeta or Figure reaches the
# store (and is added to an existing database) without touching this file.
DOCUMENTS = TableSpec("documents", _model_columns(DocumentMeta, DOCUMENT_COLUMNS), ("source_path", "doc_id"))
FIGURES = TableSpec(
    "figures",
    # Figure.row() gives floats for the Decimals and flags joined with ';'
    (
        *_model_columns(Figure, FIGURE_COLUMNS, {"value": "DOUBLE", "value_max": "DOUBLE", "flags": "VARCHAR"}),
        ("sha256", "VARCHAR"),
    ),
    ("doc_id", "start", "end", "figure_id", "sha256"),
)
REJECTED = TableSpec(
    "rejected",
    (*_model_columns(Rejected, REJECTED_COLUMNS, {"candidate": "VARCHAR"}), ("sha256", "VARCHAR")),
    ("doc_id", "start", "end", "surface", "errors", "sha256"),
)
ERRORS = TableSpec(
    "errors",
    (*_model_columns(ErrorRow, ERROR_COLUMNS), ("input_path", "VARCHAR")),
    ("input_path", "path", "stage", "reason"),
)
DOCUMENT_INPUTS = TableSpec(
    "document_inputs",
    # member_path: where in the input the document's text is (``a.zip!/b/c.txt``; the input itself
    # for a plain file); a copy's row names its own place and the original's doc_id
    (("sha256", "VARCHAR"), ("doc_id", "VARCHAR"), ("input_path", "VARCHAR"), ("member_path", "VARCHAR")),
    ("input_path", "member_path", "doc_id", "sha256"),
)
INPUTS = TableSpec(
    "inputs",
    (
        ("source_path", "VARCHAR"),
        ("sha256", "VARCHAR"),
        ("bytes", "BIGINT"),
        ("status", "VARCHAR"),
        ("duplicate_of", "VARCHAR"),
        ("documents", "BIGINT"),
        ("figures", "BIGINT"),
        ("errors", "BIGINT"),
        ("chars", "BIGINT"),
        ("seconds", "DOUBLE"),
        ("run_id", "BIGINT"),
        ("doc_key", "VARCHAR"),  # the id its documents got (extract.doc_ids), kept on reruns
        ("root", "VARCHAR"),  # the folder it was found under (or, given itself, its folder)
    ),
    ("source_path",),
)
RUNS = TableSpec(
    "runs",
    (
        ("run_id", "BIGINT"),
        ("started", "TIMESTAMP"),
        ("finished", "TIMESTAMP"),
        ("status", "VARCHAR"),
        ("engine", "VARCHAR"),
        ("workers", "BIGINT"),
        ("inputs", "VARCHAR"),
        ("files", "BIGINT"),
        ("skipped", "BIGINT"),
        ("processed", "BIGINT"),
        ("documents", "BIGINT"),
        ("figures", "BIGINT"),
        ("rejected", "BIGINT"),
        ("errors", "BIGINT"),
        ("chars", "BIGINT"),
        ("seconds", "DOUBLE"),
        ("audit", "VARCHAR"),
        ("not_read", "BIGINT"),
        ("pipeline", "VARCHAR"),  # extract.fingerprint: what made the rows of this run
    ),
    ("run_id",),
)
# The original text of each input as read (figures' start/end point into it), for the report and
# review pages; one row per sha256, kept while a document refers to it, and never exported.
TEXTS = TableSpec("texts", (("sha256", "VARCHAR"), ("text", "VARCHAR")), ("sha256",))
# What the store is: its layout version (see SCHEMA_VERSION), never exported.
STORE_META = TableSpec("store_meta", (("key", "VARCHAR"), ("value", "VARCHAR")), ("key",))
CORE_TABLES: dict[str, TableSpec] = {
    t.name: t for t in (DOCUMENTS, FIGURES, REJECTED, ERRORS, DOCUMENT_INPUTS, INPUTS, RUNS, TEXTS, STORE_META)
}
# 2: document ids from paths under the root (extract.doc_ids); 1 (no version): file stems, so
# same-named files of two folders shared ids. A store of another version is rebuilt by a run.
SCHEMA_VERSION = "2"
# What a worker sends back per chunk: these tables, each with an extra ``input_path`` column
# (documents, figures, rejected) naming the input the rows came from.
RESULT_TABLES = ("documents", "figures", "rejected", "errors", "texts")
NOT_EXPORTED = frozenset({"texts", "store_meta"})
# Human review work (extract/report) that --rebuild must not throw away.
KEPT_ON_REBUILD = frozenset({"corrections"})


def result_schema(table: str) -> pa.Schema:
    """The Arrow schema of one result table as workers send it (store columns + ``input_path``)."""
    schema = CORE_TABLES[table].arrow_schema()
    return schema if "input_path" in schema.names else schema.append(pa.field("input_path", pa.string()))


def empty_results() -> dict[str, pa.Table]:
    return {t: result_schema(t).empty_table() for t in RESULT_TABLES}


@dataclass(frozen=True)
class Decision:
    """What to do with one input, decided from its sha256 before reading it.

    ``errors``: for a skipped input, the rows it has in ``errors`` from the run that read it.
    """

    action: Literal["skip", "duplicate", "process"]
    duplicate_of: str | None = None
    errors: int = 0


class Store:
    """``DIR/zongjie.duckdb``; one writer process at a time (DuckDB locks the file).

    Use as a context manager. ``memory_limit`` caps DuckDB's buffer pool while a run's workers are
    alive, so a large archive keeps the process tree small; DuckDB spills to a temp folder beside
    the database beyond it. The whole-store passes after the workers have gone (sorting for the
    exports, the audit's reads) get ``roomy_memory_limit`` (see :meth:`roomy`).
    """

    def __init__(
        self,
        directory: Path | str,
        *,
        memory_limit: str = "64MB",
        roomy_memory_limit: str = "384MB",
        threads: int = 1,
        read_only: bool = False,
    ) -> None:
        self.memory_limit = memory_limit
        self.roomy_memory_limit = roomy_memory_limit
        self.directory = Path(directory)
        self._in_transaction = False
        self.path = self.directory / DB_NAME
        if read_only and not self.path.exists():
            raise StoreError(f"no store at {self.path}; run `zongjie extract ... --out {self.directory}` first")
        self.directory.mkdir(parents=True, exist_ok=True)
        import duckdb  # here, not at the top: workers use this module's schemas and need no DuckDB

        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreBusy(f"{self.path} is in use by another process: {exc}") from exc
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        self.con.execute(f"SET memory_limit = '{memory_limit}'")
        # the store's share of a run is small; more DuckDB threads would only take cores from the workers
        self.threads = threads
        self.con.execute(f"SET threads = {threads}")
        self.con.execute("SET enable_progress_bar = false")  # our own progress goes to the terminal
        # exports sort explicitly, so DuckDB need not buffer rows to keep their insertion order
        self.con.execute("SET preserve_insertion_order = false")
        if not read_only:
            self._ensure_schema()
            if self.schema_version() is None and not self.count("documents"):
                self._set_version()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    # -- schema --------------------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        for spec in CORE_TABLES.values():
            self.con.execute(spec.ddl())
            have = {
                r[0]
                for r in self.con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = ?",
                    [spec.name],
                ).fetchall()
            }
            for col, typ in spec.columns:
                if col not in have:
                    # a column added to a model since this store was made; old rows get NULL
                    log.info("adding column %s.%s to the store", spec.name, col)
                    self.con.execute(f"ALTER TABLE {spec.name} ADD COLUMN {quote(col)} {typ}")

    def tables(self) -> list[str]:
        """Every table in the store: the core ones in a fixed order, then any others (audit)."""
        names = [
            r[0]
            for r in self.con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY table_name"
            ).fetchall()
        ]
        core = [n for n in CORE_TABLES if n in names]
        return core + [n for n in names if n not in CORE_TABLES]

    def rebuild(self) -> None:
        """Drop every table (core and audit; not review corrections) and start with an empty store."""
        self.con.execute("BEGIN")
        try:
            for name in self.tables():
                if name not in KEPT_ON_REBUILD:
                    self.con.execute(f"DROP TABLE {quote(name)}")
            self.drop_staged()
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self._ensure_schema()
        self._set_version()

    def schema_version(self) -> str | None:
        """The layout version the store was made with; None for a store older than versions."""
        rows = self.con.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchall()
        return str(rows[0][0]) if rows else None

    def _set_version(self) -> None:
        self.con.execute("DELETE FROM store_meta WHERE key = 'schema_version'")
        self.con.execute("INSERT INTO store_meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])

    # -- runs ----------------------------------------------------------------------------------

    def last_pipeline(self) -> str | None:
        """The pipeline fingerprint of the latest run, finished or not; None for a new store."""
        value = self.scalar("SELECT pipeline FROM runs ORDER BY run_id DESC LIMIT 1")
        return None if value is None else str(value)

    def begin_run(self, engine: str, workers: int, inputs: Sequence[str], pipeline: str | None = None) -> int:
        # DuckDB lets one process write at a time, so a run still marked running was killed
        self.con.execute("UPDATE runs SET status = 'aborted' WHERE status = 'running'")
        run_id = self.scalar("SELECT coalesce(max(run_id), 0) + 1 FROM runs")
        self.con.execute(
            "INSERT INTO runs (run_id, started, status, engine, workers, inputs, pipeline)"
            " VALUES (?, ?, 'running', ?, ?, ?, ?)",
            [run_id, _now(), engine, workers, json.dumps(list(inputs), ensure_ascii=False), pipeline],
        )
        return int(run_id)

    def finish_run(self, run_id: int, status: str, counts: Mapping[str, Any], audit: str | None = None) -> None:
        cols = [c for c in RUNS.names if c in counts]
        sets = "".join(f", {quote(c)} = ?" for c in cols)
        self.con.execute(
            f"UPDATE runs SET finished = ?, status = ?, audit = ?{sets} WHERE run_id = ?",
            [_now(), status, audit, *(counts[c] for c in cols), run_id],
        )

    # -- incremental keys ----------------------------------------------------------------------

    def decide(self, items: Sequence[tuple[str, str]]) -> list[Decision]:
        """For each ``(source_path, sha256)``: skip it, link it as a copy, or process it."""
        if not items:
            return []
        # Only stored inputs with one of these contents matter. One filtered scan fetches them;
        # correlated subqueries per item cost 190 ms per 256 items at 200,000 stored inputs
        # (16 ms this way), which made a run's time grow with the square of the archive.
        shas = sorted({sha for _, sha in items})
        stored: dict[str, list[tuple[str, str, int | None]]] = {}
        for path, sha, status, errors in self.con.execute(
            "SELECT source_path, sha256, status, errors FROM inputs WHERE sha256 IN (SELECT unnest(?::VARCHAR[]))",
            [shas],
        ).fetchall():
            stored.setdefault(sha, []).append((path, status, errors))
        out = []
        for source_path, sha in items:
            same = stored.get(sha, [])
            mine = [errors or 0 for path, _, errors in same if path == source_path]
            owners = [path for path, status, _ in same if status == "ok" and path != source_path]
            if mine:
                out.append(Decision("skip", errors=int(max(mine))))
            elif owners:
                out.append(Decision("duplicate", min(owners)))
            else:
                out.append(Decision("process"))
        return out

    def input_keys(self, paths: Sequence[str]) -> dict[str, str]:
        """The document key each of ``paths`` got when it was stored (those stored with one)."""
        if not paths:
            return {}
        rows = self.con.execute(
            "SELECT source_path, doc_key FROM inputs WHERE doc_key IS NOT NULL "
            "AND source_path IN (SELECT unnest(?::VARCHAR[]))",
            [list(paths)],
        ).fetchall()
        return {str(p): str(k) for p, k in rows}

    def key_roots(self, keys: Sequence[str]) -> dict[str, str]:
        """For those of ``keys`` a stored input holds, the root of that input."""
        if not keys:
            return {}
        rows = self.con.execute(
            "SELECT doc_key, any_value(coalesce(root, '')) FROM inputs "
            "WHERE doc_key IN (SELECT unnest(?::VARCHAR[])) GROUP BY doc_key",
            [list(keys)],
        ).fetchall()
        return {str(k): str(r) for k, r in rows}

    # -- writing -------------------------------------------------------------------------------

    def commit(self, inputs: Sequence[Mapping[str, Any]], results: Mapping[str, pa.Table]) -> list[str]:
        """Write a batch of inputs and the rows they gave, all in one transaction.

        ``inputs`` are rows of the ``inputs`` table (``status`` ``ok``, ``error`` or
        ``duplicate``); ``results`` are the :data:`RESULT_TABLES` with ``input_path``. Anything
        stored before for these inputs is replaced. Returns the source paths of copies that
        could not be linked (their original was replaced meanwhile): they are left unrecorded,
        so the next run reads them.
        """
        if not inputs:
            return []
        con = self.con
        results = {**empty_results(), **results}
        paths = pa.table({"source_path": [row["source_path"] for row in inputs]})
        registered = {"_paths": paths, **{f"_b_{name}": table for name, table in results.items()}}
        for name, table in registered.items():
            con.register(name, table)
        try:
            with self._memory_for(sum(t.nbytes for t in results.values())):
                con.execute("BEGIN")
                try:
                    unlinked = self._commit(inputs)
                    con.execute("COMMIT")
                except BaseException:
                    self._rollback()  # never in place of the error that made it needed
                    raise
        finally:
            for name in registered:
                con.unregister(name)
            for name in ("_old_keys", "_gone", "_docs"):
                con.execute(f"DROP TABLE IF EXISTS temp.{name}")
        return unlinked

    def _rollback(self) -> None:
        """Roll back the open transaction; a failure of the rollback itself (DuckDB may have ended
        the transaction already) is logged, so the error that made it needed is the one raised."""
        try:
            self.con.execute("ROLLBACK")
        except Exception as exc:
            log.debug("rollback after a failed commit: %s", exc)

    @contextlib.contextmanager
    def _memory_for(self, nbytes: int) -> Iterator[None]:
        """A memory limit that fits a batch of ``nbytes`` of Arrow tables, while it is committed.

        The run's limit is small (the workers need the memory), and DuckDB cannot spill every
        buffer of an insert: a batch of one document with 2,000 long-sentence figures failed to
        pin a block at 61 MB. The limit grows to three times the batch for the commit only.
        """
        need = 3 * nbytes
        if need <= _bytes(self.memory_limit):
            yield
            return
        self.con.execute(f"SET memory_limit = '{need // 2**20 + 1}MB'")
        try:
            yield
        finally:
            self.con.execute(f"SET memory_limit = '{self.memory_limit}'")

    def _commit(self, inputs: Sequence[Mapping[str, Any]]) -> list[str]:
        con = self.con
        in_paths = "(SELECT source_path FROM _paths)"
        # 1. forget what these inputs gave before; documents nobody refers to any more go (skipped
        #    when none was stored before, as in a first run: these scans grow with the store)
        if self.scalar(f"SELECT count(*) FROM inputs WHERE source_path IN {in_paths}"):
            self._forget(in_paths)

        # 2. an input whose exact bytes are already stored (committed earlier, or earlier in this
        #    batch) is a copy: link it to those documents instead of storing them twice
        rows = [dict(r) for r in inputs]
        shas = sorted({r["sha256"] for r in rows if r.get("sha256") and r["status"] == "ok"})
        stored = (
            {
                r[0]
                for r in con.execute(
                    "SELECT DISTINCT sha256 FROM inputs WHERE status = 'ok' "
                    "AND sha256 IN (SELECT unnest(?::VARCHAR[]))",
                    [shas],
                ).fetchall()
            }
            if shas
            else set()
        )
        firsts: dict[str, str] = {}
        copies: set[str] = set()
        for row in sorted(rows, key=lambda r: r["source_path"]):
            sha = row.get("sha256")
            if row["status"] != "ok" or not sha:
                continue
            if sha in stored or sha in firsts:
                row.update(
                    status="duplicate",
                    duplicate_of=row.get("duplicate_of") or firsts.get(sha),
                    documents=0,
                    figures=0,
                    errors=0,
                )
                copies.add(row["source_path"])
            else:
                firsts[sha] = row["source_path"]
        keep = "" if not copies else " AND input_path NOT IN (SELECT unnest(?::VARCHAR[]))"
        params = [sorted(copies)] if copies else []

        # 3. new documents: a text whose sha256 is already stored (under any id: a loose file and
        #    its copy inside a zip), or met twice in the batch, is stored once, from a loose file
        #    before an archive member, then the place that sorts first; the others link to it
        con.execute(
            f"""CREATE TEMP TABLE _docs AS SELECT * FROM _b_documents d
                        WHERE NOT EXISTS (SELECT 1 FROM documents x WHERE x.sha256 = d.sha256){keep}
                        QUALIFY source_path = first_value(source_path) OVER (
                            PARTITION BY sha256 ORDER BY contains(source_path, '!/'), source_path)""",
            params,
        )
        self._insert(DOCUMENTS, "_docs")
        con.execute("""INSERT INTO texts SELECT sha256, any_value(text) FROM _b_texts t
                       WHERE sha256 IN (SELECT sha256 FROM _docs)
                       AND NOT EXISTS (SELECT 1 FROM texts x WHERE x.sha256 = t.sha256) GROUP BY sha256""")
        for spec in (FIGURES, REJECTED):
            self._insert(
                spec,
                f"_b_{spec.name}",
                """EXISTS (SELECT 1 FROM _docs d WHERE d.sha256 = src.sha256
                         AND d.doc_id = src.doc_id AND d.input_path = src.input_path)""",
            )
        # every place a document was read links to the stored part with its text (same sha256, same part)
        con.execute(
            f"""INSERT INTO document_inputs SELECT DISTINCT b.sha256, k.doc_id, b.input_path, b.source_path
                        FROM _b_documents b JOIN documents k
                        ON k.sha256 = b.sha256 AND k.part IS NOT DISTINCT FROM b.part WHERE true{keep}""",
            params,
        )
        self._insert(ERRORS, "_b_errors", f"true{keep}", params)
        self._insert_inputs([r for r in rows if r["status"] != "duplicate"])

        # 4. copies: link to the documents of any stored input with the same bytes
        copies_rows = [r for r in rows if r["status"] == "duplicate"]
        return self._link_copies(copies_rows) if copies_rows else []

    def _link_copies(self, rows: Sequence[dict[str, Any]]) -> list[str]:
        """Link each copy to the documents of the stored input with its bytes, in two statements."""
        con = self.con
        con.register(
            "_copies",
            pa.table({"source_path": [r["source_path"] for r in rows], "sha256": [r["sha256"] for r in rows]}),
        )
        try:
            # a copy's member paths are the original's, under the copy's own path
            con.execute(
                """INSERT INTO document_inputs SELECT DISTINCT m.sha256, m.doc_id, c.source_path,
                          c.source_path || substr(coalesce(m.member_path, m.input_path), length(m.input_path) + 1)
                   FROM _copies c JOIN inputs i ON i.sha256 = c.sha256 AND i.status = 'ok'
                   JOIN document_inputs m ON m.input_path = i.source_path"""
            )
            owners = dict(
                con.execute(
                    """SELECT c.source_path, min(i.source_path) FROM _copies c
                       JOIN inputs i ON i.sha256 = c.sha256 AND i.status = 'ok' GROUP BY c.source_path"""
                ).fetchall()
            )
        finally:
            con.unregister("_copies")
        unlinked, linked = [], []
        for row in rows:
            owner = owners.get(row["source_path"])
            if owner is None:
                log.warning(
                    "%s: its original was replaced in this run; it will be read on the next run", row["source_path"]
                )
                unlinked.append(row["source_path"])
            else:
                row["duplicate_of"] = owner
                linked.append(row)
        self._insert_inputs(linked)
        return unlinked

    def _forget(self, in_paths: str) -> None:
        con = self.con
        con.execute(
            f"CREATE TEMP TABLE _old_keys AS SELECT DISTINCT sha256, doc_id FROM document_inputs "
            f"WHERE input_path IN {in_paths}"
        )
        con.execute(f"DELETE FROM document_inputs WHERE input_path IN {in_paths}")
        con.execute(f"DELETE FROM errors WHERE input_path IN {in_paths}")
        con.execute(f"DELETE FROM inputs WHERE source_path IN {in_paths}")
        con.execute("""CREATE TEMP TABLE _gone AS SELECT k.* FROM _old_keys k WHERE NOT EXISTS
                       (SELECT 1 FROM document_inputs m WHERE m.sha256 = k.sha256 AND m.doc_id = k.doc_id)""")
        if self.scalar("SELECT count(*) FROM _gone"):
            for table in ("figures", "rejected", "documents"):
                con.execute(f"""DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM _gone g
                                WHERE g.sha256 = {table}.sha256 AND g.doc_id = {table}.doc_id)""")
            con.execute("DELETE FROM texts WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.sha256 = texts.sha256)")

    def _insert(self, spec: TableSpec, source: str, where: str = "true", params: Sequence[Any] = ()) -> None:
        cols = spec.select_list()
        self.con.execute(
            f"INSERT INTO {spec.name} ({cols}) SELECT {spec.select_list('src')} FROM {source} src WHERE {where}",
            list(params),
        )

    def _insert_inputs(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        table = pa.Table.from_pylist([{c: r.get(c) for c in INPUTS.names} for r in rows], schema=INPUTS.arrow_schema())
        self.con.register("_b_inputs", table)
        try:
            self._insert(INPUTS, "_b_inputs")
        finally:
            self.con.unregister("_b_inputs")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction: committed on a clean exit, rolled back on any error. Inside another, joins it."""
        if self._in_transaction:
            yield
            return
        self.con.execute("BEGIN")
        self._in_transaction = True
        try:
            yield
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self._in_transaction = False

    def replace_table(self, name: str, frame: Any, *, staged: bool = False) -> None:
        """Replace (or create) a non-core table with ``frame`` (pandas or Arrow), atomically.

        ``staged``: the table of that name among the staged ones (see :meth:`publish_staged`).
        """
        table = self._non_core(name, "replace", staged)
        with self._registered("_frame", frame), self.transaction(), self._insertion_order():
            self.con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _frame")

    def append_table(self, name: str, frame: Any, *, staged: bool = False) -> None:
        """Append ``frame`` (pandas or Arrow) to a non-core table, creating it when absent; atomically.

        Columns are matched by name: one the table lacks is added, one the frame lacks is NULL in its
        rows, and one whose types differ takes the type both fit (a column of only NULLs so far, as
        DuckDB reads an all-None pandas column, takes the frame's). So a table appended piece by piece
        gets the columns one frame of all the pieces would give it. ``staged`` as for
        :meth:`replace_table`.
        """
        table = self._non_core(name, "append to", staged)
        with self._registered("_frame", frame), self.transaction(), self._insertion_order():
            have = self._column_types(name, staged)
            if not have:
                self.con.execute(f"CREATE TABLE {table} AS SELECT * FROM _frame")
                return
            for col, typ, *_ in self.con.execute("DESCRIBE SELECT * FROM _frame").fetchall():
                if col not in have:
                    self.con.execute(f"ALTER TABLE {table} ADD COLUMN {quote(col)} {typ}")
                    continue
                wide = self.con.execute(
                    f"DESCRIBE SELECT {quote(col)} FROM {table} UNION ALL SELECT {quote(col)} FROM _frame"
                ).fetchall()[0][1]
                if wide != have[col]:
                    self.con.execute(f"ALTER TABLE {table} ALTER COLUMN {quote(col)} TYPE {wide}")
            self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _frame")

    def publish_staged(self, order_by: str | None = None) -> list[str]:
        """Put every staged table in place of the store's table of its name, all in one transaction.

        With ``order_by``, a table that has that column is written in its order, rows of one value
        in the order they were staged (a stable sort; NULLs last). Returns the tables' names. Staged
        tables are committed piece by piece, so DuckDB holds no long transaction's rows in memory;
        until this call the store's own tables are untouched.
        """
        names = self._staged()
        with self.transaction(), self._insertion_order():
            for name in names:
                table = f"{quote(STAGING_SCHEMA)}.{quote(name)}"
                order = ""
                if order_by in self._column_types(name, True):
                    key = doc_order_sql(quote(order_by)) if order_by == "doc_id" else quote(order_by)
                    order = f" ORDER BY {key}, rowid"
                self.con.execute(f"CREATE OR REPLACE TABLE {quote(name)} AS SELECT * FROM {table}{order}")
            self.drop_staged()
        return names

    def drop_staged(self) -> None:
        """Forget the staged tables (a failed pass's, or those a killed process left)."""
        self.con.execute(f"DROP SCHEMA IF EXISTS {STAGING_SCHEMA} CASCADE")

    def _staged(self) -> list[str]:
        rows = self.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = ? ORDER BY table_name",
            [STAGING_SCHEMA],
        ).fetchall()
        return [r[0] for r in rows]

    def _non_core(self, name: str, action: str, staged: bool) -> str:
        """The SQL name of a non-core table (created schema and all when staged); refuses a core one."""
        if not _IDENTIFIER.match(name) or name in CORE_TABLES:
            raise StoreError(f"cannot {action} table {name!r}: not a plain name, or a core table")
        if not staged:
            return quote(name)
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {STAGING_SCHEMA}")
        return f"{quote(STAGING_SCHEMA)}.{quote(name)}"

    def _column_types(self, name: str, staged: bool = False) -> dict[str, str]:
        """A table's columns and their types, in order; empty when there is no such table."""
        rows = self.con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = ? AND table_name = ? ORDER BY column_index",
            [STAGING_SCHEMA if staged else "main", name],
        ).fetchall()
        return dict(rows)

    @contextlib.contextmanager
    def _registered(self, view: str, frame: Any) -> Iterator[None]:
        self.con.register(view, frame)
        try:
            yield
        finally:
            self.con.unregister(view)

    @contextlib.contextmanager
    def _insertion_order(self) -> Iterator[None]:
        """Rows stored in the order they come (whatever the thread count), so ``rowid`` follows it."""
        self.con.execute("SET preserve_insertion_order = true")
        try:
            yield
        finally:
            self.con.execute("SET preserve_insertion_order = false")

    # -- reading -------------------------------------------------------------------------------

    def query(self, table: str) -> str:
        """``SELECT`` of a whole table in its export order."""
        spec = CORE_TABLES.get(table)
        if spec:  # a document's parts in their natural order (#2 before #10)
            order = ", ".join(doc_order_sql(quote(c)) if c == "doc_id" else quote(c) for c in spec.order_by)
        elif "doc_id" in (columns := self._column_types(table)):
            order = ", ".join([doc_order_sql(), *(quote(c) for c in columns)])
        else:
            order = "ALL"
        return f"SELECT * FROM {quote(table)} ORDER BY {order}"

    def frame(self, table: str) -> Any:
        """A whole table as a pandas DataFrame, in its export order."""
        return self.con.sql(self.query(table)).df()

    def count(self, table: str) -> int:
        return int(self.scalar(f"SELECT count(*) FROM {quote(table)}"))

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        # fetchall, not fetchone: DuckDB refuses new work while a result is left unfinished
        return self.con.execute(sql, list(params)).fetchall()[0][0]

    def batches(self, sql: str, size: int = 50_000) -> Iterator[pa.RecordBatch]:
        yield from self.con.sql(sql).to_arrow_reader(size)

    def organisation_groups(self, max_figures: int = GROUP_FIGURES) -> Iterator[tuple[Any, Any]]:
        """The ``documents`` and ``figures`` tables in groups of whole organisations, as pandas frames.

        For a whole-store pass in bounded memory whose result, group by group, is what it would be
        over the whole store when it compares documents only within one organisation (the audit).
        Every document of one organisation (``organisation.strip()``) is in one group, and so are all
        rows of one ``doc_id`` (a file name repeated in two folders gives two documents one id);
        documents without an organisation, and figures with no document row, join any group.

        Groups are filled in order of their smallest ``doc_id`` up to ``max_figures`` figures (each
        document counting as one more); an organisation larger than that is a group of its own. Each
        frame has the columns and order of :meth:`frame`. An empty store gives one empty group.
        """
        docs = self.con.execute("SELECT doc_id, organisation FROM documents").fetchall()
        counts = dict(self.con.execute("SELECT doc_id, count(*) FROM figures GROUP BY doc_id").fetchall())
        groups = pack_groups(organisation_components(docs, counts), max_figures) or [[]]
        for doc_ids in groups:
            yield self._group_frames(doc_ids)

    def _group_frames(self, doc_ids: Sequence[str | None]) -> tuple[Any, Any]:
        ids = pa.table({"doc_id": pa.array([d for d in doc_ids if d is not None], pa.string())})
        where = "doc_id IN (SELECT doc_id FROM _group)" + (" OR doc_id IS NULL" if None in doc_ids else "")
        with self._registered("_group", ids):
            return tuple(  # type: ignore[return-value]
                self.con.sql(
                    f"SELECT * FROM {spec.name} WHERE {where} ORDER BY {', '.join(quote(c) for c in spec.order_by)}"
                ).df()
                for spec in (DOCUMENTS, FIGURES)
            )

    # -- exports -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def roomy(self) -> Iterator[None]:
        """More memory and every core for whole-store passes (sorting for the exports, the audit's
        reads), when no worker shares the machine."""
        self.con.execute(f"SET memory_limit = '{self.roomy_memory_limit}'")
        self.con.execute(f"SET threads = {os.cpu_count() or 1}")
        try:
            yield
        finally:
            self.con.execute(f"SET memory_limit = '{self.memory_limit}'")
            self.con.execute(f"SET threads = {self.threads}")

    def export(
        self,
        directory: Path | None = None,
        formats: Iterable[str] = ("csv", "parquet"),
        xlsx_path: Path | None = None,
        xlsx_max_rows: int = EXCEL_MAX_ROWS,
    ) -> list[Path]:
        """Write every table of the store to ``directory`` (default: the store's folder)."""
        with self.roomy():
            return self._export(directory, formats, xlsx_path, xlsx_max_rows)

    def _export(
        self, directory: Path | None, formats: Iterable[str], xlsx_path: Path | None, xlsx_max_rows: int
    ) -> list[Path]:
        directory = Path(directory or self.directory)
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        formats = list(formats)
        for table in self.tables():
            if table in NOT_EXPORTED:
                continue
            sql = self.query(table)
            if "parquet" in formats:
                written.append(self._export_parquet(sql, directory / f"{table}.parquet"))
            if "csv" in formats:
                written.append(self._export_csv(sql, directory / f"{table}.csv"))
        if "xlsx" in formats:
            written.append(self.export_xlsx(xlsx_path or directory / "zongjie.xlsx", xlsx_max_rows))
        return written

    def _export_parquet(self, sql: str, path: Path) -> Path:
        tmp = path.with_name(f".{path.name}.tmp")
        self.con.execute(f"COPY ({sql}) TO '{_sql_string(tmp)}' (FORMAT parquet)")
        _fsync(tmp)
        os.replace(tmp, path)
        return path

    def _export_csv(self, sql: str, path: Path) -> Path:
        """UTF-8 with a BOM, so Excel opens the Chinese correctly; streamed, so memory stays flat."""
        tmp = path.with_name(f".{path.name}.tmp")
        reader = self.con.sql(sql).to_arrow_reader(50_000)
        with open(tmp, "wb") as fh:
            fh.write("\ufeff".encode())
            writer = pa_csv.CSVWriter(fh, reader.schema)
            for batch in reader:
                writer.write_batch(batch)
            writer.close()
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return path

    def export_xlsx(self, path: Path, max_rows: int = EXCEL_MAX_ROWS) -> Path:
        """One sheet per table; a table over ``max_rows`` (Excel's limit) continues on more sheets.

        The figures sheet carries each figure's source sentence and its document's file and
        title, so an auditor can check a figure without opening anything else. A first sheet,
        ``notes``, lists every table, its rows, and where it was split.
        """
        from openpyxl import Workbook
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        per_sheet = max_rows - 1  # the header takes a row
        wb = Workbook(write_only=True)
        notes_ws = wb.create_sheet("notes")
        notes: list[list[Any]] = []
        for table in (t for t in self.tables() if t not in NOT_EXPORTED):
            sql = self._xlsx_query(table)
            total = self.count(table)
            sheets = max(1, -(-total // per_sheet))
            names = [_sheet_name(table, i) for i in range(sheets)]
            note = "" if sheets == 1 else f"over Excel's {max_rows:,} rows: split across {', '.join(names)}"
            notes.append([table, total, ", ".join(names), note])
            ws, written = None, per_sheet
            sheet_index = 0
            for batch in self.batches(sql):
                columns = batch.schema.names
                for row in zip(*(batch.column(i).to_pylist() for i in range(batch.num_columns)), strict=True):
                    if written == per_sheet:
                        ws = wb.create_sheet(names[sheet_index])
                        sheet_index += 1
                        ws.append(columns)
                        written = 0
                    ws.append([_cell(v, ILLEGAL_CHARACTERS_RE) for v in row])  # type: ignore[union-attr]
                    written += 1
            if ws is None:  # an empty table still gets its sheet and header
                ws = wb.create_sheet(names[0])
                ws.append(self.con.sql(sql).columns)
        notes_ws.append(["table", "rows", "sheets", "note"])
        for row in notes:
            notes_ws.append(row)
        tmp = path.with_name(f".{path.name}.tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        wb.save(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
        return path

    def _xlsx_query(self, table: str) -> str:
        if table != "figures":
            return self.query(table)
        order = ", ".join(f"f.{quote(c)}" for c in FIGURES.order_by)
        return (
            f"SELECT f.*, d.source_path, d.title AS document_title FROM figures f "
            f"LEFT JOIN documents d ON d.sha256 = f.sha256 AND d.doc_id = f.doc_id ORDER BY {order}"
        )


def organisation_components(
    documents: Iterable[tuple[str | None, str | None]], figures: Mapping[str | None, int]
) -> list[tuple[list[str | None], int]]:
    """The doc_ids that must be seen together: joined by organisation (stripped) and by doc_id.

    ``documents`` holds ``(doc_id, organisation)`` rows, ``figures`` the figure count per doc_id.
    Returns each set of doc_ids (sorted, NULL last) with its size (figures + document rows), in
    order of their first doc_id.

    >>> organisation_components([("b", " X"), ("a", None), ("c", "X "), ("a", "Y")], {"b": 3, "z": 1})
    [(['a'], 2), (['b', 'c'], 5), (['z'], 1)]
    """
    parent: dict[tuple[str, str | None], tuple[str, str | None]] = {}

    def find(node: tuple[str, str | None]) -> tuple[str, str | None]:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    size: dict[str | None, int] = defaultdict(int)
    for doc_id, org in documents:
        size[doc_id] += 1
        root = find(("doc", doc_id))
        if isinstance(org, str) and org.strip():
            parent[root] = find(("org", org.strip()))
    for doc_id, n in figures.items():
        size[doc_id] += n
        find(("doc", doc_id))
    members: dict[tuple[str, str | None], list[str | None]] = defaultdict(list)
    for node in list(parent):
        if node[0] == "doc":
            members[find(node)].append(node[1])
    groups = sorted((sorted(ids, key=_null_last) for ids in members.values()), key=lambda ids: _null_last(ids[0]))
    return [(ids, sum(size[d] for d in ids)) for ids in groups]


def pack_groups(components: Iterable[tuple[list[str | None], int]], limit: int) -> list[list[str | None]]:
    """Components packed in order into groups of at most ``limit`` (a larger one stands alone).

    >>> pack_groups([(["a"], 2), (["b", "c"], 5), (["d"], 9), (["e"], 1)], 7)
    [['a', 'b', 'c'], ['d'], ['e']]
    """
    groups: list[list[str | None]] = []
    current: list[str | None] = []
    filled = 0
    for ids, n in components:
        if current and filled + n > limit:
            groups.append(current)
            current, filled = [], 0
        current.extend(ids)
        filled += n
    if current:
        groups.append(current)
    return groups


def _null_last(doc_id: str | None) -> tuple[bool, str]:
    return doc_id is None, doc_id or ""


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def _sql_string(path: Path) -> str:
    return str(path).replace("'", "''")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sheet_name(table: str, index: int) -> str:
    """Excel sheet names: at most 31 characters, unique.

    >>> _sheet_name("figures", 0), _sheet_name("figures", 2)
    ('figures', 'figures (3)')
    """
    suffix = "" if index == 0 else f" ({index + 1})"
    return table[: 31 - len(suffix)] + suffix


def _cell(value: Any, illegal: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        value = illegal.sub("", value)
        if len(value) > EXCEL_MAX_CELL:
            value = value[: EXCEL_MAX_CELL - 1] + "…"
    return value
