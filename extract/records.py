"""Group the figures of one document into typed records (``schemas.records``).

The input is the ``figures`` table as the store holds it (a DataFrame with ``FIGURE_COLUMNS``);
each row becomes a ``Figure`` again, and the figures of one document are read in text order.
Grouping is by the metric (which table and field a figure fills), the qualifier (scope words,
sub-counts) and the order of the figures: a record is closed when a field it already has comes
again, when the status or scope changes, or when the next figure stands too far away.

Every record built is validated; one that fails becomes a ``RecordError`` and is never dropped.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd
import regex
from pydantic import ValidationError

from schemas.audit_rules import AuditRules
from schemas.figures import FIGURE_COLUMNS, Figure
from schemas.records import (
    RECORD_COLUMNS,
    RECORD_ERROR_COLUMNS,
    RECORD_MODELS,
    Record,
    RecordError,
    column_dtypes,
)

log = logging.getLogger(__name__)

ALL_SCOPE = "all"
SCOPE_JOINER = "/"


# --- figures from the table ---------------------------------------------------------------------
def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _decimal(value: Any) -> Decimal | None:
    if _missing(value):
        return None
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(float(value))) if isinstance(value, float) else Decimal(str(value))


def _figure_data(row: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for col in FIGURE_COLUMNS:
        value = row.get(col)
        data[col] = None if _missing(value) else value
    data["value"] = _decimal(row.get("value"))
    data["value_max"] = _decimal(row.get("value_max"))
    flags = data.get("flags")
    if isinstance(flags, str):
        data["flags"] = tuple(f for f in flags.split(";") if f)
    elif flags is None:
        data["flags"] = ()
    else:
        data["flags"] = tuple(flags)
    for col in ("unit", "unit_class", "sentence", "extractor"):
        data[col] = "" if data[col] is None else str(data[col])
    if data["approx"] is None:
        data["approx"] = False
    if data["confidence"] is None:
        data["confidence"] = 0.0
    for col in ("start", "end"):
        if data[col] is not None:
            data[col] = int(data[col])
    return data


def figures_from_frame(figures: pd.DataFrame) -> tuple[list[Figure], list[RecordError]]:
    """The rows of a ``figures`` table as ``Figure`` models; a row that fails is reported."""
    out: list[Figure] = []
    errors: list[RecordError] = []
    for row in figures.to_dict("records"):
        data = _figure_data(row)
        try:
            out.append(Figure.model_validate(data))
        except ValidationError as exc:
            errors.append(
                RecordError(
                    table="figures",
                    doc_id=str(data.get("doc_id") or ""),
                    record_id=None,
                    figure_ids=str(data.get("figure_id") or ""),
                    errors=str(exc),
                    data=json.dumps(data, ensure_ascii=False, default=str),
                )
            )
    return out, errors


# --- one document's figures, with where each stands in its sentence ---------------------------------
def _find_all(text: str, sub: str) -> Iterator[int]:
    i = text.find(sub)
    while i >= 0:
        yield i
        i = text.find(sub, i + 1)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a figure stands: its sentence (one occurrence of it) and its offset there."""

    slot: tuple[str, int]
    pos: int


