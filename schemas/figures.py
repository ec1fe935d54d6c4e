"""A reported figure: one row of the ``figures`` table, and the ``rejected`` table."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

Status = Literal["actual", "plan", "prior"]

# Columns of the figures table, in order (the README documents each).
FIGURE_COLUMNS = (
    "figure_id",
    "doc_id",
    "start",
    "end",
    "surface",
    "value",
    "unit",
    "unit_class",
    "metric",
    "status",
    "approx",
    "value_max",
    "qualifier",
    "subject",
    "sentence",
    "extractor",
    "confidence",
    "flags",
)


class Figure(BaseModel):
    """One reported figure with its provenance.

    ``start``/``end`` are offsets into the original text of the input file (the whole file for
    the parts of a compilation), and ``surface == original[start:end]``. Validation against the
    taxonomy (known metric, unit compatible with it) needs ``context={"taxonomy": ..., "units": ...}``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    figure_id: str
    doc_id: str
    start: int = Field(ge=0)
    end: int = Field(gt=0)
    surface: str = Field(min_length=1)
    value: Decimal | None = Field(description="normalised value; None where the text holds a placeholder")
    unit: str = Field(description="measure word after normalisation, empty where the text has none")
    unit_class: str
    metric: str
    status: Status
    approx: bool = False
    value_max: Decimal | None = None
    qualifier: str | None = None
    subject: str | None = None
    sentence: str
    extractor: str = Field(description="the rule (or model) that decided the metric")
    confidence: float = Field(ge=0.0, le=1.0)
    flags: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Figure:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.value_max is not None and self.value is not None and self.value_max < self.value:
            raise ValueError("value_max is below value")
        ctx = info.context or {}
        taxonomy = ctx.get("taxonomy")
        unit_classes: dict[str, list[str]] | None = ctx.get("unit_classes")
        if taxonomy is not None:
            metric = taxonomy.metrics.get(self.metric)
            if metric is None:
                raise ValueError(f"unknown metric id {self.metric!r}")
            if unit_classes is not None and self.unit and self.metric != "other":
                accepted = {metric.unit_class, *metric.also}
                if not accepted.intersection(unit_classes.get(self.unit, [])):
                    raise ValueError(
                        f"unit {self.unit!r} does not fit metric {self.metric} (unit class {metric.unit_class})"
                    )
        return self

    def row(self) -> dict[str, Any]:
        """A flat row for tables: Decimal → float, flags joined."""
        data = self.model_dump()
        for key in ("value", "value_max"):
            data[key] = None if data[key] is None else float(data[key])
        data["flags"] = ";".join(self.flags)
        return data

    @staticmethod
    def columns(figures: Sequence[Figure]) -> dict[str, list[Any]]:
        """The rows of ``figures`` as one list per column, as :meth:`row` gives them (for Arrow
        tables: a dict per row costs more than the rest of writing them)."""
        cols: dict[str, list[Any]] = {name: [getattr(f, name) for f in figures] for name in FIGURE_COLUMNS}
        for key in ("value", "value_max"):
            cols[key] = [None if v is None else float(v) for v in cols[key]]
        cols["flags"] = [";".join(v) for v in cols["flags"]]
        return cols


class Rejected(BaseModel):
    """A candidate that failed validation: kept with its errors, never dropped silently."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    start: int
    end: int
    surface: str
    candidate: dict[str, Any]
    errors: str


def is_finite_number(x: object) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
