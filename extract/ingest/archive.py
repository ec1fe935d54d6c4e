"""Zip archives: members read in memory, within :class:`~extract.ingest.Limits`.

Nothing is extracted to disk. Before any member is read, the central directory is checked
(entry count, declared total size); while reading, bytes are counted against a budget shared
by nested archives, so a lying header cannot get past the limit either. A member that is
refused (unsafe name, suspicious compression ratio, too deep, damaged) becomes an
:class:`~schemas.documents.ErrorRow` and the other members are still read.

The zip helpers here (:func:`open_zip`, :func:`check_zip`, :func:`read_member`) are also used
by the .docx reader, which is a zip too.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from extract.doc_ids import member_key, unique_key
from extract.ingest import (
    SKIP_STAGE,
    SUPPORTED,
    IngestError,
    IngestRules,
    Limits,
    ReadResult,
    _size,
    read_bytes,
)
from schemas.documents import ErrorRow, RawDocument

__all__ = ["Budget", "check_zip", "member_name", "open_zip", "read_member", "read_zip", "unsafe_reason"]

logger = logging.getLogger(__name__)

#: general-purpose flag bit 11: the member name is UTF-8
_FLAG_UTF8 = 0x800
_DRIVE = re.compile(r"^[A-Za-z]:")
_CHUNK = 1 << 16


@dataclass
class Budget:
    """Uncompressed bytes still allowed for one top-level archive (shared with nested ones)."""

    remaining: int


def open_zip(data: bytes, what: str = ".zip") -> zipfile.ZipFile:
    """Open ``data`` as a zip, or raise :class:`IngestError` saying why it is not one."""
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        message = str(exc)
        if "not a zip file" in message.lower():
            reason = "zip central directory missing; truncated or not a zip"
        else:
            reason = f"zip structure damaged: {message}"
        raise IngestError("ingest", f"not a valid {what} ({reason})") from exc
    except (OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise IngestError("ingest", f"not a valid {what} ({exc})") from exc


def check_zip(zf: zipfile.ZipFile, limits: Limits, what: str = ".zip") -> dict[str, str]:
    """Check the central directory against ``limits``.

    Raises :class:`IngestError` for too many entries or too large a declared total; returns,
    per member name, the reason a member is suspicious (compression ratio over the limit).
    """
    infos = zf.infolist()
    if len(infos) > limits.max_zip_entries:
        raise IngestError(
            "ingest", f"{what} has {len(infos)} entries, over the limit of {limits.max_zip_entries}; refused"
        )
    declared = sum(info.file_size for info in infos)
    if declared > limits.max_zip_total_bytes:
        raise IngestError(
            "ingest",
            f"{what} would expand to {_size(declared)}, over the {_size(limits.max_zip_total_bytes)} limit; "
            "refused as a possible zip bomb",
        )
    suspicious: dict[str, str] = {}
    for info in infos:
        reason = _ratio_reason(info.file_size, info.compress_size, limits)
        if reason:
            suspicious[info.filename] = reason
    return suspicious


def _ratio_reason(size: int, compressed: int, limits: Limits) -> str | None:
    if size <= limits.ratio_floor_bytes:
        return None
    ratio = size / compressed if compressed else float("inf")
    if ratio > limits.max_zip_ratio:
        return (
            f"compression ratio {ratio:.0f}:1 is over the {limits.max_zip_ratio:.0f}:1 limit; "
            "refused as a possible zip bomb"
        )
    return None


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget, limits: Limits) -> bytes:
    """Read one member, counting bytes against ``budget`` and the per-file limit."""
    cap = min(budget.remaining, limits.max_file_bytes)
    chunks: list[bytes] = []
    got = 0
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(_CHUNK):
                got += len(chunk)
                if got > budget.remaining:
                    raise IngestError(
                        "ingest",
                        f"archive expands past the {_size(limits.max_zip_total_bytes)} limit while reading; stopped",
                    )
                if got > cap:
                    raise IngestError("ingest", f"member is over the {_size(limits.max_file_bytes)} file limit")
                reason = _ratio_reason(got, info.compress_size, limits)
                if reason:
                    raise IngestError("ingest", reason)
                chunks.append(chunk)
    except IngestError:
        budget.remaining -= got
        raise
    except RuntimeError as exc:  # encrypted members
        raise IngestError("ingest", f"cannot read member: {exc}") from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise IngestError("ingest", f"member is damaged or uses an unsupported method ({exc})") from exc
    budget.remaining -= got
    return b"".join(chunks)


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as its creator meant it.

    Without flag bit 11, :mod:`zipfile` decodes names as cp437; archives made on Chinese
    Windows store GBK there and others store UTF-8, so the raw bytes are re-decoded.
    """
    if info.flag_bits & _FLAG_UTF8:
        return info.filename
    try:
        raw = info.orig_filename.encode("cp437")
    except UnicodeEncodeError:  # already decoded some other way
        return info.filename
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from extract.ingest.text import cjk_score

    for encoding in ("gb18030", "big5"):
        try:
            name = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if cjk_score(name) >= 0.5:
            return name
    return info.filename


