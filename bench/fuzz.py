"""Fuzz ``extract_text`` (the whole text pipeline) with Hypothesis for a set time, by hand.

    python bench/fuzz.py --minutes 10                 # the run behind docs/robustness.md
    python bench/fuzz.py --minutes 1 --seed 3 --json bench/results/fuzz.json

Documents are generated from the project's own vocabulary and corpus, so they reach deep into the
stages instead of being rejected at the first one: sentences of the dev corpus cut up and spliced,
cue words and units of ``rules/``, numbers in every form the number reader knows (Arabic, grouped,
decimal, full-width, Chinese numerals, 万/亿, %, ranges, approximations, placeholders),
compilation headings, page furniture, Traditional characters, odd spaces, control characters,
long runs of one character, and arbitrary Unicode.

Every example must hold these invariants, else it is a *failure* (Hypothesis shrinks it to a
minimal input, which is printed with its traceback):

* ``extract_text`` returns without an exception;
* every figure's ``text[start:end] == surface``, with ``0 <= start < end <= len(text)``;
* ``value``/``value_max`` are finite (or None), ``value_max >= value``;
* ``doc_id`` is the given id or ``id#N``; ``Figure.row()`` works.

An example that takes longer than ``--slow`` seconds is not a failure but a *slow* finding (its
length, time and the kind of text are recorded; it is not shrunk); past ``--timeout`` it is
stopped with SIGALRM and recorded as a *timeout*. The summary (examples tried, failures, slow
and timed-out inputs) is printed and written as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from extract.pipeline import Pipeline, extract_text  # noqa: E402


class FuzzTimeout(BaseException):
    """An example ran past ``--timeout``."""


@dataclass
class Summary:
    seconds: float = 0.0
    examples: int = 0
    chars: int = 0
    rounds: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    slow: list[dict[str, Any]] = field(default_factory=list)
    timeouts: list[dict[str, Any]] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)


# --------------------------------------------------------------------------------------------
# what documents are made of


def vocabulary(pipe: Pipeline) -> dict[str, list[str]]:
    """Words from the loaded rules and sentences from the corpus (read defensively: the rules'
    models may grow fields, and a missing one only narrows the fuzzing)."""
    rules = pipe.rules
    cues: list[str] = []
    for rule in getattr(rules, "metric_rules", []):
        for cue in getattr(rule, "cues", []) or []:
            cues.append(cue if isinstance(cue, str) else str(getattr(cue, "text", cue)))
    units: list[str] = []
    for unit in getattr(getattr(rules, "units", None), "units", []):
        units.append(unit.unit)
        units.extend(getattr(unit, "aliases", []) or [])
    status = getattr(rules, "status", None)
    status_words = [*getattr(status, "plan_cues", []), *getattr(status, "prior_cues", [])]
    sentences: list[str] = []
    for path in sorted((ROOT / "corpus").glob("dev*/*.txt")):
        text = path.read_text(encoding="utf-8")
        sentences.extend(s + "。" for s in text.replace("\n", "。\n").split("。") if s.strip())
    return {
        "cues": sorted(set(cues)) or ["会员", "职工"],
        "units": sorted(set(units)) or ["人", "家"],
        "status": sorted(set(status_words)) or ["明年", "去年"],
        "sentences": sentences or ["全镇共有会员3697人。"],
    }


CN_DIGITS = "零一二三四五六七八九"
HEADINGS = [
    "篇{n}",
    "第{n}篇",
    "（共{n}篇）",
    "{c}、",
    "（{c}）",
    "{n}.",
    "下一步工作打算",
    "明年工作思路",
    "一、工作计划",
]
FURNITURE = [
    "精品文档 独家原创",
    "-{n}-",
    "★ 相关推荐",
    "【推荐阅读】",
    "发布时间：2019-01-05",
    "热度：{n}",
    "第{n}页 共{n}页",
]
ODD = ["\u00a0", "\u3000", " ", "\t", "\r", "\u200b", "\ufeff", "\x00", "\x1f", "\u2028", "\ufffd", "。", "，", "\n"]
TRADITIONAL = {"会": "會", "员": "員", "万": "萬", "亿": "億", "职": "職", "工": "工", "个": "個", "为": "為"}


def chinese(n: int) -> str:
    """A plain Chinese reading of ``0 <= n < 10**12`` (enough to feed the reader odd shapes)."""
    if n == 0:
        return "零"
    out = []
    for value, name in ((10**8, "亿"), (10**4, "万"), (1, "")):
        part, n = divmod(n, value)
        if part:
            digits = ""
            for unit_value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
                d, part = divmod(part, unit_value)
                if d:
                    digits += CN_DIGITS[d] + unit
                elif digits and part:
                    digits += "零"
            out.append(digits.replace("零零", "零") + name)
        elif out and n:
            out.append("零")
    return "".join(out)


@st.composite
def numbers(draw: st.DrawFn) -> str:
    n = draw(st.integers(min_value=0, max_value=10**12) | st.integers(min_value=0, max_value=999))
    form = draw(
        st.sampled_from(["arabic", "grouped", "decimal", "fullwidth", "chinese", "scaled", "range", "pct", "ph"])
    )
    if form == "grouped":
        text = f"{n:,}"
    elif form == "decimal":
        text = f"{n}.{draw(st.integers(0, 9999))}"
    elif form == "fullwidth":
        text = str(n).translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    elif form == "chinese":
        text = chinese(n)
    elif form == "scaled":
        text = f"{draw(st.integers(0, 9999))}{draw(st.sampled_from(['.', '']))}{draw(st.integers(0, 99))}"
        text += draw(st.sampled_from(["万", "亿", "千", "万亿", "萬"]))
    elif form == "range":
        text = f"{n}{draw(st.sampled_from(['-', '—', '~', '至', '到']))}{n + draw(st.integers(0, 50))}"
    elif form == "pct":
        text = f"{n % 1000}{draw(st.sampled_from(['%', '％', '个百分点', '‰']))}"
    elif form == "placeholder":
        text = draw(st.sampled_from(["XX", "XXX", "xx", "×××", "20XX", "**"]))
    else:
        text = str(n)
    prefix = draw(st.sampled_from(["", "", "", "近", "约", "共", "达", "累计", "第", "其中"]))
    suffix = draw(st.sampled_from(["", "", "余", "多", "以上", "左右"]))
    return prefix + text + suffix


@st.composite
def fragments(draw: st.DrawFn, vocab: dict[str, list[str]]) -> tuple[str, str]:
    kind = draw(
        st.sampled_from(
            ["sentence", "sentence", "sentence", "figure", "figure", "heading", "furniture", "odd", "run", "unicode"]
        )
    )
    n = draw(st.integers(1, 12))
    if kind == "sentence":
        text = draw(st.sampled_from(vocab["sentences"]))
        if draw(st.booleans()):  # cut it somewhere
            a, b = sorted(draw(st.tuples(st.integers(0, len(text)), st.integers(0, len(text)))))
            text = text[a:b] if b > a else text
    elif kind == "figure":
        text = (
            draw(st.sampled_from(["", *vocab["status"]]))
            + draw(st.sampled_from(vocab["cues"]))
            + draw(st.sampled_from(["", "", "共", "达到", "为", "由", "，"]))
            + draw(numbers())
            + draw(st.sampled_from(vocab["units"]))
            + draw(st.sampled_from(["，", "。", "；", "、", "\n", ""]))
        )
    elif kind == "heading":
        text = "\n" + draw(st.sampled_from(HEADINGS)).format(n=n, c=CN_DIGITS[n % 10] or "十") + "\n"
    elif kind == "furniture":
        text = "\n" + draw(st.sampled_from(FURNITURE)).format(n=n) + "\n"
    elif kind == "odd":
        text = "".join(draw(st.lists(st.sampled_from(ODD), min_size=1, max_size=6)))
    elif kind == "run":  # long runs of one thing find superlinear paths
        unit = draw(st.sampled_from(["1", "一", "会员1人", "1%", "1\n", "。", " ", "X", "1,", "1.", "工会", "\n"]))
        text = unit * draw(st.integers(10, 400))
    else:
        text = draw(st.text(max_size=40))
    if draw(st.integers(0, 9)) == 0:
        text = text.translate(str.maketrans(TRADITIONAL))
    return kind, text


def documents(vocab: dict[str, list[str]]) -> st.SearchStrategy[list[tuple[str, str]]]:
    return st.lists(fragments(vocab), min_size=1, max_size=30)


# --------------------------------------------------------------------------------------------
# the invariants


def check(text: str, doc_id: str, pipe: Pipeline) -> list[Any]:
    figures = extract_text(text, doc_id, pipeline=pipe)
    for f in figures:
        assert 0 <= f.start < f.end <= len(text), (f.start, f.end, len(text))
        assert text[f.start : f.end] == f.surface, (text[f.start : f.end], f.surface)
        for v in (f.value, f.value_max):
            assert v is None or (isinstance(v, Decimal) and v.is_finite()), v
        if f.value is not None and f.value_max is not None:
            assert f.value_max >= f.value
        assert f.doc_id == doc_id or f.doc_id.startswith(doc_id + "#"), f.doc_id
        row = f.row()
        assert all(not isinstance(x, float) or math.isfinite(x) for x in row.values()), row
    return figures


def _alarm(signum: int, frame: Any) -> None:
    raise FuzzTimeout


def fuzz(minutes: float, seed: int | None, slow: float, timeout: float, per_round: int) -> Summary:
    pipe = Pipeline()
    vocab = vocabulary(pipe)
    summary = Summary()
    signal.signal(signal.SIGALRM, _alarm)
    deadline = time.monotonic() + minutes * 60
    started = time.monotonic()

    @settings(
        max_examples=per_round,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(parts=documents(vocab))
    def one(parts: list[tuple[str, str]]) -> None:
        text = "".join(t for _, t in parts)
        kinds = sorted({k for k, _ in parts})
        t0 = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            check(text, "fuzz", pipe)
        except FuzzTimeout:
            summary.timeouts.append({"chars": len(text), "kinds": kinds, "head": text[:200]})
            return
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        spent = time.perf_counter() - t0
        summary.examples += 1
        summary.chars += len(text)
        summary.kinds.update(kinds)
        if spent > slow:
            summary.slow.append({"seconds": round(spent, 2), "chars": len(text), "kinds": kinds, "head": text[:200]})

    seen: set[tuple[str, str]] = set()
    while time.monotonic() < deadline:
        summary.rounds += 1
        try:
            if seed is not None:
                from hypothesis import seed as hseed

                hseed(seed + summary.rounds)(one)()
            else:
                one()
        except HypothesisException:
            raise
        except Exception as exc:  # a failure, shrunk by Hypothesis to a minimal example
            tb = traceback.extract_tb(exc.__traceback__)
            where = f"{tb[-1].filename}:{tb[-1].lineno}" if tb else "?"
            key = (type(exc).__name__, where)
            example = getattr(exc, "__notes__", [])
            if key not in seen:
                seen.add(key)
                summary.failures.append(
                    {
                        "error": f"{type(exc).__name__}: {exc}",
                        "where": where,
                        "example": example,
                        "traceback": "".join(traceback.format_exception(exc))[-4000:],
                    }
                )
                print(f"FAILURE {key}: {exc}\n{''.join(example)}", file=sys.stderr, flush=True)
        elapsed = time.monotonic() - started
        print(
            f"[{elapsed:6.0f}s] round {summary.rounds}: {summary.examples} examples, {summary.chars:,} chars, "
            f"{len(summary.failures)} failures, {len(summary.slow)} slow, {len(summary.timeouts)} timeouts",
            file=sys.stderr,
            flush=True,
        )
    summary.seconds = round(time.monotonic() - started, 1)
    summary.slow.sort(key=lambda s: -s["seconds"] / max(s["chars"], 1))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to fuzz (default 10)")
    parser.add_argument("--seed", type=int, default=None, help="seed Hypothesis (default: random)")
    parser.add_argument("--slow", type=float, default=2.0, help="seconds above which an example is recorded as slow")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds after which an example is stopped")
    parser.add_argument("--per-round", type=int, default=200, help="examples per Hypothesis run")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "fuzz-latest.json")
    args = parser.parse_args()
    summary = fuzz(args.minutes, args.seed, args.slow, args.timeout, args.per_round)
    data = asdict(summary)
    data["kinds"] = dict(summary.kinds)
    data["slow"] = summary.slow[:20]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(
        f"{summary.examples} examples ({summary.chars:,} chars) in {summary.seconds:.0f}s: "
        f"{len(summary.failures)} failures, {len(summary.slow)} slow, {len(summary.timeouts)} timeouts → {args.json}"
    )


if __name__ == "__main__":
    main()
