"""From one raw input to its documents: normalise, split, blank furniture, describe."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from extract.rules import RuleSet
from extract.segment import Segmenter
from extract.text.furniture import FurnitureRemover
from extract.text.hints import Sidecar, SidecarRow, year_from_path
from extract.text.metadata import Described, Describer
from extract.text.normalise import MappedText, normalise
from extract.text.script import detect_script, to_simplified_table
from extract.text.split import Splitter
from extract.text.tables import reshape_tables
from schemas.documents import DocumentMeta, RawDocument


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    """One document ready for extraction: its row, the original text, and the matching text."""

    meta: DocumentMeta
    original: str  # the whole input's original text: every offset points into it
    text: MappedText  # normalised, furniture blanked, for this document only


def doc_stem(source_path: str) -> str:
    """The document id stem: the file name without its suffix (zip members: the member's).

    >>> doc_stem("a/b/seed.txt"), doc_stem("arch.zip!/dir/x.docx")
    ('seed', 'x')
    """
    return PurePosixPath(source_path.replace("\\", "/").split("!/")[-1]).stem


class DocumentPreparer:
    """Holds the compiled text-stage rules; ``preparer(raw)`` gives the documents in one input."""

    def __init__(self, rules: RuleSet, segmenter: Segmenter | None = None, sidecar: Sidecar | None = None) -> None:
        self.splitter = Splitter(rules.documents)
        self.furniture = FurnitureRemover(rules.furniture)
        self.segmenter = segmenter or Segmenter(rules.jieba_dict)
        self.describer = Describer(rules.documents, self.segmenter)
        self.sidecar = sidecar

    def __call__(self, raw: RawDocument, stem: str | None = None) -> list[PreparedDocument]:
        stem = stem or raw.doc_key or doc_stem(raw.source_path)
        script = detect_script(raw.text)
        table = to_simplified_table() if script in ("traditional", "mixed") else None
        mapped = normalise(raw.text, table)
        known = self.sidecar.lookup(raw.source_path) if self.sidecar is not None else None
        path_year = year_from_path(raw.source_path)
        out = []
        for span in self.splitter(mapped.text):
            part, _ = self.furniture(mapped.slice(span.start, span.end))
            part = reshape_tables(part)
            described = self.describer(part.text, span.heading, raw.title_hint)
            facts = _facts(described, known, path_year)
            start, end = part.span(0, len(part.text)) if part.text else (part.index[0], part.index[0])
            meta = DocumentMeta(
                doc_id=stem if span.number is None else f"{stem}#{span.number}",
                source_path=raw.source_path,
                part=span.number,
                start=start,
                end=end,
                title=described.title,
                org_level=described.org_level,
                region=described.region,
                report_date=described.report_date,
                **facts,
                script=script,
                encoding=raw.encoding,
                format=raw.format,
                chars=end - start,
                sha256=raw.sha256,
            )
            out.append(PreparedDocument(meta, raw.text, part))
        return out


def _facts(described: Described, known: SidecarRow | None, path_year: int | None) -> dict[str, Any]:
    """Organisation, year and type, each with where it came from: the sidecar's row over the text,
    the text over the path (which can only give a year)."""
    facts: dict[str, Any] = {}
    for name, text_value, sidecar_value in (
        ("organisation", described.organisation, known.organisation if known else None),
        ("period_year", described.period_year, known.year if known else None),
        ("doc_type", described.doc_type if described.doc_type != "other" else None, known.doc_type if known else None),
    ):
        if sidecar_value is not None:
            facts[name], facts[f"{name}_from"] = sidecar_value, "sidecar"
        elif text_value is not None:
            facts[name], facts[f"{name}_from"] = text_value, "text"
        elif name == "period_year" and path_year is not None:
            facts[name], facts[f"{name}_from"] = path_year, "path"
    facts.setdefault("doc_type", "other")
    return facts
