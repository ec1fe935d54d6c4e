"""HTML pages: the visible article text, without the page chrome around it.

Steps: find the encoding (BOM, ``<meta charset>`` or XML declaration, then the Chinese-first
detection of :mod:`extract.ingest.text`); parse with BeautifulSoup + lxml; keep ``<title>`` as
``title_hint``; drop what a reader never sees (scripts, styles, ``<head>``, hidden elements) and
the chrome named in ``rules/ingest.yaml`` (navigation, sidebars, footers, share bars,
comments, adverts); then write block elements as lines and table rows as tab-joined cells.

Whitespace follows the browser: runs collapse to one space, and a line break between two
wide (CJK) characters disappears, as in CSS Text 3 segment-break handling.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import TYPE_CHECKING

from extract.ingest import IngestError, IngestRules, default_ingest_rules, sha256
from extract.ingest.text import decode_bytes, replaced_warning
from schemas.documents import ErrorRow, RawDocument

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

__all__ = ["declared_charset", "html_text", "read_html"]

logger = logging.getLogger(__name__)

#: never rendered by a browser (``head`` goes too, after its ``<title>`` is read)
INVISIBLE = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "iframe",
        "head",
        "object",
        "embed",
        "canvas",
        "link",
        "meta",
        "button",
        "select",
        "input",
        "textarea",
        "map",
    }
)
BLOCK = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "caption",
        "center",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "html",
        "legend",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "title",
        "ul",
    }
)
CELLS = ("td", "th")
#: chrome is never looked for on these, nor on anything holding them
CONTENT = ("article", "main")
_BREAK = "\x1e"
_CELL = "\x1f"
_META = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_SPACES = re.compile(r" {2,}")
_EDGE = " \xa0\u3000"


def read_html(
    data: bytes, source_path: str, rules: IngestRules | None = None, *, warnings: list[ErrorRow] | None = None
) -> RawDocument:
    """Read an HTML page held in ``data``; replaced bytes add a ``decode`` row to ``warnings``."""
    rules = rules or default_ingest_rules()
    declared = declared_charset(data)
    decoded = decode_bytes(data, source=source_path, prefer=declared)
    replaced_warning(decoded, source_path, warnings)
    try:
        text, title = html_text(decoded.text, rules)
    except IngestError:
        raise
    except Exception as exc:  # lxml/bs4 on pathological input
        raise IngestError("ingest", f"cannot parse HTML ({exc.__class__.__name__}: {exc})") from exc
    if not text.strip():
        raise IngestError("ingest", "no visible text in the HTML page")
    return RawDocument(
        source_path=source_path,
        text=text,
        format="html",
        encoding=decoded.encoding,
        sha256=sha256(data),
        title_hint=title,
    )


def declared_charset(data: bytes) -> str | None:
    """The charset a page states in its first 4 KiB (meta tag or XML declaration).

    >>> declared_charset(b'<html><head><meta charset="gb2312"><title>')
    'gb2312'
    >>> declared_charset(b'<meta http-equiv="Content-Type" content="text/html; charset=big5" />')
    'big5'
    >>> declared_charset(b"<p>no charset</p>") is None
    True
    """
    head = data[:4096]
    match = _XML_DECL.match(head) or _META.search(head)
    return match.group(1).decode("ascii").lower() if match else None


def html_text(markup: str, rules: IngestRules) -> tuple[str, str | None]:
    """Visible text and ``<title>`` of an HTML document given as a string."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    title = None
    if soup.title is not None:
        title = " ".join(soup.title.get_text(" ").split()) or None
    _drop_invisible(soup)
    _drop_chrome(soup, rules)
    root = soup.body or soup
    out: list[str] = []
    _render(root, out, pre=False)
    return _finish("".join(out)), title


