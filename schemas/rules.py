"""Models of the rules files in ``rules/``: every file is validated against one of these at load.

Each model forbids unknown keys and compiles its regexes in a validator, so a bad rule fails at
load with the file, the rule id and the field named (see ``extract.rules``).
"""

from __future__ import annotations

from typing import Annotated, Literal

import regex
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

UnitClass = Literal[
    "person",
    "person_time",
    "org",
    "document",
    "item",
    "event",
    "case",
    "household",
    "money",
    "usd",
    "percent",
    "vote",
    "area",
    "other",
]
Status = Literal["actual", "plan", "prior"]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def compile_regex(pattern: str) -> str:
    try:
        regex.compile(pattern)
    except regex.error as exc:
        raise ValueError(f"bad regex {pattern!r}: {exc}") from exc
    return pattern


Regex = Annotated[str, Field(min_length=1)]


# --- taxonomy.yaml ---------------------------------------------------------------------------
class Metric(StrictModel):
    zh: str
    unit_class: UnitClass
    family: str
    also: list[UnitClass] = Field(default_factory=list, description="further unit classes it accepts")


class Taxonomy(StrictModel):
    kind: Literal["taxonomy"]
    version: int
    metrics: dict[str, Metric]

    @field_validator("metrics")
    @classmethod
    def _has_other(cls, v: dict[str, Metric]) -> dict[str, Metric]:
        if "other" not in v:
            raise ValueError("the taxonomy must define the catch-all metric 'other'")
        return v


# --- units.yaml ------------------------------------------------------------------------------
class Unit(StrictModel):
    unit: str = Field(description="the normalised measure word written in the unit column")
    classes: list[UnitClass] = Field(min_length=1, description="the unit classes it can express")
    aliases: list[str] = Field(default_factory=list, description="other spellings that normalise to it")
    time: bool = Field(default=False, description="a unit of time: its number is a date or period")
    as_unit: str | None = Field(default=None, description="written as this unit instead (成 → %)")
    times: int = Field(default=1, ge=1, description="with as_unit: the number times this (8成 → 80%)")


class Units(StrictModel):
    kind: Literal["units"]
    units: list[Unit]
    scales: dict[str, int] = Field(description="multipliers written before a unit: 万 → 10000")
    approx_before: list[str]
    approx_after: list[str]
    range_joiners: list[str]
    placeholders: list[Regex]
    table_unit_labels: list[str] = Field(
        default_factory=list, description="words naming a table's unit before a colon: 单位：万元"
    )

    @field_validator("placeholders")
    @classmethod
    def _compile_all(cls, v: list[str]) -> list[str]:
        return [compile_regex(p) for p in v]

    @model_validator(mode="after")
    def _unique(self) -> Units:
        seen: set[str] = set()
        for u in self.units:
            for s in [u.unit, *u.aliases]:
                if s in seen:
                    raise ValueError(f"unit spelling {s!r} is listed twice")
                seen.add(s)
        return self


