"""PDF with a text layer, read with pdfplumber; pages are joined with a line break.

A PDF without extractable characters (a scan) is refused with a reason that says so: OCR is
not part of this project. So is one whose text comes out as ``(cid:N)`` glyph codes only
(fonts without a Unicode map), which would be unreadable downstream.
"""

from __future__ import annotations

import io
import logging
import re

from extract.ingest import IngestError, normalise_newlines, sha256
from schemas.documents import RawDocument

__all__ = ["read_pdf"]

logger = logging.getLogger(__name__)

_CID = re.compile(r"\(cid:\d+\)")
_NO_TEXT = "PDF has no text layer (scanned?); OCR is not supported"


def read_pdf(data: bytes, source_path: str) -> RawDocument:
    """Read a PDF held in ``data``."""
    if b"%PDF-" not in data[:1024]:
        raise IngestError("ingest", "not a PDF (no %PDF- header)")
    import pdfplumber
    from pdfminer.pdfdocument import PDFPasswordIncorrect

    pages: list[str] = []
    chars = 0
    title: str | None = None
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            meta_title = pdf.metadata.get("Title")
            if isinstance(meta_title, str) and meta_title.strip():
                title = meta_title.strip()
            for page in pdf.pages:
                chars += len(page.chars)
                pages.append(page.extract_text() or "")
                page.close()
    except Exception as exc:  # pdfminer raises many kinds on a damaged file
        if _caused_by(exc, PDFPasswordIncorrect):
            raise IngestError("ingest", "PDF is encrypted; a password is needed") from exc
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
        detail = str(inner) or inner.__class__.__name__
        raise IngestError("ingest", f"not a readable PDF (damaged or truncated: {detail})") from exc
    if not pages:
        raise IngestError("ingest", "PDF has no pages")
    if chars == 0:
        raise IngestError("ingest", _NO_TEXT)
    text = normalise_newlines("\n".join(pages))
    glyph_codes = len(_CID.findall(text))
    readable = len("".join(_CID.sub("", text).split()))
    if not readable:
        raise IngestError("ingest", _NO_TEXT)
    if glyph_codes > readable:
        raise IngestError("ingest", "PDF text has no Unicode mapping (fonts without ToUnicode); cannot read it")
    return RawDocument(source_path=source_path, text=text, format="pdf", sha256=sha256(data), title_hint=title)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind) or any(isinstance(arg, kind) for arg in seen.args):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
