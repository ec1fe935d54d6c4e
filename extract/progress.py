"""Showing a run's progress: a ``rich`` bar on a terminal, plain periodic lines otherwise.

Both are callables taking :class:`~extract.runner.RunStats`; the runner calls them often, so
each throttles itself. They write to the stream the CLI gives them and never configure logging.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from extract.runner import RunStats


def describe(stats: RunStats) -> str:
    """One line of counts.

    >>> from extract.runner import RunStats
    >>> s = RunStats(files=10, done=4, skipped=1, documents=5, figures=80, errors=1, chars=30_000)
    >>> s.started = s.finished = 0.0; s.finished = 2.0
    >>> describe(s)
    'files 4/10 (1 unchanged) · documents 5 · figures 80 · errors 1 · 15,000 chars/s'
    """
    total = stats.total_files if stats.total_files is not None else stats.files
    unchanged = f" ({stats.skipped} unchanged)" if stats.skipped else ""
    not_read = f" · not read {stats.not_read}" if stats.not_read else ""
    return (
        f"files {stats.done}/{total}{unchanged} · documents {stats.documents} · figures {stats.figures}"
        f" · errors {stats.errors}{not_read} · {stats.chars_per_second:,.0f} chars/s"
    )


class LineProgress:
    """A line every ``every`` seconds, and one at the end (for logs, pipes and CI)."""

    def __init__(self, emit: Callable[[str], None], every: float = 5.0) -> None:
        self.emit = emit
        self.every = every
        self.last = time.monotonic()

    def __call__(self, stats: RunStats) -> None:
        now = time.monotonic()
        if stats.status != "running" or now - self.last >= self.every:
            self.last = now
            self.emit(("" if stats.status == "running" else f"{stats.status}: ") + describe(stats))

    def close(self) -> None:
        pass


class RichProgress:
    """A progress bar over the files, with the counts and throughput beside it."""

    def __init__(self, stream: IO[str], total: int | None = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("files"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=Console(file=stream),
            transient=False,
        )
        self.task = self.bar.add_task("extract", total=total, counts="")
        self.bar.start()

    def __call__(self, stats: RunStats) -> None:
        counts = (
            f"docs {stats.documents:,} · figures {stats.figures:,} · errors {stats.errors:,}"
            f" · {stats.chars_per_second:,.0f} chars/s"
        )
        total = stats.total_files if stats.total_files is not None else None
        self.bar.update(self.task, completed=stats.done, total=total, counts=counts)

    def close(self) -> None:
        self.bar.stop()


def make_progress(
    stream: IO[str], emit: Callable[[str], None], enabled: bool | None = None, total: int | None = None
) -> LineProgress | RichProgress:
    """A bar when ``stream`` is a terminal (or ``enabled`` is True), plain lines otherwise."""
    tty = stream.isatty() if enabled is None else enabled
    return RichProgress(stream, total) if tty else LineProgress(emit)
