"""The stages in order: read → prepare (normalise, split, describe) → extract figures.

``extract_text`` runs on one string; ``extract_paths`` on files and folders, streaming results
document by document so memory stays flat whatever the archive's size.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from extract.doc_ids import KeyRegistry
from extract.figures.extractor import Extraction, Extractor, RuleExtractor
from extract.ingest import IngestError, Limits, iter_inputs, read_path
from extract.rules import RuleSet, load_rules
from extract.segment import Token
from extract.text.documents import DocumentPreparer, PreparedDocument
from extract.text.hints import Sidecar
from schemas.documents import DocumentMeta, ErrorRow, RawDocument
from schemas.figures import Figure, Rejected

log = logging.getLogger(__name__)

T = TypeVar("T")
Staged = tuple[PreparedDocument, Extraction]  # a document and what the per-document stage found
# Text whose prepared documents wait together for the extractor's batched stage: enough for the
# model to classify in one call, little enough that holding them costs little (a zip gives many inputs at once).
BATCH_CHARS = 200_000


@dataclass
class DocumentResult:
    """Everything extracted from one document."""

    document: DocumentMeta
    figures: list[Figure] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


class Pipeline:
    """The loaded rules and compiled stages, built once and reused for every document."""

    def __init__(
        self,
        rules: RuleSet | None = None,
        extractor: str = "rules",
        model_path: Path | str | None = None,
        metadata: Path | str | None = None,
    ) -> None:
        """``extractor``: ``rules``, or ``model``/``hybrid`` with the trained model at ``model_path``
        (default: the one shipped in the package); see ``extract.figures.hybrid``. ``metadata``: a
        sidecar CSV (``extract.text.hints.Sidecar``) whose rows override the documents' facts."""
        self.rules = rules or load_rules()
        sidecar = Sidecar.load(metadata) if metadata is not None else None
        self.prepare = DocumentPreparer(self.rules, sidecar=sidecar)
        self.extractor: Extractor
        if extractor == "rules":
            self.extractor = RuleExtractor(self.rules)
        else:  # the model is an optional stage: imported and loaded only when asked for
            from extract.figures.hybrid import model_extractor

            self.extractor = model_extractor(self.rules, extractor, model_path, self.prepare.segmenter)

    def run_raw(self, raw: RawDocument) -> list[DocumentResult]:
        return self.finish(self.start(raw))

    def start(self, raw: RawDocument) -> list[Staged]:
        """``raw``'s documents, prepared, with what the extractor's per-document stage found."""
        return self.first(self.prepare(raw))

    def first(self, docs: Sequence[PreparedDocument]) -> list[Staged]:
        """What the extractor's per-document stage finds in each of ``docs``."""
        return [(doc, self.extractor.first(doc)) for doc in docs]

    def finish(self, staged: Sequence[Staged]) -> list[DocumentResult]:
        """The extractor's batched stage over ``start``'s output, of any number of inputs."""
        extractions = self.extractor.rest(staged)
        return [
            DocumentResult(doc.meta, extraction.figures, extraction.rejected)
            for (doc, _), extraction in zip(staged, extractions, strict=True)
        ]

    def tokens(self, doc: PreparedDocument) -> list[Token]:
        """The document's words (jieba with the domain dictionary), offsets into ``doc.text``.

        Computed on demand: the rule extractor does not need them, and segmenting every text
        would cost as much as the rest of the pipeline together (bench/).
        """
        return self.prepare.segmenter.tokens(doc.text.text)

    def explain(self, raw: RawDocument) -> list[tuple[PreparedDocument, Extraction]]:
        return [(doc, self.extractor(doc)) for doc in self.prepare(raw)]


@lru_cache(maxsize=1)
def default_pipeline() -> Pipeline:
    return Pipeline()


def raw_from_text(text: str, doc_id: str = "text", source_path: str | None = None) -> RawDocument:
    return RawDocument(
        source_path=source_path or f"{doc_id}.txt",
        text=text,
        format="text",
        encoding=None,
        # surrogatepass: a str from the caller may hold lone surrogates (surrogateescape'd bytes)
        sha256=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
    )


def extract_text(text: str, doc_id: str = "text", pipeline: Pipeline | None = None) -> list[Figure]:
    """The figures in ``text``; a compilation gives ids ``doc_id#N``.

    >>> [(f.surface, f.metric) for f in extract_text("签订工资专项集体合同31份，覆盖企业76家，覆盖职工3697人。")]
    [('31份', 'cb.wage_contracts'), ('76家', 'cb.enterprises_covered'), ('3697人', 'cb.workers_covered')]
    """
    pipe = pipeline or default_pipeline()
    figures: list[Figure] = []
    for doc in pipe.prepare(raw_from_text(text, doc_id), stem=doc_id):
        figures.extend(pipe.extractor(doc).figures)
    return figures


def read_all(paths: Iterable[Path | str], limits: Limits | None = None) -> Iterator[RawDocument | ErrorRow]:
    """Every document under ``paths``; an input that fails in any way becomes an ErrorRow."""
    limits = limits or Limits()
    keys = KeyRegistry()  # ids unique among the inputs read, as a store makes them
    for item in iter_inputs(paths, limits):
        if isinstance(item, ErrorRow):
            yield item
            continue
        key = keys.assign(item.key, item.path.suffix.lower(), item.root) if item.key else None
        try:
            result = read_path(item.path, limits, source_path=item.source_path, key=key)
        except IngestError as exc:
            yield exc.to_row(item.source_path)
            continue
        except Exception as exc:  # a reader bug on one file must not stop the batch
            log.exception("reader failed on %s", item.source_path)
            yield ErrorRow(path=item.source_path, stage="ingest", reason=f"{type(exc).__name__}: {exc}")
            continue
        yield from result.documents
        yield from result.errors


