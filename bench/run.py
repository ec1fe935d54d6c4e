"""The archive benchmark behind ``make bench``: throughput, jieba ratio, scaling, memory, linearity.

1. Builds (or reuses) an archive of ``--sizes``' largest MB under ``bench/data/`` from
   ``corpus/**/*.txt`` with every number varied (see ``make_archive.py``).
2. Times bare ``jieba.cut`` over the text of the first 10 MB shard, in this process.
3. Runs the real command, ``zongjie extract SHARDS --out TMP --rebuild``, as a subprocess
   (store, audit and export included): 1 and 2 workers on ``--scaling-mb``, and the
   ``--workers`` count on every size for linearity; samples the RSS of the whole process tree.
4. Profiles the pipeline in this process over ``--profile-mb`` of the archive (cProfile).
5. Writes ``bench/RESULTS.md`` and ``bench/results/latest.json``.

    python bench/run.py                      # the full run: 10, 50, 200 MB (about half an hour on 2 cores)
    python bench/run.py --sizes 2,5 --scaling-mb 5 --profile-mb 0.5   # a quick look
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import platform
import pstats
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_archive import MB, build, shard_bytes

if TYPE_CHECKING:
    from extract.pipeline import Pipeline

log = logging.getLogger("bench")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGETS = {"jieba_ratio": 0.5, "speedup_1_to_2": 1.7, "peak_rss_mb": 1024}


@dataclass
class Measure:
    label: str
    mb: float
    workers: int
    seconds: float
    chars: int
    documents: int
    figures: int
    peak_rss_mb: float
    phases: dict[str, float] = field(default_factory=dict)
    cpu_seconds: float = 0.0  # user + system of the whole process tree
    load: float = 0.0  # the machine's 1-minute load average when the run ended

    @property
    def chars_per_s(self) -> float:
        return self.chars / self.seconds

    @property
    def chars_per_s_per_worker(self) -> float:
        return self.chars_per_s / self.workers


class TreeRss:
    """Peak resident memory of a process and all its descendants, sampled in a thread."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        self.proc = psutil.Process(pid)
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
            except psutil.Error:
                return
            total = 0
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.every)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / 2**20


def shard_text(folders: list[Path]) -> list[str]:
    return [p.read_text(encoding="utf-8") for f in folders for p in sorted(f.rglob("*.txt"))]


def bare_jieba() -> Any:
    """A ``jieba.Tokenizer`` with the default dictionary, loaded: bare jieba, as a user has it."""
    import jieba

    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def jieba_baseline(texts: list[str], tokenizer: Any) -> dict:
    """Characters, wall and CPU seconds for bare ``jieba.cut`` (HMM on) over ``texts``."""
    chars = sum(len(t) for t in texts)
    started, cpu = time.perf_counter(), time.process_time()
    for text in texts:
        for _ in tokenizer.cut(text):
            pass
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    log.info("jieba.cut: %s chars in %.1fs = %s chars/s", f"{chars:,}", seconds, f"{chars / seconds:,.0f}")
    return {"chars": chars, "seconds": seconds, "cpu_seconds": cpu, "chars_per_s": chars / seconds}


_PHASES = {
    "extract": re.compile(r"extracted and stored \d+ inputs \((\d+) chars\) in ([\d.]+)s"),
    "audit": re.compile(r"audit \(.*\) in ([\d.]+)s"),
    "export": re.compile(r"exported \S+ in ([\d.]+)s"),
}


