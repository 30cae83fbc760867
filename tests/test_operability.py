"""Every run leaves a log (`optim.log`); `--debug` / OPTIM_DEBUG shows the traceback of an
error that is not one of optim's own."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers import write_case
from typer.testing import CliRunner

import optim
import optim.models.mining
from optim import cli

runner = CliRunner()
FIXTURE = Path(__file__).parent / "fixtures" / "mining_curtail" / "scenario.toml"


def _kept_logs() -> set[str]:
    folder = Path(os.environ["OPTIM_LOG_DIR"])
    return {p.name for p in folder.glob("*.log")} if folder.is_dir() else set()


def _log_path(output: str) -> Path:
    match = re.search(r"^log: (.+\.log)$", output, re.MULTILINE)
    assert match, output
    return Path(match.group(1))


def test_a_solve_writes_its_log_into_the_results_folder(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    real = optim.solve

    def warning_solve(*args: object, **kwargs: object) -> optim.Result:
        warnings.warn("a library warning during the solve", UserWarning, stacklevel=1)
        return real(*args, **kwargs)

    monkeypatch.setattr(optim, "solve", warning_solve)
    path = write_case(tmp_path / "case")
    out = tmp_path / "out"
    before = _kept_logs()
    result = runner.invoke(cli.app, ["solve", str(path), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out / "summary.json")
    log = (out / "optim.log").read_text()
    assert f"scenario: {path}" in log and f"results folder: {out}" in log
    for phase in ("read", "prepare", "build", "solve", "results", "check", "write"):
        assert re.search(rf"INFO +phase {phase}: \d+\.\d{{3}} s", log), phase
    assert re.search(r"WARNING .*UserWarning: a library warning during the solve", log)
    assert "outcome: status optimal, NPV 520,800 USD (hourly)" in log
    assert log.rstrip().splitlines()[-1].split("INFO")[-1].strip().startswith("exit code 0")
    assert _kept_logs() == before  # moved into the folder, no copy left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case", "out"]


def test_a_failed_solve_keeps_its_log_and_names_it(tmp_path: Path) -> None:
    path = write_case(tmp_path / "case")
    path.write_text(path.read_text().replace("firm_import_mw", "firm_import_mv"))
    result = runner.invoke(cli.app, ["solve", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert not (tmp_path / "out").exists()
    log_file = _log_path(result.output)
    assert log_file.parent == Path(os.environ["OPTIM_LOG_DIR"])
    log = log_file.read_text()
    assert "failed (exit 2): InputError:" in log and "firm_import_mv: unknown key" in log
    assert "Traceback" not in log  # a user's error, not a bug
    assert "exit code 2 after" in log.rstrip().splitlines()[-1]


def test_a_failed_check_logs_exit_5_in_its_results_folder(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    real = optim.models.mining.revenue_usd_per_mwh
    monkeypatch.setattr(optim.models.mining, "revenue_usd_per_mwh",
                        lambda *args: np.asarray(real(*args)) * 1.01)
    out = tmp_path / "out"
    result = runner.invoke(cli.app, ["solve", str(FIXTURE), "--out", str(out)])
    assert result.exit_code == 5, result.output
    log = (out / "optim.log").read_text()
    assert "failed (exit 5): VerificationError: the plan failed the independent check" in log
    assert "phase write:" in log and "exit code 5 after" in log


def _broken_load(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError("boom in a helper")


@pytest.mark.parametrize(("args", "env", "traceback"), [
    ([], {}, False),
    (["--debug"], {}, True),
    ([], {"OPTIM_DEBUG": "1"}, True),
])
def test_debug_shows_the_traceback_of_an_unexpected_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str],
        traceback: bool) -> None:
    monkeypatch.delenv("OPTIM_DEBUG", raising=False)
    monkeypatch.setattr(optim, "load_scenario", _broken_load)
    path = write_case(tmp_path / "case")
    result = runner.invoke(cli.app, [*args, "solve", str(path), "--out", str(tmp_path / "o")],
                           env=env)
    assert result.exit_code == 1
    assert "error (exit 1): RuntimeError: boom in a helper" in result.output
    assert ("Traceback (most recent call last)" in result.output) is traceback
    assert ("run with --debug or OPTIM_DEBUG=1" in result.output) is not traceback
    assert "in _broken_load" in _log_path(result.output).read_text()  # always in the log
