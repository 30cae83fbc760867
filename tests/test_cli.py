"""`optim` end to end in a subprocess: the sample portfolio on real data, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from optim import paths

REPO = Path(__file__).resolve().parents[1]
RAW = paths.default_raw_dir()
needs_raw = pytest.mark.skipif(not (RAW / "ercot_rt_lmp_hubs_hourly_2020_2024.parquet").is_file(),
                               reason=f"public raw data not found in {RAW} (set OPTIM_RAW_DIR)")


def optim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "cli.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    shutil.copy(REPO / "data" / "sample" / "scenario.toml", folder / "scenario.toml")
    run = optim("sample", "--raw", str(RAW), "--out", str(folder / "generated"), cwd=folder)
    assert run.returncode == 0, run.stderr
    return folder


@needs_raw
def test_solve_sample_end_to_end(sample_dir: Path) -> None:
    run = optim("solve", "scenario.toml", "--write-hourly", cwd=sample_dir)
    assert run.returncode == 0, run.stderr
    out = sample_dir / "results" / "sample"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "optimal"
    assert summary["mip_gap"] <= 0.005 + 1e-12
    assert summary["npv_hourly_usd"] >= summary["npv_usd"] - 1e-6 * abs(summary["npv_usd"])
    assert abs(sum(summary["npv_lines_usd"].values()) - summary["npv_usd"]) <= \
        1e-6 * abs(summary["npv_usd"])
    for key in ("read_s", "build_s", "solve_s", "total_s", "variables", "integers",
                "constraints", "bound_usd", "resolution"):
        assert key in summary
    for line in ("NPV, blocks:12 solve (USD)", "NPV, hourly re-solve (USD)",
                 "Self-mining revenue", "Average MW by use", "Investments"):
        assert line in run.stdout
    for phase in ("read", "prepare", "build", "solve", "re-solve", "write"):
        assert f"✓ {phase}" in run.stderr
    investments = pd.read_parquet(out / "investments.parquet")
    assert list(investments.columns) == ["site", "month", "kind", "name", "quantity", "mw",
                                         "capex_usd"]
    assert {"asic", "hosting", "ai_hall"} <= set(investments["kind"])
    monthly = pd.read_parquet(out / "monthly.parquet")
    assert len(monthly) == 6 * 36
    flows = pd.read_parquet(out / "cashflow.parquet")
    plan = flows[flows["case"] == "plan"]
    discounted = (plan["discount_factor"] * plan["free_cash_flow_usd"]).sum() + \
        (plan["terminal_discount_factor"] * plan["terminal_value_usd"]).sum()
    assert discounted == pytest.approx(summary["npv_hourly_usd"], rel=1e-6)
    assert plan["capex_usd"].sum() == pytest.approx(investments["capex_usd"].sum(), rel=1e-9)
    cash = summary["cash_flow"]
    assert cash["incremental_npv_usd"] == pytest.approx(
        summary["npv_hourly_usd"] - cash["baseline_npv_usd"], rel=1e-9)
    assert (flows.loc[flows["case"] == "baseline", "capex_usd"] == 0).all()
    for line in ("vs no new investment (USD)", "incremental IRR / payback"):
        assert line in run.stdout
    hourly = pd.read_parquet(out / "hourly.parquet")
    assert len(hourly) == 6 * 26_304
    assert str(hourly["timestamp"].dtype) == "datetime64[us, UTC]"


@needs_raw
def test_quiet_prints_only_the_summary_path(sample_dir: Path, tmp_path: Path) -> None:
    run = optim("solve", "scenario.toml", "--quiet", "--resolution", "blocks:4",
                "--out", str(tmp_path / "q"), cwd=sample_dir)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(tmp_path / "q" / "summary.json")
    assert run.stderr == ""


def test_infeasible_scenario_exits_3_naming_the_site(tmp_path: Path) -> None:
    fixture = REPO / "tests" / "fixtures" / "infeasible_stress"
    run = optim("solve", str(fixture / "scenario.toml"), "--out", str(tmp_path / "out"),
                cwd=tmp_path)
    assert run.returncode == 3
    assert "power balance" in run.stderr and "stress hours" in run.stderr
    assert not (tmp_path / "out").exists()


def test_validate_does_not_solve(tmp_path: Path) -> None:
    fixture = REPO / "tests" / "fixtures" / "mining_curtail"
    run = optim("validate", str(fixture / "scenario.toml"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "valid" in run.stdout
    assert not (tmp_path / "results").exists()


def test_help_works_from_any_directory(tmp_path: Path) -> None:
    run = optim("--help", cwd=tmp_path)
    assert run.returncode == 0
    for command in ("solve", "validate", "sample", "regress", "headroom"):
        assert command in run.stdout


@needs_raw
def test_time_limits(sample_dir: Path, tmp_path: Path) -> None:
    """No plan by the limit: exit 4, nothing written. A plan by the limit: written, marked."""
    none = optim("solve", "scenario.toml", "--time-limit", "0.000001", "--out",
                 str(tmp_path / "none"), cwd=sample_dir)
    assert none.returncode == 4
    assert "no feasible plan found within the time limit" in none.stderr
    assert not (tmp_path / "none").exists()
    # the limit is wall clock from the compile on (warm start included): 5 s hold a plan
    some = optim("solve", "scenario.toml", "--time-limit", "5", "--mip-gap", "0", "--out",
                 str(tmp_path / "some"), "-q", cwd=sample_dir)
    assert some.returncode == 0, some.stderr
    summary = json.loads((tmp_path / "some" / "summary.json").read_text())
    assert summary["status"] in ("time_limit_feasible", "optimal")
    assert summary["bound_usd"] >= summary["npv_usd"] - 1e-6 * abs(summary["npv_usd"])
    if summary["status"] == "time_limit_feasible":
        assert "stopped at the time limit" in some.stderr
