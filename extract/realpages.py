"""The real-page evaluation set: third-party texts kept out of git, their manifest and gold in it.

``corpus/real/manifest.tsv`` names every page (id, url, query, rank, chars, sha256, kind, script,
split); the texts live in ``corpus/real/texts/<id>.txt`` (git-ignored) and are gathered again
from the manifest (the same query in the search tool's ``pages`` corpus, the result with that
url). Gold is ``corpus/real/<id>.gold.jsonl`` (``../shared/spec/ANNOTATION.md``), document facts
``corpus/real/documents.jsonl``.

This module uses the standard library and PyYAML only, so gatherers can run it with any Python:

    python3 extract/realpages.py add --prefix news --url URL --query Q --rank 3 --kind news_report \
        --script simplified --excerpt-json excerpt.json
    python3 extract/realpages.py validate [ID ...]
    python3 extract/realpages.py check
    python -m extract.realpages eval [--out DIR]      (make real-eval: needs the installed project)
    python -m extract.realpages agreement             (the second annotator's gold against the first)
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent / "corpus" / "real"
SPEC = Path(__file__).resolve().parent.parent.parent / "shared" / "spec"
COLUMNS = ("id", "url", "query", "rank", "chars", "sha256", "kind", "script", "split")
KINDS = ("work_summary", "news_report", "funds_report", "statistics_table", "election_report", "compilation", "other")
SCRIPTS = ("simplified", "traditional", "mixed")
STATUSES = ("actual", "plan", "prior")
CHANGES = ("delta", "rate")
# the doc_type vocabulary of documents.jsonl: schemas.documents.DocType plus statistics_table, which
# issue 20 adds there (written out: this module runs without the project's dependencies)
DOC_TYPES = (
    "work_summary",
    "funds_audit_report",
    "election_report",
    "news_report",
    "plan",
    "non_union_summary",
    "statistics_table",
    "other",
)
TEST_SHARE = 0.3


@dataclass(frozen=True)
class Page:
    id: str
    url: str
    query: str
    rank: int
    chars: int
    sha256: str
    kind: str
    script: str
    split: str


def split_for(page_id: str) -> str:
    """real-dev or real-test, fixed by the id alone (about 30 % test)."""
    bucket = int(hashlib.sha256(page_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if bucket < TEST_SHARE else "dev"


def read_manifest(root: Path = ROOT) -> list[Page]:
    path = root / "manifest.tsv"
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    pages = []
    for line in lines[1:]:
        if not line.strip():
            continue
        cells = dict(zip(COLUMNS, line.split("\t"), strict=True))
        pages.append(Page(**{**cells, "rank": int(cells["rank"]), "chars": int(cells["chars"])}))
    return pages


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def text_path(page_id: str, root: Path = ROOT) -> Path:
    return root / "texts" / f"{page_id}.txt"


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _clean(cell: str) -> str:
    return " ".join(cell.split())


def read_excerpt(path: Path) -> str:
    """The excerpt as the search tool returned it: a JSON string, or an object with ``excerpt``."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data["excerpt"]
    if not isinstance(data, str) or not data.strip():
        raise SystemExit(f"{path}: no excerpt text")
    return data


def add(prefix: str, url: str, query: str, rank: int, kind: str, script: str, text: str, root: Path = ROOT) -> Page:
    """Save one page's text and append it to the manifest under the next free id ``prefix-NNN``."""
    if kind not in KINDS or script not in SCRIPTS:
        raise SystemExit(f"kind must be one of {KINDS}, script one of {SCRIPTS}")
    with _locked(root):
        pages = read_manifest(root)
        for page in pages:
            if page.url == url:
                raise SystemExit(f"{url} is already in the manifest as {page.id}")
            if page.sha256 == sha256_text(text):
                raise SystemExit(f"the same text is already in the manifest as {page.id}")
        taken = {p.id for p in pages}
        n = 1
        while f"{prefix}-{n:03d}" in taken:
            n += 1
        page_id = f"{prefix}-{n:03d}"
        page = Page(page_id, url, _clean(query), rank, len(text), sha256_text(text), kind, script, split_for(page_id))
        path = text_path(page_id, root)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
        manifest = root / "manifest.tsv"
        new = not manifest.exists()
        with manifest.open("a", encoding="utf-8", newline="") as f:
            if new:
                f.write("\t".join(COLUMNS) + "\n")
            f.write("\t".join(str(getattr(page, c)) for c in COLUMNS) + "\n")
    return page


