"""The modules mypyc compiled at install, and those edited since (pyproject.toml's mypyc hook).

An editable install builds each compiled module next to its source, and Python imports the
compiled copy first: until the next install, an edit to the source does not run.
"""

from __future__ import annotations

import importlib.machinery
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def compiled_modules(package: Path = PACKAGE) -> dict[Path, Path]:
    """Each compiled module of ``package``: its source → the extension built from it."""
    found = {}
    for built in package.rglob("*"):  # one walk: the suffixes (.cpython-311-….so, .abi3.so, .so) overlap
        suffix = next((s for s in importlib.machinery.EXTENSION_SUFFIXES if built.name.endswith(s)), None)
        source = built.with_name(built.name[: -len(suffix)] + ".py") if suffix else None
        if source is not None and source.is_file():
            found[source] = built
    return found


def stale_modules(package: Path = PACKAGE) -> list[Path]:
    """The sources changed after they were compiled; only a checkout is asked (an installed wheel's
    files all carry the install's time, in no useful order)."""
    if not (package.parent / "pyproject.toml").is_file():
        return []
    return sorted(s for s, b in compiled_modules(package).items() if s.stat().st_mtime > b.stat().st_mtime)
