"""Word .docx: body paragraphs and tables in document order.

The package is checked before python-docx sees it: zip limits apply (a .docx is a zip), and
every XML part is parsed with defusedxml first, so a part that declares a DOCTYPE or ENTITY
(entity-expansion attacks) is refused.

Text is taken from the body only (headers, footers, footnotes and comments are page furniture
or asides). A paragraph is one line; ``w:tab`` is a tab and ``w:br`` a line break. A table
row is one line with its cells joined by a tab; text inside a cell is joined by spaces.
Content controls (``w:sdt``) and tracked insertions are read; tracked deletions and the
fallback copy of drawing content (``mc:Fallback``) are not.
"""

from __future__ import annotations

import dataclasses
import io
import logging
from collections.abc import Iterator
from typing import Any

from extract.ingest import IngestError, Limits, normalise_newlines, sha256
from extract.ingest.archive import Budget, check_zip, open_zip, read_member
from schemas.documents import RawDocument

__all__ = ["docx_text", "read_docx"]

logger = logging.getLogger(__name__)

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
P, TBL, TR, TC = f"{_W}p", f"{_W}tbl", f"{_W}tr", f"{_W}tc"
T, TAB, BR, CR = f"{_W}t", f"{_W}tab", f"{_W}br", f"{_W}cr"
NO_BREAK_HYPHEN, SOFT_HYPHEN = f"{_W}noBreakHyphen", f"{_W}softHyphen"
#: containers whose children are read as if they stood in the parent
_TRANSPARENT = {f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml", f"{_W}ins", f"{_W}moveTo", f"{_W}smartTag"}
#: subtrees that carry no visible text of the paragraph
_SKIP = {
    f"{_W}pPr",
    f"{_W}rPr",
    f"{_W}sdtPr",
    f"{_W}sdtEndPr",
    f"{_W}del",
    f"{_W}moveFrom",
    f"{_W}instrText",
    f"{_W}delText",
    f"{_W}tblPr",
    f"{_W}tblGrid",
    f"{_W}trPr",
    f"{_W}tcPr",
    f"{_MC}Fallback",
    f"{_W}sectPr",
}
_DOCUMENT_PART = "word/document.xml"


def read_docx(data: bytes, source_path: str, limits: Limits | None = None) -> RawDocument:
    """Read a .docx held in ``data``."""
    limits = limits or Limits()
    _check_package(data, limits)
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        body = document.element.body
        text = normalise_newlines(docx_text(body))
        title = (document.core_properties.title or "").strip() or None
    except IngestError:
        raise
    except Exception as exc:  # python-docx raises many kinds on a damaged package
        raise IngestError("ingest", f"not a valid .docx ({exc.__class__.__name__}: {exc})") from exc
    if not text.strip():
        raise IngestError("ingest", "empty document (no text in the .docx body)")
    return RawDocument(source_path=source_path, text=text, format="docx", sha256=sha256(data), title_hint=title)


def _check_package(data: bytes, limits: Limits) -> None:
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    budget = Budget(limits.max_zip_total_bytes)
    # each XML part is parsed whole, so each is held to the one-document limit once expanded
    part_limits = dataclasses.replace(limits, max_file_bytes=limits.max_bytes(".docx"))
    with open_zip(data, ".docx") as zf:
        suspicious = check_zip(zf, limits, ".docx")
        if suspicious:
            name, reason = next(iter(suspicious.items()))
            raise IngestError("ingest", f".docx part {name}: {reason}")
        names = set(zf.namelist())
        if _DOCUMENT_PART not in names:
            raise IngestError("ingest", f"not a valid .docx ({_DOCUMENT_PART} missing)")
        for info in zf.infolist():
            if not info.filename.lower().endswith((".xml", ".rels")):
                continue
            part = read_member(zf, info, budget, part_limits)
            try:
                fromstring(part, forbid_dtd=True, forbid_entities=True, forbid_external=True)
            except DefusedXmlException as exc:
                raise IngestError(
                    "ingest",
                    f".docx part {info.filename} declares a DOCTYPE/ENTITY; refused (XML entity expansion risk)",
                ) from exc
            except ParseError as exc:
                raise IngestError(
                    "ingest", f"not a valid .docx ({info.filename} is not well-formed XML: {exc})"
                ) from exc


def docx_text(body: Any) -> str:
    """The text of a ``w:body`` (or any block container) as lines."""
    return "\n".join(_blocks(body))


def _blocks(parent: Any) -> Iterator[str]:
    for child in parent:
        tag = child.tag
        if tag == P:
            yield _paragraph(child)
        elif tag == TBL:
            yield from _table(child)
        elif tag in _TRANSPARENT:
            yield from _blocks(child)


def _children(parent: Any, wanted: str) -> Iterator[Any]:
    for child in parent:
        if child.tag == wanted:
            yield child
        elif child.tag in _TRANSPARENT:
            yield from _children(child, wanted)


def _table(tbl: Any) -> Iterator[str]:
    for tr in _children(tbl, TR):
        cells = []
        for tc in _children(tr, TC):
            lines = (" ".join(line.split()) for line in _blocks(tc))
            cells.append(" ".join(line for line in lines if line))
        yield "\t".join(cells).rstrip()


def _paragraph(p: Any) -> str:
    out: list[str] = []
    _runs(p, out)
    return "".join(out).rstrip("\n")


def _runs(element: Any, out: list[str]) -> None:
    for child in element:
        tag = child.tag
        if not isinstance(tag, str) or tag in _SKIP:
            continue
        if tag == T:
            out.append(child.text or "")
        elif tag == TAB:
            out.append("\t")
        elif tag in (BR, CR):
            out.append("\n")
        elif tag == NO_BREAK_HYPHEN:
            out.append("-")
        elif tag == SOFT_HYPHEN:
            continue
        elif tag == P:  # a paragraph inside a text box
            if out and not out[-1].endswith("\n"):
                out.append("\n")
            _runs(child, out)
            out.append("\n")
        else:
            _runs(child, out)
