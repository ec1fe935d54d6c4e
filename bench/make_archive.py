"""Build a benchmark archive from the team's corpus: every text replicated with its numbers varied.

The archive is a folder of shards, ``shard-000/`` … each holding about ``shard_mb`` MB of UTF-8
``.txt`` files, so runs over 10, 50 and 200 MB are nested prefixes of the same archive. Sources
are ``corpus/**/*.txt`` only (decoded with the project's own reader, whatever their encoding);
each copy gets new numbers (years shifted together, counts and amounts scaled), so no two files
are byte-identical and the store's copy detection does not skip any of them.

    python bench/make_archive.py bench/data/archive --mb 200
"""

from __future__ import annotations

import argparse
import logging
import random
import re
from pathlib import Path

from extract.ingest import IngestError, read_path

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_DONE = ".complete"  # hidden, so the archive walk skips it


def corpus_texts(corpus: Path = ROOT / "corpus") -> list[tuple[str, str]]:
    """``(stem, text)`` of every ``.txt`` in the corpus, decoded by the ingest reader."""
    texts = []
    for path in sorted(corpus.rglob("*.txt")):
        try:
            docs = read_path(path).documents
        except IngestError as exc:
            log.warning("skipping %s: %s", path, exc.reason)
            continue
        texts.extend((path.stem, doc.text) for doc in docs if doc.text.strip())
    if not texts:
        raise SystemExit(f"no .txt files under {corpus}")
    return texts


def vary(text: str, rng: random.Random) -> str:
    """New numbers of the same kind: years move together, other numbers scale by 0.6–1.6."""
    shift = rng.randint(-8, 8)
    scale = rng.uniform(0.6, 1.6)

    def new(match: re.Match[str]) -> str:
        s = match.group()
        if "." in s:
            return f"{float(s) * scale:.{len(s.split('.')[1])}f}"
        n = int(s)
        if 1950 <= n <= 2030 and len(s) == 4:
            return str(n + shift)
        if len(s) <= 2 and n <= 31:  # months, days, ordinals: keep them plausible
            return s
        return str(max(1, round(n * scale)))

    return _NUMBER.sub(new, text)


def build_shard(folder: Path, texts: list[tuple[str, str]], target_bytes: int, seed: int) -> int:
    """Write one shard; returns its size in bytes. A finished shard is kept and reused."""
    done = folder / _DONE
    if done.exists():
        return int(done.read_text())
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written, i = 0, 0
    while written < target_bytes:
        stem, text = texts[rng.randrange(len(texts))]
        data = vary(text, rng).encode("utf-8")
        path = folder / f"{i // 500:03d}" / f"{stem}-{seed:03d}-{i:06d}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        written += len(data)
        i += 1
    done.write_text(str(written))
    return written


def build(dest: Path, total_mb: int, shard_mb: int = 10, seed: int = 2024) -> list[Path]:
    """The shard folders making up ``total_mb`` MB (built on first use, then reused)."""
    texts = corpus_texts()
    shards = []
    for n in range(-(-total_mb // shard_mb)):
        folder = dest / f"shard-{n:03d}"
        size = build_shard(folder, texts, shard_mb * MB, seed + n)
        log.info("%s: %.1f MB", folder, size / MB)
        shards.append(folder)
    return shards


def shard_bytes(folder: Path) -> int:
    return int((folder / _DONE).read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--mb", type=int, default=200, help="archive size in MB")
    parser.add_argument("--shard-mb", type=int, default=10)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build(args.dest, args.mb, args.shard_mb)


if __name__ == "__main__":
    main()