def unsafe_reason(name: str) -> str | None:
    """Why a member name is refused, or ``None`` if it is safe.

    >>> unsafe_reason("docs/a.txt") is None
    True
    >>> unsafe_reason("../evil.txt"), unsafe_reason("/abs.txt"), unsafe_reason("C:\\\\x.txt")
    ('path goes up a folder (..)', 'absolute path', 'path has a drive letter')
    """
    if name.startswith(("/", "\\")):
        return "absolute path"
    if _DRIVE.match(name):
        return "path has a drive letter"
    if ".." in re.split(r"[\\/]", name):
        return "path goes up a folder (..)"
    return None


def read_zip(
    data: bytes,
    source_path: str,
    limits: Limits | None = None,
    *,
    rules: IngestRules | None = None,
    depth: int = 1,
    budget: Budget | None = None,
    key: str | None = None,
) -> ReadResult:
    """Read every supported member of a zip.

    Returns ``ReadResult(documents, errors)``. ``source_path`` of a member is
    ``archive.zip!/inner/name.txt`` (nested: ``a.zip!/b.zip!/c.txt``). ``depth`` is this
    archive's nesting level (1 for a zip on disk). Raises :class:`IngestError` when the archive
    as a whole is refused (not a zip, too many entries, too large when expanded).
    ``key`` is the archive's document key with its suffix (``2019.zip``): each member's is
    :func:`~extract.doc_ids.member_key` of it, two members wanting one key resolved as files are.
    Every member is accounted for: read, or a row (a member of an unsupported type, hidden, or a
    macOS resource fork is one with stage ``skip``).
    """
    key = key or PurePosixPath(source_path.replace("\\", "/").split("!/")[-1]).name
    keys: dict[str, str] = {}
    limits = limits or Limits()
    if depth > limits.max_zip_depth:
        raise IngestError("ingest", f"archive nested deeper than {limits.max_zip_depth} levels; not read")
    budget = budget or Budget(limits.max_zip_total_bytes)
    documents: list[RawDocument] = []
    errors: list[ErrorRow] = []
    with open_zip(data) as zf:
        suspicious = check_zip(zf, limits)
        infos = sorted(zf.infolist(), key=member_name)
        for info in infos:
            if info.is_dir():
                continue
            name = member_name(info)
            shown = f"{source_path}!/{name}"
            refused = unsafe_reason(name)
            if refused:
                logger.warning("%s: refused member: %s", shown, refused)
                errors.append(ErrorRow(path=shown, stage="ingest", reason=f"unsafe member name refused: {refused}"))
                continue
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if any(part == "__MACOSX" for part in parts):
                errors.append(ErrorRow(path=shown, stage=SKIP_STAGE, reason="macOS resource fork (__MACOSX); not read"))
                continue
            if any(part.startswith(".") for part in parts):
                errors.append(ErrorRow(path=shown, stage=SKIP_STAGE, reason="hidden member (a name starts with '.')"))
                continue
            suffix = PurePosixPath(parts[-1]).suffix.lower() if parts else ""
            if suffix not in SUPPORTED:
                errors.append(
                    ErrorRow(
                        path=shown,
                        stage=SKIP_STAGE,
                        reason=f"unsupported file type {suffix or '(no suffix)'!r}; supported: "
                        + ", ".join(sorted(SUPPORTED)),
                    )
                )
                continue
            wanted = member_key(key, name)
            mine = unique_key(wanted, suffix, "", lambda k: "" if k in keys else None)
            keys[mine] = name
            if info.filename in suspicious:
                errors.append(ErrorRow(path=shown, stage="ingest", reason=suspicious[info.filename]))
                continue
            if suffix == ".zip" and depth + 1 > limits.max_zip_depth:
                errors.append(
                    ErrorRow(
                        path=shown,
                        stage="ingest",
                        reason=f"archive nested deeper than {limits.max_zip_depth} levels; not read",
                    )
                )
                continue
            try:
                # a document member is held to the one-document limit before it is expanded
                cap = limits.max_bytes(suffix)
                if info.file_size > cap:
                    raise IngestError(
                        "ingest",
                        f"member would expand to {_size(info.file_size)}, over the "
                        f"{_size(cap)} limit for one {'archive' if suffix == '.zip' else 'document'}",
                    )
                member = read_member(zf, info, budget, dataclasses.replace(limits, max_file_bytes=cap))
                if suffix == ".zip":
                    result = read_zip(
                        member, shown, limits, rules=rules, depth=depth + 1, budget=budget, key=mine + suffix
                    )
                else:
                    result = read_bytes(member, suffix, shown, limits, rules=rules, depth=depth, key=mine)
            except IngestError as exc:
                logger.warning("%s: %s", shown, exc.reason)
                errors.append(exc.to_row(shown))
                if budget.remaining <= 0:
                    errors.append(
                        ErrorRow(
                            path=source_path,
                            stage="ingest",
                            reason="uncompressed size limit reached; the remaining members were not read",
                        )
                    )
                    break
                continue
            documents.extend(result.documents)
            errors.extend(result.errors)
    if not documents and not errors:
        logger.info("%s: no supported documents in the archive", source_path)
    return ReadResult(documents, errors)
