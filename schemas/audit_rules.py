"""Model of ``rules/audit.yaml``: the data the record builder and the audit checks run on.

Cue words, tolerances, message templates and severities live in the YAML; the code in
``extract/records.py`` and ``extract/audit/`` holds none of them. Regexes are compiled here, and
every message template is checked against the placeholders the checks fill in.
"""

from __future__ import annotations

import string
from typing import Literal

import regex
from pydantic import Field, field_validator, model_validator

from schemas.rules import StrictModel, compile_regex

Severity = Literal["error", "warning", "info"]
Status = Literal["actual", "plan", "prior"]

# Every placeholder a message template may use; the checks fill in the ones they need.
TEMPLATE_FIELDS = frozenset(
    {
        "arithmetic",
        "candidate",
        "metric_zh",
        "metric_en",
        "part",
        "whole",
        "total",
        "stated",
        "recomputed",
        "basis_zh",
        "basis_en",
        "count",
        "names",
        "surface",
        "org",
        "year",
        "prior_year",
        "value",
        "other_value",
        "other_doc",
        "side_zh",
        "side_en",
        "scope",
    }
)


class AuditRule(StrictModel):
    """One check: how bad a hit is, and what it says in Chinese and English."""

    name: str = Field(min_length=1, description="a short readable name")
    severity: Severity
    enabled: bool = True
    message_zh: str = Field(min_length=1)
    message_en: str = Field(min_length=1)

    @field_validator("message_zh", "message_en")
    @classmethod
    def _known_fields(cls, v: str) -> str:
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(v) if name}
        except ValueError as exc:
            raise ValueError(f"bad template {v!r}: {exc}") from exc
        unknown = fields - TEMPLATE_FIELDS
        if unknown:
            raise ValueError(f"template names unknown fields {sorted(unknown)}; known: {sorted(TEMPLATE_FIELDS)}")
        return v


class Label(StrictModel):
    zh: str
    en: str


class DisplayScale(StrictModel):
    """Money is shown in the arithmetic in this scale when every value is a multiple of it (万)."""

    factor: int = Field(gt=1)
    suffix: str = Field(min_length=1)
    units: list[str] = Field(min_length=1, description="units the scale applies to (元)")


class TextCues(StrictModel):
    """Characters and words that the checks read in the sentence around a figure."""

    clause_breaks: list[str] = Field(min_length=1, description="characters that end a clause")
    decimal_marks: list[str] = Field(min_length=1, description="characters written as a decimal point")
    thousands_marks: list[str] = Field(description="characters between groups of three digits (2,156,300)")
    nesting_open: list[str] = Field(min_length=1, description="brackets that open a nested remark (含…)")
    nesting_close: list[str] = Field(min_length=1)
    lower_bound: list[str] = Field(description="words in a surface that make it a floor (以上, 不低于)")
    upper_bound: list[str] = Field(description="words in a surface that make it a ceiling (以下, 近)")
    year: str = Field(description="a year stated in a sentence; group 'year'")

    @field_validator("year")
    @classmethod
    def _c(cls, v: str) -> str:
        return compile_regex(v)


class Tolerance(StrictModel):
    approx_relative: float = Field(ge=0, le=1, description="slack for a figure marked approximate (余, 约, 近)")
    rate_approx_points: float = Field(ge=0, description="slack in percentage points for an approximate rate")
    max_part_distance: int = Field(gt=0, description="characters a 其中 figure may stand after its total")


class ContractKind(StrictModel):
    kind: str
    metric: str
    words: list[str] = Field(default_factory=list, description="qualifier words that select this kind")