def restore(page_id: str, text: str, root: Path = ROOT) -> str:
    """Save a text gathered again for ``page_id``, only if it is exactly the one in the manifest."""
    page = next((p for p in read_manifest(root) if p.id == page_id), None)
    if page is None:
        raise SystemExit(f"{page_id} is not in the manifest")
    if sha256_text(text) != page.sha256:
        raise SystemExit(
            f"{page_id}: sha256 {sha256_text(text)[:12]}… is not the manifest's {page.sha256[:12]}… "
            f"({len(text)} chars against {page.chars}): not saved; copy the excerpt exactly"
        )
    path = text_path(page_id, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="")
    return f"{page_id} restored ({page.chars} chars, sha256 matches)"


def check(root: Path = ROOT) -> tuple[list[Page], list[Page]]:
    """The pages whose text is missing, and those whose text differs from the manifest's sha256."""
    missing, changed = [], []
    for page in read_manifest(root):
        path = text_path(page.id, root)
        if not path.exists():
            missing.append(page)
        elif sha256_text(path.read_text(encoding="utf-8")) != page.sha256:
            changed.append(page)
    return missing, changed


def _metric_ids(spec: Path) -> set[str]:
    data = yaml.safe_load((spec / "metrics.yaml").read_text(encoding="utf-8"))
    return set(data["metrics"]) | {"other"}


def validate_gold(page: Page, root: Path = ROOT, spec: Path = SPEC) -> list[str]:
    """Problems with one page's gold: fields, metric ids, and each surface present in the text."""
    problems: list[str] = []
    gold = root / f"{page.id}.gold.jsonl"
    if not gold.exists():
        return [f"{page.id}: no gold file {gold.name}"]
    text_file = text_path(page.id, root)
    text = text_file.read_text(encoding="utf-8") if text_file.exists() else None
    metrics = _metric_ids(spec)
    for n, line in enumerate(gold.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{gold.name}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"{where}: not JSON ({e})")
            continue
        doc = str(row.get("doc", ""))
        if doc.split("#", 1)[0] != page.id:
            problems.append(f"{where}: doc {doc!r} is not {page.id} or {page.id}#N")
        for key in ("surface", "metric", "status"):
            if not row.get(key):
                problems.append(f"{where}: {key} missing")
        if "value" not in row:
            problems.append(f"{where}: value missing (null for a placeholder)")
        elif row["value"] is not None and not isinstance(row["value"], int | float):
            problems.append(f"{where}: value {row['value']!r} is not a number")
        if row.get("metric") and row["metric"] not in metrics:
            problems.append(f"{where}: metric {row['metric']!r} is not in metrics.yaml")
        if row.get("status") and row["status"] not in STATUSES:
            problems.append(f"{where}: status {row['status']!r} not one of {STATUSES}")
        if row.get("change") is not None and row["change"] not in CHANGES:
            problems.append(f"{where}: change {row['change']!r} not one of {CHANGES}")
        if "万" in str(row.get("unit", "")) or "亿" in str(row.get("unit", "")):
            problems.append(f"{where}: unit {row['unit']!r}: 万/亿 never stay in unit")
        if text is not None and row.get("surface") and row["surface"] not in text:
            problems.append(f"{where}: surface {row['surface']!r} is not in the text")
    return problems


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def gold_rows(pages: list[Page], root: Path = ROOT) -> list[dict]:
    return [row for page in pages for row in read_rows(root / f"{page.id}.gold.jsonl")]


def _page_of(row: dict) -> str:
    return str(row.get("doc") or row.get("doc_id") or "").split("#", 1)[0]


