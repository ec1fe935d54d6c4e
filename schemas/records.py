"""Typed records: the figures of one document grouped into rows of one table each.

Every record points at the figures it was built from (``figure_ids``, their ``spans`` into the
original text, and ``sources``: which figure filled which field), so a value in a record can
always be traced to the words it came from. A record that fails validation is not dropped: it
becomes a ``RecordError`` row with the pydantic message.
"""

from __future__ import annotations

from decimal import Decimal
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, model_validator

Status = Literal["actual", "plan", "prior"]
Count = Annotated[Decimal, Field(ge=0, description="a count: never negative")]
Money = Annotated[Decimal, Field(ge=0, description="an amount in the base currency unit")]
Rate = Annotated[Decimal, Field(ge=0, le=100, description="a share in percent")]


class Record(BaseModel):
    """What every record carries: identity and provenance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    record_id: str
    doc_id: str
    status: Status
    figure_ids: tuple[str, ...] = Field(min_length=1, description="the figures the record was built from")
    spans: tuple[tuple[int, int], ...] = Field(min_length=1, description="their (start, end) in the original text")
    sources: dict[str, str] = Field(default_factory=dict, description="field → figure_id that filled it")

    @model_validator(mode="after")
    def _provenance(self) -> Record:
        if len(self.spans) != len(self.figure_ids):
            raise ValueError("one span per figure id")
        for start, end in self.spans:
            if not 0 <= start < end:
                raise ValueError(f"bad span {start}:{end}")
        unknown = set(self.sources.values()) - set(self.figure_ids)
        if unknown:
            raise ValueError(f"sources name figures that are not in figure_ids: {sorted(unknown)}")
        return self

    def row(self) -> dict[str, Any]:
        """A flat row for tables: Decimal → float, lists joined with ';'."""
        data = self.model_dump()
        for key, value in data.items():
            if isinstance(value, Decimal):
                data[key] = float(value)
        data["figure_ids"] = ";".join(self.figure_ids)
        data["spans"] = ";".join(f"{s}:{e}" for s, e in self.spans)
        data["sources"] = ";".join(f"{k}={v}" for k, v in self.sources.items())
        return data


class ContractRecord(Record):
    """Collective (or labour) contracts of one scope and kind."""

    scope: str = Field(description="'all', or the scope words: 区域性、行业性, 规模以上企业 …")
    kind: str | None = Field(
        description="集体合同, 工资专项, 女职工专项, 劳动合同 …; None when only coverage is stated"
    )
    count: Count | None = None
    enterprises_covered: Count | None = None
    workers_covered: Count | None = None
    coverage_rate: Rate | None = None


class MembershipRecord(Record):
    scope: str
    unions: Count | None = None
    unions_new: Count | None = None
    union_rate: Rate | None = None
    members: Count | None = None
    members_new: Count | None = None
    member_rate: Rate | None = None
    workers: Count | None = None
    enterprises: Count | None = None


class FundsRecord(Record):
    """One statement of union funds: a year's accounts, a budget, or an earlier year's."""

    period_year: int | None = Field(
        description="the year it is about: accounts the document's year; a budget or earlier year's as written"
    )
    basis: Literal["actual", "budget", "prior"]
    income: Money | None = None
    expenditure: Money | None = None
    surplus: Decimal | None = Field(default=None, description="the year's balance (本年结余); may be negative")
    balance: Decimal | None = Field(default=None, description="the balance stated (结余, 滚存结余)")
    prior_balance: Decimal | None = Field(default=None, description="上年结余")
    allocated: Money | None = Field(default=None, description="sum of the allocated sub-items stated")
    dues: Money | None = None
    income_items: Money | None = Field(default=None, description="sum of the income sub-items stated")
    income_items_n: int = Field(default=0, ge=0)
    expenditure_items: Money | None = Field(default=None, description="sum of the expenditure sub-items stated")
    expenditure_items_n: int = Field(default=0, ge=0)


class AssistanceRecord(Record):
    scope: str
    recipients: Count | None = None
    amount: Money | None = None
    donors: Count | None = None
    donations: Money | None = None
    students: Count | None = None
    reemployed: Count | None = None
    insured: Count | None = None


class ElectionRecord(Record):
    """One vote of a meeting: attendance and ballots; its candidates are rows of their own."""

    expected: Count | None = None
    present: Count | None = None
    ballots_issued: Count | None = None
    ballots_returned: Count | None = None
    ballots_valid: Count | None = None
    ballots_invalid: Count | None = None
    ballots_abstained: Count | None = None
    candidates: int = Field(default=0, ge=0)


class CandidateRecord(Record):
    election_id: str
    candidate: str = Field(min_length=1, description="the figure qualifier (候选人6, or the name)")
    position: int = Field(ge=1, description="order of the candidate in the election")
    votes_for: Count | None = None
    votes_against: Count | None = None
    votes_abstain: Count | None = None


class ActivityRecord(Record):
    competitions: Count | None = None
    competition_participants: Count | None = None
    proposals: Count | None = None
    proposals_adopted: Count | None = None
    innovations: Count | None = None
    benefit: Money | None = None
    trainings: Count | None = None
    trainees: Count | None = None
    awards_collective: Count | None = None
    awards_individual: Count | None = None
    culture_activities: Count | None = None
    culture_participants: Count | None = None


class RecordError(BaseModel):
    """A record (or an input figure row) that failed validation, with the pydantic message."""

    model_config = ConfigDict(frozen=True)

    table: str
    doc_id: str
    record_id: str | None
    figure_ids: str = Field(description="';'-joined figure ids the record was built from")
    errors: str
    data: str = Field(description="the values that failed, as JSON")


RECORD_MODELS: dict[str, type[Record]] = {
    "contracts": ContractRecord,
    "membership": MembershipRecord,
    "funds": FundsRecord,
    "assistance": AssistanceRecord,
    "elections": ElectionRecord,
    "election_candidates": CandidateRecord,
    "activities": ActivityRecord,
}

RECORD_COLUMNS: dict[str, tuple[str, ...]] = {name: tuple(model.model_fields) for name, model in RECORD_MODELS.items()}
RECORD_ERROR_COLUMNS = tuple(RecordError.model_fields)


def _base_types(annotation: Any) -> set[Any]:
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        return set().union(*(_base_types(a) for a in get_args(annotation)))
    if origin is Annotated:
        return _base_types(get_args(annotation)[0])
    return {annotation}


def column_dtypes(model: type[BaseModel]) -> dict[str, str]:
    """pandas dtypes for the number columns of a record table (Decimal → float64, int → Int64)."""
    out: dict[str, str] = {}
    for name, info in model.model_fields.items():
        types = _base_types(info.annotation) - {NoneType}
        if types == {Decimal}:
            out[name] = "float64"
        elif types == {int}:
            out[name] = "Int64"
    return out