# --- patterns/*.yaml: metric rules ------------------------------------------------------------
class MetricRule(StrictModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = ""
    metric: str
    kind: Literal["phrase", "regex"] = "phrase"
    cues: list[str] = Field(min_length=1, description="phrases (or regexes, kind: regex) that point to the metric")
    side: Literal["before", "after", "either"] = "before"
    window: int = Field(default=12, ge=0, le=80, description="how many characters may stand between cue and number")
    units: list[str] = Field(
        default_factory=list, description="units it accepts; empty: any unit its metric's class allows"
    )
    context: list[str] = Field(default_factory=list, description="one of these must stand earlier in the sentence")
    block: list[str] = Field(default_factory=list, description="none of these may stand between cue and number")
    priority: int = Field(default=0, description="breaks ties between rules at the same distance")

    @model_validator(mode="after")
    def _compile_regex(self) -> MetricRule:
        if self.kind == "regex":
            for cue in self.cues:
                compile_regex(cue)
        return self


class Refinement(StrictModel):
    """A word in the figure's clause that turns a general metric into a narrower one:
    新建 makes org.unions org.unions_new; 捐款 makes aid.amount aid.donations."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = ""
    from_metric: str
    to_metric: str
    cues: list[str] = Field(min_length=1)


class MetricRules(StrictModel):
    kind: Literal["metric_rules"]
    family: str
    rules: list[MetricRule]
    refinements: list[Refinement] = Field(default_factory=list)


# --- lexicons/nonfigures.yaml -------------------------------------------------------------------
class NonFigureRule(StrictModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = ""
    reason: Literal[
        "date",
        "period",
        "age",
        "threshold",
        "ordinal",
        "name",
        "docno",
        "furniture",
        "indefinite",
        "condition",
    ]
    kind: Literal["phrase", "regex"]
    patterns: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _compile_regex(self) -> NonFigureRule:
        if self.kind == "regex":
            for p in self.patterns:
                compile_regex(p)
        return self


class NonFigures(StrictModel):
    kind: Literal["nonfigures"]
    rules: list[NonFigureRule]


# --- lexicons/status.yaml ---------------------------------------------------------------------
class StatusRules(StrictModel):
    kind: Literal["status"]
    plan_cues: list[str]
    nominal_plan_cues: list[str] = Field(
        default_factory=list, description="nouns (预算) that make a plan only of the number they name"
    )
    plan_cue_exceptions: list[str] = Field(
        default_factory=list, description="words that hold a plan cue but are none (将近)"
    )
    plan_sections: list[Regex] = Field(description="headings that open a section about later periods")
    section_heading: Regex = Field(description="what any top-level heading looks like (closes a plan section)")
    prior_cues: list[str]
    prior_window: int = Field(ge=0, le=40)
    current_cues: list[str] = Field(default_factory=list, description="words of the period reported (今年, 目前)")
    change_words: list[str] = Field(description="a change between a prior cue and the number keeps it actual")
    plan_blockers: list[str] = Field(description="words after a plan cue that show the sentence reports a result")
    clause_breaks: str = Field(description="characters that end the reach of a plan cue")

    @field_validator("plan_sections", "section_heading")
    @classmethod
    def _compile_all(cls, v: list[str] | str) -> list[str] | str:
        for p in [v] if isinstance(v, str) else v:
            compile_regex(p)
        return v


# --- furniture.yaml ----------------------------------------------------------------------------
class FurnitureRule(StrictModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = ""
    kind: Literal["line", "block", "span"] = Field(
        description="line: the whole line; block: from this line to the end of the part; span: the match only"
    )
    pattern: Regex

    @field_validator("pattern")
    @classmethod
    def _c(cls, v: str) -> str:
        return compile_regex(v)


class Furniture(StrictModel):
    kind: Literal["furniture"]
    rules: list[FurnitureRule]
    repeated_line_min: int = Field(ge=2, description="a short line seen this often in one file is a watermark")
    repeated_line_max_chars: int = Field(ge=1)


# --- documents.yaml: splitting and metadata ---------------------------------------------------
class DocTypeRule(StrictModel):
    doc_type: Literal[
        "work_summary",
        "funds_audit_report",
        "election_report",
        "news_report",
        "plan",
        "non_union_summary",
        "other",
    ]
    title_cues: list[str] = Field(default_factory=list)
    body_cues: list[str] = Field(default_factory=list, description="cues anywhere in the first part of the text")


class DocumentRules(StrictModel):
    kind: Literal["documents"]
    part_heading: list[Regex] = Field(description="a line that opens part N of a compilation; group 'n'")
    collection_title: Regex = Field(description="the title line of a compilation: (共11篇)")
    doc_types: list[DocTypeRule]
    union_words: list[str] = Field(description="words that make a summary a union one")
    organisation: Regex = Field(description="an organisation name; group 'org'")
    org_name_pos: list[str] = Field(description="part-of-speech flags (prefixes) every word of a name may have")
    org_levels: dict[str, list[str]] = Field(description="level → name endings that show it, first match wins")
    region: Regex = Field(description="a place name that the organisation name starts with; group 'region'")
    year: list[Regex] = Field(description="phrases stating the year covered; group 'year' (may be a placeholder)")
    date: Regex = Field(description="a report date line: groups y, m, d in Arabic or Chinese numerals")
    retrospective_types: list[str] = Field(description="document types that report on the year before their date")

    @field_validator("part_heading", "year")
    @classmethod
    def _compile_all(cls, v: list[str]) -> list[str]:
        return [compile_regex(p) for p in v]

    @field_validator("collection_title", "organisation", "region", "date")
    @classmethod
    def _c(cls, v: str) -> str:
        return compile_regex(v)


# --- lexicons/domain_terms.yaml → jieba_user.dict -----------------------------------------------
class DomainTerms(StrictModel):
    kind: Literal["domain_terms"]
    terms: list[str]


# --- lexicons/qualifiers.yaml ------------------------------------------------------------------
class Qualifiers(StrictModel):
    kind: Literal["qualifiers"]
    candidate_marker: Regex
    subset_words: list[str]
    scope_words: list[str]
    respectively_words: list[str] = Field(
        description="A和B分别为X、Y: the numbers after it go to the statistics before"
    )
    shared_value_words: list[str] = Field(description="between cues and one number: it counts for each (均, 都)")

    @field_validator("candidate_marker")
    @classmethod
    def _c(cls, v: str) -> str:
        return compile_regex(v)
