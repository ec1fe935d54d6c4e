"""The modules mypyc compiles at install: none runs stale code, and their doctests run on the
compiled copy (pytest's doctest collection skips compiled functions: they are not Python functions)."""

from __future__ import annotations

import ast
import doctest
import importlib
import importlib.machinery
import os
from pathlib import Path

import pytest

from extract.compiled import PACKAGE, compiled_modules, stale_modules

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def test_no_compiled_module_is_older_than_its_source() -> None:
    assert stale_modules() == [], "edited after the install compiled them: run `make test` (it reinstalls)"


def test_an_edit_after_compiling_is_found(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("")
    source, built = package / "sub" / "m.py", package / "sub" / f"m{SUFFIX}"
    source.write_text("x = 1\n")
    built.write_bytes(b"")
    (package / "plain.py").write_text("")  # not compiled: never stale
    os.utime(source, (1_000, 1_000))
    os.utime(built, (2_000, 2_000))
    assert compiled_modules(package) == {source: built} and stale_modules(package) == []
    os.utime(source, (3_000, 3_000))
    assert stale_modules(package) == [source]
    (tmp_path / "pyproject.toml").unlink()  # an installed copy: its files' times say nothing
    assert stale_modules(package) == []


def _doctests(source: Path) -> list[doctest.DocTest]:
    """The doctests in ``source``'s docstrings, run in the module as imported (compiled)."""
    name = ".".join(source.relative_to(PACKAGE.parent).with_suffix("").parts)
    compiled = importlib.import_module(name)
    parser, tests = doctest.DocTestParser(), []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node)
            if doc and ">>>" in doc:
                where = f"{name}.{getattr(node, 'name', '')}"
                tests.append(parser.get_doctest(doc, dict(vars(compiled)), where, str(source), 0))
    return tests


COMPILED = sorted(s for s in compiled_modules() if ">>>" in s.read_text(encoding="utf-8"))


@pytest.mark.skipif(not COMPILED, reason="a pure-Python install: pytest's doctest collection runs them")
@pytest.mark.parametrize("source", COMPILED, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_doctests_of_a_compiled_module_pass_on_the_compiled_code(source: Path) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in _doctests(source):
        runner.run(test)
    assert runner.tries > 0
    assert runner.failures == 0, f"{runner.failures} of {runner.tries} examples failed (output above)"
