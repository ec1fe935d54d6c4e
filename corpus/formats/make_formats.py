"""Build the demo corpus of formats and encodings from the UTF-8 sources in ``src/``.

What is built, and from what, is listed in ``src/manifest.yaml``. The outputs are committed;
run this again only after changing a source::

    python corpus/formats/make_formats.py            # writes into corpus/formats/
    python corpus/formats/make_formats.py --out DIR  # somewhere else (tests use this)

The PDF needs a TrueType font with CJK glyphs, used only here: pass ``--font`` or set
``ZONGJIE_CJK_FONT``, or install Debian's ``fonts-wqy-zenhei`` or ``fonts-noto-cjk``.
Outputs are byte-for-byte reproducible: dates and zip timestamps are fixed.
"""

from __future__ import annotations

import argparse
import codecs
import html
import io
import os
import re
import sys
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
FIXED_TIME = (2024, 1, 1, 0, 0, 0)
FIXED_DATETIME = datetime(2024, 1, 1, tzinfo=timezone.utc)
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)
_UTF8_FLAG = 0x800


def find_font(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """A CJK font: ``explicit``, then ``$ZONGJIE_CJK_FONT``, then the usual Debian paths."""
    for candidate in (explicit, os.environ.get("ZONGJIE_CJK_FONT"), *FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def load_manifest() -> dict[str, Any]:
    return yaml.safe_load((SRC / "manifest.yaml").read_text(encoding="utf-8"))


def source_text(name: str) -> str:
    return (SRC / name).read_text(encoding="utf-8")


def source_lines(name: str) -> list[str]:
    return [line.strip() for line in source_text(name).splitlines() if line.strip()]


# --------------------------------------------------------------------------------------------
# one builder per kind; each returns the bytes of the output


def build_text(spec: dict[str, Any]) -> bytes:
    text = source_text(spec["src"])
    encoding = spec["encoding"]
    if encoding == "utf-16":  # little-endian with a BOM, as Windows Notepad writes it
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    return text.encode(encoding)


def _table_cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _is_rule(line: str) -> bool:
    return set(line.replace("|", "").replace(" ", "")) <= {"-", ":"}


def build_docx(spec: dict[str, Any]) -> bytes:
    import docx

    lines = source_lines(spec["src"])
    document = docx.Document()
    props = document.core_properties
    props.title = lines[0]
    props.author = "zongjie corpus"
    props.last_modified_by = "zongjie corpus"
    props.created = props.modified = FIXED_DATETIME.replace(tzinfo=None)
    props.revision = 1
    document.add_heading(lines[0], level=1)
    rows: list[list[str]] = []

    def flush() -> None:
        if not rows:
            return
        table = document.add_table(rows=len(rows), cols=max(len(r) for r in rows))
        table.style = "Table Grid"
        for r, values in enumerate(rows):
            for c, value in enumerate(values):
                table.cell(r, c).text = value
        rows.clear()

    for line in lines[1:]:
        if line.startswith("|"):
            if not _is_rule(line):
                rows.append(_table_cells(line))
            continue
        flush()
        document.add_paragraph(line)
    flush()
    buffer = io.BytesIO()
    document.save(buffer)
    return repack_zip(buffer.getvalue())


def repack_zip(data: bytes) -> bytes:
    """The same zip with fixed timestamps, so that builds are reproducible."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, FIXED_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info))
    return out.getvalue()


def build_html(spec: dict[str, Any], site: str) -> bytes:
    lines = source_lines(spec["src"])
    body: list[str] = []
    table: list[str] = []

    def flush() -> None:
        if table:
            body.append("      <table>\n" + "\n".join(table) + "\n      </table>")
            table.clear()

    for line in lines[1:]:
        if line.startswith("|"):
            if not _is_rule(line):
                cells = "".join(f"<td>{html.escape(cell)}</td>" for cell in _table_cells(line))
                table.append(f"        <tr>{cells}</tr>")
            continue
        flush()
        body.append(f"      <p>{html.escape(line)}</p>")
    flush()
    encoding = spec["encoding"]
    page = (
        source_text("page_template.html.in")
        .replace("{{charset}}", encoding)
        .replace("{{title}}", html.escape(lines[0]))
        .replace("{{site}}", html.escape(spec.get("site", site)))
        .replace("{{date}}", str(spec.get("date", "")))
        .replace("{{article}}", "\n".join(body))
    )
    return page.encode(encoding)


def build_pdf(spec: dict[str, Any], font: Path | None) -> bytes:
    from fpdf import FPDF

    if font is None:
        raise SystemExit(
            "no CJK font found for the PDF: install fonts-wqy-zenhei (or fonts-noto-cjk), "
            "or pass --font / set ZONGJIE_CJK_FONT"
        )
    lines = source_lines(spec["src"])
    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED_DATETIME)
    pdf.set_title(lines[0])
    pdf.set_producer("zongjie corpus")
    pdf.add_font("cjk", "", str(font))
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    pdf.set_font("cjk", size=16)
    pdf.multi_cell(0, 10, lines[0], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("cjk", size=11)
    for line in lines[1:]:
        for row in wrap_cjk(line, pdf.epw, pdf.get_string_width):
            pdf.cell(0, 7, row, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    return bytes(pdf.output())


_TOKEN = re.compile(r"[0-9A-Za-z.,%]+|.")


def wrap_cjk(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Break CJK text into lines no wider than ``width`` the way a typesetter would: never
    inside a number or Latin word, and never with closing punctuation at the start of a line.
    """
    tokens: list[str] = []
    for token in _TOKEN.findall(text):
        if tokens and len(token) == 1 and unicodedata.category(token) in ("Po", "Pe", "Pf"):
            tokens[-1] += token
        else:
            tokens.append(token)
    rows: list[str] = []
    row = ""
    for token in tokens:
        if row and measure(row + token) > width:
            rows.append(row)
            row = token
        else:
            row += token
    if row:
        rows.append(row)
    return rows


class _LegacyNameInfo(zipfile.ZipInfo):
    """A member whose name is stored in GBK without the UTF-8 flag (as Chinese Windows does)."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # zipfile's own method name
        return self.filename.encode("gbk"), self.flag_bits & ~_UTF8_FLAG


def build_zip(spec: dict[str, Any], site: str, font: Path | None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for member in spec["members"]:
            data = build_one(member, site, font, {})
            cls = zipfile.ZipInfo if member.get("utf8_flag", True) else _LegacyNameInfo
            info = cls(member["name"], FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return out.getvalue()


def build_one(spec: dict[str, Any], site: str, font: Path | None, built: dict[str, bytes]) -> bytes:
    kind = spec["kind"]
    if kind == "text":
        return build_text(spec)
    if kind == "docx":
        return build_docx(spec)
    if kind == "html":
        return build_html(spec, site)
    if kind == "pdf":
        return build_pdf(spec, font)
    if kind == "zip":
        return build_zip(spec, site, font)
    if kind == "truncated":
        return built[spec["of"]][: spec["keep"]]
    raise ValueError(f"unknown kind {kind!r} in manifest")


def build(out_dir: Path = HERE, font: Path | None = None, only: Iterable[str] | None = None) -> list[Path]:
    """Build the outputs named in the manifest (all, or those in ``only``) into ``out_dir``."""
    manifest = load_manifest()
    wanted = set(only) if only is not None else None
    out_dir.mkdir(parents=True, exist_ok=True)
    built: dict[str, bytes] = {}
    written: list[Path] = []
    for spec in manifest["outputs"]:
        name = spec["out"]
        needed = (
            wanted is None
            or name in wanted
            or any(s.get("of") == name and s["out"] in wanted for s in manifest["outputs"])
        )
        if not needed:
            continue
        data = build_one(spec, manifest["site"], font, built)
        built[name] = data
        if wanted is None or name in wanted:
            path = out_dir / name
            path.write_bytes(data)
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: beside this script)")
    parser.add_argument("--font", help="TrueType/TTC font with CJK glyphs, for the PDF")
    args = parser.parse_args(argv)
    for path in build(args.out, find_font(args.font)):
        sys.stdout.write(f"wrote {path} ({path.stat().st_size} bytes)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
