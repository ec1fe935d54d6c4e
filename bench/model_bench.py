"""Rules, model and hybrid side by side: scores on the seed and the held-out corpus, and time.

    .venv/bin/python bench/model_bench.py [--model DIR] [--repeat 5] [--json]

Scores: ``extract.evaluate.score`` (figures / metrics / full F1) on ../shared's seed (never trained
on; skipped when ../shared is absent) and on ``corpus/heldout/`` (never trained on), plus the
corpus the model was trained on (for reference only). Time: the extraction time per document of
each extractor, after a warm-up, each document's best of ``--repeat`` runs, summed (the
extractors interleaved, the model's tokenizer cold in each run); model loading (spaCy and the trained
pipeline, once per process) is reported apart, and so are the pipeline build time and peak memory
of a fresh process extracting ``corpus/heldout/`` with rules and with hybrid.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from extract.evaluate import read_gold, score
from extract.pipeline import Pipeline, raw_from_text
from extract.rules import load_rules

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT.parent / "shared" / "corpus" / "seed-town-union-summaries.txt"
SETS = {
    "seed": [SEED] if SEED.exists() else [],
    "heldout": sorted((ROOT / "corpus" / "heldout").glob("*.txt")),
    "trained on (dev, dev2, train)": sorted(
        p for d in ("dev", "dev2", "train") for p in (ROOT / "corpus" / d).glob("*.txt")
    ),
}


def gold_of(files: list[Path]) -> list[dict]:
    rows: list[dict] = []
    for f in files:
        rows.extend(read_gold(f.with_name(f.stem + ".gold.jsonl")))
    return rows


def run(pipe: Pipeline, files: list[Path]) -> tuple[list[dict], list[float]]:
    """The figure rows of ``files`` and the extraction CPU time (prepare + extract) of each document.

    CPU time, not wall time: the machine is shared, and another process's burst would otherwise
    land on whichever extractor happened to be running.

    The model's tokenizer starts cold: the text pieces it remembers from an earlier run are
    forgotten, so a repeated run is not faster than a first one over new documents.
    """
    model = getattr(pipe.extractor, "model", None)
    if model is not None:
        model.nlp.tokenizer.forget()
    rows, times = [], []
    for f in files:
        raw = raw_from_text(f.read_text(encoding="utf-8"), f.stem)
        t = time.process_time()
        docs = pipe.prepare(raw, stem=f.stem)
        figures = [fig for doc in docs for fig in pipe.extractor(doc).figures]
        times.append(time.process_time() - t)
        rows.extend(fig.row() for fig in figures)
    return rows, times


# One process per extractor: build the pipeline, extract every held-out document, report peak memory.
MEMORY_PROBE = """
import json, resource, sys, time
from pathlib import Path
from extract.pipeline import Pipeline, raw_from_text
def peak():  # VmHWM: the high-water mark of this process's own memory (ru_maxrss counts the parent's)
    status = Path("/proc/self/status")
    if status.exists():
        return int(status.read_text().split("VmHWM:")[1].split()[0]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
started = time.perf_counter()
pipe = Pipeline(extractor=sys.argv[1], model_path=sys.argv[2] or None)
loaded = time.perf_counter() - started
for f in sorted(Path(sys.argv[3]).glob("*.txt")):
    for doc in pipe.prepare(raw_from_text(f.read_text(encoding="utf-8"), f.stem), stem=f.stem):
        pipe.extractor(doc)
print(json.dumps({"load_s": round(loaded, 2), "peak_mb": round(peak())}))
"""


def memory(extractor: str, model: Path | None) -> dict[str, float]:
    """Pipeline load time and peak resident memory of a fresh process that runs ``extractor``."""
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, extractor, str(model or ""), str(ROOT / "corpus" / "heldout")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None, help="model folder (default: the shipped one)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rules = load_rules()
    pipes = {"rules": Pipeline(rules)}
    t = time.perf_counter()
    pipes["model"] = Pipeline(rules, extractor="model", model_path=a.model)
    load_s = time.perf_counter() - t
    pipes["hybrid"] = Pipeline(rules, extractor="hybrid", model_path=a.model)
    results: dict[str, dict] = {"model_load_s": round(load_s, 2), "scores": {}, "time_ms_per_doc": {}}
    results["process"] = {ext: memory(ext, a.model) for ext in ("rules", "hybrid")}
    for name, files in SETS.items():
        if not files:
            continue
        gold = gold_of(files)
        for ext, pipe in pipes.items():
            rows, _ = run(pipe, files)  # warm-up, and the rows scored
            s = score(gold, rows)
            results["scores"][f"{name}/{ext}"] = {level: s[level]["f1"] for level in ("figures", "metrics", "full")}
    everything = [f for files in SETS.values() for f in files]
    # Repeats interleave the extractors, so a busy moment of the machine costs each alike, and
    # each document counts with its best run: a burst from elsewhere then spoils one document's
    # time in one run, not a whole run's total.
    best: dict[str, list[float]] = {}
    for _ in range(a.repeat):
        for ext, pipe in pipes.items():
            times = run(pipe, everything)[1]
            best[ext] = [min(pair) for pair in zip(best.get(ext, times), times, strict=True)]
    for ext, times in best.items():
        results["time_ms_per_doc"][ext] = round(1000 * sum(times) / len(everything), 2)
    rules_ms = results["time_ms_per_doc"]["rules"]
    results["hybrid_extra_time"] = round(results["time_ms_per_doc"]["hybrid"] / rules_ms - 1, 3)
    if a.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        return
    print("| set | extractor | figures F1 | metrics F1 | full F1 |")
    print("| --- | --- | ---: | ---: | ---: |")
    for key, s in results["scores"].items():
        name, ext = key.split("/")
        print(f"| {name} | {ext} | {s['figures']:.3f} | {s['metrics']:.3f} | {s['full']:.3f} |")
    print()
    print(
        f"time per document ({len(everything)} documents, each its best of {a.repeat} runs): "
        + ", ".join(f"{k} {v:.2f} ms" for k, v in results["time_ms_per_doc"].items())
        + f"; hybrid extra {100 * results['hybrid_extra_time']:.1f} % of rules-only; "
        f"model load {results['model_load_s']:.2f} s once"
    )
    for ext, facts in results["process"].items():
        print(f"a fresh process with {ext}: pipeline built in {facts['load_s']:.2f} s, peak {facts['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
