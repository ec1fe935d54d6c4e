"""Plain text (.txt, .md): find the encoding, Chinese first, and decode.

The order of attempts:

1. a byte-order mark: UTF-8 (``utf-8-sig``) or UTF-16 (``utf-16``);
2. NUL bytes: UTF-16 without a BOM when the NULs sit mostly in one byte lane and the result
   reads as text; otherwise the file is binary and refused;
3. strict UTF-8;
4. an encoding the container states (HTML ``<meta charset>``), if it decodes strictly into
   text that reads as Chinese;
5. strict GB18030 and strict Big5: the one whose text has the larger share of common CJK
   characters wins (charset-normalizer, restricted to these candidates, breaks a near tie);
6. line by line, when every line decodes strictly as UTF-8, GB18030 or Big5 and reads as
   Chinese, but not all in the same one (a file put together from files in different
   encodings); the encoding recorded names each one used, e.g. ``utf-8+gb18030``;
7. UTF-8, GB18030 or Big5 with replacement characters, only when under 1% of the text is bad
   (fewest bad sequences wins; the reader logs the count and adds a ``decode`` row to
   ``errors``, while the document is still read);
8. a strict decode that reads as text but has few common CJK characters, with a warning;
9. otherwise the file is refused as mostly undecodable.

"Common CJK characters" are GB2312 level 1 and Big5 level 1 Han characters plus CJK
punctuation: a right decoding of Chinese text is made almost only of them, a wrong one is not.
charset-normalizer is never allowed to pick an unrelated code page: for Chinese text those
guesses (cp1252, koi8-r, ...) are wrong far more often than right.
"""

from __future__ import annotations

import codecs
import functools
import logging
import unicodedata
from typing import NamedTuple

from extract.ingest import IngestError, normalise_newlines, sha256
from schemas.documents import ErrorRow, RawDocument

__all__ = ["DecodeResult", "cjk_score", "decode_bytes", "read_text"]

logger = logging.getLogger(__name__)

#: the encodings tried for text that is not UTF; GB18030 is a superset of GB2312 and GBK
CHINESE_ENCODINGS: tuple[str, ...] = ("gb18030", "big5")
#: charset-normalizer names folded onto the encodings recorded here
_FOLD = {
    "utf_8": "utf-8",
    "utf_8_sig": "utf-8-sig",
    "gb18030": "gb18030",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "big5": "big5",
    "cp950": "big5",
    "big5hkscs": "big5",
}
MAX_BAD_SHARE = 0.01
_TIE = 0.02


class DecodeResult(NamedTuple):
    """A decoded text, the encoding used, and how many replacement characters were inserted."""

    text: str
    encoding: str
    replaced: int = 0


def read_text(
    data: bytes, source_path: str, *, fmt: str = "txt", warnings: list[ErrorRow] | None = None
) -> RawDocument:
    """Decode a .txt/.md file into a :class:`RawDocument`.

    When bytes had to be replaced, a ``decode`` row saying how many is appended to ``warnings``.
    """
    if not data.strip():
        raise IngestError("ingest", "empty file")
    result = decode_bytes(data, source=source_path)
    replaced_warning(result, source_path, warnings)
    text = clean_text(result.text)
    if not text.strip():
        raise IngestError("ingest", "empty file")
    return RawDocument(source_path=source_path, text=text, format=fmt, encoding=result.encoding, sha256=sha256(data))


def replaced_warning(result: DecodeResult, source_path: str, warnings: list[ErrorRow] | None) -> None:
    """Log, and add to ``warnings``, that ``result`` holds replaced bytes (if it does)."""
    if not result.replaced:
        return
    reason = (
        f"{result.replaced} undecodable byte sequence(s) replaced with U+FFFD while decoding as "
        f"{result.encoding}; the rest of the text was read"
    )
    logger.warning("%s: %s", source_path, reason)
    if warnings is not None:
        warnings.append(ErrorRow(path=source_path, stage="decode", reason=reason))


