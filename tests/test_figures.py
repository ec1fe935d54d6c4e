"""The rule extractor on sentences written for these tests: every number form, every class of
non-figure, each metric family in several phrasings, status, qualifiers and flags."""

from __future__ import annotations

from decimal import Decimal

import pytest

from extract.pipeline import extract_text


@pytest.fixture(scope="module")
def run(pipeline):
    def _run(text: str):
        return extract_text(text, "t", pipeline)

    return _run


def one(run, text: str):
    figures = run(text)
    assert len(figures) == 1, [(f.surface, f.metric) for f in figures]
    return figures[0]


# --- reading numbers ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "surface", "value", "unit", "approx", "value_max"),
    [
        ("全年共培训职工1,250人次。", "1,250人次", "1250", "人次", False, None),
        ("覆盖职工３６９７人。", "３６９７人", "3697", "人", False, None),
        ("发放慰问金83万元。", "83万元", "830000", "元", False, None),
        ("出口额达2984.26亿美元。", "2984.26亿美元", "298426000000", "美元", False, None),
        ("会员达到1.05万人。", "1.05万人", "10500", "人", False, None),
        ("筹集资金3千元。", "3千元", "3000", "元", False, None),
        ("新建工会三十六家。", "三十六家", "36", "家", False, None),
        ("举办培训班两期。", "两期", "2", "期", False, None),
        ("会员一万二千余人。", "一万二千余人", "12000", "人", True, None),
        ("受益职工4500余人。", "4500余人", "4500", "人", True, None),
        ("参加活动的职工近300人。", "近300人", "300", "人", True, None),
        ("入会率达到90%以上。", "90%以上", "90", "%", True, None),
        ("签订率约为85%左右。", "85%左右", "85", "%", True, None),
        ("建会率达到百分之九十。", "百分之九十", "90", "%", False, None),
        ("职工满意率达到百分之百。", "百分之百", "100", "%", False, None),
        ("每季度开展活动2-3次。", "2-3次", "2", "次", False, "3"),
        ("每年开展2至3次竞赛。", "2至3次", "2", "次", False, "3"),
        ("入会率达到92。3%。", "92。3%", "92.3", "%", False, None),
        ("投入资金1200多万元。", "1200多万元", "12000000", "元", True, None),
        ("征地8万余平方米。", "8万余平方米", "80000", "平方米", True, None),
        # real pages: 成 are tenths (9成4 = 94%); a scaled number standing apart lost its unit
        ("投票支持的会员占8成。", "8成", "80", "%", False, None),
        ("赞成票达9成4。", "9成4", "94", "%", False, None),
        ("香港工會聯合會會員已超過41萬，", "超過41萬", "410000", "", True, None),
        ("募集善款2,000萬港幣。", "2,000萬港幣", "20000000", "港币", False, None),
        (
            "至少组织活动12场。",
            "至少组织活动12场",
            None,
            None,
            None,
            None,
        ),  # see below: 至少 binds only when adjacent
    ],
)
def test_number_forms(run, text, surface, value, unit, approx, value_max) -> None:
    if value is None:
        f = one(run, text)
        assert f.surface == "12场" and not f.approx
        return
    f = one(run, text)
    assert (f.surface, f.value, f.unit, f.approx) == (surface, Decimal(value), unit, approx)
    assert f.value_max == (Decimal(value_max) if value_max else None)


def test_placeholders_are_figures_with_null_value(run) -> None:
    figures = run("全年经费收入XXX元，帮扶困难职工××人。")
    assert [(f.surface, f.value, f.unit) for f in figures] == [("XXX元", None, "元"), ("××人", None, "人")]
    assert all("placeholder" in f.flags for f in figures)


def test_a_number_that_lost_its_measure_word(run) -> None:
    f = one(run, "涉及拆迁房屋7545 现已全部完成。")
    assert (f.surface, f.value, f.unit) == ("7545", Decimal(7545), "")
    assert "no_unit" in f.flags


