"""Text stages: normalisation and its offset map, script, furniture, splitting, metadata."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from extract.pipeline import raw_from_text
from extract.text.documents import DocumentPreparer, doc_stem
from extract.text.furniture import FurnitureRemover
from extract.text.normalise import normalise
from extract.text.script import detect_script, to_simplified_table


# --- normalisation and the offset map ------------------------------------------------------
@pytest.mark.parametrize(
    ("original", "normalised"),
    [
        ("签订合同３１份，覆盖职工３６９７人", "签订合同31份,覆盖职工3697人"),
        ("201 4年", "2014年"),
        ("入会率达到92。3%", "入会率达到92.3%"),
        ("信访工 作", "信访工作"),
        ("清理牛皮癣 475 460平方米", "清理牛皮癣 475 460平方米"),  # two numbers, not one
        ("完成。3、下一步", "完成。3、下一步"),  # a full stop that ends a sentence stays
    ],
)
def test_normalise(original: str, normalised: str) -> None:
    assert normalise(original).text == normalised


def test_traditional_becomes_simplified_without_changing_length() -> None:
    text = "工會會員達到1,200人，簽訂集體合同35份"
    mapped = normalise(text, to_simplified_table())
    assert mapped.text == "工会会员达到1,200人,签订集体合同35份"
    assert len(mapped.text) == len(text)


def _round_trip(original: str) -> None:
    """Each normalised character comes from the original character its map points at, and the
    original characters a span skips are only deleted spaces."""
    table = {**to_simplified_table(), **{cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)}, 0x3000: " "}
    mapped = normalise(original, to_simplified_table())
    assert len(mapped.index) == len(mapped.text) + 1
    for i, ch in enumerate(mapped.text):
        src = original[mapped.index[i]]
        assert src.translate(table) == ch or (src == "。" and ch == ".")
        for skipped in original[mapped.index[i] + 1 : mapped.index[i + 1]]:
            assert skipped.translate(table).isspace()
    for start in range(len(mapped.text)):
        for end in range(start + 1, len(mapped.text) + 1):
            o_start, o_end = mapped.span(start, end)
            assert (o_start, o_end) == (mapped.index[start], mapped.index[end - 1] + 1)
            assert 0 <= o_start < o_end <= len(original)


@pytest.mark.parametrize(
    "text", ["全镇２０１ ４年新建工會36家，入会率92。3%。", "职工 3 697 人", "　１２０人次"]
)
def test_offset_map_round_trip(text: str) -> None:
    _round_trip(text)


@given(
    st.text(alphabet=st.sampled_from(list("0123456789０１２ 。%万元人工會会員员镇年,，\u3000")), max_size=30)
)
def test_offset_map_round_trip_property(text: str) -> None:
    _round_trip(text)


def test_round_trip_on_the_seed(seed_text: str, pipeline) -> None:
    """Every figure's surface is the original text at its offsets, in every part of the compilation."""
    figures = pipeline.run_raw(raw_from_text(seed_text, "seed"))
    for result in figures:
        for f in result.figures:
            assert seed_text[f.start : f.end] == f.surface
            assert result.document.start <= f.start < f.end <= result.document.end


def test_script_detection() -> None:
    assert detect_script("本年度工會會員人數達到一萬二千人") == "traditional"
    assert detect_script("本年度工会会员人数达到一万二千人") == "simplified"
    assert detect_script("12345") == "none"


# --- furniture ------------------------------------------------------------------------------
def test_furniture_is_blanked_but_offsets_kept(rules) -> None:
    text = (
        "首页 > 范文 > 工作总结\n"
        "发布时间:2019-03-01 热度:59\n"
        "今年新建工会12家。\n"
        "-2-\n"
        "★ 镇工会工作总结\n"
        "会员达到3000人。\n"
        "【工会工作总结】推荐阅读:\n"
        "工会年度工作总结07-13\n"
    )
    blanked, spans = FurnitureRemover(rules.furniture)(normalise(text))
    assert len(blanked.text) == len(text)
    kept = blanked.text
    assert "新建工会12家" in kept and "会员达到3000人" in kept
    for gone in ("首页", "热度", "-2-", "★", "推荐阅读", "07-13"):
        assert gone not in kept, gone
    assert {s.rule_id for s in spans} >= {"breadcrumb", "page-number", "link-list", "recommended-reading"}


def test_repeated_watermark_lines(rules) -> None:
    lines = ["今年新建工会12家。", "会员达到3000人。", "培训职工500人次。"]
    text = "\n".join(f"{line}\n某某文库 www.example.com" for line in lines)
    blanked, _ = FurnitureRemover(rules.furniture)(normalise(text))
    assert "文库" not in blanked.text and all(line in blanked.text for line in lines)