class DocumentTimeout(BaseException):
    """A document ran past its time limit (a BaseException, so no ``except Exception`` in a stage eats it)."""


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`DocumentTimeout` in this block after ``seconds`` (a SIGALRM timer).

    A no-op without a limit, without SIGALRM, or off the main thread (Dask runs tasks in
    threads), where no timer can interrupt the work.
    """
    usable = (
        seconds is not None
        and seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise DocumentTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def process(
    item: RawDocument | ErrorRow, pipeline: Pipeline, seconds: float | None = None
) -> list[DocumentResult] | ErrorRow:
    """One read input through the pipeline; an unexpected failure, or taking longer than
    ``seconds``, becomes an ErrorRow."""
    if isinstance(item, ErrorRow):
        return item
    return _guarded(item, pipeline.run_raw, seconds)


def process_many(
    items: Sequence[RawDocument | ErrorRow], pipeline: Pipeline, seconds: float | None = None
) -> list[list[DocumentResult] | ErrorRow]:
    """``process`` for each of ``items``, with the extractor's batched stage run once per
    :data:`BATCH_CHARS` of their text.

    The inputs of a batch are all prepared, then all go through the extractor's per-document
    stage: one kind of work at a time keeps its code and data in the CPU's caches (3-7 % in process
    on bench batches; within the noise of the whole command). Each input's own stages run under its time limit,
    together. Should the batched stage fail, it runs again input by input, so that only the input
    that makes it fail becomes an ErrorRow.
    """
    out: list[list[DocumentResult] | ErrorRow] = []
    for batch in _batches(items):
        waiting: list[tuple[int, RawDocument, list[Staged]]] = []  # (place in out, input, its documents)
        prepared = []
        for item in batch:
            started = time.perf_counter()
            docs = item if isinstance(item, ErrorRow) else _guarded(item, pipeline.prepare, seconds)
            prepared.append((docs, time.perf_counter() - started))
        for item, (docs, spent) in zip(batch, prepared, strict=True):
            staged = (
                docs
                if isinstance(docs, ErrorRow)
                else _guarded(item, lambda _, docs=docs: pipeline.first(docs), seconds, spent)
            )
            out.append(staged if isinstance(staged, ErrorRow) else [])
            if isinstance(staged, ErrorRow):  # an input that was one already, or failed its own stages
                continue
            waiting.append((len(out) - 1, item, staged))
        _finish_waiting(waiting, pipeline, seconds, out)
    return out


def _batches(items: Sequence[RawDocument | ErrorRow]) -> Iterator[list[RawDocument | ErrorRow]]:
    """``items`` in runs of at least :data:`BATCH_CHARS` of text (the last may hold less)."""
    batch: list[RawDocument | ErrorRow] = []
    held = 0
    for item in items:
        batch.append(item)
        if not isinstance(item, ErrorRow):
            held += len(item.text)
            if held >= BATCH_CHARS:
                yield batch
                batch, held = [], 0
    if batch:
        yield batch


def _finish_waiting(
    waiting: list[tuple[int, RawDocument, list[Staged]]],
    pipeline: Pipeline,
    seconds: float | None,
    out: list[list[DocumentResult] | ErrorRow],
) -> None:
    if not waiting:
        return
    try:
        finished = iter(pipeline.finish([pair for _, _, staged in waiting for pair in staged]))
    except Exception:
        log.warning("the batched stage failed on %d inputs: running it input by input", len(waiting), exc_info=True)
        for at, raw, staged in waiting:
            out[at] = _guarded(raw, lambda _, staged=staged: pipeline.finish(staged), seconds)
        return
    for at, _, staged in waiting:
        out[at] = [next(finished) for _ in staged]


def _guarded(
    raw: RawDocument, stage: Callable[[RawDocument], T], seconds: float | None, spent: float = 0.0
) -> T | ErrorRow:
    """``stage(raw)``; an unexpected failure, or taking longer than ``seconds`` (of which earlier
    stages of ``raw`` have ``spent`` some), becomes an ErrorRow."""
    try:
        with time_limit(None if seconds is None else max(seconds - spent, 0.001)):
            return stage(raw)
    except DocumentTimeout:
        log.warning("gave up on %s after %s s", raw.source_path, seconds)
        return ErrorRow(
            path=raw.source_path,
            stage="extract",
            reason=f"gave up after {seconds:g} s ({len(raw.text):,} characters); the text is too hard for the "
            "figure stages",
        )
    except Exception as exc:  # one bad document must never stop a batch
        log.exception("extraction failed for %s", raw.source_path)
        return ErrorRow(path=raw.source_path, stage="extract", reason=f"{type(exc).__name__}: {exc}")


def iter_results(
    paths: Iterable[Path | str], pipeline: Pipeline | None = None, limits: Limits | None = None
) -> Iterator[DocumentResult | ErrorRow]:
    """Read, prepare and extract every input under ``paths``, one document at a time."""
    pipe = pipeline or default_pipeline()
    limits = limits or Limits()
    for item in read_all(paths, limits):
        out = process(item, pipe, limits.max_document_seconds)
        if isinstance(out, ErrorRow):
            yield out
        else:
            yield from out