# --- what is not a figure ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "2014年，全镇工会工作取得新进展。",  # year
        "二〇一〇年十二月十日",  # Chinese date
        "1-9月份经济运行平稳。",  # months
        "五年来我们坚持不懈。",  # period
        "活动持续三个月。",  # period
        "35岁以下青年职工踊跃参加。",  # age
        "对职工人数25人以上的企业开展要约。",  # threshold
        "召开第一届第一次会员代表大会。",  # ordinal
        "一是加强组织建设。二是强化服务。",  # list markers
        "(一)组织建设\n1、强化基层。",  # list markers
        "学习贯彻党的十八大精神，推动“两个普遍”。",  # names
        "开展“五比一创”和“八件实事”活动。",  # slogans
        "帮扶4050就业困难人员。",  # name with a numeral
        "修缮329国道沿线设施。",  # road
        "冲刺全省经济50强乡镇。",  # ranking
        "照金镇是全省107个重点镇之一。",  # one of N
        "根据临总工会发【2009】11号文件精神。",  # document number
        "通过ISO9000认证。",  # code
        "按工资总额的2%计提工会经费。",  # rule percentage
        "得票超过半数当选。",  # rule
        "选树一批先进典型。",  # indefinite
        "引进了一家投资规模较大的公司。",  # indefinite article
        "发放到每一位员工手中。",  # indefinite
        "坚持两条腿走路。",  # idiom
    ],
)
def test_not_figures(run, text: str) -> None:
    assert [(f.surface, f.metric) for f in run(text)] == []


def test_a_named_count_is_a_figure(run) -> None:
    f = one(run, "镇工会表彰了10个工人先锋号。")
    assert (f.value, f.metric) == (Decimal(10), "awards.collective")


# --- metrics, by family, in several phrasings ----------------------------------------------------
@pytest.mark.parametrize(
    ("text", "metrics"),
    [
        # contracts: the chain, and a sub-count
        (
            "签订工资专项集体合同31份，覆盖企业76家，覆盖职工3697人。",
            ["cb.wage_contracts", "cb.enterprises_covered", "cb.workers_covered"],
        ),
        ("全区共签订集体合同420份，其中女职工专项集体合同85份。", ["cb.contracts", "cb.special_contracts"]),
        ("集体合同签订率达到95%。", ["cb.coverage_rate"]),
        ("劳动合同签订率为98%，共计签订劳动合同410份。", ["labor.contract_rate", "labor.contracts"]),
        # organisation and membership
        ("全年新建基层工会23家，新发展会员1860人。", ["org.unions_new", "org.members_new"]),
        ("全镇工会组织达到152个，会员总数1.2万人。", ["org.unions", "org.members"]),
        ("建会率达到92%，入会率达到90%。", ["org.union_rate", "org.member_rate"]),
        ("建会率和入会率均达到95%以上。", ["org.union_rate", "org.member_rate"]),
        ("学校现有教职工196人。", ["org.workers"]),
        ("全镇已有38家工会达到市级“规范化工会”标准。", ["org.standardized"]),
        # rights
        (
            "受理劳动争议案件27件，调解成功24件，调解成功率88.9%。",
            ["rights.disputes", "rights.disputes", "rights.dispute_rate"],
        ),
        ("接待职工来信来访56件次。", ["rights.petitions"]),
        ("收集职工意见建议120条。", ["rights.opinions"]),
        ("提供法律咨询300余人次。", ["rights.legal_aid"]),
        # assistance
        ("走访慰问困难职工215人，发放慰问金12.6万元。", ["aid.recipients", "aid.amount"]),
        ("1089名职工参加捐款，共捐款10.9万元。", ["aid.donors", "aid.donations"]),
        ("金秋助学资助困难职工子女42名。", ["aid.students"]),
        ("帮助下岗职工实现再就业93人。", ["aid.reemployed"]),
        ("职工互助保障参保人数达6800人。", ["aid.insured"]),
        # economic and skills work
        ("组织劳动竞赛126项，参赛职工3.8万人次。", ["econ.competitions", "econ.competition_participants"]),
        (
            "职工提出合理化建议2347条，被采纳1106条，创造经济效益2860万元。",
            ["econ.proposals", "econ.proposals_adopted", "econ.benefit"],
        ),
        ("完成技术革新项目45项。", ["econ.innovations"]),
        ("举办技能培训班12期，培训职工860人次。", ["skills.trainings", "skills.trainees"]),
        ("评选“优秀护士”20名。", ["awards.individual"]),
        # culture
        ("举办文艺演出6场，参加职工1500余人次。", ["culture.activities", "culture.participants"]),
        # funds
        (
            "全年经费总收入1386.52万元，其中会费收入45万元，拨缴经费900万元。",
            ["funds.income", "funds.dues", "funds.allocated"],
        ),
        ("经费总支出1210万元，上年结余326.18万元。", ["funds.expenditure", "funds.balance"]),
        # meetings and elections
        ("本次会议应到代表120人，实到代表116人。", ["meeting.expected", "meeting.present"]),
        (
            "发出选票116张，收回选票116张，有效票115张，无效票1张。",
            ["ballots.issued", "ballots.returned", "ballots.valid", "ballots.invalid"],
        ),
        ("1.张三:同意票110票,不同意票3票,弃权票2票;", ["votes.for", "votes.against", "votes.abstain"]),
        ("大会共收到代表提案38件。", ["meeting.proposals"]),
        # other statistics
        ("全镇实现工业总产值21.59亿元，同比增长18.36%。", ["other", "other"]),
    ],
)
def test_metrics(run, text: str, metrics: list[str]) -> None:
    assert [f.metric for f in run(text)] == metrics