# --- splitting and metadata -------------------------------------------------------------------
def test_seed_splits_into_eleven_parts(seed_text: str, rules) -> None:
    docs = DocumentPreparer(rules)(
        raw_from_text(seed_text, "seed-town-union-summaries"), "seed-town-union-summaries"
    )
    assert [d.meta.doc_id for d in docs] == [f"seed-town-union-summaries#{n}" for n in range(1, 12)]
    titles = {d.meta.part: d.meta.title for d in docs}
    assert (
        titles[1] == "镇联合工会年度总结"
        and titles[7] == "昭仁镇工会工作总结"
        and titles[11] == "照金镇总工会工作总结"
    )
    meta = {d.meta.part: d.meta for d in docs}
    assert meta[3].organisation == "马额街道办事处基层工会联合会" and meta[3].org_level == "street"
    assert meta[3].period_year == 2009 and meta[3].report_date == date(2009, 12, 7)
    assert meta[7].organisation == "昭仁镇工会" and meta[7].org_level == "town"
    assert meta[11].organisation == "照金镇总工会" and meta[11].period_year == 2010
    assert meta[11].report_date == date(2010, 12, 10)
    assert meta[1].period_year is None  # 20XX年: stated, but withheld
    assert meta[4].doc_type == "election_report" and meta[6].doc_type == "funds_audit_report"
    assert meta[9].doc_type == "non_union_summary"
    # The 推荐阅读 block at the end is furniture: no part text holds it.
    assert "推荐阅读" not in docs[-1].text.text


def test_single_document_and_other_compilation_headings(rules) -> None:
    prep = DocumentPreparer(rules)
    single = prep(
        raw_from_text(
            "青石镇总工会2012年工作总结\n今年新建工会12家。\n青石镇总工会\n二〇一二年十二月二十日\n", "x"
        ),
        "x",
    )
    assert [d.meta.doc_id for d in single] == ["x"]
    m = single[0].meta
    assert (m.organisation, m.org_level, m.region, m.period_year, m.report_date) == (
        "青石镇总工会",
        "town",
        "青石镇",
        2012,
        date(2012, 12, 20),
    )
    text = "工会总结（共2篇）\n第1篇 甲镇工会工作总结\n新建工会3家。\n第2篇 乙镇工会工作总结\n新建工会4家。\n"
    parts = prep(raw_from_text(text, "c"), "c")
    assert [(d.meta.doc_id, d.meta.title) for d in parts] == [
        ("c#1", "甲镇工会工作总结"),
        ("c#2", "乙镇工会工作总结"),
    ]


def test_a_stray_heading_in_prose_does_not_split(rules) -> None:
    text = "工会工作总结\n全文分为两部分，详见篇2\n新建工会3家。\n"
    assert [d.meta.doc_id for d in DocumentPreparer(rules)(raw_from_text(text, "s"), "s")] == ["s"]


def test_doc_stem() -> None:
    assert doc_stem("dir/sub/seed.txt") == "seed"
    assert doc_stem("bundle.zip!/文件/报告.docx") == "报告"


def test_segmentation_keeps_domain_terms(pipeline) -> None:
    words = pipeline.prepare.segmenter.cut("全镇签订工资专项集体合同31份，职代会建制率95%，开展金秋助学")
    assert "工资专项集体合同" in words and "职代会" in words and "金秋助学" in words


def test_tokens_are_available_to_later_stages(pipeline) -> None:
    doc = pipeline.prepare(raw_from_text("全镇签订工资专项集体合同31份", "x"))[0]
    tokens = pipeline.tokens(doc)
    assert [t.text for t in tokens] == ["全镇", "签订", "工资专项集体合同", "31", "份"]
    assert all(doc.text.text[t.start : t.end] == t.text for t in tokens)


def test_a_template_site_excerpt_splits_from_its_first_heading(rules) -> None:
    """A page announcing (精选12篇) whose excerpt starts at 篇7: parts #7 and #8; the site's intro
    belongs to none, and its 上一篇/下一篇 links are furniture."""
    path = Path(__file__).parent.parent / "corpus" / "shapes" / "template-site-excerpt.txt"
    docs = DocumentPreparer(rules)(raw_from_text(path.read_text(encoding="utf-8"), "t"), "t")
    assert [d.meta.doc_id for d in docs] == ["t#7", "t#8"]
    assert "上一篇" not in docs[-1].text.text.replace(" ", "")


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("乡镇工会工作总结\n\n乡镇工会工作总结1\n全镇新建工会5家。\n", ["g#1"]),  # its title on a line above
        ("年度总结\n全镇工会工作总结1\n新建工会5家。\n", ["g"]),  # no title above, no announcement
        ("中学工会工作总结 篇1\n新建工会5家。\n", ["g#1"]),  # a lone heading naming 篇
        ("工会总结\n今年工作分三步，详见篇1\n新建工会5家。\n", ["g"]),  # prose ending in 篇1
        ("工会工作报告汇编3篇\n\n2021年工会工作报告第1篇\n新建工会5家。\n", ["g#1"]),
    ],
)
def test_compilation_headings_of_template_sites(rules, text: str, ids: list[str]) -> None:
    assert [d.meta.doc_id for d in DocumentPreparer(rules)(raw_from_text(text, "g"), "g")] == ids
