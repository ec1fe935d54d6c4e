"""Document ids: unique within a store, stable across runs, readable by a person.

An input's *key* comes from its path relative to the root it was found under (a folder given on
the command line, or the file itself): a file directly under the root, or given itself, keeps its
stem (gold files and the scorer name documents so); a deeper one keeps its relative path without
its suffix (``2021/工作总结``). A member of an archive is keyed by the archive's relative path
with its suffix, then the member's path without its own (``2019.zip/简报/第一期``), so no member
key can equal a file's. A compilation's parts add ``#N`` to the key.

Two inputs may still want one key (``a.txt`` beside ``a.docx``; ``工作总结.txt`` directly under
two folders given in one run). :func:`unique_key` resolves that the same way every time, the
input met first keeping the key; the runner records the key each input got, so a rerun keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath

__all__ = ["KeyRegistry", "doc_order", "doc_order_sql", "input_key", "member_key", "unique_key"]


def input_key(relative: str) -> str:
    """The key of a file at ``relative`` (a POSIX path under its root): the path without suffix.

    >>> input_key("工作总结.txt"), input_key("2021/工作总结.txt"), input_key("a/b.tar.txt")
    ('工作总结', '2021/工作总结', 'a/b.tar')
    """
    path = PurePosixPath(relative)
    return str(path.with_suffix("")) if path.suffix else str(path)


def member_key(archive_key: str, member: str) -> str:
    """The key of ``member`` (its path inside the archive) of the archive keyed ``archive_key``.

    >>> member_key("2019.zip", "简报/第一期.txt"), member_key("a/b.zip", "x.docx")
    ('2019.zip/简报/第一期', 'a/b.zip/x')
    """
    return f"{archive_key}/{input_key(member.replace(chr(92), '/'))}"


def unique_key(key: str, suffix: str, root: str, holder_root: Callable[[str], str | None]) -> str:
    """``key`` if no other input holds it, else the first free of a fixed list of variants.

    ``holder_root(k)`` is the root of the input holding ``k`` (None when free); ``root`` is this
    input's root folder and ``suffix`` its file suffix. An input from another root than the
    holder's is prefixed with its root folder's name first (``2022/工作总结``); then the suffix is
    kept (``a.docx``); then ``~2``, ``~3``… are added.

    >>> held = {"a": "corpus", "工作总结": "2021"}
    >>> unique_key("a", ".docx", "corpus", held.get), unique_key("工作总结", ".txt", "2022", held.get)
    ('a.docx', '2022/工作总结')
    >>> unique_key("b", ".txt", "corpus", held.get)
    'b'
    """
    holder = holder_root(key)
    if holder is None:
        return key
    name = PurePosixPath(root).name
    bases = [f"{name}/{key}"] if name and holder != root else []
    bases.append(key)
    for base in bases:
        for candidate in (base, f"{base}{suffix}"):
            if candidate != key and holder_root(candidate) is None:
                return candidate
    n = 2
    while holder_root(f"{key}{suffix}~{n}") is not None:
        n += 1
    return f"{key}{suffix}~{n}"


def doc_order(doc_id: str) -> tuple[str, int]:
    """A sort key that puts parts in their natural order (``#2`` before ``#10``).

    >>> sorted(["a#10", "a#2", "a", "b#1"], key=doc_order)
    ['a', 'a#2', 'a#10', 'b#1']
    """
    stem, _, part = doc_id.partition("#")
    return (stem, int(part) if part.isdigit() else 0)


def doc_order_sql(column: str = "doc_id") -> str:
    """The same order in DuckDB SQL, for ``ORDER BY``."""
    return f"split_part({column}, '#', 1), coalesce(TRY_CAST(split_part({column}, '#', 2) AS BIGINT), 0), {column}"


class KeyRegistry:
    """The keys given out so far in a run, and those an existing store holds.

    ``stored(keys)`` returns, for those of ``keys`` a store holds, the root of the input holding
    each; it is asked once per :meth:`prefetch` for a group's wanted keys and once per variant
    tried on a clash (rare), so a run over an archive makes no query per file.
    """

    def __init__(self, stored: Callable[[list[str]], dict[str, str]] | None = None) -> None:
        self._stored = stored or (lambda keys: {})
        self._held: dict[str, str] = {}  # key -> root, given out in this run or known stored
        self._asked: set[str] = set()

    def prefetch(self, keys: list[str]) -> None:
        new = [k for k in keys if k not in self._asked]
        if new:
            self._asked.update(new)
            self._held.update({k: r for k, r in self._stored(new).items() if k not in self._held})

    def _holder(self, key: str) -> str | None:
        self.prefetch([key])
        return self._held.get(key)

    def assign(self, key: str, suffix: str, root: str) -> str:
        """A key for an input wanting ``key``: itself if free, else :func:`unique_key`'s variant."""
        mine = unique_key(key, suffix, root, self._holder)
        self._held[mine] = root
        return mine

    def keep(self, key: str, root: str) -> None:
        """Record a key an input already has (from an earlier run)."""
        self._held[key] = root
        self._asked.add(key)
