"""What a document says about itself: title, type, organisation, level, region, year, date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import regex

from extract.numbers import chinese_to_int
from extract.patterns import Scanner
from extract.segment import Segmenter
from schemas.rules import DocumentRules

_TITLE_MAX = 60
_TAILS_KEPT = 4096  # organisation phrases remembered with their tagged noun tail
_END_PUNCT = "。；;,，:：!！?？"


@dataclass(frozen=True, slots=True)
class Described:
    title: str | None
    doc_type: str
    organisation: str | None
    org_level: str | None
    region: str | None
    period_year: int | None
    report_date: date | None


class Describer:
    """Reads the metadata of one document (a normalised, furniture-free text) by ``rules``."""

    def __init__(self, rules: DocumentRules, segmenter: Segmenter) -> None:
        self.rules = rules
        self.segmenter = segmenter
        self.name_pos = tuple(rules.org_name_pos)
        self.level_words = {w for words in rules.org_levels.values() for w in words}
        self.org = Scanner(rules.organisation)
        self.region = regex.compile(rules.region)
        self.years = [regex.compile(p, regex.MULTILINE) for p in rules.year]
        self.date = regex.compile(rules.date)
        self.heading_line = [regex.compile(p, regex.MULTILINE) for p in rules.part_heading]
        self._tails: dict[str, str | None] = {}

    def __call__(self, text: str, heading: str | None = None, title_hint: str | None = None) -> Described:
        lines = [line.strip() for line in text.split("\n") if line.strip()]
        body_lines = lines[1:] if heading and lines else lines
        title = heading or self._title(body_lines) or (title_hint.strip() if title_hint else None)
        # Salutation lines ("区总工会:") name the addressee, not the author.
        own = [line for line in body_lines if line[-1] not in ":："]
        head = "\n".join(own[:6])[:600]
        tail = own[-8:]
        organisation = self._organisation([title or "", *reversed(tail), head])
        report_date = self._report_date(tail) or self._report_date(own[:6])
        doc_type = self._doc_type(title or "", "\n".join(body_lines))
        return Described(
            title=title,
            doc_type=doc_type,
            organisation=organisation,
            org_level=self._level(organisation),
            region=self._region(organisation),
            period_year=self._year(title or "", head, report_date, doc_type),
            report_date=report_date,
        )

    @staticmethod
    def _title(lines: list[str]) -> str | None:
        if lines and len(lines[0]) <= _TITLE_MAX and lines[0][-1] not in _END_PUNCT:
            return lines[0]
        return None

    def _doc_type(self, title: str, body: str) -> str:
        """The first rule whose cue is in the title or the opening lines (a compilation's heading
        often says only 总结, while the text opens with 经费审查工作报告 or 选举结果)."""
        opening = body[:300]
        for rule in self.rules.doc_types:
            if any(cue in title for cue in rule.title_cues) or any(cue in opening for cue in rule.body_cues):
                return self._union_check(rule.doc_type, body)
        return "other"

    def _union_check(self, doc_type: str, body: str) -> str:
        if doc_type != "work_summary":
            return doc_type
        mentions = sum(body.count(word) for word in self.rules.union_words)
        # A union summary mentions its subject on most paragraphs; a handful in a long text is not one.
        return "work_summary" if mentions * 400 >= len(body) else "non_union_summary"

    def _organisation(self, places: list[str]) -> str | None:
        for place in places:
            for hit in self.org.finditer(place):
                name = self._noun_tail(hit.group("org"))
                if name:
                    return name
        return None

    def _noun_tail(self, phrase: str) -> str | None:
        """The longest run of nouns that ends the phrase, if it is still an organisation name.

        Remembered: an archive names the same organisations over and over, and tagging is slow.
        """
        if phrase not in self._tails:
            if len(self._tails) >= _TAILS_KEPT:
                self._tails.clear()
            self._tails[phrase] = self._tag_noun_tail(phrase)
        return self._tails[phrase]

    def _tag_noun_tail(self, phrase: str) -> str | None:
        words = self.segmenter.tag(phrase)
        tail: list[str] = []
        for word, flag in reversed(words):
            if not flag.startswith(self.name_pos) and word not in self.level_words:
                break
            tail.insert(0, word)
        name = "".join(tail)
        return name if self.org.pattern.fullmatch(name) else None

    def _level(self, organisation: str | None) -> str | None:
        if not organisation:
            return None
        best: tuple[int, int, str] | None = None
        for level, endings in self.rules.org_levels.items():
            for ending in endings:
                pos = organisation.rfind(ending)
                if pos >= 0:
                    key = (pos + len(ending), len(ending), level)
                    if best is None or key[:2] > best[:2]:
                        best = key
        return best[2] if best else None

    def _region(self, organisation: str | None) -> str | None:
        hit = self.region.search(organisation or "")
        return hit.group("region") if hit else None

    def _year(self, title: str, head: str, report_date: date | None, doc_type: str) -> int | None:
        for place in (title, head):
            for pattern in self.years:
                hit = pattern.search(place)
                if hit:
                    value = hit.group("year")
                    return int(value) if value.isdigit() else None  # 20XX: stated, but withheld
        if report_date:
            # A summary dated early in a year reports on the year before; a news item or an
            # election report is about its own date.
            if doc_type in self.rules.retrospective_types and report_date.month < 7:
                return report_date.year - 1
            return report_date.year
        return None

    def _report_date(self, tail: list[str]) -> date | None:
        for line in reversed(tail):
            for hit in reversed(list(self.date.finditer(line))):
                found = _to_date(hit.group("y"), hit.group("m"), hit.group("d"))
                if found:
                    return found
        return None


def _to_date(y: str, m: str, d: str) -> date | None:
    """Build a date from Arabic or Chinese-numeral parts.

    >>> _to_date("二00九", "十二", "七"), _to_date("二○一○", "十二", "十")
    (datetime.date(2009, 12, 7), datetime.date(2010, 12, 10))
    """
    parts = [int(p) if p.isdigit() else chinese_to_int(p) for p in (y, m, d)]
    if any(p is None for p in parts):
        return None
    try:
        return date(*parts)  # type: ignore[arg-type]
    except ValueError:
        return None
