"""Futures (MODEL.md §9): bad input is named (exit 2, nothing written), and properties
that hold at every optimum of the two-stage program.

Base case: site a, Jan-Mar 2027, price 40, firm import 10 MW, no fleet, up to 10 MW of
S20 in 1 MW blocks (delivery 1 month); hashprices only from the futures file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import solve_bad_input
from hypothesis import given, settings
from hypothesis import strategies as st

from optim.engine import solve
from optim.futures import cvar

SCENARIO = """
[scenario]
name = "fut"
start = "2027-01"
months = {months}
mip_gap = 0
resolution = "{resolution}"

[data]
prices = "prices.parquet"
{data}

[futures]
file = "futures.parquet"
{futures}

[[asic]]
name = "S20"
efficiency_j_per_th = 20.0
price_usd_per_th = 20.0
life_months = 50
delivery_months = 1

[[site]]
name = "a"
node = "N1"
firm_import_mw = 10.0
mining_infra_mw = 10.0
max_new_asic_mw = 10.0
existing_fleet = [{{ asic = "S20", mw = 2.0 }}]
"""


def dates(months: int) -> pd.DatetimeIndex:
    return pd.date_range("2027-01-01", pd.Timestamp("2027-01-01") + pd.DateOffset(months=months),
                         freq="D", inclusive="left")


def write(folder: Path, paths: dict[str, np.ndarray], futures: str = "commit_months = 1",
          months: int = 3, resolution: str = "hourly", data: str = "",
          price: float | np.ndarray = 40.0) -> Path:
    """Scenario, prices and the futures file (one hashprice path per future)."""
    folder.mkdir(parents=True, exist_ok=True)
    ts = pd.date_range("2027-01-01", periods=len(dates(months)) * 24, freq="h", tz="UTC")
    pd.DataFrame({"timestamp": ts, "node": "N1", "price_usd_per_mwh":
                  np.broadcast_to(price, len(ts)).astype(float)}).to_parquet(
        folder / "prices.parquet", index=False)
    d = dates(months)
    pd.concat([pd.DataFrame({"future": name, "date": d.date, "hashprice_usd_per_ph_day": path})
               for name, path in paths.items()]).to_parquet(folder / "futures.parquet",
                                                           index=False)
    path = folder / "scenario.toml"
    path.write_text(SCENARIO.format(months=months, resolution=resolution, data=data,
                                    futures=futures))
    return path


def monthly_path(values: list[float], months: int = 3) -> np.ndarray:
    d = dates(months)
    return np.array(values, float)[d.month - 1]


BASE = {"bull": monthly_path([48, 96, 96]), "bear": monthly_path([48, 12, 30])}


# ----------------------------------------------------------------------------- bad input

def test_missing_and_duplicated_dates_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    frame = pd.read_parquet(tmp_path / "futures.parquet")
    frame = pd.concat([frame.drop(index=[3]), frame.iloc[[10]]])
    frame.to_parquet(tmp_path / "futures.parquet", index=False)
    text = solve_bad_input(path, tmp_path)
    assert "futures.parquet" in text
    assert "future 'bull', hashprice_usd_per_ph_day: 1 missing: 2027-01-04" in text
    assert "future 'bull', hashprice_usd_per_ph_day: 1 duplicated: 2027-01-11" in text


def test_nan_and_non_positive_values_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    frame = pd.read_parquet(tmp_path / "futures.parquet")
    frame.loc[frame.index[5], "hashprice_usd_per_ph_day"] = np.nan
    frame.loc[frame.index[-1], "hashprice_usd_per_ph_day"] = 0.0
    frame.to_parquet(tmp_path / "futures.parquet", index=False)
    text = solve_bad_input(path, tmp_path)
    assert "future 'bull', hashprice_usd_per_ph_day: 1 NaN or infinite values at: 2027-01-06" \
        in text
    assert "future 'bear': hashprice_usd_per_ph_day must be > 0; not at: 2027-03-31" in text


@pytest.mark.parametrize(("futures", "named"), [
    ("commit_months = 1\nprobability = { bull = 0.5 }", "no probability for bear"),
    ("commit_months = 1\nprobability = { bull = 0.5, bear = 0.4 }", "adds up to 0.9, not 1"),
    ("commit_months = 1\nprobability = { bull = 1.0, bear = 0.0, calm = 0.0 }",
     "calm not in the file"),
    ("commit_months = 1\nprobability = { bull = 1.2, bear = -0.2 }", "must be > 0 for bear"),
    ("commit_months = 4", "futures.commit_months: must be at most the horizon's 3 months"),
    ("commit_months = 0", "futures.commit_months"),
    ("commit_months = 1\nrisk_weight = 1.5", "futures.risk_weight"),
    ("commit_months = 1\nrisk_alpha = 1.0", "futures.risk_alpha"),
    ("commit_months = 1\nrisk_alpha = 0.0", "futures.risk_alpha"),
])
def test_bad_futures_tables_are_named(tmp_path: Path, futures: str, named: str) -> None:
    assert named in solve_bad_input(write(tmp_path, BASE, futures), tmp_path)


def test_a_hashprice_comes_from_somewhere(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    frame = pd.read_parquet(tmp_path / "futures.parquet").rename(
        columns={"hashprice_usd_per_ph_day": "hashprice"})
    frame.to_parquet(tmp_path / "futures.parquet", index=False)
    text = solve_bad_input(path, tmp_path)
    assert "no series column: give hashprice_usd_per_ph_day" in text


# ----------------------------------------------------------------------------- properties

def test_cvar_is_the_mean_of_the_worst_tail() -> None:
    npv, p = np.array([10.0, -5.0, 3.0, 0.0]), np.array([0.1, 0.05, 0.6, 0.25])
    assert cvar(npv, p, 0.9) == pytest.approx((0.05 * -5.0 + 0.05 * 0.0) / 0.1)
    assert cvar(npv, p, 0.5) == pytest.approx((0.05 * -5 + 0.25 * 0 + 0.2 * 3) / 0.5)


def test_one_future_is_the_deterministic_run(tmp_path: Path) -> None:
    path = write(tmp_path / "f", {"only": BASE["bull"]}, resolution="blocks:3")
    d = dates(3)
    pd.DataFrame({"date": d.date, "hashprice_usd_per_ph_day": BASE["bull"]}).to_parquet(
        tmp_path / "f" / "hashprice.parquet", index=False)
    deterministic = path.read_text().replace('[futures]\nfile = "futures.parquet"\n'
                                             'commit_months = 1\n', "")
    deterministic = deterministic.replace('[data]\nprices = "prices.parquet"\n',
                                          '[data]\nprices = "prices.parquet"\n'
                                          'hashprice = "hashprice.parquet"\n')
    (tmp_path / "f" / "det.toml").write_text(deterministic)
    a, b = solve(path), solve(tmp_path / "f" / "det.toml")
    assert a.npv_usd == pytest.approx(b.npv_usd, rel=1e-9)
    assert a.summary["npv_hourly_usd"] == pytest.approx(b.summary["npv_hourly_usd"], rel=1e-9)
    assert a.summary["cvar_npv_usd"] == pytest.approx(b.npv_usd, rel=1e-9)


@st.composite
def cases(draw: st.DrawFn) -> dict:
    """Three futures of random monthly hashprices, a commitment month and a risk measure."""
    return {"seed": draw(st.integers(0, 2**16)), "commit": draw(st.sampled_from([1, 2, 3])),
            "alpha": draw(st.sampled_from([0.5, 0.9])),
            "weight": draw(st.sampled_from([0.0, 0.3, 1.0]))}


def _paths(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"f{i}": monthly_path(rng.choice([12.0, 30.0, 48.0, 96.0], size=3).tolist())
            for i in range(3)}


def _futures(params: dict, weight: float | None = None) -> str:
    w = params["weight"] if weight is None else weight
    return (f"commit_months = {params['commit']}\nrisk_alpha = {params['alpha']}\n"
            f"risk_weight = {w}\nprobability = {{ f0 = 0.5, f1 = 0.3, f2 = 0.2 }}")


@settings(max_examples=8)
@given(cases())
def test_value_of_information_and_risk(tmp_path_factory: pytest.TempPathFactory,
                                       params: dict) -> None:
    """VSS >= -gap, EVPI >= -gap, CVaR <= E[NPV], every future checked independently."""
    path = write(tmp_path_factory.mktemp("v"), _paths(params["seed"]), _futures(params))
    s = solve(path, value=True).summary
    assert s["verified"]
    gap = 1e-6 * max(1.0, abs(s["npv_usd"]))
    assert s["vss_usd"] >= -gap and s["evpi_usd"] >= -gap
    assert s["cvar_npv_usd"] <= s["expected_npv_usd"] + gap


@settings(max_examples=6)
@given(cases())
def test_the_objective_never_rises_with_the_risk_weight(
        tmp_path_factory: pytest.TempPathFactory, params: dict) -> None:
    folder = tmp_path_factory.mktemp("w")
    values = [solve(write(folder / str(w), _paths(params["seed"]),
                          _futures(params, w))).npv_usd for w in (0.0, 0.5, 1.0)]
    assert values[0] >= values[1] - 1e-6 * abs(values[1]) - 1e-6
    assert values[1] >= values[2] - 1e-6 * abs(values[2]) - 1e-6


@settings(max_examples=6)
@given(st.integers(0, 2**16), st.sampled_from([2, 3]), st.sampled_from(["hourly", "blocks:2"]))
def test_identical_futures_are_the_deterministic_run(
        tmp_path_factory: pytest.TempPathFactory, seed: int, n: int, resolution: str) -> None:
    path = _paths(seed)["f0"]
    one = solve(write(tmp_path_factory.mktemp("one"), {"x": path}, resolution=resolution))
    many = solve(write(tmp_path_factory.mktemp("many"), {f"x{i}": path for i in range(n)},
                       "commit_months = 1\nrisk_weight = 0.5", resolution=resolution))
    assert many.npv_usd == pytest.approx(one.npv_usd, rel=1e-9, abs=1e-6)


def test_a_future_reoptimised_keeps_its_horizon_caps(tmp_path: Path) -> None:
    """λ = 1 re-optimises each future with only its shared decisions fixed: the caps over
    the horizon (max_new_asic_mw) still bind the decisions left free. Here 10 MW are fixed
    in January and a February purchase would pay (hashprice 96 from February, room for
    30 MW), so without the cap row the future would buy 10 MW more."""
    from optim.core import DecisionKey
    from optim.engine import _quantities, _solve, build_model
    from optim.futures import read_futures, series_of
    from optim.problem import build_problem
    from optim.scenario import load_scenario
    from optim.series import read_series

    path = write(tmp_path, {"bull": BASE["bull"]})
    path.write_text(path.read_text().replace("firm_import_mw = 10.0", "firm_import_mw = 30.0")
                    .replace("mining_infra_mw = 10.0", "mining_infra_mw = 30.0"))
    sc = load_scenario(path)
    series = read_series(sc)
    problem = build_problem(sc, series_of(series, read_futures(sc, series.horizon), 0))
    fixed = {DecisionKey("asic", "S20", "a", 0, ""): 10.0}
    core = build_model(problem, fixed=fixed, free_unfixed=True)
    assert _solve(core, 0.0, None, {}).status == "optimal"
    bought = _quantities(core)
    assert sum(bought.values()) == pytest.approx(10.0)
