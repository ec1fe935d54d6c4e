"""What produced a store's rows: the package version, every rules file, and the extractor chosen.

A rerun over the same archive skips unchanged files; that is only right while this fingerprint is
the same. When it changes (new rules, a new version, another extractor), the store re-extracts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from importlib import metadata
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from extract.resources import rules_root


def _files(folder: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            yield from _files(entry, f"{name}/")
        elif not entry.name.startswith("."):
            yield name, entry


def pipeline_fingerprint(pipeline_args: Mapping[str, Any] | None = None, rules: Traversable | None = None) -> str:
    """A short hash of everything that decides the figures a document gives.

    >>> a = pipeline_fingerprint({"extractor": "rules"})
    >>> a == pipeline_fingerprint({"extractor": "rules"}) != pipeline_fingerprint({"extractor": "hybrid"})
    True
    """
    digest = hashlib.sha256()
    try:
        digest.update(metadata.version("zongjie").encode())
    except metadata.PackageNotFoundError:  # running from a checkout that is not installed
        digest.update(b"checkout")
    for name, entry in _files(rules or rules_root()):
        digest.update(name.encode())
        digest.update(entry.read_bytes())
    args = dict(pipeline_args or {})
    model = args.get("model_path")
    if args.get("extractor", "rules") != "rules":
        folder = Path(model) if model else Path(__file__).resolve().parent / "model" / "trained"
        if folder.is_dir():
            for name, entry in _files(folder):  # type: ignore[arg-type]
                digest.update(name.encode())
                digest.update(entry.read_bytes())
    if args.get("metadata"):  # the sidecar's rows decide documents' facts: an edit re-extracts
        digest.update(Path(args["metadata"]).read_bytes())
    digest.update(json.dumps(args, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]
