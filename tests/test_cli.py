"""The command line: explain, eval, check-rules, and help on every command."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from extract.cli import cli
from tests.conftest import ROOT, SEED, SEED_GOLD


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def test_explain_shows_rules_and_rejections(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["explain", "2014年签订工资专项集体合同31份，表彰了“两个普遍”先进单位。"])
    assert result.exit_code == 0, result.output
    assert "KEEP '31份'" in result.output and "rule cb-wage-contracts" in result.output
    assert "SKIP '2014年'" in result.output and "date or period" in result.output


def test_eval_prints_the_reference_scorer_lines(runner: CliRunner, tmp_path) -> None:
    if not SEED.exists():
        pytest.skip("../shared is absent")
    out = tmp_path / "o"
    result = runner.invoke(cli, ["extract", str(SEED), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["eval", str(SEED_GOLD), str(out)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines[:6]] == [
        "figures",
        "metrics",
        "full",
        "figures_by_file",
        "metrics_by_file",
        "full_by_file",
    ]
    assert "205 gold" in lines[0]


def test_check_rules_ok_and_broken(runner: CliRunner, tmp_path) -> None:
    result = runner.invoke(cli, ["check-rules"])
    assert result.exit_code == 0 and "rules OK" in result.output
    broken = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", broken)
    path = broken / "patterns" / "funds.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("metric: funds.dues", "metric: funds.due"), encoding="utf-8"
    )
    result = runner.invoke(cli, ["check-rules", "--rules", str(broken)])
    assert result.exit_code == 1 and "funds-dues" in result.output and "funds.due" in result.output


def test_every_command_has_help(runner: CliRunner) -> None:
    for name in cli.commands:
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Example:" in result.output, f"{name} --help has no Example: block"
