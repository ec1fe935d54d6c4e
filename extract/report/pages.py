"""Building the report: ``DIR/report.html`` (overview and document list) and one page per document
under ``DIR/report/docs/``, sharing ``DIR/report/assets/``. Everything is local: no network.

Why pages and not one file: an archive of 10,000 documents holds hundreds of MB of text; one
HTML file of that size will not open. The overview carries only counts and one small row per
document; each document page carries its own text, figures and findings, and is written (and
re-written by the review server after a correction) on its own.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from jinja2 import Environment, FunctionLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from extract.doc_ids import doc_order
from extract.report.corrections import export_corrected, has_table
from extract.report.data import (
    DocBundle,
    MetricInfo,
    bundle,
    documents,
    findings,
    iter_bundles,
    metric_info,
    page_name,
)
from extract.report.highlight import runs
from extract.store import Store
from schemas.findings import SEVERITY_ORDER

log = logging.getLogger(__name__)

REPORT_FILE = "report.html"
REPORT_DIR = "report"
DOCS_DIR = "docs"
ASSETS_DIR = "assets"
ASSETS = ("report.css", "report.js")
CHART_ORGS = 30  # organisations kept per metric for the chart (most years covered first)
TOP_ORGS = 30  # organisations listed by name in the documents-by-organisation chart


class ReportError(Exception):
    """The report cannot be built (no store in the folder)."""


def _package_text(*parts: str) -> str:
    return resources.files("extract.report").joinpath(*parts).read_text(encoding="utf-8")


def _json(value: Any) -> Markup:
    """JSON safe inside a <script> element (no ``</script>``, no HTML comment openers)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def environment() -> Environment:
    env = Environment(
        loader=FunctionLoader(lambda name: _package_text("templates", name)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tojs"] = _json
    return env


def family_classes(info: MetricInfo) -> dict[str, str]:
    """A colour class per metric family, in the taxonomy's order (``fam-0`` …)."""
    return {fam: f"fam-{i}" for i, fam in enumerate(info.family_list())}


@dataclass
class Context:
    """What every page needs, built once per report."""

    env: Environment
    info: MetricInfo
    families: dict[str, str]
    doc_pages: dict[str, str]  # doc_id → page (the first, where two files share a stem)
    generated: str

    @classmethod
    def make(cls, docs: Iterable[dict[str, Any]]) -> Context:
        info = metric_info()
        pages: dict[str, str] = {}
        for d in docs:
            pages.setdefault(str(d["doc_id"]), page_name(str(d["doc_id"]), d.get("sha256")))
        return cls(environment(), info, family_classes(info), pages, dt.datetime.now().strftime("%Y-%m-%d %H:%M"))


# ----------------------------------------------------------------------------------------------
# one document


def figure_view(f: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """A figure as the page's script reads it."""
    metric = f.get("metric") or "other"
    fam = ctx.info.family(metric)
    return {
        "id": f["figure_id"],
        "start": f["start"],
        "end": f["end"],
        "surface": f["surface"],
        "value": f.get("value"),
        "value_max": f.get("value_max"),
        "unit": f.get("unit") or "",
        "metric": metric,
        "metric_zh": ctx.info.names.get(metric, ""),
        "family": fam,
        "fam_class": ctx.families.get(fam, "fam-x"),
        "status": f.get("status"),
        "approx": bool(f.get("approx")),
        "qualifier": f.get("qualifier"),
        "subject": f.get("subject"),
        "extractor": f.get("extractor"),
        "confidence": f.get("confidence"),
        "flags": f.get("flags") or "",
        "review": f.get("review"),
        "reviewer": f.get("reviewer"),
        "reviewed_at": f.get("reviewed_at"),
        "raw": f.get("raw"),
        "span_ok": f.get("span_ok", True),
    }


def finding_view(f: dict[str, Any], doc: DocBundle, ctx: Context, here: set[str]) -> dict[str, Any]:
    links = []
    for i, fid in enumerate(f.get("figure_ids", [])):
        fdoc = f["figure_docs"][i] if i < len(f.get("figure_docs", [])) else f["doc_id"]
        surface = f["surfaces"][i] if i < len(f.get("surfaces", [])) else fid
        if fid in here and fdoc == doc.meta["doc_id"]:
            href = f"#fig-{fid}"
        else:
            page = ctx.doc_pages.get(str(fdoc))
            href = f"{page}#fig-{fid}" if page else ""
        links.append({"fid": fid, "surface": surface, "href": href, "doc": fdoc, "local": href.startswith("#")})
    return {
        "id": f.get("finding_id"),
        "rule": f.get("rule"),
        "severity": f.get("severity"),
        "message_zh": f.get("message_zh"),
        "message_en": f.get("message_en"),
        "arithmetic": f.get("arithmetic"),
        "links": links,
    }


def text_runs(doc: DocBundle) -> list[dict[str, Any]]:
    """The part's text as runs: plain, or a mark naming the figures on it (ids, first first)."""
    if doc.text is None:
        return []
    offset = int(doc.meta["start"])
    spans = [(f["start"] - offset, f["end"] - offset, f["figure_id"]) for f in doc.figures]
    return [{"text": doc.text[r.start : r.end], "fids": list(r.keys)} for r in runs(len(doc.text), spans)]


def render_document(doc: DocBundle, ctx: Context) -> str:
    figures = [figure_view(f, ctx) for f in doc.figures]
    by_id = {f["id"]: f for f in figures}
    here = set(by_id)
    found = sorted(
        (finding_view(f, doc, ctx, here) for f in doc.findings),
        key=lambda f: (SEVERITY_ORDER.get(str(f["severity"]), 9), str(f["rule"])),
    )
    marks = []
    for run in text_runs(doc):
        if not run["fids"]:
            marks.append({"text": run["text"], "fids": []})
            continue
        first = by_id[run["fids"][0]]
        marks.append({**run, "fam": first["fam_class"], "first": first})
    offset = int(doc.meta["start"])
    outside = [f for f in figures if doc.text is None or f["start"] < offset or f["end"] > int(doc.meta["end"])]
    metrics = sorted(Counter(f["metric"] for f in figures).items())
    used_families = sorted({(f["family"], f["fam_class"]) for f in figures})
    return ctx.env.get_template("document.html.j2").render(
        doc=doc.meta,
        text_missing=doc.text is None,
        marks=marks,
        figures=figures,
        outside=outside,
        findings=found,
        metrics=metrics,
        families=used_families,
        names=ctx.info.names,
        generated=ctx.generated,
        data={
            "doc": {
                "doc_id": doc.meta["doc_id"],
                "sha256": doc.meta.get("sha256"),
                "start": offset,
                "end": doc.meta["end"],
                "page": doc.page,
            },
            "figures": figures,
            "findings": found,
        },
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_document(directory: Path, doc: DocBundle, ctx: Context) -> Path:
    path = Path(directory) / REPORT_DIR / DOCS_DIR / doc.page
    _write(path, render_document(doc, ctx))
    return path


# ----------------------------------------------------------------------------------------------
# the overview


def _effective_figures(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The columns the overview counts, with corrections applied (only reviewed documents are
    replayed in Python; the rest is read as stored)."""
    from extract.report.corrections import apply_corrections, figure_rows, read_corrections

    cols = ["sha256", "doc_id", "figure_id", "metric", "status", "value", "qualifier", "review"]
    corrections = read_corrections(con)
    touched = sorted({(c.sha256, c.doc_id) for c in corrections})
    raw = con.execute(
        'SELECT sha256, doc_id, figure_id, metric, status, "value", qualifier, NULL::VARCHAR AS review FROM figures'
    ).df()
    if not touched:
        return raw[cols]
    keys = set(touched)
    mask = [(s, d) not in keys for s, d in zip(raw["sha256"], raw["doc_id"], strict=True)]
    parts = [raw[mask][cols]]
    for sha, doc_id in touched:
        applied = apply_corrections(
            figure_rows(con, sha256=sha, doc_id=doc_id),
            [c for c in corrections if (c.sha256, c.doc_id) == (sha, doc_id)],
        )
        parts.append(pd.DataFrame([{c: r.get(c) for c in cols} for r in applied.rows], columns=cols))
    return pd.concat(parts, ignore_index=True)


def _counts(values: Iterable[Any], none_label: str = "—") -> list[list[Any]]:
    counter = Counter(none_label if v is None or (isinstance(v, float) and v != v) else v for v in values)
    return [[k, n] for k, n in counter.most_common()]


def overview(con: duckdb.DuckDBPyConnection, docs: list[dict[str, Any]], ctx: Context) -> dict[str, Any]:
    figs = _effective_figures(con)
    kept = figs[figs["review"].fillna("") != "reject"]
    found = findings(con)
    doc_frame = pd.DataFrame(docs)
    # per document: figures, findings by severity, reviewed figures
    n_figs = kept.groupby(["sha256", "doc_id"]).size().to_dict()
    n_reviewed = figs[figs["review"].notna()].groupby(["sha256", "doc_id"]).size().to_dict()
    sev_by_doc: dict[str, Counter[str]] = {}
    for f in found:
        sev_by_doc.setdefault(str(f["doc_id"]), Counter())[str(f["severity"])] += 1
    rows = []
    for d in sorted(docs, key=lambda d: doc_order(str(d["doc_id"]))):  # parts in order: #2 before #10
        key = (d.get("sha256"), d["doc_id"])
        sev = sev_by_doc.get(str(d["doc_id"]), Counter())
        rows.append(
            [
                f"{REPORT_DIR}/{DOCS_DIR}/{page_name(str(d['doc_id']), d.get('sha256'))}",
                d["doc_id"],
                d.get("title") or "",
                d.get("organisation") or "",
                d.get("period_year"),
                d.get("doc_type") or "",
                int(n_figs.get(key, 0)),
                sev.get("error", 0),
                sev.get("warning", 0),
                sev.get("info", 0),
                int(n_reviewed.get(key, 0)),
                d.get("source_path") or "",
            ]
        )
    orgs = _counts(d.get("organisation") for d in docs)
    if len(orgs) > TOP_ORGS:
        rest = sum(n for _, n in orgs[TOP_ORGS:])
        orgs = [*orgs[:TOP_ORGS], [f"… {len(orgs) - TOP_ORGS}", rest]]
    metric_counts = _counts(kept["metric"])
    years = sorted(_counts(d.get("period_year") for d in docs), key=lambda kv: str(kv[0]))
    severities = sorted(_counts(f["severity"] for f in found), key=lambda kv: SEVERITY_ORDER.get(kv[0], 9))
    return {
        "totals": {
            "documents": len(docs),
            "figures": len(kept),
            "findings": len(found),
            "reviewed": int(figs["review"].notna().sum()),
            "rejected": int((figs["review"] == "reject").sum()),
        },
        "by_type": _counts(d.get("doc_type") for d in docs),
        "by_org": orgs,
        "by_year": years,
        "by_metric": [
            [m, n, ctx.info.names.get(m, ""), ctx.families.get(ctx.info.family(m), "fam-x")] for m, n in metric_counts
        ],
        "by_status": _counts(kept["status"]),
        "by_severity": severities,
        "by_rule": _counts(f["rule"] for f in found),
        "chart": chart_data(kept, doc_frame),
        "documents": rows,
    }


def chart_data(figs: pd.DataFrame, docs: pd.DataFrame) -> dict[str, list[list[Any]]]:
    """Per metric: ``[organisation, year, value]`` — the largest actual figure without a qualifier
    (a whole count, not a 其中 sub-count) each organisation reports for that year."""
    if figs.empty or docs.empty:
        return {}
    base = figs[(figs["status"] == "actual") & figs["qualifier"].isna() & figs["value"].notna()]
    meta = docs[["sha256", "doc_id", "organisation", "period_year"]].dropna(subset=["organisation", "period_year"])
    merged = base.merge(meta, on=["sha256", "doc_id"])
    if merged.empty:
        return {}
    merged["value"] = pd.to_numeric(merged["value"], errors="coerce")
    top = merged.groupby(["metric", "organisation", "period_year"], as_index=False)["value"].max()
    out: dict[str, list[list[Any]]] = {}
    for metric, group in top.groupby("metric"):
        years_per_org = group.groupby("organisation")["period_year"].nunique().sort_values(ascending=False)
        keep = set(years_per_org.index[:CHART_ORGS])
        rows = group[group["organisation"].isin(keep)].sort_values(["organisation", "period_year"])
        out[str(metric)] = [
            [o, int(y), _num(v)] for o, y, v in rows[["organisation", "period_year", "value"]].itertuples(index=False)
        ]
    return out


def _num(v: float) -> int | float:
    return int(v) if float(v).is_integer() else float(v)


def render_index(con: duckdb.DuckDBPyConnection, docs: list[dict[str, Any]], ctx: Context) -> str:
    data = overview(con, docs, ctx)
    return ctx.env.get_template("index.html.j2").render(
        o=data,
        css=Markup(_package_text("static", "report.css")),
        js=Markup(_package_text("static", "index.js")),
        names=ctx.info.names,
        generated=ctx.generated,
    )


def write_assets(directory: Path, ctx: Context) -> None:
    assets = Path(directory) / REPORT_DIR / ASSETS_DIR
    for name in ASSETS:
        _write(assets / name, _package_text("static", name))


def write_index(directory: Path, con: duckdb.DuckDBPyConnection, ctx: Context | None = None) -> Path:
    docs = documents(con)
    ctx = ctx or Context.make(docs)
    path = Path(directory) / REPORT_FILE
    _write(path, render_index(con, docs, ctx))
    return path


# ----------------------------------------------------------------------------------------------
# the whole report


@dataclass(frozen=True)
class ReportSummary:
    index: Path
    pages: int
    removed: int
    figures: int
    findings: int
    missing_text: int


def open_store(directory: Path) -> Store:
    if not (Path(directory) / "zongjie.duckdb").exists():
        raise ReportError(f"no store in {directory}: run `zongjie extract ... --out {directory}` first")
    return Store(directory, read_only=True)


def build_report(directory: Path, progress: Callable[[int, int], None] | None = None) -> ReportSummary:
    """Write ``DIR/report.html``, ``DIR/report/docs/*.html`` and the shared assets; pages of
    documents no longer in the store are removed. Also refreshes ``figures_corrected``."""
    directory = Path(directory)
    with open_store(directory) as store:
        con = store.con
        docs = documents(con)
        ctx = Context.make(docs)
        write_assets(directory, ctx)
        written: set[str] = set()
        n_figures = n_findings = missing = 0
        for i, doc in enumerate(iter_bundles(con, docs), 1):
            write_document(directory, doc, ctx)
            written.add(doc.page)
            n_figures += len(doc.figures)
            n_findings += len(doc.findings)
            missing += doc.text is None
            if progress is not None and (i % 500 == 0 or i == len(docs)):
                progress(i, len(docs))
        removed = 0
        docs_dir = directory / REPORT_DIR / DOCS_DIR
        for old in docs_dir.glob("*.html"):
            if old.name not in written:
                old.unlink()
                removed += 1
        index = write_index(directory, con, ctx)
        if has_table(con, "corrections"):
            export_corrected(store, directory)
    if missing:
        log.warning("%d documents have no stored original text; their pages list the figures only", missing)
    return ReportSummary(index, len(written), removed, n_figures, n_findings, missing)


def rebuild_document(directory: Path, con: duckdb.DuckDBPyConnection, sha256: str, doc_id: str) -> Path | None:
    """Re-write one document's page from the store (after a correction)."""
    doc = bundle(con, sha256, doc_id)
    if doc is None:
        return None
    ctx = Context.make(documents(con))
    return write_document(directory, doc, ctx)