class DocView:
    """The figures of one document in text order, and the words around each in its sentence."""

    def __init__(
        self, doc_id: str, figures: Iterable[Figure], rules: AuditRules, meta: dict[str, Any] | None = None
    ) -> None:
        self.doc_id = doc_id
        self.rules = rules
        self.meta = meta or {}
        self.figures = sorted(figures, key=lambda f: (f.start, f.end))
        self.places: dict[str, Place] = {}
        self.slots: dict[tuple[str, int], list[Figure]] = defaultdict(list)
        self._locate()
        self._breaks = set(rules.text.clause_breaks)

    def _locate(self) -> None:
        by_sentence: dict[str, list[Figure]] = defaultdict(list)
        for f in self.figures:
            if f.sentence:
                by_sentence[f.sentence].append(f)
        for sentence, group in by_sentence.items():
            options = {f.figure_id: [f.start - i for i in _find_all(sentence, f.surface)] for f in group}
            votes: Counter[int] = Counter()
            for bases in options.values():
                votes.update(set(bases))
            for f in group:
                bases = options[f.figure_id]
                if not bases:
                    continue
                base = max(bases, key=lambda b: (votes[b], -abs(b - (f.start - len(sentence)))))
                place = Place((sentence, base), f.start - base)
                self.places[f.figure_id] = place
                self.slots[place.slot].append(f)

    @property
    def period_year(self) -> int | None:
        year = self.meta.get("period_year")
        return None if _missing(year) else int(year)

    def place(self, f: Figure) -> Place | None:
        return self.places.get(f.figure_id)

    def same_sentence(self, a: Figure, b: Figure) -> bool:
        pa, pb = self.place(a), self.place(b)
        if pa is None or pb is None:
            return a.sentence == b.sentence and bool(a.sentence)
        return pa.slot == pb.slot

    def sentence_of(self, f: Figure) -> list[Figure]:
        """The figures of f's sentence, in order (just f when it cannot be placed)."""
        p = self.place(f)
        return list(self.slots[p.slot]) if p else [f]

    def before(self, f: Figure, clause: bool = False) -> str:
        """Text of f's sentence before it: back to the previous figure (or, with ``clause``, to the
        last clause break). Falls back to the figure's ``subject`` when f cannot be placed."""
        p = self.place(f)
        if p is None:
            return f.subject or ""
        sentence = p.slot[0]
        text = sentence[: p.pos]
        if clause:
            cut = max((text.rfind(c) for c in self._breaks), default=-1)
            return text[cut + 1 :]
        prev_end = 0
        for g in self.slots[p.slot]:
            gp = self.places[g.figure_id].pos
            if gp < p.pos and g.figure_id != f.figure_id:
                prev_end = max(prev_end, gp + len(g.surface))
        return text[min(prev_end, p.pos) :]

    def after(self, f: Figure, clause: bool = False) -> str:
        """Text of f's sentence after it, up to the next figure (or, with ``clause``, the next break)."""
        p = self.place(f)
        if p is None:
            return ""
        sentence = p.slot[0]
        start = p.pos + len(f.surface)
        text = sentence[start:]
        if clause:
            cuts = [i for i in (text.find(c) for c in self._breaks) if i >= 0]
            return text[: min(cuts)] if cuts else text
        next_start = len(sentence)
        for g in self.slots[p.slot]:
            gp = self.places[g.figure_id].pos
            if gp >= start and g.figure_id != f.figure_id:
                next_start = min(next_start, gp)
        return sentence[start:next_start]

    def label(self, f: Figure) -> str:
        """The words naming f: text before it back to the previous figure or the last clause break,
        a colon just before it skipped (1．会费收入：11.35万元 → 1．会费收入)."""
        text = self.before(f).rstrip()
        while text and (text[-1] in self.rules.elections.colons or text[-1].isspace()):
            text = text[:-1]
        cut = max((text.rfind(c) for c in self._breaks), default=-1)
        return text[cut + 1 :]

    def between(self, a: Figure, b: Figure) -> str:
        """Text between the end of ``a`` and the start of ``b`` in their sentence ('' when apart)."""
        pa, pb = self.place(a), self.place(b)
        if pa is None or pb is None or pa.slot != pb.slot:
            return ""
        return pa.slot[0][pa.pos + len(a.surface) : pb.pos]

    def unbracketed(self, text: str) -> str:
        """``text`` without its bracketed remarks: 维权支出（其中帮扶…）→ 维权支出."""
        opens, closes = set(self.rules.text.nesting_open), set(self.rules.text.nesting_close)
        depth, kept = 0, []
        for ch in text:
            if ch in opens:
                depth += 1
            elif ch in closes:
                depth = max(depth - 1, 0)
            elif depth == 0:
                kept.append(ch)
        return "".join(kept)

    def sentence_text_before(self, f: Figure) -> str:
        p = self.place(f)
        return p.slot[0][: p.pos] if p else (f.subject or "")

    def nested(self, f: Figure) -> bool:
        """Whether f stands inside brackets (a remark such as （含…）) in its sentence."""
        p = self.place(f)
        if p is None:
            return False
        text = p.slot[0][: p.pos]
        opens = sum(text.count(c) for c in self.rules.text.nesting_open)
        closes = sum(text.count(c) for c in self.rules.text.nesting_close)
        return opens > closes

    def is_subset(self, f: Figure) -> bool:
        """A sub-count: its qualifier opens with 其中, or a 其中 stands before it in its sentence."""
        q = (f.qualifier or "").strip()
        prefixes = self.rules.records.subset_prefixes
        return any(q.startswith(p) for p in prefixes) or self.subset_word_at(f) >= 0

    def subset_word_at(self, f: Figure) -> int:
        """Where the last 其中 (any subset word) before f stands in its sentence; -1 when none."""
        p = self.place(f)
        if p is None:
            return -1
        text = p.slot[0][: p.pos]
        return max((text.rfind(w) for w in self.rules.records.subset_prefixes), default=-1)