def test_candidate_qualifier_on_votes(run) -> None:
    figures = run("1.XXX:同意票47票,不同意票0票,弃权票1票; 2.XXX:同意票45票,不同意票1票,弃权票2票;")
    assert [f.qualifier for f in figures] == ["候选人1"] * 3 + ["候选人2"] * 3


def test_subset_qualifier(run) -> None:
    figures = run("签订工资专项集体合同31份，其中区域性、行业性工资专项集体合同9份。")
    assert figures[1].qualifier.startswith("其中区域性、行业性")
    assert figures[1].metric == "cb.wage_contracts"


# --- status ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "statuses"),
    [
        ("今年新建工会12家。", ["actual"]),
        ("明年力争新建工会20家。", ["plan"]),
        ("下一步将培训职工300人次。", ["plan"]),
        ("计划发展会员500人。", ["plan"]),
        ("在去年45家的基础上，今年又增加5家，累计50家。", ["prior", "actual", "actual"]),
        ("上年结余32万元。", ["prior"]),
        ("比去年同期增长6.86%。", ["actual"]),
        ("预计全年实现帮扶资金80万元。", ["actual"]),
        ("按照审计工作计划，对18家基层工会开展了审计。", ["actual"]),
        ("我们将行业性集体协商作为突破口，签订行业性工资集体合同3份。", ["actual"]),
        ("2019年经费收入预算1420万元。", ["plan"]),
    ],
)
def test_status(run, text: str, statuses: list[str]) -> None:
    assert [f.status for f in run(text)] == statuses


def test_a_plan_section_makes_its_figures_plans(run) -> None:
    text = "一、主要工作\n全年新建工会12家。\n二、明年工作打算\n新建工会15家，发展会员800人。\n"
    assert [f.status for f in run(text)] == ["actual", "plan", "plan"]


# --- flags, provenance and validation ------------------------------------------------------------
def test_implausible_figures_are_kept_and_flagged(run) -> None:
    f = one(run, "新增会员单位1.05家。")
    assert "fractional_count" in f.flags
    f = one(run, "入会率达到120%。")
    assert "rate_over_100" in f.flags


def test_provenance_points_into_the_original(run) -> None:
    text = "全镇新建工會３６家，會員達到1,200人。"
    for f in run(text):
        assert text[f.start : f.end] == f.surface
        assert f.sentence in text and f.extractor.startswith("rules:") and 0 < f.confidence <= 1


def test_traditional_text_uses_the_same_rules(run) -> None:
    figures = run("全年簽訂工資專項集體合同31份，覆蓋職工3697人。")
    assert [(f.surface, f.metric) for f in figures] == [
        ("31份", "cb.wage_contracts"),
        ("3697人", "cb.workers_covered"),
    ]


def test_text_without_figures_yields_nothing(run) -> None:
    assert run("") == [] and run("工会工作取得新成效。") == []


def test_respectively_distributes_over_the_named_statistics(run) -> None:
    figures = run("工资专项集体合同和女职工专项集体合同分别为812份、640份。")
    assert [(f.surface, f.metric) for f in figures] == [
        ("812份", "cb.wage_contracts"),
        ("640份", "cb.special_contracts"),
    ]


def test_a_budget_is_a_plan_only_of_the_figure_it_names(run) -> None:
    figures = run("经费收入决算398.62万元，为年初预算372万元的107.2%。")
    assert [f.status for f in figures] == ["actual", "plan", "actual"]