def run_extract(
    label: str, shards: list[Path], workers: int, keep: Path | None = None, extractor: str | None = None
) -> Measure:
    """``zongjie extract --no-audit`` over ``shards`` into a fresh folder; wall time, counts, peak RSS.

    The audit is timed apart (:func:`run_audit`): it is one pass over the whole store, not a
    per-document cost, so it would blur the throughput and scaling figures.
    """
    out = keep or Path(tempfile.mkdtemp(prefix="zongjie-bench-"))
    zongjie = Path(sys.executable).with_name("zongjie")
    cmd = [
        str(zongjie),
        "-v",
        "extract",
        *map(str, shards),
        "--out",
        str(out),
        "--workers",
        str(workers),
        "--rebuild",
        "--no-audit",
        "--no-progress",
        *(["--extractor", extractor] if extractor else []),
    ]
    log.info("%s: %s", label, " ".join(cmd))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    rss = TreeRss(proc.pid)
    _, stderr = proc.communicate()
    seconds = time.perf_counter() - started
    peak = rss.stop()
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed ({proc.returncode}):\n{stderr[-3000:]}")
    phases: dict[str, float] = {}
    chars = 0
    for name, pattern in _PHASES.items():
        m = pattern.search(stderr)
        if m:
            phases[name] = float(m.groups()[-1])
            if name == "extract":
                chars = int(m.group(1))
    import duckdb

    with duckdb.connect(str(out / "zongjie.duckdb"), read_only=True) as con:
        documents, figures = con.execute(
            "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM figures)"
        ).fetchall()[0]
    if keep is None:
        shutil.rmtree(out, ignore_errors=True)
    mb = sum(shard_bytes(s) for s in shards) / MB
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # workers are reaped by the CLI, so they count
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    m = Measure(label, mb, workers, seconds, chars, documents, figures, peak, phases, cpu, os.getloadavg()[0])
    log.info("%s: %.1f MB in %.1fs, %s chars/s, %.0f MB peak", label, mb, seconds, f"{m.chars_per_s:,.0f}", peak)
    return m


_AUDIT = """
import sys, time
from extract.runner import run_audit_hook
from extract.store import Store
with Store(sys.argv[1]) as store:
    started = time.perf_counter()
    outcome = run_audit_hook(store)
    print(f"{time.perf_counter() - started:.2f} {store.count('figures')} {outcome}")
"""


