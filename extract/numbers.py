"""Reading a number as written in Chinese text: Arabic, Chinese numerals, 万/亿 scales.

Chinese numerals are this module's digits (like 0-9 for ``int``), so they live here as code;
everything that says what a number *means* (units, qualifiers, non-figures) is in ``rules/``.
"""

from __future__ import annotations

from decimal import Context, Decimal, InvalidOperation

import regex

DIGITS = {
    "零": 0,
    "〇": 0,
    "○": 0,
    "Ｏ": 0,
    "O": 0,
    "o": 0,
    "０": 0,
    "一": 1,
    "壹": 1,
    "二": 2,
    "贰": 2,
    "两": 2,
    "俩": 2,
    "三": 3,
    "叁": 3,
    "四": 4,
    "肆": 4,
    "五": 5,
    "伍": 5,
    "六": 6,
    "陆": 6,
    "七": 7,
    "柒": 7,
    "八": 8,
    "捌": 8,
    "九": 9,
    "玖": 9,
}
SMALL_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
LARGE_UNITS = {"万": 10_000, "萬": 10_000, "亿": 100_000_000, "億": 100_000_000}

_CN_DIGIT = "零〇○一壹二贰两俩三叁四肆五伍六陆七柒八捌九玖"
_CN_ALL = _CN_DIGIT + "十拾百佰千仟万萬亿億"
# A Chinese numeral starts with a non-zero digit or 十 (十二); zeros (〇, 零, Latin O) only inside,
# so 零件 and ○ bullets are not numbers.
_CN_LEAD = "一壹二贰两俩三叁四肆五伍六陆七柒八捌九玖十拾"
# Longer runs are codes, not counts: no figure has more than 15 digits (a float keeps 15); a Chinese
# numeral of 15 digits takes up to ~40 characters.
CHINESE_NUMERAL = rf"(?:[{_CN_LEAD}][{_CN_ALL}Oo0]{{0,40}}(?![{_CN_ALL}]))"
# 九十四点二: a Chinese numeral with decimal digits after 点.
CHINESE_DECIMAL = rf"(?:{CHINESE_NUMERAL}点[零〇○一二三四五六七八九]+)"
ARABIC_NUMBER = r"(?:\d{1,3}(?:,\d{3}){1,4}(?:\.\d{1,8})?|\d{1,15}(?:\.\d{1,8})?)"
_ARABIC_RE = regex.compile(rf"^{ARABIC_NUMBER}$")


def chinese_to_int(text: str) -> int | None:
    """Read a Chinese numeral; ``None`` if it is not one.

    >>> [chinese_to_int(s) for s in ["十", "十二", "二十三", "一百零五", "两千", "三万五千", "一亿二千万"]]
    [10, 12, 23, 105, 2000, 35000, 120000000]
    >>> chinese_to_int("二〇〇九"), chinese_to_int("二OO九"), chinese_to_int("二00九")
    (2009, 2009, 2009)
    >>> chinese_to_int("一万亿二千三百亿"), chinese_to_int("二万三千亿"), chinese_to_int("一万亿零五")
    (1230000000000, 2300000000000, 1000000000005)
    >>> chinese_to_int("万"), chinese_to_int("abc")
    (None, None)
    """
    if not text:
        return None
    text = text.replace("0", "〇")
    if all(ch in DIGITS for ch in text):
        # Positional, as in years: 二〇〇九.
        value = 0
        for ch in text:
            value = value * 10 + DIGITS[ch]
        return value
    if text[0] in LARGE_UNITS or text[0] in ("百", "千", "佰", "仟"):
        return None
    total = 0  # completed 亿/万 groups
    section = 0  # value below the current 万
    digit: int | None = None
    for ch in text:
        if ch in DIGITS:
            digit = DIGITS[ch]
        elif ch in SMALL_UNITS:
            section += (1 if digit is None else digit) * SMALL_UNITS[ch]
            digit = None
        elif ch in LARGE_UNITS:
            section += digit or 0
            scale = LARGE_UNITS[ch]
            if scale == 100_000_000:
                # 一万亿: everything so far is counted in 亿; 一万亿二亿: only the new section is
                total = (total + section) * scale if total < scale else total + section * scale
            else:
                total += section * scale
            section = 0
            digit = None
        else:
            return None
    return total + section + (digit or 0)


def parse_number(text: str) -> Decimal | None:
    """Read an Arabic or Chinese number, with a trailing 千/万/亿 scale: the value as written.

    >>> [str(parse_number(s)) for s in ["3697", "1,150", "92.3", "1.05万", "3千", "10362.53亿", "两", "三十六"]]
    ['3697', '1150', '92.3', '10500.00', '3000', '1036253000000.00', '2', '36']
    >>> str(parse_number("九十四点二")), str(parse_number("九十一点五"))
    ('94.2', '91.5')
    >>> parse_number("万") is None, parse_number("") is None
    (True, True)
    """
    text = text.strip()
    if not text:
        return None
    scale = 1
    while (text and text[-1] in LARGE_UNITS) or (len(text) > 1 and text[-1] == "千" and _ARABIC_RE.match(text[:-1])):
        scale *= LARGE_UNITS.get(text[-1], 1000)
        text = text[:-1]
    if not text:
        return None
    if _ARABIC_RE.match(text):
        try:
            return Decimal(text.replace(",", "")) * scale
        except InvalidOperation:
            return None
    if "点" in text:
        whole, _, fraction = text.partition("点")
        head = chinese_to_int(whole)
        digits = "".join(str(DIGITS.get(ch, "")) for ch in fraction)
        if head is None or len(digits) != len(fraction):
            return None
        return Decimal(f"{head}.{digits}") * scale
    value = chinese_to_int(text)
    return None if value is None else Decimal(value) * scale


def normal_decimal(value: Decimal) -> Decimal:
    """Drop trailing zeros without going to exponent notation, and without rounding.

    >>> str(normal_decimal(Decimal("10500.00"))), str(normal_decimal(Decimal("92.30")))
    ('10500', '92.3')

    A number longer than the default 28-digit precision (a code or a run of digits in a hostile
    file) is kept exact instead of raising ``InvalidOperation``:

    >>> str(normal_decimal(Decimal("1" * 30 + ".50"))), str(normal_decimal(Decimal("1E+30")))
    ('111111111111111111111111111111.5', '1000000000000000000000000000000')
    """
    if not value.is_finite():
        return value
    context = Context(prec=max(len(value.as_tuple().digits), value.adjusted() + 1, 28))
    value = value.normalize(context)
    return value.quantize(Decimal(1), context=context) if value == value.to_integral_value() else value