def scope_of(qualifier: str | None, words: list[str], drop: Iterable[str] = ()) -> str:
    """The scope words a qualifier names, in order of appearance, joined; 'all' when none."""
    text = qualifier or ""
    taken: list[tuple[int, str]] = []
    used: list[tuple[int, int]] = []
    dropped = set(drop)
    for word in sorted(words, key=len, reverse=True):
        for i in _find_all(text, word):
            span = (i, i + len(word))
            if any(s < span[1] and span[0] < e for s, e in used):
                continue
            used.append(span)
            if word not in dropped:
                taken.append((i, word))
    return SCOPE_JOINER.join(w for _, w in sorted(taken)) or ALL_SCOPE


# --- building records -------------------------------------------------------------------------------
@dataclass
class Draft:
    """A record being built: the figures that fill its fields, and any sub-items."""

    table: str
    doc_id: str
    status: str
    keys: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Figure] = field(default_factory=dict)
    items: dict[str, list[Figure]] = field(default_factory=dict)
    nested: set[str] = field(default_factory=set)
    last_end: int = 0
    parent: Draft | None = None
    children: list[Draft] = field(default_factory=list)

    def add(self, name: str, f: Figure) -> None:
        self.fields[name] = f
        self.last_end = max(self.last_end, f.end)

    def add_item(self, group: str, f: Figure) -> None:
        self.items.setdefault(group, []).append(f)
        self.last_end = max(self.last_end, f.end)

    def top_items(self, group: str) -> list[Figure]:
        """The sub-items of a group that are not nested inside another item's remark."""
        return [f for f in self.items.get(group, []) if f.figure_id not in self.nested]

    def figures(self) -> list[Figure]:
        seen: dict[str, Figure] = {}
        children = (g for c in self.children for g in c.figures())
        for f in [*self.fields.values(), *(g for items in self.items.values() for g in items), *children]:
            seen.setdefault(f.figure_id, f)
        return sorted(seen.values(), key=lambda f: f.start)


@dataclass
class Built:
    """A record and the figures behind it; ``record`` is None when it failed validation."""

    draft: Draft
    record_id: str
    record: Record | None = None

    @property
    def table(self) -> str:
        return self.draft.table

    @property
    def fields(self) -> dict[str, Figure]:
        return self.draft.fields

    @property
    def items(self) -> dict[str, list[Figure]]:
        return self.draft.items


@dataclass
class Records:
    built: list[Built] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)

    def of(self, table: str) -> list[Built]:
        return [b for b in self.built if b.table == table]

    def frames(self) -> dict[str, pd.DataFrame]:
        out: dict[str, pd.DataFrame] = {}
        for table, columns in RECORD_COLUMNS.items():
            rows = [b.record.row() for b in self.built if b.table == table and b.record is not None]
            out[table] = pd.DataFrame(rows, columns=list(columns)).astype(column_dtypes(RECORD_MODELS[table]))
        out["record_errors"] = pd.DataFrame([e.model_dump() for e in self.errors], columns=list(RECORD_ERROR_COLUMNS))
        return out


def _value(f: Figure | None) -> Decimal | None:
    return None if f is None else f.value


def _sum(figures: list[Figure]) -> Decimal | None:
    if not figures or any(f.value is None for f in figures):
        return None
    return sum((f.value for f in figures if f.value is not None), Decimal(0))


