"""Running the pipeline over an archive into the store: plan, engines, batched commits, audit, export.

The main process walks the inputs lazily, hashes each file (cheap) and asks the store whether it
is already known; only new or changed files become *tasks*, grouped into small chunks. An engine
runs chunks through the pipeline and hands back Arrow tables:

* ``serial`` — in this process (``--workers 1``);
* ``process`` — a ``ProcessPoolExecutor``; each worker builds its ``Pipeline`` once;
* ``dask`` — a Dask distributed cluster; workers read their inputs by path and send the tables
  back as Parquet parts.

Every engine keeps a bounded number of chunks in flight, so memory stays flat whatever the
archive's size. The main process writes results in batches, one transaction each, then runs the
audit hook and exports the whole store.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import hashlib
import importlib
import importlib.util
import io
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from extract.doc_ids import KeyRegistry
from extract.fingerprint import pipeline_fingerprint
from extract.ingest import (
    SKIP_STAGE,
    IngestError,
    Limits,
    iter_inputs,
    over_limit_reason,
    read_bytes,
    read_capped,
    shown_path,
)
from extract.store import CORE_TABLES, GROUP_FIGURES, RESULT_TABLES, SCHEMA_VERSION, Decision, Store, result_schema
from extract.tables import rejected_row
from schemas.documents import ErrorRow
from schemas.figures import Figure

if TYPE_CHECKING:
    from extract.pipeline import DocumentResult, Pipeline

log = logging.getLogger(__name__)

EngineName = Literal["local", "dask"]
_HASH_BLOCK = 1 << 20
_KEEP_BYTES = 64 << 10  # a file up to this size goes to a local worker with its task
_PLAN_GROUP = 256  # inputs hashed and looked up in the store together


class EngineUnavailable(RuntimeError):
    """The chosen engine's optional dependencies are missing."""


@dataclass(frozen=True)
class RunOptions:
    """How to run. ``workers=None`` means one per core; ``batch_inputs``/``batch_seconds`` bound
    how much finished work a crash can lose, ``batch_chars`` how much text the main process holds
    (a batch is committed when any is reached). Every commit costs the store a fixed ~0.1 s, so
    batches are a few hundred small files, not a few."""

    engine: EngineName = "local"
    workers: int | None = None
    scheduler: str | None = None
    rebuild: bool = False
    limits: Limits = field(default_factory=Limits)
    batch_inputs: int = 1000
    batch_seconds: float = 30.0
    batch_chars: int = 8_000_000
    # Files per task, up to chunk_bytes. Each task costs a round trip (its result tables pickled, a
    # future): on the bench's 10 MB shard (7,220 files of ~1.5 KB), 2 workers, tasks of 4 files cost
    # the main process 7.5 s of CPU against 4.5 s with 64, and the workers 10-25 % more CPU.
    chunk_files: int = 64
    chunk_bytes: int = 1 << 20  # ~5 s of work: what Ctrl-C may wait for
    export: tuple[str, ...] = ("csv", "parquet")
    audit: bool = True
    memory_limit: str = "64MB"  # DuckDB's, while the workers run; more for the audit and exports
    pipeline_args: dict[str, Any] = field(default_factory=dict)  # Pipeline(**...): extractor, model_path


@dataclass(frozen=True)
class Task:
    """One input for a worker: where to read it, and the path to record for it.

    ``data``: the file's content when the main process already read it whole to hash it (a small
    file, local engines): the worker then does not open the file a second time.
    """

    path: str
    source_path: str
    bytes: int
    data: bytes | None = None
    key: str | None = None  # its document key (extract.doc_ids); None: the file's stem
    root: str | None = None


@dataclass
class ChunkResult:
    """What a worker gives back for a chunk: one ``inputs`` row per task, and the result tables."""

    inputs: list[dict[str, Any]]
    tables: dict[str, pa.Table]
    chars: int


@dataclass
class RunStats:
    """Counts for progress and for the ``runs`` table."""

    run_id: int = 0
    files: int = 0  # inputs found
    done: int = 0  # inputs finished: skipped, linked as copies, failed, or extracted
    skipped: int = 0  # unchanged since a previous run
    processed: int = 0  # read and extracted in this run
    documents: int = 0
    figures: int = 0
    rejected: int = 0
    errors: int = 0
    not_read: int = 0  # files met and deliberately not read (unsupported type, hidden): rows in errors
    unchanged_errors: int = 0  # rows in errors of inputs skipped as unchanged (from the run that read them)
    chars: int = 0
    status: str = "running"
    total_files: int | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def chars_per_second(self) -> float:
        return self.chars / self.seconds if self.seconds > 0 else 0.0

    def counts(self) -> dict[str, Any]:
        keys = ("files", "skipped", "processed", "documents", "figures", "rejected", "errors", "not_read", "chars")
        return {**{k: getattr(self, k) for k in keys}, "seconds": round(self.seconds, 3)}


