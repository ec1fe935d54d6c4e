"""Each hostile input, built on the fly beside good files, through the real ``zongjie extract``.

For every case: the run completes (exit 0), the bad input has exactly its row in ``errors``
(path, stage, a reason a person can act on) in the Parquet export and in the DuckDB store, and
the good files beside it give exactly the figures they give when run alone.
"""

from __future__ import annotations

import builtins
import io
import itertools
import os
import random
import re
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from extract.ingest import IngestError, Limits, read_path
from extract.pipeline import Pipeline
from extract.runner import RunOptions, run
from tests.robustness.helpers import (
    CORPUS,
    Tables,
    assert_good_unchanged,
    copy_good,
    store_errors,
    zongjie_extract,
)

#: a text that is not among the good files: the bad inputs are made from it
SAMPLE = CORPUS / "dev" / "dev-funds-audit-2013.txt"
DOCX = CORPUS / "formats" / "power_supply_report.docx"
PDF = CORPUS / "formats" / "construction_group.pdf"
MIB = 1024 * 1024


def sample_text() -> str:
    return SAMPLE.read_text(encoding="utf-8")


def noise(seed: int, n: int, low: int = 0) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(low, 256) for _ in range(n))


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


@dataclass
class Case:
    """``build(archive)`` writes the bad input(s); ``errors`` are the rows expected, as
    ``(path relative to the archive, stage, regex the reason must match)``; ``check`` looks
    at anything else the case promises."""

    id: str
    build: Callable[[Path], None]
    errors: list[tuple[str, str, str]]
    args: tuple[str, ...] = ()
    check: Callable[[Tables, Path], None] | None = None


# --------------------------------------------------------------------------------------------
# builders


def write(rel: str, data: bytes) -> Callable[[Path], None]:
    def build(archive: Path) -> None:
        path = archive / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    return build


