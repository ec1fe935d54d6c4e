"""An audit finding: one thing that does not add up, with the figures and the arithmetic shown."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


class Finding(BaseModel):
    """One row of the ``findings`` table.

    ``figure_ids``, ``figure_docs``, ``spans`` and ``surfaces`` run in parallel: the n-th figure
    involved, the document it stands in, its (start, end) in that document's original text and the
    words as written. ``arithmetic`` shows the check, e.g. ``40 + 3 + 4 = 47 ≠ 48``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    finding_id: str = ""
    doc_id: str
    rule: str
    severity: Severity
    message_zh: str
    message_en: str
    arithmetic: str
    figure_ids: tuple[str, ...] = Field(min_length=1)
    figure_docs: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    surfaces: tuple[str, ...]
    record_id: str | None = None

    @model_validator(mode="after")
    def _parallel(self) -> Finding:
        n = len(self.figure_ids)
        if not len(self.figure_docs) == len(self.spans) == len(self.surfaces) == n:
            raise ValueError("figure_ids, figure_docs, spans and surfaces must run in parallel")
        if not self.finding_id:
            key = "|".join([self.rule, self.doc_id, *self.figure_ids])
            object.__setattr__(self, "finding_id", hashlib.sha1(key.encode("utf-8")).hexdigest()[:16])
        return self

    def row(self) -> dict[str, Any]:
        data = self.model_dump()
        data["figure_ids"] = ";".join(self.figure_ids)
        data["figure_docs"] = ";".join(self.figure_docs)
        data["spans"] = ";".join(f"{s}:{e}" for s, e in self.spans)
        data["surfaces"] = ";".join(self.surfaces)
        return data


FINDING_COLUMNS = tuple(Finding.model_fields)
