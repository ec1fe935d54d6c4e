r"""Text that is legal but hostile to the figure stages: tracked failures found by the fuzz run.

Each was found in ``extract/figures/`` or ``rules/``. The first three are fixed there: a number is
at most 15 digits (longer runs are codes), numeral runs in non-figure rules are anchored, and
line-start patterns no longer let ``\s*`` run across blank lines. The last is open, kept as
``xfail(strict=True)``: once fixed it passes, fails as XPASS, and the marker goes.
Growth is measured as the ratio of the times for n and 4n (best of two), with room for noise:
linear work grows about 4x, quadratic 16x, cubic 64x.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from extract.figures.nonfigures import NonFigureFinder
from extract.figures.status import StatusAssigner
from extract.pipeline import Pipeline, extract_text


def seconds(work: Callable[[], object]) -> float:
    best = math.inf
    for _ in range(2):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def test_a_long_run_of_digits_gives_no_infinite_value(pipeline: Pipeline) -> None:
    for figure in extract_text("清" + "1" * 400, pipeline=pipeline):
        value = figure.row()["value"]
        assert value is None or math.isfinite(value)


def test_non_figure_rules_are_linear_on_a_run_of_digits(pipeline: Pipeline) -> None:
    finder = NonFigureFinder(pipeline.rules.nonfigures)
    short, long = seconds(lambda: finder.spans("1" * 200)), seconds(lambda: finder.spans("1" * 800))
    assert long < 12 * short + 0.2, (short, long)  # linear grows ~4x, quadratic 16x; room for a busy machine


def test_plan_sections_are_linear_on_blank_lines(pipeline: Pipeline) -> None:
    status = StatusAssigner(pipeline.rules.status)
    short, long = seconds(lambda: status.plan_sections(" \n" * 50)), seconds(lambda: status.plan_sections(" \n" * 200))
    assert long < 12 * short + 0.2, (short, long)


def test_a_long_list_in_one_sentence_is_near_linear(pipeline: Pipeline) -> None:
    short = seconds(lambda: extract_text("会员1人" * 60, pipeline=pipeline))
    long = seconds(lambda: extract_text("会员1人" * 240, pipeline=pipeline))
    assert long < 12 * short + 0.2, (short, long)  # linear grows ~4x, quadratic 16x; room for a busy machine
