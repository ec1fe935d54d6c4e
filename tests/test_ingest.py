"""The ingest stage on real inputs: the committed corpus of formats and bytes built here.

Expected text comes from the UTF-8 sources in ``corpus/formats/src`` (no phrase is written
into this file), so every check compares what a reader produced with what was written.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import os
import random
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from extract.ingest import (
    SUPPORTED,
    IngestError,
    InputItem,
    Limits,
    iter_inputs,
    load_ingest_rules,
    read_bytes,
    read_inputs,
    read_path,
)
from extract.ingest.archive import Budget, open_zip, read_member
from extract.ingest.html import read_html
from extract.ingest.text import decode_bytes
from extract.resources import rules_path
from schemas.documents import ErrorRow, RawDocument

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ROOT / "corpus" / "formats"
SRC = FORMATS / "src"
MANIFEST: dict[str, Any] = yaml.safe_load((SRC / "manifest.yaml").read_text(encoding="utf-8"))
OUTPUTS = {spec["out"]: spec for spec in MANIFEST["outputs"]}
TEXT_OUTPUTS = [name for name, spec in OUTPUTS.items() if spec["kind"] == "text"]
#: recorded encoding for each encoding the generator writes
RECORDED = {
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8-sig",
    "gb18030": "gb18030",
    "big5": "big5",
    "utf-16": "utf-16",
}

SIMPLIFIED = "county_summary.txt.in"
TRADITIONAL = "textile_industry_big5.txt.in"


def source(name: str) -> str:
    return (SRC / name).read_text(encoding="utf-8")


def source_lines(name: str) -> list[str]:
    return [line.strip() for line in source(name).splitlines() if line.strip()]


def compact(text: str) -> str:
    return "".join(text.split())


def one_doc(result: Any) -> RawDocument:
    documents, errors = result
    assert errors == []
    assert len(documents) == 1
    return documents[0]


def zip_bytes(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("make_formats", FORMATS / "make_formats.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------------------------
# plain text: committed corpus


@pytest.mark.parametrize("name", TEXT_OUTPUTS)
def test_corpus_text_file_decodes_to_its_source(name: str) -> None:
    spec = OUTPUTS[name]
    path = FORMATS / name
    doc = one_doc(read_path(path))
    assert doc.text == source(spec["src"])
    assert doc.encoding == RECORDED[spec["encoding"]]
    assert doc.format == ("md" if name.endswith(".md") else "txt")
    assert doc.source_path == str(path)
    assert doc.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert not doc.text.startswith("\ufeff")


# --------------------------------------------------------------------------------------------
# plain text: bytes built here


BOM_LE, BOM_BE = b"\xff\xfe", b"\xfe\xff"
ENCODINGS = [
    # (id, source, encode, recorded)
    ("utf-8", SIMPLIFIED, lambda t: t.encode("utf-8"), "utf-8"),
    ("utf-8-sig", SIMPLIFIED, lambda t: t.encode("utf-8-sig"), "utf-8-sig"),
    ("gb18030", SIMPLIFIED, lambda t: t.encode("gb18030"), "gb18030"),
    ("gbk", SIMPLIFIED, lambda t: t.encode("gbk"), "gb18030"),
    ("big5", TRADITIONAL, lambda t: t.encode("big5"), "big5"),
    ("utf-8-traditional", TRADITIONAL, lambda t: t.encode("utf-8"), "utf-8"),
    ("utf-16-le-bom", SIMPLIFIED, lambda t: BOM_LE + t.encode("utf-16-le"), "utf-16"),
    ("utf-16-be-bom", SIMPLIFIED, lambda t: BOM_BE + t.encode("utf-16-be"), "utf-16"),
    ("utf-16-le-no-bom", SIMPLIFIED, lambda t: t.encode("utf-16-le"), "utf-16"),
    ("utf-16-be-no-bom", SIMPLIFIED, lambda t: t.encode("utf-16-be"), "utf-16"),
    ("utf-16-le-no-bom-traditional", TRADITIONAL, lambda t: t.encode("utf-16-le"), "utf-16"),
]


@pytest.mark.parametrize(
    ("src", "encode", "recorded"), [e[1:] for e in ENCODINGS], ids=[e[0] for e in ENCODINGS]
)
def test_encoding_detected_and_recorded(tmp_path: Path, src: str, encode: Any, recorded: str) -> None:
    text = source(src)
    path = tmp_path / "doc.txt"
    path.write_bytes(encode(text))
    doc = one_doc(read_path(path))
    assert doc.encoding == recorded
    assert doc.text == text


@pytest.mark.parametrize("src", sorted(p.name for p in SRC.glob("*.in") if "html" not in p.name))
def test_short_lines_pick_the_right_chinese_encoding(src: str) -> None:
    """Each title line alone (a hard, short case) in GB18030 and, where possible, Big5."""
    title = source_lines(src)[0]
    assert decode_bytes(title.encode("gb18030")) == (title, "gb18030", 0)
    try:
        big5 = title.encode("big5")
    except UnicodeEncodeError:
        return  # simplified-only characters
    assert decode_bytes(big5) == (title, "big5", 0)


def test_line_breaks_normalised(tmp_path: Path) -> None:
    lines = source_lines(SIMPLIFIED)
    path = tmp_path / "crlf.txt"
    path.write_bytes(("\r\n".join(lines[:3]) + "\r" + lines[3]).encode("gb18030"))
    doc = one_doc(read_path(path))
    assert doc.text == "\n".join(lines[:4])
    assert "\r" not in doc.text


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_few_bad_bytes_replaced_and_logged(
    tmp_path: Path, encoding: str, caplog: pytest.LogCaptureFixture
) -> None:
    text = source(SIMPLIFIED)
    data = text.encode(encoding)
    cut = data.index("\n".encode(encoding), len(data) // 2)
    path = tmp_path / "damaged.txt"
    path.write_bytes(data[:cut] + b"\xff" + data[cut:])
    with caplog.at_level(logging.WARNING, logger="extract.ingest"):
        documents, errors = read_path(path)
    [doc] = documents
    assert doc.encoding == encoding
    assert doc.text.count("\ufffd") == 1
    assert doc.text.replace("\ufffd", "") == text
    assert any("replaced" in record.getMessage() for record in caplog.records)
    # read, and the loss is on record in errors
    assert errors == [
        ErrorRow(
            path=str(path),
            stage="decode",
            reason=f"1 undecodable byte sequence(s) replaced with U+FFFD while decoding as {encoding}; "
            "the rest of the text was read",
        )
    ]


def test_binary_with_nul_bytes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(IngestError) as info:
        read_path(path)
    assert info.value.stage == "decode"
    assert "binary" in info.value.reason


def test_mostly_undecodable_is_refused(tmp_path: Path) -> None:
    rng = random.Random(7)
    path = tmp_path / "noise.txt"
    path.write_bytes(bytes(rng.randrange(1, 256) for _ in range(4000)))
    with pytest.raises(IngestError) as info:
        read_path(path)
    assert info.value.stage == "decode"
    assert "undecodable" in info.value.reason


@pytest.mark.parametrize("data", [b"", b" \n\t\r\n ", b"\xef\xbb\xbf", b"\xff\xfe", "\u3000\n".encode()])
def test_empty_file(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(data)
    with pytest.raises(IngestError) as info:
        read_path(path)
    assert (info.value.stage, info.value.reason) == ("ingest", "empty file")


def test_file_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(source(SIMPLIFIED).encode())
    with pytest.raises(IngestError) as info:
        read_path(path, Limits(max_file_bytes=100))
    assert "over the 100 bytes limit" in info.value.reason


# --------------------------------------------------------------------------------------------
# docx


def test_corpus_docx_paragraphs_and_table_in_order() -> None:
    doc = one_doc(read_path(FORMATS / "power_supply_report.docx"))
    lines = source_lines("power_supply.txt.in")
    expected = [
        line if not line.startswith("|") else "\t".join(c.strip() for c in line.strip("|").split("|"))
        for line in lines
    ]
    assert doc.text.split("\n") == expected
    assert doc.title_hint == lines[0]
    assert doc.format == "docx"
    assert doc.encoding is None


def test_docx_built_here_keeps_tables_in_place() -> None:
    import docx

    lines = source_lines(SIMPLIFIED)
    document = docx.Document()
    document.add_paragraph(lines[1])
    table = document.add_table(rows=2, cols=3)
    for r in range(2):
        for c in range(3):
            table.cell(r, c).text = f"{lines[2][c]}{r}{c}"
    nested = table.cell(1, 2).add_table(rows=1, cols=1)  # a table inside a cell stays in the cell
    nested.cell(0, 0).text = "inner"
    document.add_paragraph(lines[3])
    buffer = io.BytesIO()
    document.save(buffer)
    doc = one_doc(read_bytes(buffer.getvalue(), ".docx", "made.docx"))
    assert doc.text.split("\n") == [
        lines[1],
        "\t".join(f"{lines[2][c]}0{c}" for c in range(3)),
        "\t".join(f"{lines[2][c]}1{c}" for c in range(3)) + " inner",
        lines[3],
    ]
    assert doc.title_hint is None


def _docx_with_part(part: str, xml: bytes) -> bytes:
    data = (FORMATS / "power_supply_report.docx").read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, xml if info.filename == part else src.read(info))
    return out.getvalue()


def test_docx_with_entity_declaration_is_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n'
        b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        b"<w:body><w:p><w:r><w:t>&lol2;</w:t></w:r></w:p></w:body></w:document>"
    )
    with pytest.raises(IngestError) as info:
        read_bytes(_docx_with_part("word/document.xml", bomb), ".docx", "bomb.docx")
    assert info.value.stage == "ingest"
    assert "DOCTYPE/ENTITY" in info.value.reason


def test_docx_with_malformed_xml_is_refused() -> None:
    with pytest.raises(IngestError) as info:
        read_bytes(_docx_with_part("word/document.xml", b"<w:document><unclosed>"), ".docx", "bad.docx")
    assert "not well-formed" in info.value.reason


def test_zip_that_is_not_a_docx() -> None:
    with pytest.raises(IngestError) as info:
        read_bytes(zip_bytes({"hello.txt": b"hi"}), ".docx", "fake.docx")
    assert "word/document.xml missing" in info.value.reason


def test_corpus_broken_docx_fails_cleanly() -> None:
    with pytest.raises(IngestError) as info:
        read_path(FORMATS / "broken.docx")
    assert info.value.stage == "ingest"
    assert info.value.reason.startswith("not a valid .docx (zip central directory missing")


# --------------------------------------------------------------------------------------------
# html


CHROME_SELECTORS = (
    "title, header, nav, .breadcrumb, .share-bar, aside, #comments, noscript, footer, script, style"
)
HTML_OUTPUTS = [name for name, spec in OUTPUTS.items() if spec["kind"] == "html"]


def chrome_strings(markup: bytes, encoding: str) -> list[str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup.decode(encoding), "lxml")
    found = []
    for element in soup.select(CHROME_SELECTORS):
        for line in element.get_text("\n").splitlines():
            if len(line.strip()) >= 4:
                found.append(line.strip())
    return found


@pytest.mark.parametrize("name", HTML_OUTPUTS)
def test_corpus_html_article_without_chrome(name: str) -> None:
    spec = OUTPUTS[name]
    path = FORMATS / name
    doc = one_doc(read_path(path))
    lines = doc.text.split("\n")
    article = source_lines(spec["src"])
    assert lines[0] == article[0]  # the <h1>
    for line in article:
        assert line in lines
    chrome = chrome_strings(path.read_bytes(), spec["encoding"])
    assert len(chrome) > 10
    for line in chrome:
        if line.startswith(article[0]):  # <title> repeats the headline
            continue
        assert line not in doc.text
    assert doc.title_hint is not None and doc.title_hint.startswith(article[0])
    assert doc.encoding == ("gb18030" if spec["encoding"] == "gb2312" else spec["encoding"])


def test_html_big5_meta_charset_table_and_cjk_line_breaks() -> None:
    lines = source_lines(TRADITIONAL)
    lines = lines[:1] + [piece for line in lines[1:] for piece in line.split("\u3002") if piece]
    first, second = lines[1], lines[2]
    middle = len(first) // 2
    while not ("\u4e00" <= first[middle - 1] <= "\u9fff" and "\u4e00" <= first[middle] <= "\u9fff"):
        middle += 1
    broken = first[:middle] + "\n    " + first[middle:]
    markup = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=big5">'
        f"<title>{lines[0]}</title></head><body>"
        f'<div id="topNavBar"><a>{lines[3]}</a></div>'
        f"<div class='content'><p>{broken}</p>"
        f"<table><tr><td>{second[:4]}</td><td> 12 </td><td>{second[4:8]}</td></tr></table>"
        f"<p hidden>{lines[4]}</p><p style='display: none'>{lines[5]}</p>"
        f"<p>{lines[6]}<br>{lines[7]}</p></div>"
        f'<div class="article-footer-share">{lines[8]}</div></body></html>'
    )
    doc = one_doc(read_bytes(markup.encode("big5"), ".html", "page.html"))
    assert doc.encoding == "big5"
    assert doc.title_hint == lines[0]
    assert doc.text.split("\n") == [first, f"{second[:4]}\t12\t{second[4:8]}", lines[6], lines[7]]


def test_html_body_with_chrome_class_is_kept() -> None:
    lines = source_lines(SIMPLIFIED)
    markup = f"<html><body class='has-sidebar'><div class='layout-nav'><p>{lines[1]}</p><p>{lines[2]}</p>"
    markup += f"</div><div class='nav'>{lines[3][:6]}</div></body></html>"
    doc = one_doc(read_bytes(markup.encode("utf-8"), ".html", "page.html"))
    assert doc.text.split("\n") == [lines[1], lines[2]]


def test_html_without_visible_text() -> None:
    markup = b"<html><head><title>t</title><script>var a = 1;</script></head><body><nav>x</nav></body></html>"
    with pytest.raises(IngestError) as info:
        read_html(markup, "empty.html")
    assert info.value.reason == "no visible text in the HTML page"


# --------------------------------------------------------------------------------------------
# pdf


def test_corpus_pdf_text_layer() -> None:
    doc = one_doc(read_path(FORMATS / "construction_group.pdf"))
    lines = source_lines("construction_group.txt.in")
    body = compact(doc.text)
    for line in lines:
        assert compact(line) in body
    assert doc.title_hint == lines[0]
    assert doc.format == "pdf"


def test_pdf_with_a_cjk_cff_font_is_read() -> None:
    """fpdf2 with NotoSansCJK (CFF outlines) writes a CIDFontType0C font: pdfminer found no
    characters in it and called the PDF a scan. The fixture is committed: no font is needed."""
    path = Path(__file__).parent / "fixtures" / "cff_font.pdf"
    assert b"/CIDFontType0C" in path.read_bytes()
    doc = one_doc(read_path(path))
    assert "全街道新建工会12家，发展会员560人，走访慰问困难职工38户。" in doc.text.split("\n")


def _pdf(draw: Any) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    draw(pdf)
    return bytes(pdf.output())


def test_pdf_without_text_layer_is_refused() -> None:
    data = _pdf(lambda pdf: pdf.rect(20, 20, 100, 60, style="F"))
    with pytest.raises(IngestError) as info:
        read_bytes(data, ".pdf", "scan.pdf")
    assert info.value.stage == "ingest"
    assert info.value.reason == "PDF has no text layer (scanned?); OCR is not supported"


def test_encrypted_pdf_is_refused() -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(0, 10, "members 1,234")
    pdf.set_encryption(owner_password="owner", user_password="user")
    with pytest.raises(IngestError) as info:
        read_bytes(bytes(pdf.output()), ".pdf", "locked.pdf")
    assert "encrypted" in info.value.reason


@pytest.mark.parametrize("keep", [0.25, 0.5, 0.9])
def test_truncated_pdf_fails_cleanly(keep: float) -> None:
    data = (FORMATS / "construction_group.pdf").read_bytes()
    with pytest.raises(IngestError) as info:
        read_bytes(data[: int(len(data) * keep)], ".pdf", "cut.pdf")
    assert info.value.reason.startswith("not a readable PDF")


def test_lone_surrogates_from_a_reader_are_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """No table can hold a lone surrogate; a reader that yields one (a PDF font map can) is mended."""
    import extract.ingest.pdf

    def read_pdf(data: bytes, source_path: str) -> RawDocument:
        text = "会员\ud800120人"
        return RawDocument(source_path=source_path, text=text, format="pdf", sha256="0", title_hint="\udfff")

    monkeypatch.setattr(extract.ingest.pdf, "read_pdf", read_pdf)
    [doc], errors = read_bytes(b"%PDF-1.4", ".pdf", "odd.pdf")
    assert (doc.text, doc.title_hint) == ("会员\ufffd120人", "\ufffd")
    assert errors == [
        ErrorRow(
            path="odd.pdf",
            stage="decode",
            reason="1 lone surrogate code point(s) replaced with U+FFFD; the rest of the text was read",
        )
    ]


def test_not_a_pdf() -> None:
    with pytest.raises(IngestError) as info:
        read_bytes(b"hello", ".pdf", "fake.pdf")
    assert info.value.reason == "not a PDF (no %PDF- header)"


# --------------------------------------------------------------------------------------------
# zip


def test_corpus_zip_members() -> None:
    path = FORMATS / "bundle.zip"
    documents, errors = read_path(path)
    assert errors == []
    members = OUTPUTS["bundle.zip"]["members"]
    by_path = {doc.source_path: doc for doc in documents}
    assert sorted(by_path) == sorted(f"{path}!/{m['name']}" for m in members)
    text_member = next(m for m in members if m["kind"] == "text")
    assert not text_member.get("utf8_flag", True)  # a GBK name without the UTF-8 flag, decoded back
    doc = by_path[f"{path}!/{text_member['name']}"]
    assert doc.text == source(text_member["src"])
    assert doc.encoding == "gb18030"
    docx_member = next(m for m in members if m["kind"] == "docx")
    doc = by_path[f"{path}!/{docx_member['name']}"]
    assert doc.title_hint == source_lines(docx_member["src"])[0]
    with zipfile.ZipFile(path) as zf:
        raw = {zi.filename: zf.read(zi) for zi in zf.infolist()}
    assert {d.sha256 for d in documents} == {hashlib.sha256(b).hexdigest() for b in raw.values()}


def test_zip_unsafe_member_names_refused_good_member_read() -> None:
    text = source(SIMPLIFIED).encode("utf-8")
    data = zip_bytes({"../evil.txt": text, "/abs.txt": text, "C:\\windows.txt": text, "docs/good.txt": text})
    documents, errors = read_bytes(data, ".zip", "in.zip")
    assert [d.source_path for d in documents] == ["in.zip!/docs/good.txt"]
    assert documents[0].text == source(SIMPLIFIED)
    reasons = {e.path: e.reason for e in errors}
    assert reasons == {
        "in.zip!/../evil.txt": "unsafe member name refused: path goes up a folder (..)",
        "in.zip!//abs.txt": "unsafe member name refused: absolute path",
        "in.zip!/C:\\windows.txt": "unsafe member name refused: path has a drive letter",
    }
    assert all(e.stage == "ingest" for e in errors)


def test_zip_accounts_for_hidden_and_unsupported_members() -> None:
    text = source(SIMPLIFIED).encode("utf-8")
    data = zip_bytes(
        {
            "a/": b"",
            "a/ok.md": text,
            "__MACOSX/a/._ok.md": b"\x00\x05",
            ".DS_Store": b"\x00",
            "a/pic.png": b"\x89PNG",
        }
    )
    documents, errors = read_bytes(data, ".zip", "in.zip")
    assert [d.source_path for d in documents] == ["in.zip!/a/ok.md"]
    assert documents[0].format == "md"
    # nothing vanishes: every member not read is a row saying why
    assert [(e.path, e.stage, e.reason.split(";")[0]) for e in errors] == [
        ("in.zip!/.DS_Store", "skip", "hidden member (a name starts with '.')"),
        ("in.zip!/__MACOSX/a/._ok.md", "skip", "macOS resource fork (__MACOSX)"),
        ("in.zip!/a/pic.png", "skip", "unsupported file type '.png'"),
    ]


BOMB = 50 * 1024 * 1024


def test_zip_bomb_refused_by_size_limit() -> None:
    data = zip_bytes({"bomb.txt": b"0" * BOMB})
    assert len(data) < BOMB // 500
    with pytest.raises(IngestError) as info:
        read_bytes(data, ".zip", "bomb.zip", Limits(max_zip_total_bytes=10 * 1024 * 1024))
    assert "zip bomb" in info.value.reason
    assert "over the 10 MiB limit" in info.value.reason


def test_zip_bomb_member_refused_by_ratio_others_read() -> None:
    good = source(SIMPLIFIED).encode("utf-8")
    data = zip_bytes({"bomb.txt": b"0" * BOMB, "good.txt": good})
    documents, errors = read_bytes(data, ".zip", "bomb.zip")
    assert [d.source_path for d in documents] == ["bomb.zip!/good.txt"]
    assert len(errors) == 1 and errors[0].path == "bomb.zip!/bomb.txt"
    assert "compression ratio" in errors[0].reason and "zip bomb" in errors[0].reason


def test_zip_read_counts_bytes_against_budget() -> None:
    data = zip_bytes({"a.txt": b"x" * 100_000})
    with open_zip(data) as zf:
        info = zf.infolist()[0]
        with pytest.raises(IngestError) as exc:
            read_member(zf, info, Budget(50_000), Limits())
    assert "stopped" in exc.value.reason


def test_zip_entry_count_limit() -> None:
    data = zip_bytes({f"{i}.txt": b"members" for i in range(5)})
    with pytest.raises(IngestError) as info:
        read_bytes(data, ".zip", "many.zip", Limits(max_zip_entries=3))
    assert "5 entries, over the limit of 3" in info.value.reason


def test_nested_zips_to_the_depth_limit() -> None:
    text = source(SIMPLIFIED).encode("gb18030")
    level3 = zip_bytes({"deep.txt": text})
    level2 = zip_bytes({"mid.txt": text, "level3.zip": level3})
    level1 = zip_bytes({"top.txt": text, "level2.zip": level2})
    documents, errors = read_bytes(level1, ".zip", "outer.zip")
    assert [d.source_path for d in documents] == ["outer.zip!/level2.zip!/mid.txt", "outer.zip!/top.txt"]
    assert all(d.encoding == "gb18030" for d in documents)
    assert [(e.path, e.reason) for e in errors] == [
        ("outer.zip!/level2.zip!/level3.zip", "archive nested deeper than 2 levels; not read")
    ]
    documents, errors = read_bytes(level1, ".zip", "outer.zip", Limits(max_zip_depth=3))
    assert len(documents) == 3 and errors == []


def test_zip_member_failure_is_a_row() -> None:
    data = zip_bytes({"broken.docx": (FORMATS / "broken.docx").read_bytes(), "ok.txt": b"members 1,234"})
    documents, errors = read_bytes(data, ".zip", "mixed.zip")
    assert [d.source_path for d in documents] == ["mixed.zip!/ok.txt"]
    assert [e.path for e in errors] == ["mixed.zip!/broken.docx"]
    assert "zip central directory missing" in errors[0].reason


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_zip_fails_cleanly(keep: float) -> None:
    data = (FORMATS / "bundle.zip").read_bytes()
    with pytest.raises(IngestError) as info:
        read_bytes(data[: int(len(data) * keep)], ".zip", "cut.zip")
    assert info.value.stage == "ingest"
    assert "zip central directory missing" in info.value.reason


# --------------------------------------------------------------------------------------------
# walking folders


def _names(items: list[InputItem | ErrorRow]) -> list[str]:
    return [item.source_path if isinstance(item, InputItem) else f"ERR {item.path}" for item in items]


def test_walk_sorted_accounts_for_hidden_and_unsupported(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    for name in ("b/z.txt", "b/a.docx", "a.md", "c.pdf", "notes.png", ".hidden.txt", ".git/x.txt", "README"):
        (tmp_path / name).write_bytes(b"x")
    items = list(iter_inputs([tmp_path]))
    root = str(tmp_path)
    assert _names(items) == [
        f"ERR {root}/.git",
        f"ERR {root}/.hidden.txt",
        f"ERR {root}/README",
        f"{root}/a.md",
        f"{root}/b/a.docx",
        f"{root}/b/z.txt",
        f"{root}/c.pdf",
        f"ERR {root}/notes.png",
    ]
    rows = {Path(i.path).name: (i.stage, i.reason.split(";")[0]) for i in items if isinstance(i, ErrorRow)}
    assert rows == {
        ".git": ("skip", "hidden folder"),
        ".hidden.txt": ("skip", "hidden file"),
        "README": ("skip", "unsupported file type '(no suffix)'"),
        "notes.png": ("skip", "unsupported file type '.png'"),
    }
    keys = [(i.key, i.root) for i in items if isinstance(i, InputItem)]
    assert keys == [("a", root), ("b/a", root), ("b/z", root), ("c", root)]


def test_named_files_unsupported_missing_and_hidden(tmp_path: Path) -> None:
    (tmp_path / "pic.png").write_bytes(b"x")
    (tmp_path / ".hidden.txt").write_bytes(b"x")
    items = list(iter_inputs([tmp_path / "pic.png", tmp_path / "missing.txt", tmp_path / ".hidden.txt"]))
    assert isinstance(items[0], ErrorRow) and items[0].stage == "skip"
    assert "unsupported file type '.png'" in items[0].reason
    assert isinstance(items[1], ErrorRow) and items[1].reason == "no such file or directory"
    assert isinstance(items[2], InputItem)  # named explicitly: read even though hidden


def test_walk_symlink_loop_terminates(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "doc.txt").write_bytes(b"x")
    os.symlink(tmp_path / "a", tmp_path / "a" / "b" / "back")
    os.symlink(tmp_path / "a" / "b", tmp_path / "a" / "again")
    os.symlink(tmp_path / "nowhere.txt", tmp_path / "a" / "dangling.txt")
    items = list(iter_inputs([tmp_path, tmp_path / "a"]))
    docs = [i for i in items if isinstance(i, InputItem)]
    assert len(docs) == 1 and docs[0].path.resolve() == (tmp_path / "a" / "b" / "doc.txt").resolve()
    errors = [i for i in items if isinstance(i, ErrorRow)]
    assert [(Path(e.path).name, e.reason) for e in errors] == [("dangling.txt", "broken symbolic link")]


def test_walk_depth_limit(tmp_path: Path) -> None:
    deep = tmp_path / "1" / "2" / "3" / "4"
    deep.mkdir(parents=True)
    (deep / "doc.txt").write_bytes(b"x")
    (tmp_path / "1" / "top.txt").write_bytes(b"x")
    items = list(iter_inputs([tmp_path], Limits(max_dir_depth=2)))
    assert _names(items) == [f"ERR {tmp_path}/1/2/3", f"{tmp_path}/1/top.txt"]
    assert "deeper than 2 levels" in items[0].reason  # type: ignore[union-attr]


def test_walk_permission_error_is_a_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "doc.txt").write_bytes(b"x")
    (tmp_path / "open.txt").write_bytes(b"x")
    real_scandir = os.scandir

    def scandir(path: Any) -> Any:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    items = list(iter_inputs([tmp_path]))
    assert _names(items) == [f"ERR {tmp_path}/locked", f"{tmp_path}/open.txt"]
    assert items[0].reason == "cannot list folder: permission denied"  # type: ignore[union-attr]


def test_unreadable_file_is_a_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "secret.txt").write_bytes(b"x")
    real_open = Path.open

    def guarded(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name == "secret.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", guarded)
    rows = list(read_inputs([tmp_path]))
    assert rows == [
        ErrorRow(path=f"{tmp_path}/secret.txt", stage="ingest", reason="cannot read file: permission denied")
    ]


def test_read_inputs_over_the_corpus_of_formats() -> None:
    rows = list(read_inputs([FORMATS]))
    documents = [r for r in rows if isinstance(r, RawDocument)]
    errors = [r for r in rows if isinstance(r, ErrorRow) and r.stage != "skip"]
    assert [e.path for e in errors] == [str(FORMATS / "broken.docx")]
    skipped = {r.path for r in rows if isinstance(r, ErrorRow) and r.stage == "skip"}
    others = {str(p) for p in FORMATS.rglob("*") if p.is_file() and p.suffix not in SUPPORTED}
    assert skipped == others and str(FORMATS / "make_formats.py") in skipped  # every file accounted for
    expected = sum(
        len(spec.get("members", [])) or 1 for spec in MANIFEST["outputs"] if spec["kind"] != "truncated"
    )
    assert len(documents) == expected >= 12
    assert not any("/src/" in d.source_path for d in documents)  # sources are not read twice
    assert {d.format for d in documents} == {"txt", "md", "docx", "html", "pdf"}
    assert {d.encoding for d in documents} >= {"utf-8", "utf-8-sig", "gb18030", "big5", "utf-16"}
    for doc in documents:
        assert 300 <= len(doc.text) <= 1200, doc.source_path


def test_supported_suffixes() -> None:
    assert {".txt", ".md", ".docx", ".html", ".htm", ".pdf", ".zip"} == SUPPORTED
    with pytest.raises(IngestError):
        read_bytes(b"x", ".doc", "old.doc")


# --------------------------------------------------------------------------------------------
# rules and the generator


def test_ingest_rules_load() -> None:
    rules = load_ingest_rules()
    assert "nav" in rules.chrome_words and "nav" in rules.chrome_tags
    assert rules_path("ingest.yaml").is_file()


def test_bad_ingest_rules_fail_at_load(tmp_path: Path) -> None:
    from extract.ingest import RulesFileError

    path = tmp_path / "ingest.yaml"
    path.write_text("kind: ingest\nchrome_tags: [nav]\nchrome_words: [nav]\nsurprise: 1\n", encoding="utf-8")
    with pytest.raises(RulesFileError, match="surprise"):
        load_ingest_rules(path)


def test_committed_corpus_matches_its_sources(tmp_path: Path) -> None:
    generator = load_generator()
    font = generator.find_font()
    names = [name for name, spec in OUTPUTS.items() if spec["kind"] != "pdf" or font is not None]
    generator.build(tmp_path, font, names)
    for name in names:
        committed, rebuilt = FORMATS / name, tmp_path / name
        if OUTPUTS[name]["kind"] in ("text", "html"):
            assert committed.read_bytes() == rebuilt.read_bytes(), name
        elif OUTPUTS[name]["kind"] == "pdf":
            # where a PDF's lines break depends on the font's glyph widths, and the machine's CJK
            # font may not be the one the committed PDF was made with: the characters must match
            assert [compact(d.text) for d in read_path(committed).documents] == [
                compact(d.text) for d in read_path(rebuilt).documents
            ], name
        elif OUTPUTS[name]["kind"] != "truncated":
            assert [d.text for d in read_path(committed).documents] == [
                d.text for d in read_path(rebuilt).documents
            ], name


def test_html_article_header_and_footer_kept_page_ones_dropped() -> None:
    lines = source_lines(SIMPLIFIED)
    markup = (
        f"<html><body><header>{lines[5]}</header><div class='page-nav-wrap'><article>"
        f"<header><h1>{lines[0]}</h1></header><p>{lines[1]}</p><footer>{lines[2]}</footer>"
        f"<div class='share'>{lines[3]}</div></article></div><footer>{lines[4]}</footer></body></html>"
    )
    doc = one_doc(read_bytes(markup.encode("utf-8"), ".html", "page.html"))
    assert doc.text.split("\n") == [lines[0], lines[1], lines[2]]
