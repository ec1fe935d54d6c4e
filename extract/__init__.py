"""zongjie's pipeline: ``extract_text`` for a string, ``iter_results`` for files and folders.

>>> from extract import extract_text
>>> [(f.surface, f.metric) for f in extract_text("新建工会12家。")]
[('12家', 'org.unions_new')]
"""

from __future__ import annotations

from typing import Any

__all__ = ["Pipeline", "extract_text", "iter_results"]


def __getattr__(name: str) -> Any:
    # Imported on first use: ``import extract`` stays cheap for the CLI's --help and the workers.
    if name in __all__:
        from extract import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)
