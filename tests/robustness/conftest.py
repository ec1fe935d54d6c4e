"""Fixtures of the robustness tests (helpers are in ``helpers.py``)."""

from __future__ import annotations

import pandas as pd
import pytest

from extract.pipeline import Pipeline
from tests.robustness.helpers import FIGURE_KEY, GOOD_FILES, Tables, copy_good, zongjie_extract


@pytest.fixture(autouse=True)
def _shared_pipeline(monkeypatch: pytest.MonkeyPatch, pipeline: Pipeline) -> None:
    """Runs in this process reuse the session's pipeline instead of building their own."""
    monkeypatch.setattr("extract.runner._new_pipeline", lambda args: pipeline)


@pytest.fixture(scope="session")
def clean_figures(tmp_path_factory: pytest.TempPathFactory, pipeline: Pipeline) -> pd.DataFrame:
    """The figures of the good files run alone: what every hostile run must also give for them."""
    base = tmp_path_factory.mktemp("clean")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("extract.runner._new_pipeline", lambda args: pipeline)
        result = zongjie_extract([copy_good(base / "good")], base / "out")
    assert result.exit_code == 0, result.output
    tables = Tables(base / "out")
    assert tables.errors() == []
    figures = tables["figures"].sort_values(FIGURE_KEY).reset_index(drop=True)
    assert set(figures["doc_id"]) >= {p.stem for p in GOOD_FILES}
    assert len(figures) > 30
    return figures
