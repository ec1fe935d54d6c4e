"""Ingest: from files and folders on disk to :class:`~schemas.documents.RawDocument`.

The public surface:

* :data:`SUPPORTED` — the file suffixes read.
* :class:`Limits` — size and shape limits for files, archives and folder walks.
* :class:`IngestError` — raised by the readers; ``.stage`` and ``.reason`` go to an
  :class:`~schemas.documents.ErrorRow` unchanged.
* :func:`iter_inputs` — walk files and folders; yields :class:`InputItem` or ``ErrorRow``,
  never raises.
* :func:`read_path` / :func:`read_bytes` — read one input. They return a :class:`ReadResult`
  ``(documents, errors)``: an archive can yield good documents *and* refused members, and
  both are kept. A failure of the whole input raises :class:`IngestError`.
* :func:`read_inputs` — the two above together: yields ``RawDocument`` or ``ErrorRow`` and
  never raises for a bad input.
* :func:`load_ingest_rules` — the chrome word list of ``rules/ingest.yaml``.

Readers import their third-party libraries lazily, so importing this package is cheap.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO, Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from extract.doc_ids import input_key
from schemas.documents import ErrorRow, RawDocument

if TYPE_CHECKING:
    from extract.resources import Traversable

__all__ = [
    "SUPPORTED",
    "IngestError",
    "IngestRules",
    "InputItem",
    "Limits",
    "ReadResult",
    "iter_inputs",
    "load_ingest_rules",
    "over_limit_reason",
    "read_bytes",
    "read_capped",
    "read_inputs",
    "read_path",
    "shown_path",
]

logger = logging.getLogger(__name__)

#: suffix (lower case, with the dot) -> the ``format`` recorded on the document
FORMATS: dict[str, str] = {
    ".txt": "txt",
    ".md": "md",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".zip": "zip",
}
SUPPORTED: frozenset[str] = frozenset(FORMATS)

#: the file every zongjie output folder holds (the store): such a folder is never read as input
OUTPUT_MARKER = "zongjie.duckdb"
#: the ``stage`` of a row for a file met but deliberately not read (unsupported type, hidden,
#: written by zongjie): accounted for, though nothing failed
SKIP_STAGE = "skip"

_MIB = 1024 * 1024
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# the mark every page of zongjie's report carries (extract/report/templates)
_GENERATOR = re.compile(rb"<meta\s+name=[\"']generator[\"']\s+content=[\"']zongjie[\"']", re.IGNORECASE)


class IngestError(Exception):
    """An input that cannot be read.

    ``stage`` is ``"ingest"`` (container, limits, structure) or ``"decode"`` (text encoding);
    ``reason`` is a sentence a person can act on.

    >>> err = IngestError("ingest", "empty file")
    >>> err.stage, err.reason, str(err)
    ('ingest', 'empty file', 'ingest: empty file')
    """

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(f"{stage}: {reason}")
        self.stage = stage
        self.reason = reason

    def to_row(self, path: str) -> ErrorRow:
        return ErrorRow(path=path, stage=self.stage, reason=self.reason)


@dataclass(frozen=True)
class Limits:
    """Limits applied while reading; the defaults suit real document collections.

    ``max_file_bytes`` bounds any file read from disk, a .zip included; ``max_document_bytes``
    bounds one document (a .txt/.md/.html/.docx/.pdf file or zip member, and each part of a
    .docx once decompressed); ``max_text_chars`` bounds the text one document gives, so the
    text stages (which hold an offset map of the whole text, and whose time grows faster than
    the text: 1M characters take about 2 minutes and 150 MB, docs/robustness.md) keep memory
    and time bounded. A
    .txt/.md over ``4 * max_text_chars`` bytes is refused before it is decoded (no supported
    encoding takes more than 4 bytes a character).
    ``max_zip_ratio`` is checked for every member larger than ``ratio_floor_bytes`` (small
    members of repeated whitespace compress very well and are harmless).
    ``max_zip_depth`` counts archive levels: 2 allows one zip inside another.
    """

    max_file_bytes: int = 200 * _MIB
    max_document_bytes: int = 64 * _MIB
    max_text_chars: int = 1_000_000
    max_zip_entries: int = 10_000
    max_zip_total_bytes: int = 1024 * _MIB
    max_zip_ratio: float = 200.0
    ratio_floor_bytes: int = 1 * _MIB
    max_zip_depth: int = 2
    max_dir_depth: int = 64
    #: the time one document may take in the text and figure stages (None: no limit); enforced
    #: where a timer can interrupt the work: the main thread of a process (local engines)
    max_document_seconds: float | None = 600.0

    def max_bytes(self, suffix: str) -> int:
        """The most bytes a file with ``suffix`` may have (an archive, or one document).

        >>> Limits().max_bytes(".zip") // _MIB, Limits().max_bytes(".txt") // _MIB
        (200, 64)
        """
        if suffix.lower() == ".zip":
            return self.max_file_bytes
        return min(self.max_file_bytes, self.max_document_bytes)


@dataclass(frozen=True)
class InputItem:
    """A file found by :func:`iter_inputs`: where it is, the path to record for it, its document
    key (:mod:`extract.doc_ids`: its path under ``root`` without the suffix) and the root (the
    folder given, or for a file given itself its folder), as recorded."""

    path: Path
    source_path: str
    key: str = ""
    root: str = ""


class ReadResult(NamedTuple):
    """What reading one input gave: documents, and members that were refused or failed."""

    documents: list[RawDocument]
    errors: list[ErrorRow]


class IngestRules(BaseModel):
    """``rules/ingest.yaml``: what counts as page chrome in HTML."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["ingest"]
    chrome_tags: tuple[str, ...] = Field(min_length=1, description="elements dropped wherever they sit")
    page_tags: tuple[str, ...] = Field(
        default=(), description="elements dropped unless inside <article> or <main> (page header/footer)"
    )
    chrome_words: tuple[str, ...] = Field(min_length=1, description="id/class/role words marking chrome")

    @field_validator("chrome_tags", "page_tags", "chrome_words")
    @classmethod
    def _lower_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        lowered = tuple(v.strip().lower() for v in value)
        if any(not v for v in lowered):
            raise ValueError("empty entry")
        if len(set(lowered)) != len(lowered):
            raise ValueError("duplicate entry")
        return lowered


