"""Rules, model and hybrid side by side: scores on the seed and the held-out corpus, and time.

    .venv/bin/python bench/model_bench.py [--model DIR] [--repeat 5] [--json]

Scores: ``extract.evaluate.score`` (figures / metrics / full F1) on ../shared's seed (never trained
on; skipped when ../shared is absent) and on ``corpus/heldout/`` (never trained on), plus the
corpus the model was trained on (for reference only). Time: the CPU time per document of the
rules (preparing and extracting) and of the model's step over their result, in hybrid and in model
mode, after a warm-up, each document's best of ``--repeat`` runs, summed (``timed``); model loading
(spaCy and the trained pipeline, once per process) is reported apart, and so are the pipeline
build time and peak memory of a fresh process extracting ``corpus/heldout/`` with rules and with
hybrid.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from extract.evaluate import read_gold, score
from extract.pipeline import Pipeline, iter_results, raw_from_text
from extract.rules import load_rules
from schemas.documents import ErrorRow

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


def run(pipe: Pipeline, files: list[Path]) -> list[dict]:
    """The figure rows ``pipe`` extracts from ``files``."""
    return [
        fig.row() for result in iter_results(files, pipe) if not isinstance(result, ErrorRow) for fig in result.figures
    ]


def timed(pipes: dict[str, Pipeline], files: list[Path]) -> dict[str, list[float]]:
    """CPU time per file: ``rules`` (preparing the document and the rule extraction), and for
    ``hybrid`` and ``model`` the model's step over that same rule extraction (``decide``), which
    is all the time they add to the rules (they run the rules first, then this step).

    CPU time, not wall time: the machine is shared, and another process's burst would otherwise
    land on whichever step happened to be running. The steps of one file run one after another, as
    in the pipeline, so each finds the processor's caches as it would there.

    The models' tokenizers start cold: the text pieces they remember from an earlier run are
    forgotten, so a repeated run is not faster than a first one over new documents.
    """
    steps = {name: pipes[name].extractor for name in ("hybrid", "model")}
    for extractor in steps.values():
        extractor.model.nlp.tokenizer.forget()
    times: dict[str, list[float]] = {"rules": [], "hybrid": [], "model": []}
    rules = pipes["rules"]
    for f in files:
        raw = raw_from_text(f.read_text(encoding="utf-8"), f.stem)
        t = time.process_time()
        extracted = [(doc, rules.extractor(doc)) for doc in rules.prepare(raw, stem=f.stem)]
        times["rules"].append(time.process_time() - t)
        for name, extractor in steps.items():
            t = time.process_time()
            for doc, extraction in extracted:
                extractor.decide(doc, extraction)
            times[name].append(time.process_time() - t)
    return times


# One process per extractor: build the pipeline, extract every held-out document, report peak memory.
MEMORY_PROBE = """
import json, resource, sys, time
from pathlib import Path
from extract.pipeline import Pipeline, iter_results, raw_from_text
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
            s = score(gold, run(pipe, files))
            results["scores"][f"{name}/{ext}"] = {level: s[level]["f1"] for level in ("figures", "metrics", "full")}
    everything = [f for files in SETS.values() for f in files]
    # Each file counts with its best of the repeats: a burst from elsewhere then spoils one file's
    # time in one run, not a whole run's total.
    best: dict[str, list[float]] = {}
    for _ in range(a.repeat):
        for step, times in timed(pipes, everything).items():
            best[step] = [min(pair) for pair in zip(best.get(step, times), times, strict=True)]
    per_doc = {step: 1000 * sum(times) / len(everything) for step, times in best.items()}
    results["time_ms_per_doc"] = {
        "rules": round(per_doc["rules"], 2),
        "model": round(per_doc["rules"] + per_doc["model"], 2),
        "hybrid": round(per_doc["rules"] + per_doc["hybrid"], 2),
    }
    results["hybrid_extra_time"] = round(per_doc["hybrid"] / per_doc["rules"], 3)
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
        f"time per document ({len(everything)} documents, each its best of {a.repeat} runs; CPU): "
        + ", ".join(f"{k} {v:.2f} ms" for k, v in results["time_ms_per_doc"].items())
        + f"; hybrid extra {100 * results['hybrid_extra_time']:.1f} % of rules-only; "
        f"model load {results['model_load_s']:.2f} s once"
    )
    for ext, facts in results["process"].items():
        print(f"a fresh process with {ext}: pipeline built in {facts['load_s']:.2f} s, peak {facts['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
