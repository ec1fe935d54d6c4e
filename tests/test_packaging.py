"""A non-editable install works: the wheel carries the rules (found through importlib.resources), the
trained model and the compiled modules."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT

CHECK = """
import json, extract.resources as r
from extract.rules import load_rules
from extract.pipeline import extract_text
from extract.model.predict import FigureModel
import extract.figures.metric as metric
model = FigureModel.load()
print(json.dumps({"metric": metric.__file__, "root": str(r.rules_root()), "rules": len(load_rules().metric_rules),
                  "figures": [[f.surface, f.metric] for f in extract_text("新建工会12家。")],
                  "model": str(model.path), "labels": len(model.labels("metric"))}))
"""


def test_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    wheels, target, src = tmp_path / "wheels", tmp_path / "site", tmp_path / "src"
    # built from a copy: the mypyc hook compiles in place, and moves pyproject.toml aside meanwhile
    for name in ("extract", "schemas", "rules"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(src)], check=True, capture_output=True)
    (wheel,) = wheels.glob("zongjie-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    assert "extract/model/trained/config.cfg" in names, "the trained model is not in the wheel"
    assert "extract/model/trained/metric/model" in names and "extract/model/trained/zongjie.json" in names
    # the mypyc build hook compiled the hot modules (HATCH_BUILD_NO_HOOKS=true builds a pure wheel)
    pure = os.environ.get("HATCH_BUILD_NO_HOOKS") in ("1", "true")
    assert pure != any(n.startswith("extract/figures/metric.") and n.endswith((".so", ".pyd")) for n in names)
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True, capture_output=True)
    # Run from elsewhere, with only the installed copy importable (dependencies from this venv).
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", CHECK], cwd=tmp_path, env=env, check=True, capture_output=True,
                         text=True)
    result = json.loads(out.stdout)
    assert Path(result["root"]).is_relative_to(target), result["root"]
    assert Path(result["metric"]).is_relative_to(target) and pure == result["metric"].endswith(".py")
    assert result["rules"] > 50 and result["figures"] == [["12家", "org.unions_new"]]
    # the packaged model loads from the installed copy
    assert Path(result["model"]).is_relative_to(target) and result["labels"] > 10
