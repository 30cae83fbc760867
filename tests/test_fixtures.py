"""The known-optimal fixtures under tests/fixtures, run through the same harness as
`optim regress` (each expected.json carries the derivation of its optimum)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from optim import cli
from optim.regress import find_fixtures, run_fixture

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("folder", find_fixtures(FIXTURES), ids=lambda p: p.name)
def test_fixture(folder: Path) -> None:
    outcome = run_fixture(folder)
    assert outcome.passed, "\n".join(outcome.differences)


def test_regress_command_reports_failures_and_updates_with_a_reason(tmp_path: Path) -> None:
    import json
    import shutil

    target = tmp_path / "mining_curtail"
    shutil.copytree(FIXTURES / "mining_curtail", target)
    expected = json.loads((target / "expected.json").read_text())
    true_npv = expected["npv_usd"]
    expected["npv_usd"] = true_npv + 1000.0
    (target / "expected.json").write_text(json.dumps(expected))
    runner = CliRunner()
    failed = runner.invoke(cli.app, ["regress", str(tmp_path)])
    assert failed.exit_code == 1
    assert "0 passed, 1 failed" in failed.output
    updated = runner.invoke(cli.app, ["regress", str(tmp_path), "--update"],
                            input="prices re-based\n")
    assert updated.exit_code == 0, updated.output
    rewritten = json.loads((target / "expected.json").read_text())
    assert rewritten["npv_usd"] == pytest.approx(true_npv, rel=1e-9)
    assert rewritten["derivation"] == expected["derivation"]
    assert rewritten["history"][-1]["reason"] == "prices re-based"
    assert rewritten["history"][-1]["previous"]["npv_usd"] == true_npv + 1000.0
    assert runner.invoke(cli.app, ["regress", str(tmp_path)]).exit_code == 0


def test_regress_on_an_empty_folder_is_bad_input(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.app, ["regress", str(tmp_path)])
    assert result.exit_code == 2