def clean_text(text: str) -> str:
    r"""Strip a leading BOM and normalise line breaks.

    >>> clean_text("\ufeffa\r\nb")
    'a\nb'
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    return normalise_newlines(text)


def decode_bytes(data: bytes, *, source: str = "", prefer: str | None = None) -> DecodeResult:
    """Decode ``data`` with the Chinese-first logic of this module.

    ``prefer`` is an encoding stated by the container (an HTML ``<meta charset>``); it is used
    when the bytes are not UTF-8 and it decodes them strictly into text that reads as Chinese.

    >>> decode_bytes("abc".encode("utf-8")).encoding
    'utf-8'
    >>> decode_bytes(codecs.BOM_UTF8 + b"abc")
    DecodeResult(text='abc', encoding='utf-8-sig', replaced=0)
    >>> decode_bytes("abc".encode("utf-16-le")).encoding
    'utf-16'
    """
    if data.startswith(codecs.BOM_UTF8):
        return _decode_lenient(data, "utf-8-sig", source)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode_lenient(data, "utf-16", source)
    if b"\x00" in data:
        found = _utf16_without_bom(data)
        if found is not None:
            return found
        raise IngestError("decode", "binary content (NUL bytes, and not UTF-16); not a text file")
    try:
        return DecodeResult(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    stated = fold_encoding(prefer) if prefer else None
    if stated and stated != "utf-8":
        try:
            text = data.decode(stated)
        except UnicodeDecodeError:
            text = None
        if text is not None and cjk_score(text) >= 0.5:
            return DecodeResult(text, stated)
        logger.info("%s: stated encoding %s does not fit the bytes; detecting", source, prefer)
    return _choose(data, source, stated)


def _choose(data: bytes, source: str, stated: str | None) -> DecodeResult:
    """Pick among UTF-8 (known not strict here), GB18030 and Big5, strict before lenient."""
    decoded: list[_Candidate] = []
    for enc in ("utf-8", *CHINESE_ENCODINGS):
        text = data.decode(enc, errors="replace")
        bad = text.count("\ufffd")
        decoded.append(_Candidate(enc, text, bad, bad / max(len(text), 1), cjk_score(text)))

    strict = [c for c in decoded if c.bad == 0 and c.score >= 0.5]
    if strict:
        strict.sort(key=lambda c: c.score, reverse=True)
        best = strict[0]
        if len(strict) > 1 and best.score - strict[1].score < _TIE:
            guess = _normalizer_guess(data, tuple(c.encoding for c in strict))
            best = next((c for c in strict if c.encoding == guess), best)
        return DecodeResult(best.text, best.encoding)

    mixed = _by_line(data)
    if mixed is not None:
        logger.warning("%s: lines in different encodings (%s); each decoded in its own", source, mixed.encoding)
        return mixed

    lenient = [c for c in decoded if 0 < c.share < MAX_BAD_SHARE and c.score >= 0.5]
    if lenient:
        best = min(lenient, key=lambda c: (c.bad, -c.score))
        return DecodeResult(best.text, best.encoding, best.bad)

    weak = [c for c in decoded if c.bad == 0 and _plausible(c.text) >= 0.9]
    if weak:
        best = max(weak, key=lambda c: c.score)
        logger.warning("%s: decoded as %s with low confidence (few common CJK characters)", source, best.encoding)
        return DecodeResult(best.text, best.encoding)

    if stated:
        try:
            return DecodeResult(data.decode(stated), stated)
        except (UnicodeDecodeError, LookupError):
            pass
    best = min(decoded, key=lambda c: c.bad)
    raise IngestError(
        "decode",
        "mostly undecodable: not UTF-8, UTF-16, GB18030 or Big5 text "
        f"(the best guess, {best.encoding}, leaves {best.share:.0%} of the characters bad)",
    )


def _by_line(data: bytes) -> DecodeResult | None:
    r"""Each line in the encoding it decodes in, when every line decodes strictly and reads as
    Chinese and more than one encoding is needed; else ``None``.

    Splitting at ``\n`` is safe: no multi-byte sequence of UTF-8, GB18030 or Big5 holds 0x0A.

    >>> _by_line("工会会员\n".encode("utf-8") + "职工代表".encode("gb18030"))
    DecodeResult(text='工会会员\n职工代表', encoding='utf-8+gb18030', replaced=0)
    >>> _by_line("工会会员".encode("gb18030")) is None
    True
    """
    lines: list[str] = []
    used: list[str] = []
    for raw in data.split(b"\n"):
        try:
            text, encoding = raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            best: tuple[float, str, str] | None = None
            for candidate in CHINESE_ENCODINGS:
                try:
                    text = raw.decode(candidate)
                except UnicodeDecodeError:
                    continue
                score = cjk_score(text)
                if score >= 0.5 and (best is None or score > best[0]):
                    best = (score, text, candidate)
            if best is None:
                return None
            _, text, encoding = best
        if encoding not in used and not raw.isascii():
            used.append(encoding)
        lines.append(text)
    if len(used) < 2:
        return None
    return DecodeResult("\n".join(lines), "+".join(used))


class _Candidate(NamedTuple):
    encoding: str
    text: str
    bad: int
    share: float
    score: float


def fold_encoding(name: str) -> str | None:
    """The codec to decode with for a stated charset: GB family -> gb18030, Big5 family -> big5.

    >>> fold_encoding("GB2312"), fold_encoding("x-big5"), fold_encoding("UTF8"), fold_encoding("nope")
    ('gb18030', 'big5', 'utf-8', None)
    """
    name = name.strip().strip("'\"").lower()
    if name.startswith("x-"):
        name = name[2:]
    try:
        codec = codecs.lookup(name).name
    except (LookupError, ValueError):
        return None
    return _FOLD.get(codec.replace("-", "_"), codec)


def _decode_lenient(data: bytes, encoding: str, source: str) -> DecodeResult:
    try:
        return DecodeResult(data.decode(encoding), encoding)
    except UnicodeDecodeError:
        text = data.decode(encoding, errors="replace")
        bad = text.count("\ufffd")
        if bad / max(len(text), 1) < MAX_BAD_SHARE:
            return DecodeResult(text, encoding, bad)
        raise IngestError(
            "decode", f"mostly undecodable as {encoding} ({bad} bad sequences in {len(text)} characters)"
        ) from None


def _utf16_without_bom(data: bytes) -> DecodeResult | None:
    """UTF-16 without a BOM: ASCII characters put their NUL byte in one lane only."""
    even = data[0::2].count(0)
    odd = data[1::2].count(0)
    total = even + odd
    if len(data) % 2 or total == 0:
        return None
    # Han characters such as U+4E00 put a NUL in the other lane, so ask for dominance, not purity
    if odd >= 4 * even:
        encoding = "utf-16-le"
    elif even >= 4 * odd:
        encoding = "utf-16-be"
    else:
        return None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    if _plausible(text) < 0.95:
        return None
    return DecodeResult(text, "utf-16")


def _normalizer_guess(data: bytes, candidates: tuple[str, ...]) -> str | None:
    """charset-normalizer's pick, restricted to ``candidates`` and folded to our names."""
    from charset_normalizer import from_bytes

    isolation = [name for name, folded in _FOLD.items() if folded in candidates]
    try:
        match = from_bytes(data[:200_000], cp_isolation=isolation).best()
    except Exception:  # the detector must never break reading
        logger.debug("charset-normalizer failed", exc_info=True)
        return None
    if match is None:
        return None
    return _FOLD.get(match.encoding)


