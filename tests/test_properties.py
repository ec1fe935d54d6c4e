"""Property tests (Hypothesis): the number reader, the offset map, and text that never raises.

* A number rendered as Arabic (plain, grouped, decimal), as Chinese numerals (everyday, with
  两, with 一十, financial 壹贰叁, positional like a year) or with a 千/万/亿 scale reads back
  to itself through ``parse_number``, and through ``extract_text`` in a sentence.
* ``parse_number``, ``chinese_to_int``, ``normalise`` and ``extract_text`` never raise on
  arbitrary Unicode.
* The offset map: every character of the normalised text comes from one original character
  (full-width → ASCII, Traditional → Simplified, 。 as a decimal point), in order, and only
  stray spaces are dropped; every figure's ``text[start:end]`` is its surface.

The renderer below is written independently of ``extract.numbers`` on purpose.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extract.numbers import chinese_to_int, parse_number
from extract.pipeline import Pipeline, extract_text
from extract.text.normalise import normalise
from extract.text.script import to_simplified_table

CHEAP = settings(max_examples=300, deadline=None)
PIPELINE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DIGITS = "零一二三四五六七八九"
FORMAL = str.maketrans("一二三四五六七八九十百千万亿", "壹贰叁肆伍陆柒捌玖拾佰仟萬億")
SECTION_UNITS = ["", "万", "亿", "万亿"]


def _section(n: int) -> str:
    """0 < n < 10000 in Chinese, with one 零 for each run of missing places inside."""
    out, gap = "", False
    for place, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit, n = divmod(n, place)
        if digit:
            out += ("零" if gap else "") + DIGITS[digit] + name
            gap = False
        elif out:
            gap = True
    return out


def chinese(n: int, *, short_ten: bool = True, liang: bool = False, formal: bool = False) -> str:
    """``0 <= n < 10**16`` read out in Chinese numerals.

    >>> [chinese(n) for n in (0, 10, 15, 105, 1010, 20300, 100_000_005, 10**12 + 1)]
    ['零', '十', '十五', '一百零五', '一千零一十', '二万零三百', '一亿零五', '一万亿零一']
    >>> chinese(12, short_ten=False), chinese(2200, liang=True), chinese(120, formal=True)
    ('一十二', '两千两百', '壹佰贰拾')
    """
    if n == 0:
        return "零"
    sections = []
    while n:
        n, rest = divmod(n, 10_000)
        sections.append(rest)
    out, zero = "", False
    for i in reversed(range(len(sections))):
        part = sections[i]
        if not part:
            zero = bool(out)
            continue
        if out and (zero or part < 1000):
            out += "零"
        out += _section(part) + SECTION_UNITS[i]
        zero = False
    if short_ten and out.startswith("一十"):
        out = out[1:]
    if liang:
        out = "".join(
            "两" if ch == "二" and nxt in "千百万亿" else ch
            for ch, nxt in itertools.zip_longest(out, out[1:], fillvalue="")
        )
    return out.translate(FORMAL) if formal else out


def positional(n: int) -> str:
    """A number digit by digit, as years are written: 二〇一九."""
    return "".join("〇" if d == "0" else DIGITS[int(d)] for d in str(n))


integers = st.integers(min_value=0, max_value=10**15 - 1)  # a figure has at most 15 digits (a float keeps 15)
small = st.integers(min_value=0, max_value=10**6)
decimals = st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False, allow_infinity=False)


# --------------------------------------------------------------------------------------------
# the number reader


@CHEAP
@given(n=integers)
def test_arabic_integer_reads_back(n: int) -> None:
    assert parse_number(str(n)) == n
    assert parse_number(f"{n:,}") == n


@CHEAP
@given(d=decimals)
def test_arabic_decimal_reads_back(d: Decimal) -> None:
    text = f"{d:f}"
    assert parse_number(text) == d
    assert parse_number(f"{d:,f}") == d


@CHEAP
@given(n=integers, short_ten=st.booleans(), liang=st.booleans(), formal=st.booleans())
def test_chinese_numeral_reads_back(n: int, short_ten: bool, liang: bool, formal: bool) -> None:
    text = chinese(n, short_ten=short_ten, liang=liang, formal=formal)
    assert chinese_to_int(text) == n, text
    assert parse_number(text) == n, text


@CHEAP
@given(n=st.integers(min_value=1, max_value=10**12))
def test_positional_chinese_reads_back(n: int) -> None:
    assert parse_number(positional(n)) == n


@CHEAP
@given(whole=small, fraction=st.text(alphabet="0123456789", min_size=1, max_size=4))
def test_chinese_decimal_reads_back(whole: int, fraction: str) -> None:
    text = chinese(whole) + "点" + "".join(DIGITS[int(d)] for d in fraction)
    assert parse_number(text) == Decimal(f"{whole}.{fraction}"), text


@CHEAP
@given(d=decimals, scale=st.sampled_from([("千", 10**3), ("万", 10**4), ("亿", 10**8), ("万亿", 10**12)]))
def test_scaled_arabic_reads_back(d: Decimal, scale: tuple[str, int]) -> None:
    word, factor = scale
    assert parse_number(f"{d:f}{word}") == d * factor


@CHEAP
@given(n=st.integers(min_value=1, max_value=9999), scale=st.sampled_from([("万", 10**4), ("亿", 10**8)]))
def test_scaled_chinese_reads_back(n: int, scale: tuple[str, int]) -> None:
    word, factor = scale
    assert parse_number(chinese(n) + word) == n * factor


def _figure_values(text: str, pipeline: Pipeline) -> list[tuple[str, Decimal | None]]:
    return [(f.surface, f.value) for f in extract_text(text, pipeline=pipeline)]


@PIPELINE
@given(
    n=st.integers(min_value=1, max_value=10**9),
    form=st.sampled_from(["arabic", "grouped", "chinese", "liang", "formal"]),
)
def test_a_count_in_a_sentence_reads_back(pipeline: Pipeline, n: int, form: str) -> None:
    written = {
        "arabic": str(n),
        "grouped": f"{n:,}",
        "chinese": chinese(n),
        "liang": chinese(n, liang=True),
        "formal": chinese(n, formal=True),
    }[form]
    assert _figure_values(f"共计{written}人", pipeline) == [(f"{written}人", n)]
    assert (f"{written}人", n) in _figure_values(f"全镇共有工会会员{written}人。", pipeline)


@PIPELINE
@given(d=st.decimals(min_value=Decimal("0.1"), max_value=9999, places=2), word=st.sampled_from(["万", "亿"]))
def test_a_scaled_count_in_a_sentence_reads_back(pipeline: Pipeline, d: Decimal, word: str) -> None:
    written = f"{d:f}".rstrip("0").rstrip(".") + word
    factor = 10**4 if word == "万" else 10**8
    assert _figure_values(f"共计{written}人", pipeline) == [(f"{written}人", d * factor)]




def test_a_scaled_count_that_looks_like_a_year_and_month(pipeline: Pipeline) -> None:
    assert _figure_values("全省共有工会会员1912.3万人。", pipeline) == [("1912.3万人", 19_123_000)]


# --------------------------------------------------------------------------------------------
# never raises


@CHEAP
@given(text=st.text())
def test_number_reader_never_raises(text: str) -> None:
    value = parse_number(text)
    assert value is None or value.is_finite()
    chinese_to_int(text)


@CHEAP
@given(text=st.text(alphabet=st.sampled_from("零〇一二两三十百千万亿点壹拾佰仟萬億0123456789.,O")))
def test_number_reader_never_raises_on_numeral_soup(text: str) -> None:
    value = parse_number(text)
    assert value is None or value.is_finite()


# characters the normaliser treats specially, mixed into arbitrary ones
SPECIAL = "0123456789０１２３４５６７８９。.%万亿 \u00a0\u3000工会會員萬億職個，、\n年人"
mixed_text = st.text(alphabet=st.one_of(st.sampled_from(SPECIAL), st.characters()), max_size=200)
short_text = st.text(alphabet=st.one_of(st.sampled_from(SPECIAL), st.characters()), max_size=30)


@CHEAP
@given(text=st.text())
def test_normalise_never_raises(text: str) -> None:
    normalise(text)
    normalise(text, to_simplified_table())


@PIPELINE
@given(text=st.text(st.characters(), max_size=300))  # lone surrogates included
def test_extract_text_never_raises_on_arbitrary_unicode(pipeline: Pipeline, text: str) -> None:
    extract_text(text, pipeline=pipeline)


# --------------------------------------------------------------------------------------------
# the offset map


def _fold(ch: str, table: dict[int, str] | None) -> str:
    """What normalising does to one character, written out independently."""
    cp = ord(ch)
    if 0xFF01 <= cp <= 0xFF5E:
        ch = chr(cp - 0xFEE0)
    elif cp == 0x3000:
        ch = " "
    return ch.translate(table) if table else ch


@CHEAP
@given(text=mixed_text, traditional=st.booleans())
def test_every_normalised_character_maps_back_to_its_original(text: str, traditional: bool) -> None:
    table = to_simplified_table() if traditional else None
    mapped = normalise(text, table)
    index = mapped.index
    assert len(index) == len(mapped.text) + 1 and index[-1] == len(text)
    assert all(a < b for a, b in itertools.pairwise(index[:-1]))  # in order, each original once
    for i, ch in enumerate(mapped.text):
        original = text[index[i]]
        assert ch == _fold(original, table) or (original == "。" and ch == "."), (i, original, ch)
    dropped = set(range(len(text))) - set(index[:-1])
    assert all(text[j] in " \u00a0\u3000" for j in dropped)  # only stray spaces are dropped


@CHEAP
@given(text=mixed_text, data=st.data())
def test_every_normalised_span_maps_back_onto_the_original(text: str, data: st.DataObject) -> None:
    mapped = normalise(text, to_simplified_table())
    n = len(mapped.text)
    start = data.draw(st.integers(0, n))
    end = data.draw(st.integers(start, n))
    a, b = mapped.span(start, end)
    assert 0 <= a <= b <= len(text)
    if end > start:
        # the original span holds exactly the characters the normalised span came from, plus
        # dropped spaces between them: never a character of the text outside it
        inside = [i for i in range(a, b) if i in set(mapped.index[start:end])]
        assert inside == list(mapped.index[start:end])
        assert all(text[i] in " \u00a0\u3000" for i in range(a, b) if i not in inside)
        assert "".join(_fold(text[i], to_simplified_table()) for i in inside).replace("。", ".") == (
            mapped.text[start:end].replace("。", ".")
        )


@st.composite
def reports(draw: st.DrawFn) -> str:
    """Text with figures in it: cue, number in any form, unit, mixed with arbitrary text."""
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        n = draw(st.integers(0, 10**8))
        number = draw(
            st.sampled_from([str(n), f"{n:,}", chinese(n), str(n).translate({c: c + 0xFEE0 for c in range(48, 58)})])
        )
        parts.append(
            draw(st.sampled_from(["全镇共有会员", "新建工会", "慰问困難職工", "签订集体合同", "去年", "明年力争", ""]))
            + draw(st.sampled_from(["", " ", "\u3000", "近", "约"]))
            + number
            + draw(st.sampled_from(["人", "家", "万元", "%", "户", "份", "余人", ""]))
            + draw(st.sampled_from(["。", "，", "\n", "；", ""]))
        )
        parts.append(draw(short_text))
    return "".join(parts)


@PIPELINE
@given(text=reports())
def test_every_figure_surface_is_its_span_of_the_original(pipeline: Pipeline, text: str) -> None:
    for figure in extract_text(text, pipeline=pipeline):
        assert 0 <= figure.start < figure.end <= len(text)
        assert text[figure.start : figure.end] == figure.surface