class RecordBuilder:
    """Builds every table's records for one document at a time, with the rules loaded once."""

    def __init__(self, rules: AuditRules) -> None:
        self.rules = rules
        self.r = rules.records
        self.kind_metrics = {k.metric for k in self.r.contract_kinds}
        self.kind_words = {w for k in self.r.contract_kinds for w in k.words}
        self.year = regex.compile(rules.text.year)

    def __call__(self, view: DocView) -> list[Draft]:
        drafts: list[Draft] = []
        drafts += self._contracts(view)
        drafts += self._simple(view, "membership", self.r.membership)
        drafts += self._funds(view)
        drafts += self._simple(view, "assistance", self.r.assistance)
        drafts += self._elections(view)
        drafts += self._simple(view, "activities", self.r.activities, scoped=False)
        return drafts

    # contracts: a count opens a record; coverage figures join the count they follow
    def _kind(self, f: Figure) -> str | None:
        q = f.qualifier or ""
        for k in self.r.contract_kinds:
            if k.metric == f.metric and (not k.words or any(w in q for w in k.words)):
                return k.kind
        return None

    def _contracts(self, view: DocView) -> list[Draft]:
        drafts: list[Draft] = []
        cur: Draft | None = None
        for f in view.figures:
            if f.metric not in self.kind_metrics and f.metric not in self.r.contract_covers:
                continue
            scope = scope_of(f.qualifier, self.r.scope_words, drop=self.kind_words)
            if f.metric in self.kind_metrics:
                kind = self._kind(f)
                joinable = (
                    cur is not None
                    and "count" not in cur.fields
                    and cur.keys["kind"] is None
                    and cur.keys["scope"] == scope
                    and cur.status == f.status
                    and self._near(cur, f)
                )
                if not joinable:
                    cur = Draft("contracts", view.doc_id, f.status, {"scope": scope, "kind": kind})
                    drafts.append(cur)
                assert cur is not None
                cur.keys["kind"] = kind
                cur.add("count", f)
            elif f.metric in self.r.contract_covers:
                name = self.r.contract_covers[f.metric]
                joinable = (
                    cur is not None
                    and name not in cur.fields
                    and cur.status == f.status
                    and self._near(cur, f)
                    and (
                        cur.keys["scope"] == scope
                        or (scope == ALL_SCOPE and "count" in cur.fields and view.same_sentence(cur.fields["count"], f))
                    )
                )
                if not joinable:
                    cur = Draft("contracts", view.doc_id, f.status, {"scope": scope, "kind": None})
                    drafts.append(cur)
                assert cur is not None
                cur.add(name, f)
        return drafts

    @staticmethod
    def _same_scope(view: DocView, cur: Draft, f: Figure, scope: str) -> bool:
        """f belongs to cur's scope: the same scope, or none named and the same sentence as cur's last
        figure (帮扶困难职工38户，发放慰问金7.6万元: the money is the 困难职工's)."""
        if cur.keys.get("scope", ALL_SCOPE) == scope:
            return True
        last = max(cur.fields.values(), key=lambda g: g.start)
        return scope == ALL_SCOPE and view.same_sentence(last, f)

    def _near(self, cur: Draft, f: Figure) -> bool:
        return f.start - cur.last_end <= self.r.max_gap

    # membership, assistance, activities: one field each, a repeat opens a new record
    def _simple(self, view: DocView, table: str, fields: dict[str, str], scoped: bool = True) -> list[Draft]:
        drafts: list[Draft] = []
        cur: Draft | None = None
        for f in view.figures:
            name = fields.get(f.metric)
            if name is None:
                continue
            scope = scope_of(f.qualifier, self.r.scope_words) if scoped else ALL_SCOPE
            if (
                cur is None
                or name in cur.fields
                or cur.status != f.status
                or not self._same_scope(view, cur, f, scope)
                or not self._near(cur, f)
            ):
                cur = Draft(table, view.doc_id, f.status, {"scope": scope} if scoped else {})
                drafts.append(cur)
            cur.add(name, f)
        return drafts

    # funds: statements by basis and year; totals, sub-items and balances
    def _funds(self, view: DocView) -> list[Draft]:
        drafts: list[Draft] = []
        metrics = set(self.r.funds_metrics)
        actual_year: int | None = None  # the year of the accounts, carried on when the document has none
        for f in view.figures:
            if f.metric not in metrics:
                continue
            before = view.label(f)
            prior_balance = f.metric == "funds.balance" and f.status == "prior"
            if f.status == "prior" and not prior_balance:
                basis = "prior"
            elif f.status == "plan" or any(c in before for c in self.r.budget_cues):
                basis = "budget"
            else:
                basis = "actual"
            year = self._period(view, f, basis, actual_year)
            if basis == "actual":
                actual_year = year
            role = self._funds_role(view, f, prior_balance)
            cur = next(
                (d for d in reversed(drafts) if d.keys["basis"] == basis and d.keys["period_year"] == year),
                None,
            )
            if cur is None or (role in ("income", "expenditure") and role in cur.fields):
                status = {"prior": "prior", "budget": "plan"}.get(basis, "actual")
                cur = Draft("funds", view.doc_id, status, {"basis": basis, "period_year": year})
                drafts.append(cur)
            if role.endswith("_items"):
                if self._nested_item(view, f, cur.items.get(role, [])):
                    cur.nested.add(f.figure_id)
                cur.add_item(role, f)
            elif role in ("surplus", "balance"):
                cur.add_item("balances", f)
                if role not in cur.fields:
                    cur.add(role, f)
            elif role not in cur.fields:
                cur.add(role, f)
        return drafts

    def _period(self, view: DocView, f: Figure, basis: str, actual_year: int | None) -> int | None:
        """The year a funds figure is about.

        Accounts: the document's year, else one written in the sentence, else the last one seen.
        A budget: the year written in its sentence (2015年预算), else the document's. An earlier
        year's figure: the year written (比2013年决算数), else the document's year − 1.
        """
        stated = self._stated_year(view, f)
        doc_year = view.period_year
        if basis == "actual":
            return doc_year if doc_year is not None else stated if stated is not None else actual_year
        if basis == "budget":
            return stated if stated is not None else doc_year
        return stated if stated is not None else (doc_year - 1 if doc_year is not None else None)

    def _nested_item(self, view: DocView, f: Figure, earlier: list[Figure]) -> bool:
        """A sub-item of another item: inside brackets, or after a 其中 that follows an earlier item
        of the same list in its sentence (维权支出31万元，其中帮扶慰问28万元，…)."""
        if view.nested(f):
            return True
        same = [g for g in earlier if view.same_sentence(g, f)]
        if not same:
            return False
        side = "income" if f.metric in (*self.r.funds_income_items, "funds.income") else "expenditure"
        if any(w in view.label(f) for w in self.r.funds_item_words.get(side, [])):
            return False  # a top-level category of its own (业务支出) even after a nested list
        between = view.unbracketed(view.between(same[0], f))
        return any(w in between for w in self.r.subset_prefixes)

    def _funds_role(self, view: DocView, f: Figure, prior_balance: bool) -> str:
        if f.metric == "funds.balance":
            if prior_balance:
                return "prior_balance"
            return "surplus" if any(c in view.label(f) for c in self.r.surplus_cues) else "balance"
        if f.metric in self.r.funds_income_items:
            return "income_items"
        side = "income" if f.metric == "funds.income" else "expenditure"
        before = view.label(f)
        if any(c in before for c in self.r.funds_total_cues):
            return side
        if view.is_subset(f):
            return f"{side}_items"
        item_words = self.r.funds_item_words.get(side, [])
        return f"{side}_items" if any(w in before for w in item_words) else side

    def _stated_year(self, view: DocView, f: Figure) -> int | None:
        """The last year written in f's sentence before it (2014年度经费收入预算…)."""
        hits = list(self.year.finditer(view.sentence_text_before(f)))
        return int(hits[-1].group("year")) if hits else None

    # elections: attendance and ballots; candidates by qualifier, in order
    def _elections(self, view: DocView) -> list[Draft]:
        drafts: list[Draft] = []
        cur: Draft | None = None
        for f in view.figures:
            if f.metric in self.r.elections:
                name = self.r.elections[f.metric]
                if cur is None or name in cur.fields:
                    cur = Draft("elections", view.doc_id, f.status)
                    drafts.append(cur)
                cur.add(name, f)
            elif f.metric in self.r.candidate_votes:
                name = self.r.candidate_votes[f.metric]
                key = (f.qualifier or "").strip()
                # Votes with no candidate named after a list of named candidates belong to another
                # vote (a later plenary electing the chair), not to this election's ballots.
                unnamed_after_named = cur is not None and not key and any(c.keys["candidate"] for c in cur.children)
                if cur is None or unnamed_after_named:
                    cur = Draft("elections", view.doc_id, f.status)
                    drafts.append(cur)
                cand = None
                for c in reversed(cur.children):
                    if c.keys["candidate"] == key:
                        cand = c if name not in c.fields else None
                        break
                if cand is None:
                    cand = Draft(
                        "election_candidates",
                        view.doc_id,
                        f.status,
                        {"candidate": key, "position": len(cur.children) + 1},
                        parent=cur,
                    )
                    cur.children.append(cand)
                    drafts.append(cand)
                cand.add(name, f)
                cur.last_end = max(cur.last_end, f.end)
        return drafts


