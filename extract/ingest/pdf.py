"""PDF with a text layer, read with pypdfium2 (PDFium, the PDF engine of Chromium).

PDFium reads every text layer a real PDF carries: simple, CID and CFF fonts, with or without
``ToUnicode`` maps (pdfminer, read before, found no characters at all in PDFs written with a CJK
CFF font such as Noto Sans CJK, and called them scans). Pages are joined with a line break; each
page's text is PDFium's, in content order, its line breaks normalised to ``\\n``.

A PDF is refused as a scan only when no page has a text character. One whose text comes out as
replacement characters only (fonts that map no glyph to Unicode) is refused too: it would be
unreadable downstream.
"""

from __future__ import annotations

import logging

from extract.ingest import IngestError, normalise_newlines, sha256
from schemas.documents import RawDocument

__all__ = ["read_pdf"]

logger = logging.getLogger(__name__)

_NO_TEXT = "PDF has no text layer (scanned?); OCR is not supported"
_UNMAPPED = "\ufffd\x00\x01\x02"  # what PDFium gives for a glyph it cannot map to Unicode


def read_pdf(data: bytes, source_path: str) -> RawDocument:
    """Read a PDF held in ``data``."""
    if b"%PDF-" not in data[:1024]:
        raise IngestError("ingest", "not a PDF (no %PDF- header)")
    import pypdfium2 as pdfium

    pages: list[str] = []
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise IngestError("ingest", "PDF is encrypted; a password is needed") from exc
        raise IngestError("ingest", f"not a readable PDF (damaged or truncated: {exc})") from exc
    try:
        title = pdf.get_metadata_dict().get("Title") or None
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            try:
                pages.append(textpage.get_text_range())
            finally:
                textpage.close()
                page.close()
    except pdfium.PdfiumError as exc:
        raise IngestError("ingest", f"not a readable PDF (damaged or truncated: {exc})") from exc
    finally:
        pdf.close()
    if not pages:
        raise IngestError("ingest", "PDF has no pages")
    text = normalise_newlines("\n".join(pages))
    visible = "".join(text.split())
    if not visible:
        raise IngestError("ingest", _NO_TEXT)
    if not visible.strip(_UNMAPPED):
        raise IngestError("ingest", "PDF text has no Unicode mapping (fonts without ToUnicode); cannot read it")
    title = title.strip() if isinstance(title, str) and title.strip() else None
    return RawDocument(source_path=source_path, text=text, format="pdf", sha256=sha256(data), title_hint=title)