class RulesFileError(ValueError):
    """A rules file that does not load or validate; the message names the file and field."""


def load_ingest_rules(path: Traversable | Path | None = None) -> IngestRules:
    """Load and validate ``rules/ingest.yaml`` (or ``path``)."""
    if path is None:
        from extract.resources import rules_path

        path = rules_path("ingest.yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return IngestRules.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise RulesFileError(f"{path}: cannot load: {exc}") from exc
    except ValueError as exc:  # pydantic.ValidationError
        errors = getattr(exc, "errors", None)
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors()) if errors else exc
        raise RulesFileError(f"{path}: {detail}") from exc


@functools.lru_cache(maxsize=1)
def default_ingest_rules() -> IngestRules:
    """The packaged ``ingest.yaml``, loaded once."""
    return load_ingest_rules()


# --------------------------------------------------------------------------------------------
# walking


def _error(path: str, reason: str, stage: str = "ingest") -> ErrorRow:
    return ErrorRow(path=path, stage=stage, reason=reason)


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "no such file or directory"
    if exc.errno == errno.ELOOP:
        return "symbolic link loop (too many levels of symbolic links)"
    return exc.strerror or str(exc) or exc.__class__.__name__


def iter_inputs(
    paths: Iterable[str | os.PathLike[str]],
    limits: Limits | None = None,
    *,
    exclude: Iterable[str | os.PathLike[str]] = (),
) -> Iterator[InputItem | ErrorRow]:
    """Yield every input under ``paths``, or an :class:`ErrorRow` for each file met and not read.

    Paths are taken in the order given; folders are walked recursively in sorted name order.
    Every file met is accounted for: an ``InputItem``, or a row saying why it is not read
    (stage :data:`SKIP_STAGE` for an unsupported type, a hidden file or folder, or a zongjie
    output folder; ``ingest`` for an OS error). A file named explicitly is read even when hidden.
    ``exclude``: folders never walked and files never read, silently (the run's own output
    folder); any other folder holding :data:`OUTPUT_MARKER` is another zongjie output and is one
    row. Symbolic links are followed, but a folder (or file) whose real path was already visited
    is not visited again, so link loops end.
    """
    limits = limits or Limits()
    seen: set[str] = set()
    excluded = {os.path.realpath(p) for p in exclude}
    for given in paths:
        text = os.fspath(given)
        shown = shown_path(text)
        path = Path(text)
        try:
            st = path.stat()
        except OSError as exc:
            reason = "broken symbolic link" if path.is_symlink() else _os_reason(exc)
            yield _error(shown, reason)
            continue
        real = os.path.realpath(path)
        inside = next((x for x in excluded if real == x or real.startswith(x + os.sep)), None)
        if inside is not None:
            yield _error(shown, "inside the output folder (written by zongjie); not read as input", SKIP_STAGE)
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(path, shown, shown, "", 0, limits, seen, excluded)
        elif stat.S_ISREG(st.st_mode):
            if path.suffix.lower() not in SUPPORTED:
                yield _unsupported(shown, path.suffix)
                continue
            if real in seen:
                logger.debug("skipping %s: already read as %s", shown, shown_path(real))
                continue
            seen.add(real)
            root = shown_path(os.path.dirname(os.path.abspath(text)))
            yield InputItem(path=path, source_path=shown, key=input_key(shown_path(path.name)), root=root)
        else:
            yield _error(shown, "not a regular file or folder")


