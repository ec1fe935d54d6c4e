"""Where the rules data lives, for an installed wheel and for a source checkout alike."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:  # pragma: no cover - Python 3.10
    from importlib.abc import Traversable

__all__ = ["Traversable", "rules_path", "rules_root"]

_CHECKOUT_RULES = Path(__file__).resolve().parent.parent / "rules"


def rules_path(name: str) -> Traversable:
    """Return the rules file or folder ``name``.

    An installed wheel carries ``rules/`` as ``extract/_rules``; a source checkout (editable
    install, tests) reads ``<repo>/rules`` directly.

    Example:
        >>> rules_path("ingest.yaml").name
        'ingest.yaml'
    """
    packaged = resources.files("extract") / "_rules" / name
    if packaged.is_file() or packaged.is_dir():
        return packaged
    return _CHECKOUT_RULES / name


def rules_root() -> Traversable:
    """The rules folder itself: ``extract/_rules`` in a wheel, ``<repo>/rules`` in a checkout."""
    packaged = resources.files("extract") / "_rules"
    return packaged if packaged.is_dir() else _CHECKOUT_RULES