class RecordRules(StrictModel):
    """How figures are grouped into the typed records."""

    scope_words: list[str] = Field(description="qualifier words that name a scope (区域性, 非公企业); longest first")
    subset_prefixes: list[str] = Field(min_length=1, description="a qualifier opening with one marks a sub-count")
    max_gap: int = Field(gt=0, description="characters between two figures beyond which a record is closed")
    contract_kinds: list[ContractKind] = Field(min_length=1, description="first match wins")
    contract_covers: dict[str, str] = Field(description="metric → field of a contract record it fills")
    membership: dict[str, str]
    assistance: dict[str, str]
    activities: dict[str, str]
    elections: dict[str, str]
    candidate_votes: dict[str, str]
    funds_metrics: list[str]
    funds_income_items: list[str] = Field(description="metrics that are always income sub-items (拨缴, 会费)")
    funds_total_cues: list[str] = Field(description="words before a funds figure that make it a total (总收入)")
    funds_item_words: dict[str, list[str]] = Field(
        description="income/expenditure → words that make a figure without 其中 a sub-item (上缴, 行政支出)"
    )
    budget_cues: list[str] = Field(description="words before a funds figure that make it a budget (预算)")
    surplus_cues: list[str] = Field(description="a balance of the year alone: income − expenditure (本年结余)")
    closing_cues: list[str] = Field(description="a closing balance: prior + income − expenditure (滚存结余)")
    remainder_cues: list[str] = Field(description="an item that closes a list, so the items add up (其他收入)")


class ElectionRules(StrictModel):
    cast_basis: list[str] = Field(min_length=1, description="fields of an election, in order, taken as ballots cast")
    elected_cues_after: list[str] = Field(description="words just after a count that make it the elected (同志)")
    elected_cues_before: list[str] = Field(description="words just before a count that make it the elected (当选)")
    elected_window: int = Field(ge=0, le=20)
    list_separators: list[str] = Field(min_length=1, description="what separates the names of a list (、)")
    list_closers: list[str] = Field(description="a word closing a list before its count (等)")
    colons: list[str] = Field(description="a colon after a count opens the names")
    name_max_chars: int = Field(ge=2, le=8)
    count_units: list[str] = Field(min_length=1, description="unit classes of a count of people")


class RateDefinition(StrictModel):
    rate: str
    numerator: list[str] = Field(min_length=1)
    denominator: list[str] = Field(min_length=1)


class RateRules(StrictModel):
    of_pattern: str = Field(description="text after a count that makes it the base of the next (15家企业中)")
    definitions: list[RateDefinition]

    @field_validator("of_pattern")
    @classmethod
    def _c(cls, v: str) -> str:
        return compile_regex(v)


class PartPair(StrictModel):
    part: str
    whole: str


class TotalsRules(StrictModel):
    base_cues: list[str] = Field(min_length=1, description="words just after a count that make it the base (基础上)")
    base_window: int = Field(ge=0, le=20)
    increase_cues: list[str] = Field(min_length=1)
    cumulative_cues: list[str] = Field(min_length=1)


class CrossRules(StrictModel):
    statuses: list[Status] = Field(min_length=1, description="statuses compared between documents of one year")


class AuditRules(StrictModel):
    kind: Literal["audit"]
    version: int
    rules: dict[str, AuditRule]
    labels: dict[str, Label] = Field(description="readable names of metrics and fields, by id")
    vague_metrics: list[str] = Field(description="metrics too vague to compare with one another (other)")
    display_scales: list[DisplayScale] = Field(default_factory=list)
    text: TextCues
    tolerance: Tolerance
    records: RecordRules
    elections: ElectionRules
    rates: RateRules
    parents: dict[str, list[str]] = Field(description="a 其中 figure of the key may be part of a total of these")
    part_pairs: list[PartPair] = Field(description="part ≤ whole metric pairs (采纳 ≤ 征集)")
    totals: TotalsRules
    cross: CrossRules

    @model_validator(mode="after")
    def _rule_ids(self) -> AuditRules:
        for rule_id in self.rules:
            if not regex.fullmatch(r"[a-z]+(?:\.[a-z_]+)+", rule_id):
                raise ValueError(f"rule id {rule_id!r} is not of the form family.name")
        return self
