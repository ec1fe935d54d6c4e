"""Cutting a document's text into plain runs and highlighted runs, one per set of figures covering it."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    """``text[start:end]`` of the document, covered by the figures ``keys`` (empty: plain text)."""

    start: int
    end: int
    keys: tuple[str, ...]


def runs(length: int, spans: Sequence[tuple[int, int, str]]) -> list[Run]:
    """Cut ``[0, length)`` at every figure boundary; each run lists the figures covering it.

    Figures on the same span share one run (one number stated for several statistics); a figure
    overlapping another only in part is split into runs, so every character is shown once.
    Spans outside the text are clipped; empty ones are ignored.

    >>> [(r.start, r.end, r.keys) for r in runs(10, [(2, 4, "a"), (2, 4, "b"), (6, 9, "c")])]
    [(0, 2, ()), (2, 4, ('a', 'b')), (4, 6, ()), (6, 9, ('c',)), (9, 10, ())]
    >>> [(r.start, r.end, r.keys) for r in runs(5, [(0, 3, "a"), (2, 5, "b")])]
    [(0, 2, ('a',)), (2, 3, ('a', 'b')), (3, 5, ('b',))]
    """
    clipped = [(max(0, s), min(length, e), k) for s, e, k in spans if min(length, e) > max(0, s)]
    opens: dict[int, list[int]] = {}
    closes: dict[int, list[int]] = {}
    for i, (s, e, _) in enumerate(clipped):
        opens.setdefault(s, []).append(i)
        closes.setdefault(e, []).append(i)
    cuts = sorted({0, length, *opens, *closes})
    active: set[int] = set()
    out: list[Run] = []
    for a, b in itertools.pairwise(cuts):
        active.difference_update(closes.get(a, ()))
        active.update(opens.get(a, ()))
        keys = tuple(clipped[i][2] for i in sorted(active))
        if out and out[-1].keys == keys:
            out[-1] = Run(out[-1].start, b, keys)
        else:
            out.append(Run(a, b, keys))
    return out