def evaluate(out: Path, root: Path = ROOT) -> str:
    """Extract the texts present into ``out`` and score real-dev, real-test and each kind."""
    from extract.evaluate import format_scores, read_predictions, score
    from extract.runner import RunOptions, run

    pages = read_manifest(root)
    missing, changed = check(root)
    lines = []
    if missing or changed:
        lines.append(
            f"{len(missing)} of {len(pages)} real-page texts missing, {len(changed)} changed: "
            "make real-check lists them and how to gather them again"
        )
    bad = {p.id for p in missing + changed}
    present = [p for p in pages if p.id not in bad]
    if not present:
        lines.append("no real-page texts here: nothing scored (they are git-ignored; see make real-check)")
        return "\n".join(lines)
    run([root / "texts"], out, RunOptions(rebuild=True, audit=False, export=("parquet",)))
    predicted = read_predictions(out)
    kept = {p.id for p in present}
    predicted = [r for r in predicted if _page_of(r) in kept]

    def block(title: str, subset: list[Page]) -> list[str]:
        ids = {p.id for p in subset}
        scores = score(gold_rows(subset, root), [r for r in predicted if _page_of(r) in ids])
        return [f"{title} ({len(subset)} documents)", format_scores(scores)]

    for split in ("dev", "test"):
        lines += block(f"real-{split}", [p for p in present if p.split == split])
    lines.append("figures F1 by kind (dev + test):")
    groups = [("kind", k) for k in KINDS] + [("script", s) for s in SCRIPTS]
    for field, value in groups:
        subset = [p for p in present if getattr(p, field) == value]
        if subset:
            ids = {p.id for p in subset}
            s = score(gold_rows(subset, root), [r for r in predicted if _page_of(r) in ids])
            lines.append(
                f"  {field}={value:17} {len(subset):3d} docs  figures F1 {s['figures']['f1']:.3f}"
                f"  by file {s['figures_by_file']['f1']:.3f}  metrics F1 {s['metrics']['f1']:.3f}"
                f"  full F1 {s['full']['f1']:.3f}"
            )
    return "\n".join(lines)


def agreement(root: Path = ROOT) -> str:
    """The second annotator's gold (``second/``, annotated blind) scored against the first's."""
    from extract.evaluate import format_scores, score

    second = sorted((root / "second").glob("*.gold.jsonl"))
    if not second:
        return "no second-annotator gold in corpus/real/second"
    ids = [p.name.removesuffix(".gold.jsonl") for p in second]
    first = [row for i in ids for row in read_rows(root / f"{i}.gold.jsonl")]
    other = [row for p in second for row in read_rows(p)]
    return f"agreement on {len(ids)} documents (second annotator as predictions)\n" + format_scores(score(first, other))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    a = sub.add_parser("add", help="save a page's text and append it to the manifest")
    a.add_argument("--prefix", required=True)
    a.add_argument("--url", required=True)
    a.add_argument("--query", required=True)
    a.add_argument("--rank", type=int, required=True)
    a.add_argument("--kind", required=True, choices=KINDS)
    a.add_argument("--script", required=True, choices=SCRIPTS)
    a.add_argument("--excerpt-json", type=Path, required=True)
    v = sub.add_parser("validate", help="check gold files against the spec and the texts")
    v.add_argument("ids", nargs="*")
    r = sub.add_parser("restore", help="save a text gathered again, if its sha256 is the manifest's")
    r.add_argument("id")
    r.add_argument("--excerpt-json", type=Path, required=True)
    sub.add_parser("check", help="which texts are missing or changed")
    e = sub.add_parser("eval", help="extract the texts and score real-dev, real-test and each kind")
    e.add_argument("--out", type=Path, default=Path("out/real"))
    sub.add_parser("agreement", help="the second annotator's gold against the first's")
    args = ap.parse_args(argv)
    if args.command == "restore":
        print(restore(args.id, read_excerpt(args.excerpt_json)))
        return 0
    if args.command == "eval":
        print(evaluate(args.out))
        return 0
    if args.command == "agreement":
        print(agreement())
        return 0
    if args.command == "add":
        page = add(
            args.prefix, args.url, args.query, args.rank, args.kind, args.script, read_excerpt(args.excerpt_json)
        )
        print(f"{page.id}\t{page.split}\t{page.chars} chars\t{page.sha256}")
        return 0
    if args.command == "validate":
        pages = [p for p in read_manifest() if not args.ids or p.id in args.ids]
        problems = [msg for page in pages for msg in validate_gold(page)]
        print("\n".join(problems) or f"{len(pages)} pages: gold valid")
        return 1 if problems else 0
    missing, changed = check()
    for page in missing:
        print(f"missing  {page.id}  search pages for {page.query!r}; save the result with url {page.url}")
    for page in changed:
        print(f"changed  {page.id}  sha256 differs from the manifest: gather it again")
    total = len(read_manifest())
    print(f"{total - len(missing) - len(changed)} of {total} texts present and unchanged")
    if missing or changed:
        print(
            "To gather a text again: run the query in the search tool's pages corpus, take the result with that url, "
            "save its excerpt exactly (python3 extract/realpages.py restore ID --excerpt-json FILE checks the sha256)."
        )
    return 1 if missing or changed else 0


if __name__ == "__main__":
    sys.exit(main())