def run_audit(label: str, out: Path, mb: float) -> dict:
    """The audit hook alone over a store built by :func:`run_extract`: seconds and peak RSS."""
    log.info("%s: audit over %s", label, out)
    proc = subprocess.Popen(
        [sys.executable, "-c", _AUDIT, str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    rss = TreeRss(proc.pid)
    stdout, stderr = proc.communicate()
    peak = rss.stop()
    if proc.returncode != 0:
        return {"label": label, "mb": mb, "error": stderr[-1500:], "peak_rss_mb": peak}
    seconds, figures, outcome = stdout.split(" ", 2)
    log.info("%s: %s s for %s figures, %.0f MB peak", label, seconds, figures, peak)
    return {
        "label": label,
        "mb": mb,
        "seconds": float(seconds),
        "figures": int(figures),
        "outcome": outcome.strip(),
        "peak_rss_mb": peak,
    }


def profile(texts: list[str], limit_mb: float, pipeline: Pipeline, top: int = 25) -> tuple[str, float]:
    """cProfile of ``pipeline`` (no store) over the first ``limit_mb`` MB of ``texts``."""
    from extract.pipeline import raw_from_text

    pipeline.run_raw(raw_from_text(texts[0], "warmup"))
    sample, size = [], 0
    for text in texts:
        sample.append(text)
        size += len(text.encode("utf-8"))
        if size >= limit_mb * MB:
            break
    prof = cProfile.Profile()
    started = time.perf_counter()
    prof.enable()
    for i, text in enumerate(sample):
        pipeline.run_raw(raw_from_text(text, f"p{i}"))
    prof.disable()
    seconds = time.perf_counter() - started
    chars = sum(len(t) for t in sample)
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    text = out.getvalue()
    body = text[text.index("ncalls") :] if "ncalls" in text else text
    return body.replace(str(ROOT) + "/", "").replace(sys.prefix + "/", ""), chars / seconds


SEED = ROOT.parent / "shared" / "corpus" / "seed-town-union-summaries.txt"


def real_text_ratio(pipeline: Pipeline, tokenizer: Any, repeats: int = 7) -> dict | None:
    """``pipeline`` against bare jieba's ``tokenizer`` on the one real compilation (``../shared``'s
    seed), in this process, per CPU-second, each side's best of ``repeats``: how the ratio looks at
    the figure density of real summaries. Context only; None without ``../shared``."""
    if not SEED.is_file():
        return None
    from extract.pipeline import raw_from_text

    text = SEED.read_text(encoding="utf-8")

    def best(work: Callable[[], object]) -> float:
        times = []
        for _ in range(repeats):
            cpu = time.process_time()
            work()
            times.append(time.process_time() - cpu)
        return min(times)

    figures = sum(len(r.figures) for r in pipeline.run_raw(raw_from_text(text, "seed")))
    pipe_s = best(lambda: pipeline.run_raw(raw_from_text(text, "seed")))
    jieba_s = best(lambda: list(tokenizer.cut(text)))
    return {
        "chars": len(text),
        "figures": figures,
        "pipeline_cps": len(text) / pipe_s,
        "jieba_cps": len(text) / jieba_s,
    }


def report(results: dict, path: Path) -> None:
    r = results
    m = {x["label"]: x for x in r["runs"]}

    def cps(x: dict) -> float:
        return x["chars"] / x["seconds"]

    lines = [
        "# Benchmark results",
        "",
        f"Measured by `make bench` ({r['command']}) on {r['when']}.",
        f"Machine: {r['machine']}. Load average at start: {r['load']}. Extractor: {r.get('extractor', 'rules')}.",
        "The archive is built from `corpus/**/*.txt` with every number varied (`bench/make_archive.py`);",
        "every pipeline run is the real command (`zongjie extract SHARDS --out TMP --rebuild --workers N`),",
        "so the times include start-up, the DuckDB store and the CSV/Parquet export; the audit is timed apart.",
        "",
        "## Summary",
        "",
        "| measure | value | target |",
        "| --- | --- | --- |",
    ]
    one, two = m[f"scaling-{r['scaling_mb']}MB-w1"], m[f"scaling-{r['scaling_mb']}MB-w2"]
    jieba = r["jieba"]
    ratio = cps(one) / jieba["chars_per_s"]
    speedup = two["chars"] / two["seconds"] / (one["chars"] / one["seconds"])
    peak = max(x["peak_rss_mb"] for x in r["runs"])
    cpu_ratio = (two["cpu_seconds"] / two["chars"]) / (one["cpu_seconds"] / one["chars"])
    cpu_ratio_jieba = (one["chars"] / one["cpu_seconds"]) / (jieba["chars"] / jieba["cpu_seconds"])
    lines += [
        f"| bare `jieba.cut` (the same {jieba['mb']} MB, this run; timed before and after the 1-worker run, "
        f"the faster kept) | {jieba['chars_per_s']:,.0f} chars/s "
        f"({' and '.join(f'{x:,.0f}' for x in jieba['each'])}) | |",
        f"| pipeline, 1 worker, {one['mb']:.0f} MB | {cps(one):,.0f} chars/s | |",
        f"| ratio pipeline / jieba (1 worker) | {ratio:.2f}× | ≥ {TARGETS['jieba_ratio']}× "
        f"{'✅' if ratio >= TARGETS['jieba_ratio'] else '❌'} |",
        f"| same ratio per CPU-second (robust to a busy machine) | {cpu_ratio_jieba:.2f}× "
        f"({one['chars'] / one['cpu_seconds']:,.0f} vs {jieba['chars'] / jieba['cpu_seconds']:,.0f} chars/CPU-s) | |",
        f"| pipeline, 2 workers, {two['mb']:.0f} MB | {cps(two):,.0f} chars/s ({cps(two) / 2:,.0f} per worker) | |",
        f"| speed-up 1 → 2 workers | {speedup:.2f}× | ≥ {TARGETS['speedup_1_to_2']}× "
        f"{'✅' if speedup >= TARGETS['speedup_1_to_2'] else '❌'} |",
        f"| CPU per char, 2 workers ÷ 1 worker | {cpu_ratio:.2f} (so on two idle cores at most "
        f"{2 / cpu_ratio:.2f}×; derived, not measured) | |",
        f"| CPU share during the 1 / 2 worker runs | {one['cpu_seconds'] / one['seconds']:.2f} / "
        f"{two['cpu_seconds'] / two['seconds']:.2f} cores (load {one['load']:.1f} / {two['load']:.1f}) | |",
        f"| peak RSS, whole process tree, any run | {peak:,.0f} MB | < {TARGETS['peak_rss_mb']} MB "
        f"{'✅' if peak < TARGETS['peak_rss_mb'] else '❌'} |",
        f"| pipeline in-process, no store (profiled sample) | {r['profile']['chars_per_s']:,.0f} chars/s "
        "(under cProfile) | |",
        f"| figure density of the archive | one figure per {one['chars'] / max(one['figures'], 1):.0f} characters | |",
    ]
    real = r.get("real_text")
    if real:
        lines.append(
            f"| context: the real seed compilation (one figure per {real['chars'] / max(real['figures'], 1):.0f} "
            f"characters), in process, per CPU-second | pipeline {real['pipeline_cps']:,.0f} vs jieba "
            f"{real['jieba_cps']:,.0f} chars/s = {real['pipeline_cps'] / real['jieba_cps']:.2f}× | not the target |"
        )
    lines += [
        "",
        "## Every run",
        "",
        "| run | MB | workers | wall s | CPU s | load | chars | chars/s | chars/s/worker | chars/CPU-s "
        "| extract s | export s | documents | figures | peak RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for x in r["runs"]:
        p = x["phases"]
        lines.append(
            f"| {x['label']} | {x['mb']:.1f} | {x['workers']} | {x['seconds']:.1f} | {x['cpu_seconds']:.1f} "
            f"| {x['load']:.1f} | {x['chars']:,} | {cps(x):,.0f} | {cps(x) / x['workers']:,.0f} "
            f"| {x['chars'] / x['cpu_seconds']:,.0f} | {p.get('extract', 0):.1f} | {p.get('export', 0):.1f} "
            f"| {x['documents']:,} | {x['figures']:,} | {x['peak_rss_mb']:,.0f} |"
        )
    lin = [x for x in r["runs"] if x["label"].startswith("size-")]
    if lin:
        base = lin[0]
        lines += [
            "",
            "## Linearity",
            "",
            "| MB | wall s | s per MB | relative to the smallest |",
            "| --- | --- | --- | --- |",
        ]
        for x in lin:
            rel = (x["seconds"] / x["mb"]) / (base["seconds"] / base["mb"])
            lines.append(f"| {x['mb']:.0f} | {x['seconds']:.1f} | {x['seconds'] / x['mb']:.2f} | {rel:.2f} |")
    if r.get("audits"):
        lines += [
            "",
            "## The audit (one pass over the whole store after a run; timed apart)",
            "",
            "| store | figures | seconds | figures/s | peak RSS MB | outcome |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for a in r["audits"]:
            if "error" in a:
                lines.append(f"| {a['mb']:.0f} MB | | failed | | {a['peak_rss_mb']:,.0f} | {a['error'][-200:]!r} |")
            else:
                lines.append(
                    f"| {a['mb']:.0f} MB | {a['figures']:,} | {a['seconds']:.1f} "
                    f"| {a['figures'] / a['seconds']:,.0f} | {a['peak_rss_mb']:,.0f} | {a['outcome']} |"
                )
    lines += [
        "",
        "## Where the time goes (cProfile, pipeline only, sorted by own time)",
        "",
        f"Sample: {r['profile']['mb']} MB of the archive, in-process, no store.",
        "",
        "```",
        r["profile"]["top"].rstrip(),
        "```",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,50,200", help="archive sizes in MB for the linearity runs")
    parser.add_argument("--scaling-mb", type=int, default=50, help="size for the 1 vs 2 worker runs")
    parser.add_argument("--workers", type=int, default=2, help="workers for the linearity runs")
    parser.add_argument("--profile-mb", type=float, default=1.0)
    parser.add_argument("--audit-max-mb", type=int, default=200, help="time the audit over stores up to this size")
    parser.add_argument(
        "--extractor", default=None, help="zongjie extract --extractor (default: the command's default)"
    )
    parser.add_argument("--shard-mb", type=int, default=10)
    parser.add_argument("--data", type=Path, default=HERE / "data" / "archive")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    sizes = [int(s) for s in args.sizes.split(",")]
    shard_mb = min(args.shard_mb, *sizes, args.scaling_mb)
    shards = build(args.data, max(*sizes, args.scaling_mb), shard_mb)

    def first(mb: int) -> list[Path]:
        return shards[: max(1, mb // shard_mb)]

    results: dict = {
        "command": " ".join(["python bench/run.py", *sys.argv[1:]]),
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
        "scaling_mb": args.scaling_mb,
        "extractor": args.extractor or "the default",
    }
    # bare jieba over exactly the text the 1- and 2-worker runs read, before and after the 1-worker
    # run (this machine's speed drifts by ±15% within minutes); the faster is the baseline
    texts = shard_text(first(args.scaling_mb))
    tokenizer = bare_jieba()
    jieba_runs = [jieba_baseline(texts, tokenizer)]
    from extract.pipeline import Pipeline

    pipeline = Pipeline(extractor=args.extractor) if args.extractor else Pipeline()
    top, pcps = profile(texts, args.profile_mb, pipeline)
    results["profile"] = {"mb": args.profile_mb, "chars_per_s": pcps, "top": top}
    results["real_text"] = real_text_ratio(pipeline, tokenizer)
    del pipeline

    stores: dict[int, Path] = {}

    def keep(mb: int) -> Path | None:
        # the stores of the smaller sizes are kept for timing the audit over them
        if mb not in sizes or mb > args.audit_max_mb:
            return None
        stores[mb] = Path(tempfile.mkdtemp(prefix="zongjie-bench-store-"))
        return stores[mb]

    scaling = args.scaling_mb
    runs = [run_extract(f"scaling-{scaling}MB-w1", first(scaling), 1, extractor=args.extractor)]
    jieba_runs.append(jieba_baseline(texts, tokenizer))
    del texts, tokenizer
    fastest = max(jieba_runs, key=lambda run: run["chars_per_s"])
    results["jieba"] = {**fastest, "mb": args.scaling_mb, "each": [run["chars_per_s"] for run in jieba_runs]}
    runs += [
        run_extract(
            f"scaling-{scaling}MB-w2", first(scaling), 2, keep(scaling) if args.workers == 2 else None, args.extractor
        ),
    ]
    for mb in sizes:
        if mb == scaling and args.workers == 2:
            same = runs[1]
            runs.append(Measure(**{**asdict(same), "label": f"size-{mb}MB-w2"}))
            continue
        runs.append(run_extract(f"size-{mb}MB-w{args.workers}", first(mb), args.workers, keep(mb), args.extractor))
    results["runs"] = [asdict(m) for m in runs]
    results["audits"] = []
    for mb, store in sorted(stores.items()):
        results["audits"].append(run_audit(f"audit-{mb}MB", store, mb))
        shutil.rmtree(store, ignore_errors=True)

    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    report(results, args.results)
    log.info("wrote %s", args.results)


if __name__ == "__main__":
    main()