ProgressCallback = Callable[[RunStats], None]


# ----------------------------------------------------------------------------------------------
# the work on one input (runs in workers)


@dataclass
class _Input:
    """One task read: its ``inputs`` row, its rows so far (errors), the documents to extract."""

    row: dict[str, Any]
    rows: dict[str, list]
    raws: list[Any]
    seconds: float  # spent on it so far


def process_input(task: Task, pipeline: Pipeline, limits: Limits) -> tuple[dict[str, Any], dict[str, list]]:
    """Read one input by path, hash what was read, extract; never raises for a bad input."""
    return _finish_inputs([_read_input(task, limits)], pipeline, limits)[0]


def _read_input(task: Task, limits: Limits) -> _Input:
    """Read and hash one input and split it into documents; a failure becomes its errors rows."""
    started = time.perf_counter()
    rows: dict[str, list] = {t: [] for t in RESULT_TABLES}
    row: dict[str, Any] = {
        "source_path": task.source_path,
        "sha256": None,
        "bytes": task.bytes,
        "status": "ok",
        "documents": 0,
        "figures": 0,
        "errors": 0,
        "chars": 0,
        "doc_key": task.key,
        "root": task.root,
    }
    raws: list[Any] = []
    errors: list[ErrorRow] = []
    try:
        data = _read_task(task, limits)
    except IngestError as exc:
        errors.append(exc.to_row(task.source_path))
        row["status"] = "error"
    else:
        row["sha256"] = hashlib.sha256(data).hexdigest()
        row["bytes"] = len(data)
        try:
            raws, errors = read_bytes(data, Path(task.path).suffix, task.source_path, limits, key=task.key)
        except IngestError as exc:
            errors.append(exc.to_row(task.source_path))
            row["status"] = "not_read" if exc.stage == SKIP_STAGE else "error"
        except Exception as exc:  # a reader bug on one file must not stop the batch
            log.exception("reader failed on %s", task.source_path)
            errors.append(ErrorRow(path=task.source_path, stage="ingest", reason=f"{type(exc).__name__}: {exc}"))
            row["status"] = "error"
    rows["errors"].extend({**err.model_dump(), "input_path": task.source_path} for err in errors)
    row["chars"] = sum(len(raw.text) for raw in raws)
    return _Input(row, rows, raws, time.perf_counter() - started)


def _finish_inputs(
    read: Sequence[_Input], pipeline: Pipeline, limits: Limits
) -> list[tuple[dict[str, Any], dict[str, list]]]:
    """Extract the documents of inputs read, all of them in one call of the pipeline (its model
    classifies their figures in one batch). Each input's ``seconds`` gets a share of that call by
    its characters."""
    from extract.pipeline import process_many

    started = time.perf_counter()
    outs = iter(process_many([raw for item in read for raw in item.raws], pipeline, limits.max_document_seconds))
    share = (time.perf_counter() - started) / max(1, sum(item.row["chars"] for item in read))
    finished = []
    for item in read:
        row, rows = item.row, item.rows
        for raw in item.raws:
            out = next(outs)
            if isinstance(out, ErrorRow):
                rows["errors"].append({**out.model_dump(), "input_path": row["source_path"]})
                continue
            for result in out:
                _add_document(rows, result, row["source_path"])
            if out:  # the text the figures' offsets point into, for the report
                rows["texts"].append({"sha256": raw.sha256, "text": raw.text, "input_path": row["source_path"]})
        row["documents"] = len(rows["documents"])
        row["figures"] = len(rows["figures"])
        row["errors"] = len(rows["errors"])
        row["seconds"] = round(item.seconds + share * row["chars"], 4)
        finished.append((row, rows))
    return finished


def _new_pipeline(pipeline_args: dict[str, Any]) -> Pipeline:
    # imported here: the main process of a multi-worker run never loads the extractor (or jieba)
    from extract.pipeline import Pipeline

    return Pipeline(**pipeline_args)


# CPython collects its young generation every 700 new container objects: 2,300 times over a 10 MB
# shard (0.6 s), for little garbage (extraction makes many short-lived objects, few cycles).
GC_YOUNG_THRESHOLD = 20_000


