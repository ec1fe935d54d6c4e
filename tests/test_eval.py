"""The project's scorer agrees with the reference scorer in ../shared/tools/score.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from extract.evaluate import format_scores, read_gold, read_predictions, score
from tests.conftest import SEED, SEED_GOLD, SHARED


def test_agrees_with_the_reference_scorer_on_the_seed(tmp_path, pipeline) -> None:
    scorer = SHARED / "tools" / "score.py"
    if not (scorer.exists() and SEED.exists()):
        pytest.skip("../shared is absent")
    import pandas as pd

    from extract.pipeline import iter_results

    rows = [f.row() for r in iter_results([SEED], pipeline) for f in r.figures]
    out = tmp_path / "figures.csv"
    pd.DataFrame(rows).to_csv(out, index=False, encoding="utf-8-sig")
    reference = json.loads(
        subprocess.run(
            [sys.executable, str(scorer), str(SEED_GOLD), str(out), "--json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    ours = score(read_gold(SEED_GOLD), read_predictions(out))
    assert ours == reference


def test_scores_on_a_made_up_case() -> None:
    gold = [
        {"doc": "a#1", "value": 31, "unit": "份", "metric": "cb.contracts", "status": "actual"},
        {"doc": "a#1", "value": 3, "unit": "", "metric": "other", "status": "plan"},  # unit lost: any unit
        {"doc": "a#2", "value": 90, "unit": "%", "metric": "org.union_rate", "status": "actual"},
    ]
    pred = [
        {"doc_id": "a#1", "value": "31", "unit": "份", "metric": "cb.contracts", "status": "actual"},
        {"doc_id": "a#1", "value": "3", "unit": "家", "metric": "other", "status": "actual"},
        {"doc_id": "a#3", "value": "90", "unit": "%", "metric": "org.member_rate", "status": "actual"},
    ]
    s = score(gold, pred)
    assert s["figures"]["matched"] == 2 and s["metrics"]["matched"] == 2 and s["full"]["matched"] == 1
    assert s["figures_by_file"]["matched"] == 3 and s["metrics_by_file"]["matched"] == 2
    assert "figures            P 0.667" in format_scores(s)
