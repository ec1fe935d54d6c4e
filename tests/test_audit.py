"""The audit checks, through the real pipeline: text → extract_text → figures → run_audit.

Every rule has a passing and a failing document in ``corpus/audit`` (listed in ``cases.yaml``); the
seed's 篇4 and ``corpus/dev/dev-election-2016.txt`` hold real vote errors; and on the gold figures of
every annotated corpus (a perfect extractor) the audit finds the annotated inconsistencies and nothing
else, so it stays right as the extractor improves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from extract.audit import AUDIT_TABLES, CHECKS, AuditRulesError, UnknownAuditRule, load_audit_rules, run_audit
from extract.audit.rules import check_metric_ids
from extract.audit.run import check_registry
from extract.cli import cli
from extract.pipeline import DocumentResult, Pipeline, extract_text, iter_results
from extract.rules import RuleSet
from extract.tables import DOCUMENT_COLUMNS, document_row, figures_frame, frame
from schemas.figures import FIGURE_COLUMNS
from schemas.findings import FINDING_COLUMNS
from tests.conftest import CORPUS, SEED_GOLD

AUDIT = CORPUS / "audit"
CASES: list[dict[str, Any]] = yaml.safe_load((AUDIT / "cases.yaml").read_text(encoding="utf-8"))["cases"]
SEED_DOC = "seed-town-union-summaries"


def audit_text(text: str, doc_id: str, pipeline: Pipeline | None = None) -> dict[str, pd.DataFrame]:
    """One text through the pipeline and the audit (no document metadata)."""
    return run_audit(pd.DataFrame(), figures_frame(extract_text(text, doc_id, pipeline)))


def audit_folder(folder: Path, pipeline: Pipeline | None = None) -> dict[str, pd.DataFrame]:
    """Every file of a folder through the pipeline (metadata included) and the audit."""
    docs, figures = [], []
    for item in iter_results([folder], pipeline):
        assert isinstance(item, DocumentResult), item
        docs.append(document_row(item.document))
        figures.extend(item.figures)
    return run_audit(frame(docs, DOCUMENT_COLUMNS), figures_frame(figures))


def audit_case(path: str, pipeline: Pipeline) -> dict[str, pd.DataFrame]:
    target = AUDIT / path
    if target.is_dir():
        return audit_folder(target, pipeline)
    return audit_text(target.read_text(encoding="utf-8"), target.stem, pipeline)


def _marks(case: dict[str, Any]) -> list[pytest.MarkDecorator]:
    return [pytest.mark.xfail(reason=case["xfail"], strict=True)] if case.get("xfail") else []


def _params() -> list[Any]:
    return [pytest.param(c, id=c["rule"], marks=_marks(c)) for c in CASES]


def _found(findings: pd.DataFrame, rule: str | None = None) -> list[dict[str, Any]]:
    rows = findings.to_dict("records")
    return [r for r in rows if rule is None or r["rule"] == rule]


# --- the cases: one document (or folder) passing and one failing per rule ---------------------------
def test_every_rule_has_a_case() -> None:
    assert sorted(c["rule"] for c in CASES) == sorted(CHECKS)
    for case in CASES:
        assert (AUDIT / case["pass"]).exists() and (AUDIT / case["fail"]).exists(), case["rule"]


@pytest.mark.parametrize("case", _params())
def test_failing_case_is_found(case: dict[str, Any], pipeline: Pipeline) -> None:
    out = audit_case(case["fail"], pipeline)
    found = _found(out["findings"], case["rule"])
    got = [(r["severity"], r["arithmetic"], r["surfaces"].split(";")) for r in found]
    want = [(e["severity"], e["arithmetic"], [str(s) for s in e["surfaces"]]) for e in case["expect"]]
    assert got == want
    for r, e in zip(found, case["expect"], strict=True):
        if "doc_id" in e:
            assert r["doc_id"] == e["doc_id"]
        assert r["message_zh"] and r["message_en"] and "{" not in r["message_zh"] + r["message_en"]
        shown = (e["arithmetic"], str(e["surfaces"][0]))
        assert any(x in r["message_zh"] for x in shown) and any(x in r["message_en"] for x in shown)


@pytest.mark.parametrize("case", _params())
def test_passing_case_is_quiet(case: dict[str, Any], pipeline: Pipeline) -> None:
    out = audit_case(case["pass"], pipeline)
    loud = [(r["rule"], r["arithmetic"]) for r in _found(out["findings"]) if r["severity"] != "info"]
    assert loud == []
    assert _found(out["findings"], case["rule"]) == []
    assert out["record_errors"].empty


# --- real documents -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def seed_audit(seed_text: str, pipeline: Pipeline) -> dict[str, pd.DataFrame]:
    return audit_text(seed_text, SEED_DOC, pipeline)


def test_seed_candidate_six(seed_audit: dict[str, pd.DataFrame], seed_text: str) -> None:
    """篇4: candidate 6 has 40 + 3 + 4 = 47 votes of the 48 valid ballots."""
    found = [
        r for r in _found(seed_audit["findings"], "votes.candidate_sum") if r["doc_id"] == f"{SEED_DOC}#4"
    ]
    assert [(r["severity"], r["arithmetic"]) for r in found] == [("error", "40 + 3 + 4 = 47 ≠ 48")]
    row = found[0]
    assert "6" in row["message_zh"] and row["surfaces"].split(";") == ["40票", "3票", "4票", "48张"]
    for span, surface in zip(row["spans"].split(";"), row["surfaces"].split(";"), strict=True):
        start, end = map(int, span.split(":"))
        assert seed_text[start:end] == surface


def test_seed_contract_chain_is_no_false_alarm(seed_audit: dict[str, pd.DataFrame]) -> None:
    """篇1: 31份/76家/3697人, of which 9份/50家/1150人: grouped as whole and subset, nothing flagged."""
    doc = f"{SEED_DOC}#1"
    loud = [r for r in _found(seed_audit["findings"]) if r["doc_id"] == doc and r["severity"] != "info"]
    assert loud == []
    contracts = seed_audit["contracts"]
    rows = contracts[contracts.doc_id == doc]
    chains = {(r.count, r.enterprises_covered, r.workers_covered): r.scope for r in rows.itertuples()}
    assert chains.get((31, 76, 3697)) == "all"
    assert chains.get((9, 50, 1150)) not in (None, "all")


def test_seed_has_no_other_error(seed_audit: dict[str, pd.DataFrame]) -> None:
    loud = [(r["doc_id"], r["rule"]) for r in _found(seed_audit["findings"]) if r["severity"] != "info"]
    assert loud == [(f"{SEED_DOC}#4", "votes.candidate_sum")]


def test_dev_election_planted_vote_error(pipeline: Pipeline) -> None:
    """corpus/dev/dev-election-2016.txt: 刘芳 has 69 + 7 + 3 = 79 votes of the 80 valid ballots."""
    path = CORPUS / "dev" / "dev-election-2016.txt"
    out = audit_text(path.read_text(encoding="utf-8"), path.stem, pipeline)
    found = _found(out["findings"], "votes.candidate_sum")
    assert [(r["arithmetic"], r["surfaces"]) for r in found] == [
        ("69 + 7 + 3 = 79 ≠ 80", "69票;7票;3票;80张")
    ]
    assert "刘芳" in found[0]["message_zh"]
    loud = [r["rule"] for r in _found(out["findings"]) if r["severity"] != "info"]
    assert loud == ["votes.candidate_sum"]


# --- the audit on perfect figures: the gold annotations ------------------------------------------
BREAKS = "。！？；\n"
PLANTED = {
    ("dev-election-2016", "votes.candidate_sum", "69 + 7 + 3 = 79 ≠ 80"),
    ("ho-election-report-2017", "votes.candidate_sum", "69 + 6 + 4 = 79 ≠ 81"),
    (f"{SEED_DOC}#4", "votes.candidate_sum", "40 + 3 + 4 = 47 ≠ 48"),
}


def gold_figures(text: str, gold_lines: list[dict[str, Any]], rules: RuleSet) -> list[dict[str, Any]]:
    """Figures rows from gold annotations: each surface found in order, its sentence around it."""
    unit_class = {u.unit: u.classes[0] for u in rules.units.units}
    rows, pos = [], 0
    for i, g in enumerate(gold_lines):
        at = text.find(g["surface"], pos)
        at = text.find(g["surface"]) if at < 0 else at
        assert at >= 0, g
        pos = at + 1
        end = at + len(g["surface"])
        first = max(text.rfind(c, 0, at) for c in BREAKS) + 1
        stops = [e for e in (text.find(c, end) for c in BREAKS) if e >= 0]
        metric = rules.taxonomy.metrics.get(g["metric"])
        cls = metric.unit_class if metric and g["metric"] != "other" else unit_class.get(g["unit"], "other")
        flags = (["placeholder"] if g["value"] is None else []) + ([] if g["unit"] else ["no_unit"])
        rows.append(
            {
                "figure_id": f"{g['doc']}/{i}",
                "doc_id": g["doc"],
                "start": at,
                "end": end,
                "surface": g["surface"],
                "value": g["value"],
                "unit": g["unit"],
                "unit_class": cls if g["unit"] else "",
                "metric": g["metric"],
                "status": g["status"],
                "approx": bool(g.get("approx")),
                "value_max": g.get("value_max"),
                "qualifier": g.get("qualifier"),
                "subject": None,
                "sentence": text[first : min(stops, default=len(text))],
                "extractor": "gold",
                "confidence": 1.0,
                "flags": ";".join(flags),
            }
        )
    return rows


def test_gold_figures_yield_only_the_planted_errors(rules: RuleSet) -> None:
    team = [g for g in sorted(CORPUS.glob("*/*.gold.jsonl")) if g.parent.name != "real"]  # real pages: not ours
    golds = team + ([SEED_GOLD] if SEED_GOLD.exists() else [])
    rows: list[dict[str, Any]] = []
    for gold in golds:
        text = gold.with_name(gold.name.replace(".gold.jsonl", ".txt")).read_text(encoding="utf-8")
        lines = [json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()]
        # a change (比上年增减 -3.2) is no total: docs/annotation-notes.md, and no record takes one
        rows += gold_figures(text, [row for row in lines if not row.get("change")], rules)
    out = run_audit(pd.DataFrame(), pd.DataFrame(rows, columns=list(FIGURE_COLUMNS)))
    loud = {
        (r["doc_id"], r["rule"], r["arithmetic"]) for r in _found(out["findings"]) if r["severity"] != "info"
    }
    expected = PLANTED if SEED_GOLD.exists() else {p for p in PLANTED if not p[0].startswith(SEED_DOC)}
    assert loud == expected
    assert out["record_errors"].empty


@pytest.mark.parametrize(
    ("surface", "doc", "new", "rule", "arithmetic"),
    [
        (
            "89.37万元",
            "dev-funds-audit-2013",
            893800,
            "funds.balance",
            "1386.52万 − 1297.15万 = 89.37万 ≠ 89.38万",
        ),
        (
            "141万元",
            "dev-funds-audit-2013",
            1420000,
            "funds.subitems",
            "412.6万 + 186.3万 + 205.45万 + 168.2万 + 86.4万 + 97.2万 + 142万 = 1298.15万 > 1297.15万",
        ),
        ("94.8%", "dev-street-union-2015", 96.8, "rates.recomputed", "55 / 58 = 94.8% ≠ 96.8%"),
        ("287条", "dev-enterprise-union-2017", 712, "parts.adopted_proposed", "712 > 612"),
    ],
)
def test_a_changed_gold_figure_is_found(
    rules: RuleSet, surface: str, doc: str, new: float, rule: str, arithmetic: str
) -> None:
    """Change one gold figure and its check must fire, with the arithmetic shown."""
    path = next(CORPUS.glob(f"*/{doc}.txt"))
    lines = [
        json.loads(x) for x in path.with_name(f"{doc}.gold.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    lines = [{**g, "value": new} if g["surface"] == surface else g for g in lines]
    rows = gold_figures(path.read_text(encoding="utf-8"), lines, rules)
    out = run_audit(pd.DataFrame(), pd.DataFrame(rows, columns=list(FIGURE_COLUMNS)))
    assert [r["arithmetic"] for r in _found(out["findings"], rule)] == [arithmetic]


# --- the contract with the store, the rules file, the command --------------------------------------
def test_run_audit_returns_every_table_even_when_empty() -> None:
    out = run_audit(pd.DataFrame(columns=list(DOCUMENT_COLUMNS)), pd.DataFrame(columns=list(FIGURE_COLUMNS)))
    assert list(out) == list(AUDIT_TABLES)
    assert list(out["findings"].columns) == list(FINDING_COLUMNS)
    assert all(df.empty for df in out.values())


def test_run_audit_reads_the_store_shapes(tmp_path: Path, pipeline: Pipeline) -> None:
    """flags ';'-joined, NaN values for placeholders, a CSV round trip: same findings."""
    text = (AUDIT / "incomplete-placeholder.fail.txt").read_text(encoding="utf-8")
    figures = figures_frame(
        extract_text(
            text + (AUDIT / "votes-candidate-sum.fail.txt").read_text(encoding="utf-8"), "mixed", pipeline
        )
    )
    figures.to_csv(tmp_path / "f.csv", index=False, encoding="utf-8-sig")
    again = pd.read_csv(tmp_path / "f.csv", encoding="utf-8-sig")
    first, second = run_audit(pd.DataFrame(), figures), run_audit(pd.DataFrame(), again)
    assert first["findings"].equals(second["findings"])
    assert {"incomplete.placeholder", "votes.candidate_sum"} <= set(first["findings"]["rule"])


def test_audit_rules_name_taxonomy_metrics(rules: RuleSet) -> None:
    check_metric_ids(load_audit_rules(), set(rules.taxonomy.metrics))
    check_registry(load_audit_rules())


def test_a_bad_template_fails_at_load_naming_file_and_rule(tmp_path: Path) -> None:
    from extract.resources import rules_path

    data = yaml.safe_load(rules_path("audit.yaml").read_text(encoding="utf-8"))
    data["rules"]["totals.running"]["message_en"] = "base {bsae}"
    bad = tmp_path / "audit.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(AuditRulesError, match=r"audit\.yaml.*rules\.totals\.running.*bsae"):
        load_audit_rules(bad)


def test_rules_and_checks_agree() -> None:
    rules = load_audit_rules()
    extra = rules.model_copy(
        update={"rules": {**rules.rules, "votes.unknown": rules.rules["totals.running"]}}
    )
    with pytest.raises(UnknownAuditRule, match=r"votes\.unknown"):
        check_registry(extra)


def test_a_disabled_rule_is_silent(pipeline: Pipeline) -> None:
    rules = load_audit_rules()
    off = rules.rules["totals.running"].model_copy(update={"enabled": False})
    quiet = rules.model_copy(update={"rules": {**rules.rules, "totals.running": off}})
    text = (AUDIT / "totals-running.fail.txt").read_text(encoding="utf-8")
    out = run_audit(pd.DataFrame(), figures_frame(extract_text(text, "t", pipeline)), rules=quiet)
    assert _found(out["findings"], "totals.running") == []


def test_audit_command(tmp_path: Path) -> None:
    runner = CliRunner()
    src = tmp_path / "in"
    src.mkdir()
    (src / "votes.txt").write_text(
        (AUDIT / "votes-candidate-sum.fail.txt").read_text(encoding="utf-8"), encoding="utf-8"
    )
    out_dir = tmp_path / "out"
    docs, figures = [], []
    for item in iter_results([src]):
        assert isinstance(item, DocumentResult)
        docs.append(document_row(item.document))
        figures.extend(item.figures)
    out_dir.mkdir()
    frame(docs, DOCUMENT_COLUMNS).to_csv(out_dir / "documents.csv", index=False, encoding="utf-8-sig")
    figures_frame(figures).to_csv(out_dir / "figures.csv", index=False, encoding="utf-8-sig")

    result = runner.invoke(cli, ["audit", str(out_dir)])
    assert result.exit_code == 0, result.output
    assert "votes.candidate_sum" in result.output and "33 + 3 + 3 = 39 ≠ 40" in result.output
    assert "33票 [" in result.output
    written = (out_dir / "findings.csv").read_bytes()
    assert written.startswith(b"\xef\xbb\xbf")
    for table in AUDIT_TABLES:
        assert (out_dir / f"{table}.csv").is_file() and (out_dir / f"{table}.parquet").is_file()

    result = runner.invoke(cli, ["audit", str(out_dir), "--format", "json", "--min-severity", "error"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [(x["rule"], x["arithmetic"]) for x in lines] == [("votes.candidate_sum", "33 + 3 + 3 = 39 ≠ 40")]
    assert lines[0]["spans"][0][1] > lines[0]["spans"][0][0]


def test_audit_command_without_tables(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["audit", str(tmp_path)])
    assert result.exit_code != 0 and "documents" in result.output