def _tune_gc() -> tuple[int, int, int]:
    """Garbage collection for extracting, once the pipeline is built; returns the thresholds it
    replaced (10 MB shard, one worker: 1.9 s of 26 s in collections before, 0.15 s after).

    What exists now (the pipeline, the model, the modules) is taken out of the collector's view:
    each full collection walked it all again, for nothing. Young collections are rarer.
    """
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *previous[1:])
    return previous


def _untune_gc(previous: tuple[int, int, int]) -> None:
    gc.unfreeze()  # else never freed: at exit DuckDB's bindings report what was not
    gc.set_threshold(*previous)


def _add_document(rows: dict[str, list], result: DocumentResult, input_path: str) -> None:
    sha = result.document.sha256
    rows["documents"].append({**result.document.model_dump(), "input_path": input_path})
    rows["figures"].extend((f, sha, input_path) for f in result.figures)  # columns by process_chunk
    rows["rejected"].extend({**rejected_row(r), "sha256": sha, "input_path": input_path} for r in result.rejected)


def _read_task(task: Task, limits: Limits) -> bytes:
    """The task's content: what the main process handed over (a small file), else read from disk.

    Either way a document over its limit is refused by its size, before a byte is read.
    """
    suffix = Path(task.path).suffix
    cap = limits.max_bytes(suffix)
    try:
        size = len(task.data) if task.data is not None else os.stat(task.path).st_size
        if size > cap:
            raise IngestError("ingest", over_limit_reason(size, suffix, limits))
        if task.data is not None:
            return task.data
        with open(task.path, "rb") as fh:
            data = read_capped(fh, size, cap)
    except OSError as exc:
        raise IngestError("ingest", f"cannot read file: {exc.strerror or exc}") from exc
    if len(data) > cap:
        raise IngestError("ingest", f"file grew over the {cap:,} byte limit while read")
    return data


def process_chunk(tasks: Sequence[Task], pipeline: Pipeline, limits: Limits) -> ChunkResult:
    inputs: list[dict[str, Any]] = []
    rows: dict[str, list] = {t: [] for t in RESULT_TABLES}
    for row, got in _finish_inputs([_read_input(task, limits) for task in tasks], pipeline, limits):
        inputs.append(row)
        for table, values in got.items():
            rows[table].extend(values)
    tables = {t: pa.Table.from_pylist(rows[t], schema=result_schema(t)) for t in RESULT_TABLES if t != "figures"}
    figures, shas, paths = zip(*rows["figures"], strict=True) if rows["figures"] else ((), (), ())
    columns = {**Figure.columns(figures), "sha256": list(shas), "input_path": list(paths)}
    tables["figures"] = pa.Table.from_pydict(columns, schema=result_schema("figures"))
    return ChunkResult(inputs, tables, sum(r["chars"] for r in inputs))


# One pipeline per worker process, built once (by the pool initializer, or on a Dask worker's
# first task) and reused for every chunk it runs.
_WORKER: dict[str, Any] = {}
_WORKER_LOCK = threading.Lock()


def _init_worker(limits: Limits, pipeline_args: dict[str, Any]) -> None:
    # Ctrl-C reaches the whole process group; only the main process decides how to stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    _WORKER["pipeline"] = _new_pipeline(pipeline_args)
    _WORKER["limits"] = limits
    atexit.register(_untune_gc, _tune_gc())


def _exit_with_parent() -> None:
    """End this worker when the main process dies (kill -9 included).

    Every worker also holds the read end of the pool's result pipe, so once the main process is
    gone a worker blocks forever writing its next result; this watch ends it instead.
    """
    import multiprocessing
    from multiprocessing.connection import wait as wait_for

    parent = multiprocessing.parent_process()
    if parent is not None:
        wait_for([parent.sentinel])
        os._exit(1)


def _worker_chunk(tasks: Sequence[Task]) -> ChunkResult:
    return process_chunk(tasks, _WORKER["pipeline"], _WORKER["limits"])


def _worker_pipeline(pipeline_args: dict[str, Any]) -> Pipeline:
    key = repr(sorted(pipeline_args.items()))
    with _WORKER_LOCK:
        if _WORKER.get("pipeline_key") != key:
            _WORKER["pipeline"] = _new_pipeline(pipeline_args)
            _WORKER["pipeline_key"] = key
        return _WORKER["pipeline"]