def test_a_table_is_read_by_its_column_headers(run) -> None:
    text = "候选人\t同意\t反对\t弃权\n张三\t108\t3\t2\n李四\t101\t7\t5\n"
    figures = run(text)
    assert [(f.value, f.metric, f.qualifier) for f in figures] == [
        (108, "votes.for", "张三"),
        (3, "votes.against", "张三"),
        (2, "votes.abstain", "张三"),
        (101, "votes.for", "李四"),
        (7, "votes.against", "李四"),
        (5, "votes.abstain", "李四"),
    ]
    assert all(text[f.start : f.end] == f.surface for f in figures)


# --- the figures table ----------------------------------------------------------------------
def test_columns_hold_what_rows_hold(run) -> None:
    """Workers build the figures table from columns: the same values row() gives, in its columns,
    for placeholders (no value), ranges, approximations and flags alike."""
    from schemas.figures import FIGURE_COLUMNS, Figure

    figures = run(
        "全年新发展会员1,250人，其中农民工会员约300人；发放慰问金83.5万元，建会率达95%以上。"
        "培训职工3至5万人次，XX个单位参加。会员人数为12.5人。"
    )
    assert {"placeholder", "fractional_count"} <= {flag for f in figures for flag in f.flags}
    assert any(f.value_max is not None for f in figures) and any(f.approx for f in figures)
    columns = Figure.columns(figures)
    assert tuple(columns) == FIGURE_COLUMNS
    rows = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    assert repr(rows) == repr([f.row() for f in figures])  # repr: a Decimal must not pass for a float
    assert Figure.columns([]) == {name: [] for name in FIGURE_COLUMNS}


@pytest.mark.parametrize("bad", ["Infinity", "-Infinity", "NaN"])
def test_a_figure_record_refuses_a_value_that_is_not_finite(run, bad: str) -> None:
    from pydantic import ValidationError

    from schemas.figures import Figure

    good = run("签订工资专项集体合同31份。")[0]
    for field in ("value", "value_max"):
        with pytest.raises(ValidationError, match="finite"):
            Figure.model_validate({**good.model_dump(), field: Decimal(bad)})


def test_a_figure_failing_validation_is_rejected_and_no_parent_of_the_next() -> None:
    """A refinement to a metric of another unit class (a rules author's slip) gives a figure the
    taxonomy refuses: it goes to the rejected rows with its reason, and the 其中 count after it
    does not take its metric (the extractor validates a document's figures together, so it must
    decide again, one figure at a time, once one fails)."""
    from dataclasses import replace

    from extract.pipeline import Pipeline, raw_from_text
    from extract.rules import load_rules
    from schemas.rules import Refinement

    rules = load_rules()
    slip = Refinement(id="slip", from_metric="org.members_new", to_metric="aid.amount", cues=["测算"])
    pipe = Pipeline(rules=replace(rules, refinements=(*rules.refinements, slip)))
    [doc] = pipe.prepare(raw_from_text("全年测算新发展会员300人，其中农民工120人。发放慰问金20万元。"))
    extraction = pipe.extractor(doc)
    [rejected] = extraction.rejected
    assert rejected.surface == "300人" and "does not fit metric aid.amount" in rejected.errors
    assert rejected.candidate["metric"] == "aid.amount"
    assert [(f.surface, f.metric, f.extractor) for f in extraction.figures] == [
        ("120人", "org.members_new", "rules:org-members-new"),
        ("20万元", "aid.amount", "rules:aid-amount"),
    ]
    assert [(d.surface, d.kept) for d in extraction.decisions] == [("300人", False), ("120人", True), ("20万元", True)]
    assert extraction.decisions[0].reason.startswith("failed validation")


def test_a_table_cell_of_an_earlier_years_column_is_a_baseline(run) -> None:
    """A flattened yearbook table: the 2022 column is prior, the latest year's actual."""
    figures = run("| 指 标 | 2022年 | 2023年 |\n| 会员人数(人) | 1,200 | 1,350 |\n| 基层工会(个) | 46 | 52 |\n")
    assert [(f.surface, f.value, f.status) for f in figures] == [
        ("1,200", Decimal(1200), "prior"),
        ("1,350", Decimal(1350), "actual"),
        ("46", Decimal(46), "prior"),
        ("52", Decimal(52), "actual"),
    ]