def _unsupported(shown: str, suffix: str) -> ErrorRow:
    return _error(
        shown,
        f"unsupported file type {shown_path(suffix) or '(no suffix)'!r}; supported: {', '.join(sorted(SUPPORTED))}",
        SKIP_STAGE,
    )


def _walk(
    folder: Path,
    shown: str,
    root: str,
    relative: str,
    depth: int,
    limits: Limits,
    seen: set[str],
    excluded: set[str],
) -> Iterator[InputItem | ErrorRow]:
    real = os.path.realpath(folder)
    if real in seen:
        logger.info("not following %s again (real path %s already visited)", shown, shown_path(real))
        return
    seen.add(real)
    if real in excluded:
        logger.info("not reading %s: the output folder", shown)
        return
    if depth > limits.max_dir_depth:
        yield _error(shown, f"folder nesting deeper than {limits.max_dir_depth} levels; not read")
        return
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        yield _error(shown, f"cannot list folder: {_os_reason(exc)}")
        return
    if any(e.name == OUTPUT_MARKER for e in entries):
        yield _error(shown, f"a zongjie output folder (it holds {OUTPUT_MARKER}); not read as input", SKIP_STAGE)
        return
    for entry in entries:
        name = shown_path(entry.name)
        child = os.path.join(shown, name)
        rel = f"{relative}/{name}" if relative else name
        try:
            is_dir = entry.is_dir()
            is_file = not is_dir and entry.is_file()
        except OSError as exc:
            yield _error(child, _os_reason(exc))
            continue
        if entry.name.startswith("."):
            kind = "folder; not walked" if is_dir else "file; not read"
            yield _error(child, f"hidden {kind} (its name starts with '.')", SKIP_STAGE)
            continue
        if is_dir:
            yield from _walk(Path(entry.path), child, root, rel, depth + 1, limits, seen, excluded)
            continue
        if not is_file:
            reason = "broken symbolic link" if entry.is_symlink() else "not a regular file"
            yield _error(child, reason)
            continue
        if Path(entry.name).suffix.lower() not in SUPPORTED:
            yield _unsupported(child, Path(entry.name).suffix)
            continue
        # realpath costs a system call per path component: only a link needs it
        real_file = os.path.realpath(entry.path) if entry.is_symlink() else os.path.join(real, entry.name)
        if real_file in seen:
            logger.debug("skipping %s: already read as %s", child, shown_path(real_file))
            continue
        if real_file in excluded:
            continue
        seen.add(real_file)
        yield InputItem(path=Path(entry.path), source_path=child, key=input_key(rel), root=root)


