"""Votes and ballots: each candidate's votes, the ballot count, attendance, the elected named."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from extract.audit.context import AuditContext, fmt
from extract.records import Built, DocView
from schemas.figures import Figure
from schemas.findings import Finding

VOTE_FIELDS = ("votes_for", "votes_against", "votes_abstain")


def _stated(built: Built, name: str) -> Figure | None:
    f = built.fields.get(name)
    return f if f is not None and f.value is not None else None


def candidate_sum(ctx: AuditContext) -> Iterator[Finding]:
    """votes.candidate_sum: for + against + abstain = ballots cast (valid, else returned, else present)."""
    for election in ctx.records.of("elections"):
        cast = next((f for name in ctx.rules.elections.cast_basis if (f := _stated(election, name))), None)
        if cast is None:
            continue
        basis_zh, basis_en = ctx.label(cast.metric)
        for cand in election.draft.children:
            parts = [f for name in VOTE_FIELDS if (f := cand.fields.get(name)) is not None and f.value is not None]
            if not parts or any(f.approx for f in [*parts, cast]):
                continue
            total = sum((f.value for f in parts if f.value is not None), Decimal(0))
            assert cast.value is not None
            show = ctx.shower([*parts, cast])
            terms = " + ".join(show(f.value) for f in parts)
            if len(parts) == len(VOTE_FIELDS) and total != cast.value:
                arithmetic = f"{terms} = {show(total)} ≠ {show(cast.value)}"
            elif total > cast.value:
                arithmetic = f"{terms} = {show(total)} > {show(cast.value)}"
            else:
                continue
            yield ctx.finding(
                "votes.candidate_sum",
                election.draft.doc_id,
                [*parts, cast],
                arithmetic,
                record_id=ctx.record_id(cand),
                candidate=cand.keys["candidate"] or f"#{cand.keys['position']}",
                basis_zh=f"{basis_zh}{show(cast.value)}",
                basis_en=f"{show(cast.value)} {basis_en}",
            )


def valid_invalid(ctx: AuditContext) -> Iterator[Finding]:
    """ballots.valid_invalid: valid + invalid (+ blank, where stated apart) = returned."""
    for election in ctx.records.of("elections"):
        valid, invalid = _stated(election, "ballots_valid"), _stated(election, "ballots_invalid")
        returned = _stated(election, "ballots_returned")
        if valid is None or invalid is None or returned is None:
            continue
        blank = _stated(election, "ballots_abstained")
        assert valid.value is not None and invalid.value is not None and returned.value is not None
        two = valid.value + invalid.value
        if two == returned.value:
            continue
        show = ctx.shower([valid, invalid, returned])
        lines = [f"{show(valid.value)} + {show(invalid.value)} = {show(two)} ≠ {show(returned.value)}"]
        figures = [valid, invalid, returned]
        if blank is not None:
            assert blank.value is not None
            three = two + blank.value
            if three == returned.value:
                continue
            lines.append(
                f"{show(valid.value)} + {show(invalid.value)} + {show(blank.value)} = {show(three)} "
                f"≠ {show(returned.value)}"
            )
            figures = [valid, invalid, blank, returned]
        yield ctx.finding(
            "ballots.valid_invalid",
            election.draft.doc_id,
            figures,
            "; ".join(lines),
            record_id=election.record_id,
        )


def _not_more(ctx: AuditContext, rule_id: str, part_field: str, whole_field: str) -> Iterator[Finding]:
    for election in ctx.records.of("elections"):
        part, whole = _stated(election, part_field), _stated(election, whole_field)
        if part is None or whole is None or not ctx.exceeds(part, whole):
            continue
        assert part.value is not None and whole.value is not None
        show = ctx.shower([part, whole])
        yield ctx.finding(
            rule_id,
            election.draft.doc_id,
            [part, whole],
            f"{show(part.value)} > {show(whole.value)}",
            record_id=election.record_id,
        )


def returned_issued(ctx: AuditContext) -> Iterator[Finding]:
    """ballots.returned_issued: no more ballots returned than issued."""
    yield from _not_more(ctx, "ballots.returned_issued", "ballots_returned", "ballots_issued")


def present_expected(ctx: AuditContext) -> Iterator[Finding]:
    """meeting.present_expected: no more people present than expected."""
    yield from _not_more(ctx, "meeting.present_expected", "present", "expected")


# --- the elected: a stated count against the names listed beside it ---------------------------------
def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def _names(text: str, ctx: AuditContext, first_may_be_long: bool) -> list[str] | None:
    """The names of a list such as 张三、李 四、王五; None when ``text`` is not one."""
    rules = ctx.rules.elections
    for sep in rules.list_separators[1:]:
        text = text.replace(sep, rules.list_separators[0])
    items = ["".join(ch for ch in item if not ch.isspace()) for item in text.split(rules.list_separators[0])]
    if len(items) < 2 or not all(items) or not all(all(_is_han(ch) for ch in item) for item in items):
        return None
    checked = items[1:] if first_may_be_long else items
    if any(len(item) > rules.name_max_chars for item in checked):
        return None
    if first_may_be_long and len(items[0]) > rules.name_max_chars:
        items[0] = items[0][-rules.name_max_chars :]
    return items


def _elected_list(ctx: AuditContext, view: DocView, f: Figure) -> tuple[list[str], bool] | None:
    """The names listed at a count of the elected, and whether the list closes with 等."""
    rules = ctx.rules.elections
    after = view.after(f)
    before = view.before(f, clause=True)
    head = after[: rules.elected_window]
    if not (any(c in head for c in rules.elected_cues_after) or any(c in before for c in rules.elected_cues_before)):
        return None
    text = before.rstrip()
    closed = False
    for closer in rules.list_closers:
        if text.endswith(closer):
            text, closed = text[: -len(closer)].rstrip(), True
            break
    names = _names(text, ctx, first_may_be_long=True) if text else None
    if names:
        return names, closed
    rest = view.after(f, clause=False)
    colon = min((i for i in (rest.find(c) for c in rules.colons) if 0 <= i <= rules.elected_window), default=-1)
    if colon >= 0:
        tail = rest[colon + 1 :]
        cuts = [i for i in (tail.find(c) for c in ctx.rules.text.clause_breaks) if i >= 0]
        names = _names(tail[: min(cuts)] if cuts else tail, ctx, first_may_be_long=False)
        if names:
            return names, False
    return None


def elected_names(ctx: AuditContext) -> Iterator[Finding]:
    """election.elected_names: a count of the elected (五位同志) = the names listed beside it.

    With 等 closing the list a longer count may be meant (张三、李四等15名同志): only more names
    than the count is then a finding.
    """
    units = set(ctx.rules.elections.count_units)
    for view in ctx.views.values():
        for f in view.figures:
            if f.value is None or f.unit_class not in units or f.approx:
                continue
            found = _elected_list(ctx, view, f)
            if found is None:
                continue
            names, closed = found
            n = Decimal(len(names))
            if n == f.value or (closed and n < f.value):
                continue
            sign = ">" if closed else "≠"
            yield ctx.finding(
                "election.elected_names",
                view.doc_id,
                [f],
                f"{len(names)} {sign} {fmt(f.value)}",
                count=fmt(f.value),
                names=ctx.rules.elections.list_separators[0].join(names),
            )
