"""Typed records: figures of one document grouped into rows, each pointing at its figures and spans."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from extract.audit import RECORD_TABLES, load_audit_rules, run_audit
from extract.pipeline import Pipeline, extract_text
from extract.records import DocView, figures_from_frame, scope_of
from extract.tables import figures_frame
from schemas.figures import FIGURE_COLUMNS
from schemas.records import RECORD_COLUMNS
from tests.conftest import CORPUS

AUDIT = CORPUS / "audit"


def records_of(path: Path, pipeline: Pipeline) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    figures = figures_frame(extract_text(path.read_text(encoding="utf-8"), path.stem, pipeline))
    return run_audit(pd.DataFrame(), figures), figures


def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dict("records")


def figure_row(**kw: Any) -> dict[str, Any]:
    base = {
        "figure_id": "f1",
        "doc_id": "d",
        "start": 0,
        "end": 4,
        "surface": "120%",
        "value": 120.0,
        "unit": "%",
        "unit_class": "percent",
        "metric": "org.union_rate",
        "status": "actual",
        "approx": False,
        "value_max": None,
        "qualifier": None,
        "subject": "建会率",
        "sentence": "120%",
        "extractor": "test",
        "confidence": 1.0,
        "flags": "",
    }
    return {**base, **kw}


def test_election_and_one_row_per_candidate(pipeline: Pipeline) -> None:
    out, figures = records_of(AUDIT / "votes-candidate-sum.pass.txt", pipeline)
    (election,) = rows(out["elections"])
    assert (
        election["expected"],
        election["present"],
        election["ballots_issued"],
        election["ballots_returned"],
        election["ballots_valid"],
        election["ballots_invalid"],
        election["candidates"],
    ) == (60, 58, 58, 58, 57, 1, 4)
    candidates = rows(out["election_candidates"])
    assert [c["candidate"] for c in candidates] == ["周卫东", "孙丽华", "吴建平", "郑晓燕"]
    first = candidates[0]
    assert (first["votes_for"], first["votes_against"], first["votes_abstain"]) == (55, 1, 1)
    assert all(c["election_id"] == election["record_id"] for c in candidates)
    by_id = figures.set_index("figure_id")
    sources = dict(item.split("=") for item in candidates[0]["sources"].split(";"))
    assert by_id.loc[sources["votes_for"], "surface"] == "55票"


def test_contracts_whole_and_subset(pipeline: Pipeline) -> None:
    out, _ = records_of(AUDIT / "parts-subset-coverage.pass.txt", pipeline)
    got = [(r["kind"], r["count"], r["enterprises_covered"], r["workers_covered"]) for r in rows(out["contracts"])]
    assert got == [("工资专项", 42, 96, 5230), ("工资专项", 12, 63, 2150)]
    whole, subset = rows(out["contracts"])
    assert whole["scope"] == "all" and subset["scope"].startswith("区域性")


def test_funds_items_leave_out_nested_remarks(pipeline: Pipeline) -> None:
    """上级补助收入30万元（含专项补助12万元）: the 12万 is inside the 30万, not a fifth item."""
    out, _ = records_of(AUDIT / "funds-subitems.pass.txt", pipeline)
    (funds,) = rows(out["funds"])
    assert (funds["basis"], funds["income"], funds["income_items"], funds["income_items_n"]) == (
        "actual",
        1300000,
        1300000,
        4,
    )
    assert funds["dues"] == 95000


def test_funds_with_prior_balance(pipeline: Pipeline) -> None:
    out, _ = records_of(AUDIT / "funds-balance.pass.txt", pipeline)
    (funds,) = rows(out["funds"])
    assert (funds["prior_balance"], funds["income"], funds["expenditure"], funds["balance"]) == (
        35000,
        526000,
        489000,
        72000,
    )


def test_membership_scopes(pipeline: Pipeline) -> None:
    out, _ = records_of(AUDIT / "parts-qizhong-total.pass.txt", pipeline)
    got = [(r["scope"], r["members"]) for r in rows(out["membership"])]
    assert got[:2] == [("all", 4210), ("农民工", 1530)]


def test_activities_and_assistance(pipeline: Pipeline) -> None:
    out, _ = records_of(AUDIT / "parts-adopted-proposed.pass.txt", pipeline)
    (act,) = rows(out["activities"])
    assert (act["proposals"], act["proposals_adopted"], act["benefit"]) == (186, 113, 920000)
    out, _ = records_of(AUDIT / "incomplete-placeholder.pass.txt", pipeline)
    (aid,) = rows(out["assistance"])
    assert (aid["recipients"], aid["amount"]) == (23, 11500)


def test_every_record_points_at_its_figures(pipeline: Pipeline) -> None:
    """Every record's figure ids exist, and its spans are those figures' spans."""
    path = CORPUS / "dev" / "dev-funds-audit-2013.txt"
    out, figures = records_of(path, pipeline)
    spans = {r.figure_id: f"{r.start}:{r.end}" for r in figures.itertuples()}
    seen = 0
    for table in RECORD_TABLES:
        assert list(out[table].columns) == list(RECORD_COLUMNS[table])
        for r in rows(out[table]):
            ids = r["figure_ids"].split(";")
            assert ids and [spans[i] for i in ids] == r["spans"].split(";")
            seen += 1
    assert seen > 0


def test_a_record_that_fails_validation_is_kept_with_its_message() -> None:
    out = run_audit(pd.DataFrame(), pd.DataFrame([figure_row()], columns=list(FIGURE_COLUMNS)))
    assert out["membership"].empty
    (err,) = rows(out["record_errors"])
    assert (err["table"], err["doc_id"], err["figure_ids"]) == ("membership", "d", "f1")
    assert "union_rate" in err["errors"] and "less than or equal to 100" in err["errors"]


def test_a_figure_row_that_fails_validation_is_kept() -> None:
    bad = figure_row(figure_id="f2", start=9, end=3)
    out = run_audit(pd.DataFrame(), pd.DataFrame([bad], columns=list(FIGURE_COLUMNS)))
    (err,) = rows(out["record_errors"])
    assert (err["table"], err["figure_ids"]) == ("figures", "f2")


def test_figures_from_frame_reads_flags_and_placeholders() -> None:
    frame = pd.DataFrame(
        [figure_row(value=float("nan"), surface="XXX元", flags="placeholder;no_unit")],
        columns=list(FIGURE_COLUMNS),
    )
    (fig,), errors = figures_from_frame(frame)
    assert errors == [] and fig.value is None and fig.flags == ("placeholder", "no_unit")


def test_words_around_a_figure() -> None:
    sentence = "其中：拨缴经费收入86万元，上级补助收入30万元（含专项补助12万元），其他收入4.5万元"
    made = []
    for i, (surface, value) in enumerate(
        [("86万元", 860000), ("30万元", 300000), ("12万元", 120000), ("4.5万元", 45000)]
    ):
        start = sentence.index(surface)
        made.append(
            figure_row(
                figure_id=f"f{i}",
                start=100 + start,
                end=100 + start + len(surface),
                surface=surface,
                value=value,
                unit="元",
                unit_class="money",
                metric="funds.allocated",
                sentence=sentence,
            )
        )
    figs, _ = figures_from_frame(pd.DataFrame(made, columns=list(FIGURE_COLUMNS)))
    view = DocView("d", figs, load_audit_rules())
    assert view.label(figs[1]) == "上级补助收入"
    assert view.nested(figs[2]) and not view.nested(figs[3])
    assert view.after(figs[0]) == "，上级补助收入"
    assert view.unbracketed(view.between(figs[1], figs[3])) == "，其他收入"


@pytest.mark.parametrize(
    ("qualifier", "scope"),
    [
        ("其中区域性、行业性工资专项集体合同9份", "区域性/行业性"),
        (None, "all"),
        ("规模以上企业", "规模以上企业"),
    ],
)
def test_scope_of(qualifier: str | None, scope: str) -> None:
    assert scope_of(qualifier, load_audit_rules().records.scope_words) == scope