@functools.lru_cache(maxsize=65536)
def _is_common_cjk(ch: str) -> bool:
    """A frequent Han character: GB2312 level 1 (simplified) or Big5 level 1 (traditional)."""
    try:
        gb = ch.encode("gb2312")
        if len(gb) == 2 and 0xB0 <= gb[0] <= 0xD7:
            return True
    except UnicodeEncodeError:
        pass
    try:
        b5 = ch.encode("big5")
        return len(b5) == 2 and 0xA440 <= int.from_bytes(b5, "big") <= 0xC67E
    except UnicodeEncodeError:
        return False


def _is_cjk_punct(ch: str) -> bool:
    cp = ord(ch)
    return 0x3000 <= cp <= 0x303F or 0xFF01 <= cp <= 0xFF5E


def cjk_score(text: str) -> float:
    """Share of the non-ASCII characters that are common Han characters or CJK punctuation.

    Right decodings of Chinese text score near 1, wrong ones far lower; text with no
    non-ASCII character scores 1.

    >>> cjk_score("abc")
    1.0
    >>> b = "\u5de5\u4f1a\u4f1a\u5458".encode("gb18030")
    >>> cjk_score(b.decode("gb18030")) > cjk_score(b.decode("big5", errors="replace"))
    True
    """
    wide = [ch for ch in text if ord(ch) > 0x7F]
    if not wide:
        return 1.0
    good = sum(1 for ch in wide if _is_common_cjk(ch) or _is_cjk_punct(ch))
    return good / len(wide)


def _plausible(text: str) -> float:
    """Share of characters that ordinary text is made of (no controls, private use, unassigned)."""
    if not text:
        return 0.0
    ok = 0
    for ch in text:
        if ch in "\n\r\t" or ch == "\ufeff":
            ok += 1
            continue
        cat = unicodedata.category(ch)
        if cat[0] in "LNPSZ" or cat == "Mn":
            ok += 1
    return ok / len(text)