def dask_chunk(tasks: Sequence[Task], limits: Limits, pipeline_args: dict[str, Any]) -> dict[str, Any]:
    """A chunk on a Dask worker: the result tables come back as Parquet parts (bytes)."""
    result = process_chunk(tasks, _worker_pipeline(pipeline_args), limits)
    parts = {}
    for name, table in result.tables.items():
        sink = io.BytesIO()
        pq.write_table(table, sink)
        parts[name] = sink.getvalue()
    return {"inputs": result.inputs, "parts": parts, "chars": result.chars}


def _from_parts(payload: dict[str, Any]) -> ChunkResult:
    tables = {name: pq.read_table(pa.BufferReader(data)) for name, data in payload["parts"].items()}
    return ChunkResult(payload["inputs"], tables, payload["chars"])


# ----------------------------------------------------------------------------------------------
# engines


class SerialEngine:
    """In this process; the pipeline is built once."""

    name = "local"

    def __init__(self, limits: Limits, pipeline_args: dict[str, Any]) -> None:
        self.pipeline: Pipeline | None = None
        self.pipeline_args = pipeline_args
        self.limits = limits
        self.gc_thresholds: tuple[int, int, int] | None = None  # while collection is tuned for the run

    def map(self, chunks: Iterable[list[Task]]) -> Iterator[ChunkResult]:
        for chunk in chunks:
            if self.pipeline is None:  # built at the first new input: a rerun with nothing new is fast
                self.pipeline = _new_pipeline(self.pipeline_args)
                self.gc_thresholds = _tune_gc()
            yield process_chunk(chunk, self.pipeline, self.limits)

    def drain(self) -> list[ChunkResult]:
        return []

    def close(self) -> None:
        if self.gc_thresholds is not None:
            _untune_gc(self.gc_thresholds)
            self.gc_thresholds = None


class ProcessEngine:
    """A pool of worker processes (spawned, so the parent's DuckDB threads are not forked)."""

    name = "local"

    def __init__(self, workers: int, limits: Limits, pipeline_args: dict[str, Any]) -> None:
        import multiprocessing

        self.workers = workers
        self.pending: set[Future[ChunkResult]] = set()
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(limits, pipeline_args),
        )
        # Start every worker now, with SIGINT ignored: a spawned interpreter keeps an ignored
        # SIGINT, so a Ctrl-C while workers are still importing cannot kill one (the initializer
        # only protects a worker once its imports are done).
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for _ in range(workers):
                self.pool.submit(int)  # each submit spawns a process while none is idle
        finally:
            signal.signal(signal.SIGINT, previous)

    def map(self, chunks: Iterable[list[Task]]) -> Iterator[ChunkResult]:
        limit = 2 * self.workers + 1  # enough to keep every worker busy while results are written
        for chunk in chunks:
            self.pending.add(self.pool.submit(_worker_chunk, chunk))
            while len(self.pending) >= limit:
                done, self.pending = wait(self.pending, return_when=FIRST_COMPLETED)
                yield from (f.result() for f in done)
        while self.pending:
            done, self.pending = wait(self.pending, return_when=FIRST_COMPLETED)
            yield from (f.result() for f in done)

    def drain(self) -> list[ChunkResult]:
        """After Ctrl-C: drop queued chunks, let the running ones finish, and return what they gave."""
        for future in self.pending:
            future.cancel()
        done, _ = wait(self.pending)
        self.pending = set()
        return [f.result() for f in done if not f.cancelled() and f.exception() is None]

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class DaskEngine:
    """A Dask distributed cluster: ``scheduler`` is an address, or None for a local cluster."""

    name = "dask"

    def __init__(
        self, workers: int, limits: Limits, pipeline_args: dict[str, Any], scheduler: str | None = None
    ) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise EngineUnavailable("the dask engine needs Dask distributed: pip install 'zongjie[dask]'") from exc
        self.limits = limits
        self.pipeline_args = pipeline_args
        self.cluster = None
        if scheduler:
            self.client = Client(scheduler)
        else:
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
            self.client = Client(self.cluster)
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})) or workers)

    def map(self, chunks: Iterable[list[Task]]) -> Iterator[ChunkResult]:
        from distributed import as_completed

        limit = 2 * self.workers + 1
        running = as_completed()
        in_flight = 0
        for chunk in chunks:
            running.add(self.client.submit(dask_chunk, chunk, self.limits, self.pipeline_args, pure=False))
            in_flight += 1
            while in_flight >= limit:
                yield self._take(next(running))
                in_flight -= 1
        for future in running:
            yield self._take(future)

    @staticmethod
    def _take(future: Any) -> ChunkResult:
        payload = future.result()
        future.release()
        return _from_parts(payload)

    def drain(self) -> list[ChunkResult]:
        return []  # the cluster's work in flight is dropped with the client

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