def damaged_utf8(archive: Path) -> None:
    data = sample_text().encode("utf-8")
    cut = data.index("。".encode(), len(data) // 2) + 3
    (archive / "damaged.txt").write_bytes(data[:cut] + b"\xff" + data[cut:])


def damaged_utf8_read(tables: Tables, archive: Path) -> None:
    docs = tables["documents"]
    assert docs.loc[docs["doc_id"] == "damaged", "encoding"].tolist() == ["utf-8"]  # read all the same
    figures = tables["figures"]
    assert (figures["doc_id"] == "damaged").sum() > 10


def mixed_encodings(archive: Path) -> None:
    lines = sample_text().split("\n")
    half = len(lines) // 2
    data = "\n".join(lines[:half]).encode("utf-8") + b"\n" + "\n".join(lines[half:]).encode("gb18030")
    (archive / "mixed.txt").write_bytes(data)
    (archive / "utf8-copy.txt").write_text(sample_text(), encoding="utf-8")


def mixed_read_like_utf8(tables: Tables, archive: Path) -> None:
    docs = tables["documents"].set_index("doc_id")
    assert docs.loc["mixed", "encoding"] == "utf-8+gb18030"
    figures = tables["figures"]
    cols = ["start", "end", "surface", "value", "metric", "status"]
    mixed = figures[figures["doc_id"] == "mixed"][cols].reset_index(drop=True)
    utf8 = figures[figures["doc_id"] == "utf8-copy"][cols].reset_index(drop=True)
    assert len(mixed) > 10
    pd.testing.assert_frame_equal(mixed, utf8)


def one_long_line(archive: Path) -> None:
    line = sample_text().replace("\n", "")
    data = (line * (2 * MIB // len(line.encode()) + 1)).encode()[: 2 * MIB]
    (archive / "one-line.txt").write_bytes(data)


def truncated(src: Path, rel: str, keep: float) -> Callable[[Path], None]:
    data = src.read_bytes()
    return write(rel, data[: int(len(data) * keep)])


def pdf_without_text(archive: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")  # a "scan": drawing, no characters
    (archive / "scan.pdf").write_bytes(bytes(pdf.output()))


def zip_of_sample(archive: Path) -> None:
    data = zip_bytes({"a.txt": SAMPLE.read_bytes(), "b.docx": DOCX.read_bytes()})
    (archive / "cut.zip").write_bytes(data[: len(data) // 2])


UNSAFE = {
    "../../escape.txt": "path goes up a folder (..)",
    "/tmp/absolute.txt": "absolute path",
    "ok/../../up.txt": "path goes up a folder (..)",
    "C:\\windows.txt": "path has a drive letter",
}


def zip_unsafe_names(archive: Path) -> None:
    members = dict.fromkeys(UNSAFE, SAMPLE.read_bytes())
    members["ok/inner.txt"] = SAMPLE.read_bytes()
    (archive / "names.zip").write_bytes(zip_bytes(members))


def inner_member_read(tables: Tables, archive: Path) -> None:
    assert f"{archive}/names.zip!/ok/inner.txt" in set(tables["documents"]["source_path"])


def zip_bomb(archive: Path) -> None:
    data = zip_bytes({"bomb.txt": b"0" * (50 * MIB), "ok.txt": SAMPLE.read_bytes()})
    assert len(data) < 100_000
    (archive / "bomb.zip").write_bytes(data)


def zip_many_entries(archive: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for i in range(Limits().max_zip_entries + 1):
            zf.writestr(f"{i}.txt", b"1")
    (archive / "many.zip").write_bytes(buffer.getvalue())


def zip_too_deep(archive: Path) -> None:
    text = SAMPLE.read_bytes()
    inner = zip_bytes({"c.zip": zip_bytes({"deep.txt": text})})
    (archive / "a.zip").write_bytes(zip_bytes({"b.zip": inner}))


def docx_entities(archive: Path) -> None:
    """A billion laughs: nine levels of ten references each, 10⁹ copies of "lol" if expanded."""
    names = ["lol", *(f"lol{i}" for i in range(1, 10))]
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY {name} "{f"&{prev};" * 10}">' for prev, name in itertools.pairwise(names)
    )
    bomb = (
        f'<?xml version="1.0"?>\n<!DOCTYPE lolz [{entities}]>\n'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>"
    ).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(DOCX) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, bomb if info.filename == "word/document.xml" else src.read(info))
    (archive / "laughs.docx").write_bytes(out.getvalue())


SCRIPT_FIGURE = "全镇共有工会会员987654人"


def html_scripts_and_data_uri(archive: Path) -> None:
    paragraphs = "".join(f"<p>{line}</p>" for line in sample_text().split("\n") if line.strip())
    page = (
        f"<html><head><title>t</title><script>document.write('{SCRIPT_FIGURE}');</script>"
        f"<style>p {{ color: red }}</style></head><body>"
        f'<img src="data:image/png;base64,{"A" * (20 * MIB)}">{paragraphs}'
        f"<script>var s = '{SCRIPT_FIGURE}';</script><noscript>{SCRIPT_FIGURE}</noscript></body></html>"
    )
    (archive / "page.html").write_text(page, encoding="utf-8")


def html_text_read_scripts_not(tables: Tables, archive: Path) -> None:
    figures = tables["figures"]
    page = figures[figures["doc_id"] == "page"]
    assert len(page) > 10
    assert 987654 not in set(figures["value"])  # script, noscript and data: URI are not text


def deep_folders(archive: Path) -> None:
    deep = archive / "deep"
    for _ in range(70):
        deep = deep / "d"
    deep.mkdir(parents=True)
    (deep / "too-deep.txt").write_bytes(SAMPLE.read_bytes())
    shallow = archive / "deep" / Path(*["d"] * 9)
    (shallow / "shallow.txt").write_bytes(SAMPLE.read_bytes())


def shallow_read(tables: Tables, archive: Path) -> None:
    ids = {d.rsplit("/", 1)[-1] for d in tables["documents"]["doc_id"]}  # ids are paths under the archive
    assert "shallow" in ids and "too-deep" not in ids


def symlinks(archive: Path) -> None:
    loop = archive / "loop" / "a"
    loop.mkdir(parents=True)
    os.symlink("../../loop", loop / "back")  # a folder loop
    os.symlink("self.txt", archive / "loop" / "self.txt")  # a link to itself
    os.symlink("nowhere.txt", archive / "gone.txt")  # dangling
    os.symlink("good", archive / "alias-of-good")  # the good files again, by another way
    os.mkfifo(archive / "pipe.txt")  # a reader would block on it forever


def gbk_names(archive: Path) -> None:
    base = os.fsencode(archive)
    with open(os.path.join(base, "工会总结".encode("gbk") + b".txt"), "wb") as fh:
        fh.write(SAMPLE.read_bytes())
    with open(os.path.join(base, b"\xff\xfe\x80.txt"), "wb"):
        pass  # empty: it lands in errors, under a readable escaped name


def gbk_names_recorded(tables: Tables, archive: Path) -> None:
    docs = tables["documents"]
    assert docs.loc[docs["doc_id"] == "工会总结", "source_path"].tolist() == [f"{archive}/工会总结.txt"]
    escaped = f"{archive}/\\xff\\xfe\\x80.txt"
    csv = pd.read_csv(tables.out / "errors.csv", encoding="utf-8-sig")
    assert csv["path"].tolist() == [escaped]
    inputs = pd.read_csv(tables.out / "inputs.csv", encoding="utf-8-sig")
    assert {f"{archive}/工会总结.txt", escaped} <= set(inputs["source_path"])


CASES = [
    Case("zero-byte", write("empty.txt", b""), [("empty.txt", "ingest", r"^empty file$")]),
    Case("whitespace-only", write("blank.md", " \r\n\u3000\n\t".encode()), [("blank.md", "ingest", "^empty file$")]),
    Case(
        "binary-with-txt-suffix",
        write("scan.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 64),
        [("scan.txt", "decode", r"^binary content \(NUL bytes, and not UTF-16\); not a text file$")],
    ),
    Case(
        "random-bytes",
        write("noise.txt", noise(7, 8000, low=1)),
        [("noise.txt", "decode", r"^mostly undecodable: not UTF-8, UTF-16, GB18030 or Big5 text")],
    ),
    Case(
        "invalid-utf8-bytes",
        damaged_utf8,
        [("damaged.txt", "decode", r"^1 undecodable byte sequence\(s\) replaced with U\+FFFD while decoding as utf-8")],
        check=damaged_utf8_read,
    ),
    Case("mixed-encodings-in-one-file", mixed_encodings, [], check=mixed_read_like_utf8),
    Case(
        "one-long-line-over-max-file-mb",
        one_long_line,
        [
            (
                "one-line.txt",
                "ingest",
                r"^file is 2 MiB, over the 1 MiB limit for one document \(zongjie extract --max-file-mb\)",
            )
        ],
        args=("--max-file-mb", "1"),
    ),
    Case(
        "long-text-over-max-chars",
        write("long.md", ((SAMPLE.read_text(encoding="utf-8") + "\n") * 4).encode("gb18030")),
        [
            (
                "long.md",
                "ingest",
                r"^text is 5,188 characters, over the 5,000-character limit for one document \(zongjie",
            )
        ],
        args=("--max-chars", "5000"),
    ),
    Case(
        "truncated-docx",
        truncated(DOCX, "cut.docx", 0.6),
        [("cut.docx", "ingest", r"^not a valid \.docx \(zip central directory missing; truncated or not a zip\)$")],
    ),
    Case(
        "corrupt-docx",
        write("garbage.docx", b"PK\x03\x04" + noise(3, 4000)),
        [("garbage.docx", "ingest", r"^not a valid \.docx \(")],
    ),
    Case(
        "truncated-pdf",
        truncated(PDF, "cut.pdf", 0.5),
        [("cut.pdf", "ingest", r"^not a readable PDF \(damaged or truncated")],
    ),
    Case(
        "pdf-without-text-layer",
        pdf_without_text,
        [("scan.pdf", "ingest", r"^PDF has no text layer \(scanned\?\); OCR is not supported$")],
    ),
    Case("truncated-zip", zip_of_sample, [("cut.zip", "ingest", r"zip central directory missing")]),
    Case(
        "zip-member-names-absolute-or-dotdot",
        zip_unsafe_names,
        [
            (f"names.zip!/{name}", "ingest", f"^unsafe member name refused: {re.escape(why)}$")
            for name, why in UNSAFE.items()
        ],
        check=inner_member_read,
    ),
    Case(
        "zip-bomb",
        zip_bomb,
        [
            (
                "bomb.zip!/bomb.txt",
                "ingest",
                r"^compression ratio \d+:1 is over the 200:1 limit; refused as a possible zip bomb$",
            )
        ],
    ),
    Case(
        "zip-entry-count",
        zip_many_entries,
        [("many.zip", "ingest", r"^\.zip has 10001 entries, over the limit of 10000; refused$")],
    ),
    Case(
        "zip-nested-too-deep",
        zip_too_deep,
        [("a.zip!/b.zip!/c.zip", "ingest", r"^archive nested deeper than 2 levels; not read$")],
    ),
    Case(
        "docx-xml-entity-expansion",
        docx_entities,
        [("laughs.docx", "ingest", r"^\.docx part word/document\.xml declares a DOCTYPE/ENTITY; refused")],
    ),
    Case("html-scripts-and-20mb-data-uri", html_scripts_and_data_uri, [], check=html_text_read_scripts_not),
    Case(
        "folders-nested-beyond-the-depth-limit",
        deep_folders,
        [("deep/" + "/".join(["d"] * 64), "ingest", r"^folder nesting deeper than 64 levels; not read$")],
        check=shallow_read,
    ),
    Case(
        "symlink-loops-dangling-links-and-a-fifo",
        symlinks,
        [
            ("gone.txt", "ingest", "^broken symbolic link$"),
            ("loop/self.txt", "ingest", r"^symbolic link loop"),
            ("pipe.txt", "ingest", "^not a regular file$"),
        ],
    ),
    Case(
        "file-names-in-gbk-bytes",
        gbk_names,
        [("\\xff\\xfe\\x80.txt", "ingest", "^empty file$")],
        check=gbk_names_recorded,
    ),
]


def run_case(case: Case, tmp_path: Path) -> tuple[Tables, Path]:
    archive = tmp_path / "archive"
    copy_good(archive / "good")
    case.build(archive)
    out = tmp_path / "out"
    result = zongjie_extract([archive], out, *case.args)
    assert result.exit_code == 0, (result.output, result.exception)
    return Tables(out), archive


def assert_errors(tables: Tables, archive: Path, expected: list[tuple[str, str, str]]) -> None:
    got = tables.errors()
    assert len(got) == len(expected), got
    by_path = {path: (stage, reason) for path, stage, reason in got}
    for rel, stage, pattern in expected:
        path = f"{archive}/{rel}"
        assert path in by_path, (path, got)
        assert by_path[path][0] == stage, (path, by_path[path])
        assert re.search(pattern, by_path[path][1]), (path, by_path[path][1])
    assert store_errors(tables.out) == got  # the store holds what the export says


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_has_its_error_row_and_good_files_are_unchanged(
    case: Case, tmp_path: Path, clean_figures: pd.DataFrame
) -> None:
    tables, archive = run_case(case, tmp_path)
    assert_errors(tables, archive, case.errors)
    if case.check is not None:
        case.check(tables, archive)
    assert_good_unchanged(tables, clean_figures)


def test_unreadable_file_and_folder(
    tmp_path: Path, clean_figures: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Permission denied, injected (the tests run as root, which chmod cannot lock out)."""
    archive = tmp_path / "archive"
    copy_good(archive / "good")
    (archive / "locked.txt").write_bytes(SAMPLE.read_bytes())
    (archive / "locked-dir").mkdir()
    (archive / "locked-dir" / "inside.txt").write_bytes(SAMPLE.read_bytes())
    real_open, real_scandir = builtins.open, os.scandir

    def guarded_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, os.PathLike)) and os.path.basename(file) == "locked.txt":
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    def guarded_scandir(path: Any = ".") -> Any:
        if os.path.basename(os.fspath(path)) == "locked-dir":
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "scandir", guarded_scandir)
    result = zongjie_extract([archive], tmp_path / "out")
    monkeypatch.undo()
    assert result.exit_code == 0, result.output
    tables = Tables(tmp_path / "out")
    assert_errors(
        tables,
        archive,
        [
            ("locked.txt", "ingest", "^cannot read file: Permission denied$"),
            ("locked-dir", "ingest", "^cannot list folder: permission denied$"),
        ],
    )
    assert_good_unchanged(tables, clean_figures)


def write_line(path: Path, mib: int) -> int:
    """One line of ``mib`` MiB of real text (its line breaks taken out); returns the size."""
    line = sample_text().replace("\n", "").encode()
    with path.open("wb") as fh:
        for _ in range(mib * MIB // len(line)):
            fh.write(line)
    return path.stat().st_size


def refused(path: Path) -> tuple[str, int, float]:
    """``read_path`` with the default limits: the reason, the peak memory it took, the seconds."""
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(IngestError) as info:
        read_path(path)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return info.value.reason, peak, seconds


def test_one_long_line_with_the_default_limits(tmp_path: Path, clean_figures: pd.DataFrame) -> None:
    """The default limits are sane for a 100 MB line: refused by its size before a byte is read;
    a 10 MB line (under the 64 MiB document limit) is read as bytes and refused before decoding,
    as it must hold over 1,000,000 characters. Memory and time stay at the bytes, at most."""
    archive = tmp_path / "archive"
    copy_good(archive / "good")
    size = write_line(archive / "line-100mb.txt", 100)
    assert size > 99 * MIB
    reason, peak, seconds = refused(archive / "line-100mb.txt")
    assert reason == "file is 100 MiB, over the 64 MiB limit for one document (zongjie extract --max-file-mb)"
    assert peak < MIB and seconds < 1

    size = write_line(archive / "line-10mb.txt", 10)
    reason10, peak, seconds = refused(archive / "line-10mb.txt")
    assert reason10 == (
        "text file is 10 MiB, so over 1,000,000 characters, the limit for one document (zongjie extract --max-chars); "
        "not read"
    )
    assert peak < size + MIB and seconds < 5  # the bytes once: never decoded

    result = zongjie_extract([archive], tmp_path / "out")
    assert result.exit_code == 0, result.output
    tables = Tables(tmp_path / "out")
    assert_errors(
        tables,
        archive,
        [("line-100mb.txt", "ingest", re.escape(reason)), ("line-10mb.txt", "ingest", re.escape(reason10))],
    )
    assert_good_unchanged(tables, clean_figures)


def test_limits_hold_for_zip_members_too(tmp_path: Path) -> None:
    """A member over the one-document limit is refused from its declared size, before expanding."""
    archive = tmp_path / "archive"
    archive.mkdir()
    rng = random.Random(5)
    han = sample_text()
    big = "".join(rng.choice(han) for _ in range(2 * MIB)).encode()[: 6 * MIB]  # compresses 2:1 or so
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.txt", big)
        zf.writestr("ok.txt", SAMPLE.read_bytes())
    (archive / "members.zip").write_bytes(buffer.getvalue())
    result = zongjie_extract([archive], tmp_path / "out", "--max-file-mb", "2")
    assert result.exit_code == 0, result.output
    tables = Tables(tmp_path / "out")
    assert_errors(
        tables,
        archive,
        [("members.zip!/big.txt", "ingest", r"^member would expand to [\d.]+ MiB, over the 2 MiB limit for one doc")],
    )
    assert f"{archive}/members.zip!/ok.txt" in set(tables["documents"]["source_path"])


@pytest.mark.parametrize(("slow_documents", "slow_first"), [(0.0, 60.0), (60.0, 0.0), (0.3, 0.3)])
def test_a_document_that_takes_too_long_is_given_up(
    tmp_path: Path,
    clean_figures: pd.DataFrame,
    pipeline: Pipeline,
    monkeypatch: pytest.MonkeyPatch,
    slow_documents: float,
    slow_first: float,
) -> None:
    """Whatever makes a stage slow on some text, one document cannot hold a worker for ever: past
    ``Limits.max_document_seconds`` it is an errors row (stage ``extract``) and the run goes on.
    The limit covers preparing the document and extracting from it together (run one after the
    other for a batch of inputs): 0.3 s in each is over a limit of 0.5 s."""
    archive = tmp_path / "archive"
    copy_good(archive / "good")
    (archive / "stuck.txt").write_bytes(SAMPLE.read_bytes())
    prepare, first = pipeline.prepare, pipeline.first  # the stages that run one input at a time

    def slow(seconds: float, path: str) -> None:  # stands for any superlinear stage
        if path.endswith("stuck.txt"):
            until = time.perf_counter() + seconds
            while time.perf_counter() < until:
                time.sleep(0.01)

    def slow_to_prepare(raw: Any) -> Any:
        slow(slow_documents, raw.source_path)
        return prepare(raw)

    def slow_to_extract(docs: Any) -> Any:
        for doc in docs:
            slow(slow_first, doc.meta.source_path)
        return first(docs)

    monkeypatch.setattr(pipeline, "prepare", slow_to_prepare)
    monkeypatch.setattr(pipeline, "first", slow_to_extract)
    started = time.perf_counter()
    stats = run(
        [archive], tmp_path / "out", RunOptions(workers=1, audit=False, limits=Limits(max_document_seconds=0.5))
    )
    assert stats.status == "done" and time.perf_counter() - started < 30
    tables = Tables(tmp_path / "out")
    assert_errors(
        tables, archive, [("stuck.txt", "extract", r"^gave up after 0\.5 s \(1,296 characters\); the text is too hard")]
    )
    assert_good_unchanged(tables, clean_figures)
