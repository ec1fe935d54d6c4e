"""A non-editable install works: the wheel carries the rules and finds them through importlib.resources."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

CHECK = """
import json, extract.resources as r
from extract.rules import load_rules
from extract.pipeline import extract_text
print(json.dumps({"root": str(r.rules_root()), "rules": len(load_rules().metric_rules),
                  "figures": [[f.surface, f.metric] for f in extract_text("新建工会12家。")]}))
"""


def test_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(ROOT)], check=True, capture_output=True)
    (wheel,) = wheels.glob("zongjie-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True, capture_output=True)
    # Run from elsewhere, with only the installed copy importable (dependencies from this venv).
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", CHECK], cwd=tmp_path, env=env, check=True, capture_output=True,
                         text=True)
    result = json.loads(out.stdout)
    assert Path(result["root"]).is_relative_to(target), result["root"]
    assert result["rules"] > 50 and result["figures"] == [["12家", "org.unions_new"]]
