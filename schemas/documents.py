"""Documents as read from disk and as split into parts, plus the errors table."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DocType = Literal[
    "work_summary",
    "funds_audit_report",
    "election_report",
    "news_report",
    "plan",
    "non_union_summary",
    "other",
]

ValueSource = Literal["text", "path", "sidecar"]


class RawDocument(BaseModel):
    """The text of one input as read, before any normalisation.

    ``text`` is the *original* text: every offset downstream points into it. For a .txt it is
    the decoded file; for .docx/.pdf/.html it is the text the reader extracted, in reading order.
    """

    model_config = ConfigDict(frozen=True)

    source_path: str
    text: str
    format: str
    encoding: str | None = None
    sha256: str = Field(description="sha256 of the raw bytes read")
    title_hint: str | None = Field(
        default=None, description="a title the container states (html <title>, docx core title)"
    )
    doc_key: str | None = Field(
        default=None, description="the document id before any #N (extract.doc_ids); None: the file's stem"
    )


class DocumentMeta(BaseModel):
    """One row of the ``documents`` table."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    source_path: str
    part: int | None = None
    start: int = Field(ge=0, description="where the part begins in the original text")
    end: int = Field(ge=0)
    title: str | None = None
    doc_type: DocType = "other"
    organisation: str | None = None
    org_level: str | None = None
    region: str | None = None
    period_year: int | None = None
    report_date: date | None = None
    # where organisation, period_year and doc_type came from: the text itself, the input's path
    # (a year in a folder or file name), or the archivist's sidecar CSV (--metadata); None: unknown
    organisation_from: ValueSource | None = None
    period_year_from: ValueSource | None = None
    doc_type_from: ValueSource | None = None
    script: Literal["simplified", "traditional", "mixed", "none"] = "none"
    encoding: str | None = None
    format: str
    chars: int = Field(ge=0)
    sha256: str


class ErrorRow(BaseModel):
    """One row of the ``errors`` table: an input that could not be read or processed."""

    model_config = ConfigDict(frozen=True)

    path: str
    stage: str
    reason: str
