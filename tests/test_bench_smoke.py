"""Smoke test of bench/: a 2-site x 3-month portfolio is generated and measured once.

No timing assertions: only that the generator exercises every option and that the
measurement reads the fields of summary.json.
"""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH = REPO_ROOT / "bench"
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def _load(name: str):  # noqa: ANN202
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate_mod = _load("generate")
run_mod = _load("run")
RAW_DIR = generate_mod.sample.default_raw_dir()
RAW_PRESENT = all((RAW_DIR / name).is_file() for name in generate_mod.RAW_FILES)


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not RAW_PRESENT:
        pytest.skip(f"raw data not found in {RAW_DIR} (set OPTIM_RAW_DIR to the raw-data folder)")
    out = tmp_path_factory.mktemp("bench") / "input"
    return generate_mod.generate(2, 3, out, RAW_DIR, seed=0)


def test_generated_scenario_exercises_every_option(portfolio: Path) -> None:
    raw = tomllib.loads(portfolio.read_text())
    sc, sites = raw["scenario"], raw["site"]
    assert (sc["start"], sc["months"], sc["mip_gap"]) == ("2027-01", 3, 0.005)
    assert sc["resolution"] == "blocks:12" and sc["invest_every_months"] == 3
    assert len(sites) == 2 and len(raw["asic"]) == 2 and len(raw["generator"]) == 1
    assert len(sc["capex_budget_usd"]) == 1 and sc["capex_budget_usd"][0] > 0
    assert all(s["max_new_asic_mw"] >= sc["block_mw"] for s in sites)  # purchases possible
    assert any(s.get("existing_fleet") for s in sites)
    assert any("hosting" in s for s in sites)
    assert any("ai" in s for s in sites)
    assert any(s.get("generation") for s in sites)
    assert any("fixed_price_usd_per_mwh" in s for s in sites)
    assert any(s.get("cp_charge_usd_per_mw_year", 0) > 0 for s in sites)
    assert any(s.get("ppa_mw", 0) > 0 for s in sites)
    assert any(s.get("export_mw", 0) > 0 for s in sites)

    folder = portfolio.parent
    events = pd.read_parquet(folder / "events.parquet")
    nodes = {s["node"] for s in sites if "node" in s}
    assert set(events["node"]) == nodes and events["stress"].any()
    assert {"stress", "peak"} <= set(events.columns)
    prices = pd.read_parquet(folder / "prices.parquet")
    assert len(prices) == len(nodes) * (31 + 28 + 31) * 24
    assert not prices["price_usd_per_mwh"].isna().any()


def test_generate_is_byte_reproducible(portfolio: Path, tmp_path: Path) -> None:
    again = generate_mod.generate(2, 3, tmp_path, RAW_DIR, seed=0)
    for name in ("scenario.toml", "prices.parquet", "hashprice.parquet", "fuel.parquet",
                 "events.parquet"):
        assert (again.parent / name).read_bytes() == (portfolio.parent / name).read_bytes()


def test_measure_reads_the_summary(portfolio: Path, tmp_path: Path) -> None:
    row = run_mod.measure(portfolio, tmp_path / "run0", timeout_s=120)
    assert row["status"] == "ok", row["stderr"]
    assert row["exit_code"] == 0 and row["solve_status"] in ("optimal", "time_limit_feasible")
    for key in (*run_mod.PHASES, *run_mod.SIZE_FIELDS, "mip_gap", "npv_usd", "npv_hourly_usd"):
        assert row[key] is not None, key
    assert row["variables"] > 0 and row["integers"] > 0 and row["constraints"] > 0
    assert row["wall_s"] > 0 and row["peak_rss_mb"] > 0
    assert row["total_s"] >= row["solve_s"] >= 0
    assert run_mod.pyomo_share(row) is not None
    assert set(run_mod.RESOLVE_WORK) <= set(row) and 0 < run_mod.pyomo_share_all(row) < 1


def test_levers_run_the_variants_and_compare_answers(portfolio: Path, tmp_path: Path) -> None:
    levers = run_mod._load_bench_module("levers")
    lever = levers.BLOCKS_LEVERS[1]  # no merge: the investment MIP is untouched
    path = levers.variant(portfolio, levers.HOURLY_LEVERS[-1], 2)
    assert path.name == "scenario.lever.no_budget_by_site.2.toml"
    text = path.read_text()
    path.unlink()
    assert "capex_budget_usd" not in text and text.rstrip().endswith("[solver]\nrandom_seed = 2")
    rows = levers.run_levers(run_mod.measure, portfolio, (levers.BLOCKS_LEVERS[0], lever), 1,
                             tmp_path, 120)
    assert [r["lever"] for r in rows] == ["baseline", "no merge"]
    assert rows[0]["same_answer"] is None and rows[1]["same_answer"] is True
    assert not list(portfolio.parent.glob("scenario.lever.*"))
    base = {"npv_usd": 100.0, "npv_hourly_usd": 110.0, "mip_gap": 0.01}
    assert levers.within({**base, "npv_usd": 100.5}, base, exact=False)[0]
    assert not levers.within({**base, "npv_usd": 102.0}, base, exact=False)[0]
    assert not levers.within({**base, "npv_hourly_usd": 110.01}, base, exact=True)[0]
    assert not levers.within({**base, "solve_status": "time_limit_feasible"}, base, False)[0]
    lines = levers.render([], rows, {"error": "not measured"},
                          {"seeds": 1, "hourly": "2 x 3", "blocks": "2 x 3"})
    assert any(line.startswith("| no merge |") and "yes (baseline)" in line for line in lines)


def test_futures_bench_solves_a_portfolio_under_futures(portfolio: Path, tmp_path: Path) -> None:
    """bench/futures.py's steps on the 2 x 3 portfolio with 2 generated futures."""
    futures_mod = _load("futures")
    file = futures_mod.futures_file(tmp_path / "f.parquet", 2, "2027-01", 3)
    path = futures_mod.with_futures(portfolio, tmp_path / "s.toml", file, 2)
    row = run_mod.measure(path, tmp_path / "run", timeout_s=300)
    assert row["status"] == "ok", row["stderr"]
    assert row["solve_status"] in ("optimal", "time_limit_feasible")
    assert row["npv_hourly_usd"] is not None
