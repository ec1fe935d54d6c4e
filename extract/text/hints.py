"""What the archive itself says of a document that the text does not: a year in its path, and a
sidecar CSV an archivist keeps beside the files.

* :func:`year_from_path` — ``2019/工作总结.txt``, ``2019年工作总结.docx``: the nearest path part
  holding one year (the file name first, then its folders), for a document whose text states none.
* :class:`Sidecar` — ``path,organisation,year,doc_type`` rows (``zongjie extract --metadata``);
  a row's values override what was detected. ``path`` names a file (or an archive member, as
  ``a.zip!/b.txt``) by its path under the archive: a row matches every input whose recorded path
  ends with it, so it holds whatever folder the archive is extracted from.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path, PurePosixPath

import regex
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from schemas.documents import DocType

__all__ = ["Sidecar", "SidecarError", "SidecarRow", "year_from_path"]

# a year of the archives' span, not glued to other digits (a code such as 120190 is none)
_YEAR = regex.compile(r"(?<!\d)(19[5-9]\d|20[0-4]\d)(?!\d)")


def year_from_path(source_path: str) -> int | None:
    """The year the nearest part of ``source_path`` names alone (one year, not a range).

    >>> year_from_path("/archive/2019/工作总结.txt"), year_from_path("a/2018/2019年工作总结.docx")
    (2019, 2019)
    >>> year_from_path("2016-2020年规划.txt") is None, year_from_path("a.zip!/2015/b.txt")
    (True, 2015)
    >>> year_from_path("/data/工会/总结.txt") is None
    True
    """
    parts = [p for p in regex.split(r"[/\\]|!/", source_path) if p]
    for i, part in enumerate(reversed(parts)):
        name = PurePosixPath(part).stem if i == 0 else part
        years = set(_YEAR.findall(name))
        if len(years) == 1:
            return int(years.pop())
        if years:
            return None  # a range or two years: the path does not say which
    return None


class SidecarError(ValueError):
    """A sidecar CSV that cannot be used; the message names the file, line and field."""


class SidecarRow(BaseModel):
    """One row of the sidecar CSV: what the archivist knows of one file."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    path: str = Field(min_length=1)
    organisation: str | None = None
    year: int | None = Field(default=None, ge=1949, le=2100)
    doc_type: DocType | None = None

    @field_validator("organisation", "year", "doc_type", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("path")
    @classmethod
    def _posix(cls, value: str) -> str:
        return value.replace("\\", "/").removeprefix("./")


class Sidecar:
    """The rows of a sidecar CSV, looked up by an input's recorded path."""

    COLUMNS = ("path", "organisation", "year", "doc_type")

    def __init__(self, rows: list[SidecarRow], name: str = "sidecar") -> None:
        self.name = name
        self.rows = {row.path: row for row in rows}

    @classmethod
    def load(cls, path: Path | str) -> Sidecar:
        """Read and validate ``path`` (UTF-8, a BOM allowed); raises :class:`SidecarError`."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise SidecarError(f"{path}: cannot read the metadata CSV: {exc}") from exc
        return cls.parse(text, str(path))

    @classmethod
    def parse(cls, text: str, name: str = "sidecar") -> Sidecar:
        """
        >>> side = Sidecar.parse("path,organisation,year,doc_type\\n2019/总结.txt,城南街道工会,2019,\\n")
        >>> side.lookup("/mnt/archive/2019/总结.txt").organisation, side.lookup("/x/2020/总结.txt")
        ('城南街道工会', None)
        >>> try:
        ...     Sidecar.parse("path,year\\na.txt,十九")
        ... except SidecarError as exc:
        ...     print(exc)
        sidecar line 2, year: Input should be a valid integer, unable to parse string as an integer
        """
        reader = csv.DictReader(io.StringIO(text))
        header = [h.strip() for h in reader.fieldnames or []]
        unknown = [h for h in header if h not in cls.COLUMNS]
        if "path" not in header or unknown:
            raise SidecarError(
                f"{name}: the header must name path and any of organisation, year, doc_type"
                + (f" (unknown: {', '.join(unknown)})" if unknown else " (no path column)")
            )
        rows: list[SidecarRow] = []
        seen: dict[str, int] = {}
        for line, raw in enumerate(reader, start=2):
            values = {k.strip(): v for k, v in raw.items() if k is not None}
            try:
                row = SidecarRow.model_validate(values)
            except ValidationError as exc:
                first = exc.errors()[0]
                field = ".".join(map(str, first["loc"]))
                raise SidecarError(f"{name} line {line}, {field}: {first['msg']}") from exc
            if row.path in seen:
                raise SidecarError(f"{name} line {line}: path {row.path!r} is already on line {seen[row.path]}")
            seen[row.path] = line
            rows.append(row)
        return cls(rows, name)

    def lookup(self, source_path: str) -> SidecarRow | None:
        """The row whose path is the tail of ``source_path`` (the longest such tail)."""
        parts = source_path.replace("\\", "/").split("/")
        for i in range(len(parts)):
            row = self.rows.get("/".join(parts[i:]))
            if row is not None:
                return row
        return None