def _record_data(draft: Draft, record_id: str, drafts_ids: dict[int, str]) -> dict[str, Any]:
    figs = draft.figures()
    data: dict[str, Any] = {
        "record_id": record_id,
        "doc_id": draft.doc_id,
        "status": draft.status,
        "figure_ids": tuple(f.figure_id for f in figs),
        "spans": tuple((f.start, f.end) for f in figs),
        "sources": {name: f.figure_id for name, f in draft.fields.items()},
    }
    if draft.table == "funds":
        data.update(draft.keys)
        for name, f in draft.fields.items():
            data[name] = f.value
        for group in ("income_items", "expenditure_items"):
            items = draft.top_items(group)
            data[group] = _sum(items)
            data[f"{group}_n"] = len(items)
        income_items = draft.top_items("income_items")
        data["allocated"] = _sum([f for f in income_items if f.metric == "funds.allocated"])
        data["dues"] = _sum([f for f in income_items if f.metric == "funds.dues"])
    elif draft.table == "election_candidates":
        assert draft.parent is not None
        data["election_id"] = drafts_ids[id(draft.parent)]
        data["candidate"] = draft.keys["candidate"] or f"#{draft.keys['position']}"
        data["position"] = draft.keys["position"]
        for name, f in draft.fields.items():
            data[name] = f.value
    else:
        data.update(draft.keys)
        for name, f in draft.fields.items():
            data[name] = f.value
        if draft.table == "elections":
            data["candidates"] = len(draft.children)
    return data


