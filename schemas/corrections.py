"""A reviewer's correction of one figure: one row of the ``corrections`` table.

Corrections are never edited or deleted: each review step adds a row, and the figures as
corrected are the raw figures with every correction applied in ``seq`` order (the last word on
a figure wins, so rejecting and then confirming a figure brings it back).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from schemas.figures import Status

Action = Literal["confirm", "correct", "reject", "add"]
ACTIONS: tuple[str, ...] = ("confirm", "correct", "reject", "add")

# The fields of a figure a reviewer may set, in the order the gold format writes them.
CORRECTABLE = ("value", "unit", "metric", "status", "approx", "value_max", "qualifier")


class FigureValues(BaseModel):
    """Some or all of a figure's correctable fields; only the fields given are set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: Decimal | None = None
    unit: str | None = None
    metric: str | None = None
    status: Status | None = None
    approx: bool | None = None
    value_max: Decimal | None = None
    qualifier: str | None = None

    @field_validator("value", "value_max")
    @classmethod
    def _finite(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and not v.is_finite():
            raise ValueError("must be a finite number or null (placeholder)")
        return v

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, v: str | None, info: ValidationInfo) -> str | None:
        metrics = (info.context or {}).get("metrics")
        if v is not None and metrics is not None and v not in metrics:
            raise ValueError(f"unknown metric id {v!r}")
        return v

    @model_validator(mode="after")
    def _range(self) -> FigureValues:
        if self.value is not None and self.value_max is not None and self.value_max < self.value:
            raise ValueError("value_max is below value")
        return self

    def given(self) -> dict[str, Any]:
        """The fields that were set, JSON-ready (numbers as int or float)."""
        out = {}
        for key in CORRECTABLE:
            if key in self.model_fields_set:
                out[key] = _plain(getattr(self, key))
        return out

    def to_json(self) -> str:
        return json.dumps(self.given(), ensure_ascii=False, sort_keys=True)


class Correction(BaseModel):
    """Who changed what, when: ``confirm``, ``correct`` (``new`` holds the changed fields),
    ``reject``, or ``add`` (a figure the extractor missed: ``start``/``end`` into the file's
    original text, ``surface == text[start:end]``, and ``new`` holds its values).

    ``old`` is the figure as it stood before the step (after earlier corrections); ``start``,
    ``end`` and ``surface`` are kept for every action, so a correction can be found again after a
    re-extraction has changed the figure's id.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int = Field(default=0, ge=0, description="order of the step; assigned when stored")
    correction_id: str = Field(min_length=1)
    created: dt.datetime
    reviewer: str = Field(min_length=1, max_length=200)
    action: Action
    figure_id: str = Field(min_length=1)
    doc_id: str
    sha256: str
    start: int = Field(ge=0)
    end: int = Field(gt=0)
    surface: str = Field(min_length=1)
    old: FigureValues | None = None
    new: FigureValues | None = None
    note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _fits_action(self) -> Correction:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.action in ("correct", "add") and (self.new is None or not self.new.given()):
            raise ValueError(f"a {self.action} needs the new values")
        if self.action == "add":
            missing = [k for k in ("metric", "status") if self.new is None or getattr(self.new, k) is None]
            if missing:
                raise ValueError(f"an added figure needs {', '.join(missing)}")
        if self.action in ("confirm", "reject") and self.new is not None and self.new.given():
            raise ValueError(f"a {self.action} takes no new values")
        return self

    def row(self) -> dict[str, Any]:
        """A flat row for the table: ``old``/``new`` as JSON objects of the fields given."""
        data = self.model_dump(exclude={"old", "new"})
        data["old"] = self.old.to_json() if self.old is not None else None
        data["new"] = self.new.to_json() if self.new is not None else None
        return data

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Correction:
        data = dict(row)
        for key in ("old", "new"):
            raw = data.get(key)
            data[key] = FigureValues.model_validate(json.loads(raw)) if raw else None
        return cls.model_validate(data)


CORRECTION_COLUMNS = (
    "seq",
    "correction_id",
    "created",
    "reviewer",
    "action",
    "figure_id",
    "doc_id",
    "sha256",
    "start",
    "end",
    "surface",
    "old",
    "new",
    "note",
)


def _plain(value: Any) -> Any:
    """Decimal → int where whole, else float; anything else as is.

    >>> _plain(Decimal("31")), _plain(Decimal("92.3")), _plain("份")
    (31, 92.3, '份')
    """
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