Engine = SerialEngine | ProcessEngine | DaskEngine


def make_engine(options: RunOptions) -> Engine:
    workers = options.workers or os.cpu_count() or 1
    args = options.pipeline_args
    if options.engine == "dask":
        return DaskEngine(workers, options.limits, args, options.scheduler)
    if options.scheduler:
        raise ValueError("--scheduler needs --engine dask")
    if workers == 1:
        return SerialEngine(options.limits, args)
    return ProcessEngine(workers, options.limits, args)


# ----------------------------------------------------------------------------------------------
# planning and writing (main process)


def file_sha256(path: str | os.PathLike[str], keep: int = 0) -> tuple[str, int, bytes | None]:
    """The sha256 of a file's content, its size in bytes (the bytes read), and the content itself
    when it is no more than ``keep`` bytes."""
    digest = hashlib.sha256()
    size = 0
    kept: list[bytes] = []
    with open(path, "rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            digest.update(block)
            size += len(block)
            if size <= keep:
                kept.append(block)
    return digest.hexdigest(), size, b"".join(kept) if size <= keep else None


class _Batch:
    """Finished work waiting to be committed."""

    def __init__(self) -> None:
        self.inputs: list[dict[str, Any]] = []
        self.tables: dict[str, list[pa.Table]] = {t: [] for t in RESULT_TABLES}
        self.opened = time.monotonic()
        self.chars = 0

    def __len__(self) -> int:
        return len(self.inputs)

    def add(self, inputs: list[dict[str, Any]], tables: dict[str, pa.Table] | None = None) -> None:
        if not self.inputs:
            self.opened = time.monotonic()
        self.inputs.extend(inputs)
        self.chars += sum(row.get("chars") or 0 for row in inputs)
        for name, table in (tables or {}).items():
            self.tables[name].append(table)

    def concat(self) -> dict[str, pa.Table]:
        return {
            name: pa.concat_tables(parts) if parts else result_schema(name).empty_table()
            for name, parts in self.tables.items()
        }


class Runner:
    """One run over ``inputs`` into the store at ``out_dir``."""

    def __init__(
        self,
        inputs: Sequence[Path | str],
        out_dir: Path,
        options: RunOptions,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.inputs = [os.fspath(p) for p in inputs]
        self.out_dir = Path(out_dir)
        self.options = options
        self.progress = progress or (lambda stats: None)
        self.stats = RunStats()
        self.batch = _Batch()

    def run(self) -> RunStats:
        opts = self.options
        with Store(self.out_dir, memory_limit=opts.memory_limit) as store:
            fingerprint = pipeline_fingerprint(opts.pipeline_args)
            if opts.rebuild:
                log.info("rebuilding %s from scratch", store.path)
                store.rebuild()
            elif store.count("documents") and store.schema_version() != SCHEMA_VERSION:
                log.warning(
                    "%s was made by an older zongjie, whose document ids were file stems (same-named files "
                    "of two folders shared them): rebuilding it with ids from paths; review corrections are kept",
                    store.path,
                )
                store.rebuild()
            elif store.count("documents") and store.last_pipeline() != fingerprint:
                # Skipping unchanged files would keep rows that other rules or another version made.
                log.warning("the rules, version or extractor changed since %s was built: extracting afresh", store.path)
                store.rebuild()
            workers = opts.workers or os.cpu_count() or 1
            self.stats.run_id = store.begin_run(
                opts.engine, workers, [shown_path(p) for p in self.inputs], pipeline=fingerprint
            )
            self.store = store
            self.keys = KeyRegistry(store.key_roots)
            status = "done"
            engine: Engine | None = None
            try:
                engine = make_engine(opts)
                with _ctrl_c_as_flag() as ctrl_c:
                    for result in engine.map(self._plan()):
                        self._collect(result)
                        self._maybe_commit()
                        if ctrl_c:
                            raise KeyboardInterrupt
            except KeyboardInterrupt:
                # keep every finished input: what has come back, and what the workers are finishing
                log.warning("interrupted; keeping what has finished")
                status = "interrupted"
                for result in engine.drain() if engine is not None else ():
                    self._collect(result)
            except BaseException:
                # a crashed worker pool or a store error: keep what finished, record the failure
                try:
                    self._commit()
                    self._finish(store, "failed", None)
                except Exception:
                    log.exception("could not record the failed run")
                raise
            finally:
                if engine is not None:
                    engine.close()
            self._commit()
            log.info(
                "extracted and stored %d inputs (%d chars) in %.1fs",
                self.stats.processed,
                self.stats.chars,
                self.stats.seconds,
            )
            started = time.monotonic()
            audit = run_audit_hook(store) if opts.audit else None
            log.info("audit (%s) in %.1fs", audit, time.monotonic() - started)
            self._finish(store, status, audit)
            if opts.export:
                started = time.monotonic()
                store.export(self.out_dir, opts.export)
                log.info("exported %s in %.1fs", "/".join(opts.export), time.monotonic() - started)
        return self.stats

    def _finish(self, store: Store, status: str, audit: str | None) -> None:
        self.stats.status = status
        self.stats.finished = time.monotonic()
        store.finish_run(self.stats.run_id, status, self.stats.counts(), audit)
        self.progress(self.stats)

    def _plan(self) -> Iterator[list[Task]]:
        """Walk the inputs; known files are counted and dropped, copies and walk errors go to the
        batch, and the rest come out as chunks of tasks."""
        opts = self.options
        # a task no larger than a batch: a batch is committed between tasks, and bounds what a crash loses
        chunk_files = min(opts.chunk_files, opts.batch_inputs)
        # Small files travel to a local worker with their task: read once, not twice (opening and
        # reading the bench's 7,150 files of 1.5 KB cost the main process 0.8 s of CPU per 10 MB,
        # a system call being slow here). Dask workers read their own inputs.
        keep = 0 if opts.engine == "dask" else _KEEP_BYTES
        chunk: list[Task] = []
        chunk_bytes = 0
        for group in _groups(iter_inputs(self.inputs, opts.limits, exclude=[self.out_dir]), _PLAN_GROUP):
            found: list[tuple[Task, str]] = []
            for item in group:
                self.stats.files += 1
                if isinstance(item, ErrorRow):
                    self._walk_error(item)
                    continue
                try:
                    sha, size, data = file_sha256(item.path, keep)
                except OSError as exc:
                    self._walk_error(
                        ErrorRow(
                            path=item.source_path,
                            stage="ingest",
                            reason=f"cannot read file: {exc.strerror or exc}",
                        )
                    )
                    continue
                found.append((Task(os.fspath(item.path), item.source_path, size, data, item.key, item.root), sha))
            with _ctrl_c_after():
                decisions = self.store.decide([(t.source_path, sha) for t, sha in found])
                found = self._keyed(found, decisions)
            for (task, sha), decision in zip(found, decisions, strict=True):
                if decision.action == "skip":
                    self.stats.skipped += 1
                    self.stats.unchanged_errors += decision.errors
                    self.stats.done += 1
                elif decision.action == "duplicate":
                    self.batch.add(
                        [
                            {
                                "source_path": task.source_path,
                                "sha256": sha,
                                "bytes": task.bytes,
                                "status": "duplicate",
                                "duplicate_of": decision.duplicate_of,
                                "documents": 0,
                                "figures": 0,
                                "errors": 0,
                                "chars": 0,
                            }
                        ]
                    )
                    self.stats.skipped += 1
                    self.stats.done += 1
                else:
                    chunk.append(task)
                    chunk_bytes += task.bytes
                    if len(chunk) >= chunk_files or chunk_bytes >= opts.chunk_bytes:
                        yield chunk
                        chunk, chunk_bytes = [], 0
            self.progress(self.stats)
            self._maybe_commit()
        if chunk:
            yield chunk

    def _keyed(self, found: list[tuple[Task, str]], decisions: Sequence[Decision]) -> list[tuple[Task, str]]:
        """Give each input to extract its document key: the one it had in the store, else the key
        its path asks for, or a variant of it when another input holds that one (logged)."""
        todo = [task for (task, _), d in zip(found, decisions, strict=True) if d.action == "process"]
        before = self.store.input_keys([t.source_path for t in todo])
        self.keys.prefetch([t.key for t in todo if t.key and t.source_path not in before])
        keyed: dict[str, str] = {}
        for task in todo:
            if task.source_path in before:
                keyed[task.source_path] = before[task.source_path]
                self.keys.keep(before[task.source_path], task.root or "")
            elif task.key:
                got = self.keys.assign(task.key, Path(task.path).suffix.lower(), task.root or "")
                if got != task.key:
                    log.warning(
                        "%s: document id %r is another input's; this one's documents are %r",
                        task.source_path,
                        task.key,
                        got,
                    )
                keyed[task.source_path] = got
        return [
            (replace(task, key=keyed[task.source_path]) if task.source_path in keyed else task, sha)
            for task, sha in found
        ]

    def _walk_error(self, err: ErrorRow) -> None:
        # an input that could not even be hashed, or is not read at all: recorded without a sha256,
        # so every run looks at it again
        if err.stage == SKIP_STAGE:
            self.stats.not_read += 1
        else:
            self.stats.errors += 1
        self.stats.done += 1
        self.batch.add(
            [
                {
                    "source_path": err.path,
                    "sha256": None,
                    "bytes": None,
                    "status": "not_read" if err.stage == SKIP_STAGE else "error",
                    "documents": 0,
                    "figures": 0,
                    "errors": 1,
                    "chars": 0,
                }
            ],
            {
                "errors": pa.Table.from_pylist(
                    [{**err.model_dump(), "input_path": err.path}], schema=result_schema("errors")
                )
            },
        )

    def _collect(self, result: ChunkResult) -> None:
        self.batch.add(result.inputs, result.tables)
        s = self.stats
        s.processed += len(result.inputs)
        s.done += len(result.inputs)
        s.documents += result.tables["documents"].num_rows
        s.figures += result.tables["figures"].num_rows
        s.rejected += result.tables["rejected"].num_rows
        skipped = pc.sum(pc.equal(result.tables["errors"]["stage"], SKIP_STAGE)).as_py() or 0
        s.errors += result.tables["errors"].num_rows - skipped
        s.not_read += skipped
        s.chars += result.chars
        self.progress(s)

    def _maybe_commit(self) -> None:
        opts = self.options
        if (
            len(self.batch) >= opts.batch_inputs
            or self.batch.chars >= opts.batch_chars
            or (self.batch.inputs and time.monotonic() - self.batch.opened >= opts.batch_seconds)
        ):
            self._commit()

    def _commit(self) -> None:
        if not self.batch.inputs:
            return
        for row in self.batch.inputs:
            row["run_id"] = self.stats.run_id
        with _ctrl_c_after():
            tables = self.batch.concat()
            try:
                self.store.commit(self.batch.inputs, tables)
            except Exception as exc:  # a store error: the inputs are committed one by one instead
                log.warning(
                    "a batch of %d inputs could not be stored (%s); storing them one by one", len(self.batch), exc
                )
                for row in self.batch.inputs:
                    self._commit_alone(row, tables)
            log.debug("committed %d inputs", len(self.batch))
            # cleared only once committed: a failed commit is rolled back and retried
            self.batch = _Batch()

    def _commit_alone(self, row: dict[str, Any], tables: dict[str, pa.Table]) -> None:
        """Commit one input of a batch that failed; if it fails alone, it becomes an errors row
        (and the run goes on). A store that cannot take even that raises."""
        path = row["source_path"]
        mine = {name: t.filter(pc.equal(t["input_path"], path)) for name, t in tables.items()}
        try:
            self.store.commit([row], mine)
            return
        except Exception as exc:
            log.exception("%s could not be stored", path)
            reason = f"could not be stored: {type(exc).__name__}: {exc}"
        s = self.stats
        s.documents -= mine["documents"].num_rows
        s.figures -= mine["figures"].num_rows
        s.rejected -= mine["rejected"].num_rows
        s.errors += 1
        failed = {**row, "status": "error", "documents": 0, "figures": 0, "errors": 1}
        error = ErrorRow(path=path, stage="store", reason=reason)
        self.store.commit(
            [failed],
            {
                "errors": pa.Table.from_pylist(
                    [{**error.model_dump(), "input_path": path}], schema=result_schema("errors")
                )
            },
        )


@contextlib.contextmanager
def _ctrl_c_as_flag() -> Iterator[list[int]]:
    """Turn a Ctrl-C during the block into a flag the caller checks between results.

    Raised at whatever line the main thread is on, a KeyboardInterrupt can leave a lock of the
    process pool held (inside its ``queue.Queue``), and the pool's shutdown then waits for ever.
    A no-op off the main thread, where no signal handler can be set.
    """
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield caught
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _ctrl_c_after() -> Iterator[None]:
    """Hold a Ctrl-C that comes during the block until the block is done, then raise it.

    DuckDB turns a SIGINT during a statement into ``RuntimeError: Query interrupted``, which would
    fail the run instead of stopping it cleanly; a commit is short and atomic, so let it finish.
    A no-op off the main thread, where no signal handler can be set.
    """
    with _ctrl_c_as_flag() as caught:
        yield
    if caught:
        raise KeyboardInterrupt


def _groups(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    group: list[Any] = []
    for item in items:
        group.append(item)
        if len(group) >= size:
            yield group
            group = []
    if group:
        yield group


def run(
    inputs: Sequence[Path | str],
    out_dir: Path,
    options: RunOptions | None = None,
    progress: ProgressCallback | None = None,
) -> RunStats:
    """Extract every input under ``inputs`` into the store at ``out_dir``, then audit and export.

    Returns the run's counts; ``status`` is ``done``, or ``interrupted`` after Ctrl-C (what had
    finished is committed and exported).
    """
    return Runner(inputs, out_dir, options or RunOptions(), progress).run()


def count_inputs(inputs: Sequence[Path | str], limits: Limits | None = None, exclude: Iterable[Path | str] = ()) -> int:
    """How many files a run will meet (a progress bar's total); walks folders, reads nothing.
    ``exclude``: the output folder, as the run leaves it out."""
    return sum(1 for _ in iter_inputs(inputs, limits or Limits(), exclude=exclude))


# ----------------------------------------------------------------------------------------------
# audit hook


def run_audit_hook(store: Store, max_figures: int = GROUP_FIGURES) -> str:
    """Run ``extract.audit.run_audit`` over the whole store, if that module exists yet.

    The store is audited one group of whole organisations at a time (``Store.organisation_groups``:
    up to ``max_figures`` figures; a larger organisation alone), so memory
    stays bounded however large the archive. The audit compares documents only within one
    organisation, so each group gives the rows the whole-store audit gives for its documents.

    Its tables (records, findings) replace the store's copies. They are built as staged tables
    (``Store.publish_staged``), committed group by group so that DuckDB holds no growing transaction:
    a table's first group replaces its staged copy, later groups append. At the end one transaction
    puts them all in place, with several groups in ``doc_id`` order, the rows of one document as the
    audit gave them: the whole-store audit's order. Until then the store's own tables are the
    previous audit's, and stay so when the audit fails (its staged tables are dropped; those of a
    process killed midway are dropped by the next audit). Returns what happened, for the ``runs``
    table: ``absent``, ``ok: <tables>`` or ``failed: <error>``; a failing audit is logged and never
    loses the extraction.
    """
    if importlib.util.find_spec("extract.audit") is None:
        return "absent"
    try:
        audit = importlib.import_module("extract.audit")
        run_audit = getattr(audit, "run_audit", None)
        if run_audit is None:
            return "absent"
        with store.roomy():  # the workers are gone: the audit's reads and sorts may use more memory
            written = _audit_in_groups(store, run_audit, max_figures)
    except Exception as exc:
        log.exception("the audit failed; the extracted tables are kept")
        return f"failed: {type(exc).__name__}: {exc}"
    return "ok: " + ", ".join(sorted(written))


def _audit_in_groups(store: Store, run_audit: Callable[..., dict[str, Any]], max_figures: int) -> list[str]:
    """Audit group by group into staged tables, then publish them; the names of the tables written."""
    groups = store.organisation_groups(max_figures)
    written: list[str] = []
    n_groups = 0
    store.drop_staged()
    try:
        for n_groups, (documents, figures) in enumerate(groups, 1):
            for name, frame in run_audit(documents, figures).items():
                if name in CORE_TABLES:
                    raise ValueError(f"the audit returned a table named {name!r}, which is a core table")
                if name in written:
                    store.append_table(name, frame, staged=True)
                else:
                    store.replace_table(name, frame, staged=True)
                    written.append(name)
            log.debug("audit: group %d, %d documents, %d figures", n_groups, len(documents), len(figures))
        store.publish_staged(order_by="doc_id" if n_groups > 1 else None)
    except BaseException:
        _drop_staged_after_failure(store)  # the error raised is the first one, not a cleanup's
        raise
    return written


def _drop_staged_after_failure(store: Store) -> None:
    # a failed statement (out of memory, say) leaves DuckDB's transaction aborted until a ROLLBACK
    try:
        store.con.execute("ROLLBACK")
    except Exception:
        pass  # no transaction was open
    try:
        store.drop_staged()
    except Exception:
        log.exception("could not drop the audit's staged tables; the next audit drops them")


__all__ = [
    "ChunkResult",
    "DaskEngine",
    "EngineUnavailable",
    "ProcessEngine",
    "RunOptions",
    "RunStats",
    "Runner",
    "SerialEngine",
    "Task",
    "count_inputs",
    "dask_chunk",
    "process_chunk",
    "process_input",
    "run",
    "run_audit_hook",
]
