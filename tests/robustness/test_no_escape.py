"""No input reaches eval, pickle or a shell, and nothing is written outside the output folder."""

from __future__ import annotations

import io
import os
import re
import tokenize
import uuid
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from extract.cli import cli
from extract.report.data import page_name
from extract.report.gold import gold_file_name
from tests.robustness.helpers import CORPUS, ROOT, copy_good, zongjie_extract

PACKAGES = ("extract", "schemas")
#: what no package source may call or import; matched on code only (comments and strings are
#: dropped first, so a docstring may name them)
FORBIDDEN = {
    "eval": r"\beval\s*\(",
    "exec": r"\bexec\s*\(",
    "compile": r"(?<![\w.])compile\s*\(",
    "pickle": r"\b(?:c?pickle|dill|shelve|marshal|joblib)\b",
    "subprocess": r"\bsubprocess\b",
    "os.system": r"\bos\s*\.\s*(?:system|popen|exec\w*|spawn\w*)\b",
    "shell=True": r"\bshell\s*=\s*True",
    "__import__": r"\b__import__\s*\(",
    "import_module": r"\bimport_module\s*\(",
    "yaml.load": r"\byaml\s*\.\s*(?:load|load_all|unsafe_load|full_load)\s*\(",
}
#: (file, what, the exact code line) → why it is safe
ALLOWED = {
    ("extract/rules.py", "yaml.load", 'return yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)'): (
        "rules files, with a SafeLoader subclass (checked below)"
    ),
    ("extract/runner.py", "import_module", 'audit = importlib.import_module("extract.audit")'): (
        "a constant module name: the optional audit hook"
    ),
}


def code_lines(path: Path) -> dict[int, str]:
    """Each line's code with comments and string literals removed (docstrings included)."""
    source = path.read_text(encoding="utf-8")
    lines: dict[int, list[str]] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.COMMENT, tokenize.STRING) or tok.type >= tokenize.N_TOKENS:
            continue
        if sys_fstring(tok):
            continue
        lines.setdefault(tok.start[0], []).append(tok.string)
    return {n: " ".join(parts).replace(" . ", ".") for n, parts in lines.items()}


def sys_fstring(tok: tokenize.TokenInfo) -> bool:
    # Python 3.12 splits f-strings into FSTRING_START/MIDDLE/END tokens: their text is a string too
    return tokenize.tok_name.get(tok.type, "").startswith("FSTRING")


def test_no_eval_pickle_shell_or_dynamic_import_in_the_package() -> None:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            raw = path.read_text(encoding="utf-8").splitlines()
            for n, code in code_lines(path).items():
                for what, pattern in FORBIDDEN.items():
                    if re.search(pattern, code) and (rel, what, raw[n - 1].strip()) not in ALLOWED:
                        found.append(f"{rel}:{n}: {what}: {raw[n - 1].strip()}")
    assert found == [], "\n".join(found)


def test_the_allowed_uses_are_still_there_and_safe() -> None:
    """The allow-list names real lines (so it cannot go stale), and the YAML loader is a safe one."""
    for rel, _, line in ALLOWED:
        assert line in (ROOT / rel).read_text(encoding="utf-8"), (rel, line)
    from extract.rules import _StrictLoader

    assert issubclass(_StrictLoader, yaml.SafeLoader)
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.load("!!python/object/apply:os.system ['true']", Loader=_StrictLoader)


def test_the_forbidden_patterns_are_seen(tmp_path: Path) -> None:
    """The scanner itself: forbidden code is found, the same words in strings and comments are not."""
    sample = (
        'import pickle\nx = eval("1")  # eval( in a comment\n"""exec( in a docstring"""\n'
        'subprocess.run("ls", shell=True)\nos.system("x")\nyaml.load(s)\n'
    )
    path = tmp_path / "sample.py"
    path.write_text(sample, encoding="utf-8")
    code = code_lines(path)
    hits = {what for line in code.values() for what, pattern in FORBIDDEN.items() if re.search(pattern, line)}
    assert hits == {"pickle", "eval", "subprocess", "shell=True", "os.system", "yaml.load"}
    assert "exec" not in hits


# --------------------------------------------------------------------------------------------
# outputs stay under --out


HOSTILE_MEMBERS = [
    "../../escape.txt",
    "a/../../../escape.txt",
    "..\\..\\escape.txt",
    "./../escape.txt",
]


def hostile_archive(archive: Path, absolute: Path) -> None:
    import zipfile

    copy_good(archive / "good")
    text = (CORPUS / "dev" / "dev-funds-audit-2013.txt").read_bytes()
    with zipfile.ZipFile(archive / "evil.zip", "w") as zf:
        for name in [*HOSTILE_MEMBERS, str(absolute)]:
            zf.writestr(name, text)
        zf.writestr("inner/ok.txt", text)
    # names whose stems look like paths or options
    for i, name in enumerate(("...txt", "a\\..\\..\\b.txt", "-rf.txt", "x#1.txt")):
        (archive / name).write_bytes(text + f"\n全年发展会员{i + 1}人。\n".encode())  # each its own bytes


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if not p.is_dir()}


def test_outputs_are_only_created_under_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """extract, export (xlsx), report and export-gold over an archive of hostile names: every file
    they create is under --out, and no member is ever written or followed."""
    archive, out, cwd = tmp_path / "archive", tmp_path / "out", tmp_path / "cwd"
    absolute = Path("/tmp") / f"zongjie-escape-{uuid.uuid4().hex}.txt"
    hostile_archive(archive, absolute)
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    named = [archive, archive / "...txt"]  # a hidden name read because it is named explicitly
    before = files_under(tmp_path)

    result = zongjie_extract(named, out)
    assert result.exit_code == 0, result.output
    runner = CliRunner()
    for argv in (["export", str(out), "--format", "xlsx"], ["report", str(out)], ["export-gold", str(out), "--all"]):
        result = runner.invoke(cli, argv)
        assert result.exit_code == 0, (argv, result.output)

    created = files_under(tmp_path) - before
    assert created and all(out in p.parents for p in created), sorted(p for p in created if out not in p.parents)
    assert not absolute.exists()
    for base in (archive, out, cwd, tmp_path):
        assert not (base / ".." / ".." / "escape.txt").resolve().exists()
        assert not (base / ".." / "escape.txt").resolve().exists()
    assert os.listdir(cwd) == []

    errors = (out / "errors.csv").read_text(encoding="utf-8-sig")
    assert errors.count("unsafe member name refused") == len(HOSTILE_MEMBERS) + 1
    docs = pd.read_parquet(out / "documents.parquet")
    assert f"{archive}/evil.zip!/inner/ok.txt" in set(docs["source_path"])
    # a\..\..\b.txt is one name on Linux (the backslashes are not separators): its id is its stem
    assert {"..", "a\\..\\..\\b", "-rf", "x#1"} <= set(docs["doc_id"])


@pytest.mark.parametrize("doc_id", ["..", "../../x", "/etc/passwd", "a\\..\\b", "#1", "", "x/../../y#3", "\x00"])
def test_page_and_gold_names_never_leave_their_folder(doc_id: str) -> None:
    for name in (page_name(doc_id, "ab" * 32), gold_file_name(doc_id)):
        assert "/" not in name and "\\" not in name and "\x00" not in name
        assert name not in (".", "..")  # no separator: the name stays in its folder