def build_records(views: Iterable[DocView], rules: AuditRules) -> Records:
    """Every record of every document; each validated, the failures kept as errors."""
    builder = RecordBuilder(rules)
    out = Records()
    for view in views:
        drafts = builder(view)
        counters: Counter[str] = Counter()
        ids: dict[int, str] = {}
        for draft in drafts:
            if draft.table == "election_candidates":
                continue
            counters[draft.table] += 1
            ids[id(draft)] = f"{view.doc_id}/{draft.table}/{counters[draft.table]}"
        for draft in drafts:
            if draft.table == "election_candidates":
                assert draft.parent is not None
                ids[id(draft)] = f"{ids[id(draft.parent)]}/candidate/{draft.keys['position']}"
        for draft in drafts:
            record_id = ids[id(draft)]
            data = _record_data(draft, record_id, ids)
            built = Built(draft, record_id)
            try:
                built.record = RECORD_MODELS[draft.table].model_validate(data)
            except ValidationError as exc:
                out.errors.append(
                    RecordError(
                        table=draft.table,
                        doc_id=draft.doc_id,
                        record_id=record_id,
                        figure_ids=";".join(data["figure_ids"]),
                        errors=str(exc),
                        data=json.dumps(data, ensure_ascii=False, default=str),
                    )
                )
            out.built.append(built)
    return out