def shown_path(path: str) -> str:
    r"""``path`` as recorded in the tables and logs: always valid Unicode.

    A file name that is not valid UTF-8 (GBK bytes from a Chinese Windows machine, copied to a
    Linux disk) reaches Python with lone surrogates (``surrogateescape``), which no UTF-8 table,
    CSV or Parquet file can hold. Each such name is decoded the way zip member names are
    (:func:`extract.ingest.archive.member_name`): GB18030, else Big5, when the result reads as
    Chinese; otherwise the bytes that are not UTF-8 are written as ``\xNN`` escapes. Other
    paths are returned unchanged. The file itself is still opened by its real name.

    >>> shown_path(os.fsdecode("工会总结".encode("gbk") + b".txt"))
    '工会总结.txt'
    >>> shown_path(os.fsdecode(b"2019/\xff\xfe.txt"))
    '2019/\\xff\\xfe.txt'
    >>> shown_path("2019/总结.txt")
    '2019/总结.txt'
    """
    if not _SURROGATE.search(path):
        return path
    return "/".join(_shown_name(part) for part in path.split("/"))


def _shown_name(name: str) -> str:
    if not _SURROGATE.search(name):
        return name
    raw = name.encode("utf-8", "surrogateescape")
    from extract.ingest.text import cjk_score

    for encoding in ("gb18030", "big5"):
        try:
            decoded = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if decoded.isprintable() and cjk_score(decoded) >= 0.5:
            return decoded
    return raw.decode("utf-8", "backslashreplace")


# --------------------------------------------------------------------------------------------
# reading