def _drop_invisible(soup: BeautifulSoup) -> None:
    from bs4 import Comment, Declaration, Doctype, ProcessingInstruction

    unseen = (Comment, Declaration, Doctype, ProcessingInstruction)
    for node in soup.find_all(string=lambda s: isinstance(s, unseen)):
        node.extract()
    for tag in soup.find_all(INVISIBLE):
        if not tag.decomposed:
            tag.decompose()
    for tag in soup.find_all(_is_hidden):
        if not tag.decomposed:
            tag.decompose()


def _is_hidden(tag: Tag) -> bool:
    if tag.name in ("html", "body"):
        return False
    if tag.has_attr("hidden") or str(tag.get("aria-hidden", "")).lower() == "true":
        return True
    return bool(_HIDDEN_STYLE.search(str(tag.get("style", ""))))


def _drop_chrome(soup: BeautifulSoup, rules: IngestRules) -> None:
    always = set(rules.chrome_tags)
    outside_content = set(rules.page_tags)
    words = set(rules.chrome_words)
    root = soup.body or soup
    page_chars = len(root.get_text(strip=True))
    for tag in soup.find_all(True):
        if tag.decomposed or tag.name in ("html", "body", *CONTENT):
            continue
        if tag.name in always:
            tag.decompose()
        elif tag.name in outside_content and tag.find_parent(CONTENT) is None:
            tag.decompose()
        elif _names_chrome(tag, words):
            if tag.find(CONTENT) is not None:
                continue
            if page_chars and len(tag.get_text(strip=True)) > page_chars / 2:
                logger.debug("keeping <%s %s>: it holds most of the page text", tag.name, tag.attrs)
                continue
            tag.decompose()


def _names_chrome(tag: Tag, words: set[str]) -> bool:
    values: list[str] = []
    for attr in ("id", "class", "role"):
        value = tag.get(attr)
        if isinstance(value, str):
            values.extend(value.split())
        elif value:
            values.extend(str(v) for v in value)
    return any(words & class_tokens(value) for value in values)


def class_tokens(value: str) -> set[str]:
    """The words of an id or class name, plus the name with its separators removed.

    >>> sorted(class_tokens("topNav-bar"))
    ['bar', 'nav', 'top', 'topnavbar']
    """
    lowered = _CAMEL.sub(r"\1 \2", value).lower()
    tokens = {t for t in _NON_ALNUM.split(lowered) if t}
    squashed = _NON_ALNUM.sub("", value.lower())
    if squashed:
        tokens.add(squashed)
    return tokens


def _render(node: Tag, out: list[str], *, pre: bool) -> None:
    from bs4 import NavigableString, Tag

    for child in node.children:
        if isinstance(child, NavigableString):
            text = str(child)
            out.append(text.replace("\n", _BREAK) if pre else text)
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if name == "br":
            out.append(_BREAK)
        elif name == "tr":
            cells = [_cell_text(cell) for cell in child.find_all(CELLS, recursive=False)]
            out.extend((_BREAK, _CELL.join(cells), _BREAK))
        elif name in BLOCK:
            out.append(_BREAK)
            _render(child, out, pre=pre or name == "pre")
            out.append(_BREAK)
        else:
            _render(child, out, pre=pre)


def _cell_text(cell: Tag) -> str:
    out: list[str] = []
    _render(cell, out, pre=False)
    text = _collapse("".join(out)).replace(_BREAK, " ").replace(_CELL, " ")
    return " ".join(text.split(" ")).strip(_EDGE)


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _collapse(text: str) -> str:
    def space(match: re.Match[str]) -> str:
        start, end = match.start(), match.end()
        has_break = "\n" in match.group() or "\r" in match.group()
        if has_break and 0 < start and end < len(text) and _wide(text[start - 1]) and _wide(text[end]):
            return ""
        return " "

    return _HTML_SPACE.sub(space, text)


def _finish(text: str) -> str:
    lines = []
    for raw in _collapse(text).split(_BREAK):
        line = raw.replace(_CELL, "\t").replace("\xa0", " ").strip(_EDGE)
        line = _SPACES.sub(" ", line)
        if line.strip():
            lines.append(line)
    return "\n".join(lines)