def read_path(
    path: str | os.PathLike[str],
    limits: Limits | None = None,
    *,
    source_path: str | None = None,
    rules: IngestRules | None = None,
    key: str | None = None,
) -> ReadResult:
    """Read one file by its suffix (``key``: its document key, see :func:`read_bytes`).

    Returns ``ReadResult(documents, errors)``: one document for a plain file; for a zip, one
    per good member plus an ``ErrorRow`` per refused or unreadable member. Raises
    :class:`IngestError` when the file as a whole cannot be read.
    """
    limits = limits or Limits()
    path = Path(path)
    shown = source_path if source_path is not None else os.fspath(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise IngestError("ingest", f"unsupported file type {suffix or '(no suffix)'!r}")
    cap = limits.max_bytes(suffix)
    try:
        size = path.stat().st_size
        if size > cap:
            raise IngestError("ingest", over_limit_reason(size, suffix, limits))
        with path.open("rb") as fh:
            data = read_capped(fh, size, cap)
    except OSError as exc:
        raise IngestError("ingest", f"cannot read file: {_os_reason(exc)}") from exc
    if len(data) > cap:
        raise IngestError("ingest", f"file is over the {_size(cap)} limit")
    return read_bytes(data, suffix, shown, limits, rules=rules, key=key)


def read_capped(fh: BinaryIO, size: int, cap: int) -> bytes:
    """Read an open file of ``size`` bytes (as ``stat`` said), but never more than ``cap + 1``.

    ``read(n)`` allocates ``n`` bytes before it reads, so asking for the cap itself would take
    the cap's memory for every small file; this asks for the size, and for more only if the
    file grew meanwhile.
    """
    data = fh.read(min(size, cap) + 1)
    if len(data) > size:
        data += fh.read(cap + 1 - len(data))
    return data


def over_limit_reason(size: int, suffix: str, limits: Limits) -> str:
    """Why a file over its size limit is refused, naming the limit and the option that sets it."""
    if suffix.lower() == ".zip" or limits.max_file_bytes <= limits.max_document_bytes:
        return f"file is {_size(size)}, over the {_size(limits.max_file_bytes)} limit"
    return (
        f"file is {_size(size)}, over the {_size(limits.max_document_bytes)} limit for one document "
        "(zongjie extract --max-file-mb)"
    )


def read_bytes(
    data: bytes,
    suffix: str,
    source_path: str,
    limits: Limits | None = None,
    *,
    rules: IngestRules | None = None,
    depth: int = 0,
    key: str | None = None,
) -> ReadResult:
    """Read ``data`` as a file with ``suffix`` (``".txt"``, ``".zip"``, …).

    ``depth`` is the number of archives ``data`` sits in (0 for a file on disk). ``key`` is the
    input's document key (:mod:`extract.doc_ids`; by default the file name's stem); the
    documents read carry it, an archive's members their own keys under it.
    """
    limits = limits or Limits()
    key = key or input_key(PurePosixPath(source_path.replace("\\", "/").split("!/")[-1]).name)
    suffix = suffix.lower()
    fmt = FORMATS.get(suffix)
    if fmt is None:
        raise IngestError("ingest", f"unsupported file type {suffix or '(no suffix)'!r}")
    if fmt == "zip":
        from extract.ingest.archive import read_zip

        return read_zip(data, source_path, limits, rules=rules, depth=depth + 1, key=key + suffix)
    if not data:
        raise IngestError("ingest", "empty file")
    if len(data) > limits.max_bytes(suffix):
        raise IngestError("ingest", over_limit_reason(len(data), suffix, limits))
    warnings: list[ErrorRow] = []  # the document is read, but not all of it (bytes replaced)
    if fmt in ("txt", "md"):
        from extract.ingest.text import read_text

        if len(data) > 4 * limits.max_text_chars:
            raise IngestError(
                "ingest",
                f"text file is {_size(len(data))}, so over {limits.max_text_chars:,} characters, "
                "the limit for one document (zongjie extract --max-chars); not read",
            )
        doc = read_text(data, source_path, fmt=fmt, warnings=warnings)
    elif fmt == "docx":
        from extract.ingest.docx import read_docx

        doc = read_docx(data, source_path, limits)
    elif fmt == "html":
        from extract.ingest.html import read_html

        if _GENERATOR.search(data[:4096]):
            raise IngestError(SKIP_STAGE, "a page written by zongjie (its report); not read as input")

        doc = read_html(data, source_path, rules or default_ingest_rules(), warnings=warnings)
    else:
        from extract.ingest.pdf import read_pdf

        doc = read_pdf(data, source_path)
    if _SURROGATE.search(doc.text) or (doc.title_hint and _SURROGATE.search(doc.title_hint)):
        # a reader can hand back lone surrogates (a PDF font map naming one); no table holds them
        count = len(_SURROGATE.findall(doc.text))
        title = _SURROGATE.sub("\ufffd", doc.title_hint) if doc.title_hint else doc.title_hint
        doc = doc.model_copy(update={"text": _SURROGATE.sub("\ufffd", doc.text), "title_hint": title})
        reason = f"{count} lone surrogate code point(s) replaced with U+FFFD; the rest of the text was read"
        logger.warning("%s: %s", source_path, reason)
        warnings.append(ErrorRow(path=source_path, stage="decode", reason=reason))
    doc = doc.model_copy(update={"doc_key": key})
    if len(doc.text) > limits.max_text_chars:
        raise IngestError(
            "ingest",
            f"text is {len(doc.text):,} characters, over the {limits.max_text_chars:,}-character limit "
            "for one document (zongjie extract --max-chars); not read",
        )
    return ReadResult([doc], warnings)


def read_inputs(
    paths: Iterable[str | os.PathLike[str]],
    limits: Limits | None = None,
    *,
    rules: IngestRules | None = None,
) -> Iterator[RawDocument | ErrorRow]:
    """Walk ``paths`` and read everything found; a bad input becomes an ``ErrorRow``.

    Only :class:`IngestError` is turned into a row: any other exception is a bug and propagates.
    """
    limits = limits or Limits()
    for item in iter_inputs(paths, limits):
        if isinstance(item, ErrorRow):
            logger.warning("skipped %s: %s", item.path, item.reason)
            yield item
            continue
        try:
            result = read_path(item.path, limits, source_path=item.source_path, rules=rules)
        except IngestError as exc:
            logger.warning("could not read %s: %s", item.source_path, exc.reason)
            yield exc.to_row(item.source_path)
            continue
        yield from result.documents
        for row in result.errors:
            logger.warning("could not read %s: %s", row.path, row.reason)
        yield from result.errors


def _size(n: int) -> str:
    """
    >>> _size(200 * 1024 * 1024), _size(1536), _size(12)
    ('200 MiB', '1.5 KiB', '12 bytes')
    """
    if n >= _MIB:
        value, unit = n / _MIB, "MiB"
    elif n >= 1024:
        value, unit = n / 1024, "KiB"
    else:
        return f"{n} bytes"
    return f"{value:.1f}".rstrip("0").rstrip(".") + f" {unit}"


def sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def normalise_newlines(text: str) -> str:
    r"""Turn ``\r\n`` and lone ``\r`` into ``\n``.

    >>> normalise_newlines("a\r\nb\rc\n")
    'a\nb\nc\n'
    """
    return text.replace("\r\n", "\n").replace("\r", "\n")
