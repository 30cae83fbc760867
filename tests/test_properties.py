"""Properties that hold for every exact optimum, on small random scenarios (hypothesis).

All solves here use mip_gap = 0, so the comparisons are exact up to 1e-6 relative.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from optim.engine import solve
from optim.problem import merge_identical_hours
from optim.scenario import parse_scenario
from optim.series import Horizon, Series
from optim.tuning import Tuning

TOL = 1e-6


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict, dict]:
    """A 1-2 site, 1-2 month scenario (as a dict) and the parameters of its series."""
    months = draw(st.integers(1, 2))
    n_sites = draw(st.integers(1, 2))
    sites = []
    for i in range(n_sites):
        site = {
            "name": f"s{i}", "node": f"N{i}",
            "firm_import_mw": draw(st.sampled_from([2.0, 5.0, 10.0])),
            "flex_import_mw": draw(st.sampled_from([0.0, 5.0])),
            "export_mw": draw(st.sampled_from([0.0, 3.0])),
            "energy_adder_usd_per_mwh": draw(st.sampled_from([0.0, 4.0])),
            "mining_infra_mw": draw(st.sampled_from([5.0, 12.0])),
            "max_new_asic_mw": draw(st.sampled_from([0.0, 3.0, 6.0])),
            "existing_fleet": [{"asic": "old", "mw": draw(st.sampled_from([0.0, 4.0]))}],
            "cp_charge_usd_per_mw_year": draw(st.sampled_from([0.0, 20_000.0])),
        }
        if draw(st.booleans()):
            site["hosting"] = {"max_mw": 3.0, "rate_usd_per_mwh": draw(st.sampled_from([45.0,
                                                                                       70.0])),
                               "max_curtail_share": draw(st.sampled_from([0.0, 0.1]))}
        if draw(st.booleans()):
            site["ai"] = {"hall_it_mw": 2.0, "max_halls": 2, "capex_usd_per_mw_it": 1e6,
                          "lease_usd_per_kw_month": draw(st.sampled_from([60.0, 150.0])),
                          "life_months": 120, "lead_time_months": draw(st.integers(0, 1)),
                          "pue": 1.2, "displaces_mining_mw_per_hall": 2.0}
        if draw(st.booleans()):
            site["generation"] = [{"technology": "gas", "max_units": 2}]
        sites.append(site)
    raw = {
        "scenario": {"name": "prop", "start": "2027-01", "months": months, "mip_gap": 0.0,
                     "discount_rate": draw(st.sampled_from([0.0, 0.08])),
                     "stress_hours_per_year": draw(st.sampled_from([0, 20])),
                     "capex_budget_usd": draw(st.sampled_from([[], [3e6]]))},
        "data": {"prices": "unused", "hashprice": "unused", "events": "unused"},
        "asic": [{"name": "old", "efficiency_j_per_th": 25.0, "price_usd_per_th": 5.0,
                  "life_months": 24},
                 {"name": "new", "efficiency_j_per_th": 15.0, "price_usd_per_th": 12.0,
                  "life_months": 36, "delivery_months": draw(st.integers(0, 1))}],
        "generator": [{"name": "gas", "unit_mw": 2.0, "capex_usd_per_mw": 800_000.0,
                       "heat_rate_mmbtu_per_mwh": 9.0, "vom_usd_per_mwh": 5.0,
                       "fom_usd_per_mw_month": 1000.0, "life_months": 240,
                       "fuel_usd_per_mmbtu": 3.0}],
        "site": sites,
    }
    params = {"seed": draw(st.integers(0, 2**16)), "hashprice": draw(st.sampled_from([30.0,
                                                                                        50.0]))}
    return raw, params


def build(raw: dict, params: dict, hashprice_scale: float = 1.0,
          dollar_scale: float = 1.0, price_step: float = 0.01) -> tuple:
    sc = parse_scenario(raw, Path("."), "property case")
    horizon = Horizon.of(sc.scenario.start, sc.scenario.months)
    rng = np.random.default_rng(params["seed"])
    prices, stress, peak = {}, {}, {}
    for site in sc.site:
        daily = rng.choice([-10.0, 25.0, 40.0, 60.0, 180.0], size=24, p=[.1, .3, .3, .2, .1])
        price = np.tile(daily, horizon.n_hours // 24) + rng.normal(0, 3, horizon.n_hours)
        prices[site.node] = np.round(price / price_step) * price_step * dollar_scale
        stress[site.node] = rng.random(horizon.n_hours) < 0.01
        peak[site.node] = rng.random(horizon.n_hours) < 0.005
    hashprice = np.full(len(horizon.dates), params["hashprice"]) * hashprice_scale * dollar_scale
    series = Series(horizon, prices, hashprice, {}, stress, peak, {})
    return sc, series


DOLLAR_KEYS = ("price_usd_per_th", "capex_usd_per_mw", "vom_usd_per_mwh",
               "fom_usd_per_mw_month", "fuel_usd_per_mmbtu", "energy_adder_usd_per_mwh",
               "cp_charge_usd_per_mw_year", "rate_usd_per_mwh", "capex_usd_per_mw_it",
               "lease_usd_per_kw_month", "capex_budget_usd")


def scale_dollars(raw: object, c: float) -> object:
    if isinstance(raw, dict):
        return {k: (_scaled(v, c) if k in DOLLAR_KEYS else scale_dollars(v, c))
                for k, v in raw.items()}
    if isinstance(raw, list):
        return [scale_dollars(v, c) for v in raw]
    return raw


def _scaled(value: object, c: float) -> object:
    return [v * c for v in value] if isinstance(value, list) else value * c


def npv(raw: dict, params: dict, **kw: object) -> dict:
    resolution = kw.pop("resolution", None)
    sc, series = build(raw, params, **kw)
    result = solve(sc, series=series, resolution=resolution)
    assert result.status == "optimal"
    assert result.summary["verified"]
    return result.summary


def close_or_above(a: float, b: float) -> bool:
    """a >= b up to the tolerance."""
    return a >= b - TOL * max(1.0, abs(a), abs(b))


@given(cases())
def test_blocks_below_hourly_resolve_below_hourly_optimum(case: tuple[dict, dict]) -> None:
    raw, params = case
    blocks = npv(raw, params, resolution="blocks:3")
    hourly = npv(raw, params)
    assert close_or_above(blocks["npv_hourly_usd"], blocks["npv_usd"])
    assert close_or_above(hourly["npv_usd"], blocks["npv_hourly_usd"])


@given(cases())
def test_higher_hashprice_never_lowers_npv_nor_hashes_mined(case: tuple[dict, dict]) -> None:
    raw, params = case
    base = npv(raw, params)
    high = npv(raw, params, hashprice_scale=1.25)
    assert close_or_above(high["npv_usd"], base["npv_usd"])
    hashes_then = base["npv_lines_usd"]["mining_usd"]
    hashes_now_at_old_price = high["npv_lines_usd"]["mining_usd"] / 1.25
    assert close_or_above(hashes_now_at_old_price, hashes_then)


@given(cases(), st.sampled_from(["hosting", "ai", "generation"]))
def test_adding_an_option_never_lowers_npv(case: tuple[dict, dict], option: str) -> None:
    raw, params = case
    without = copy.deepcopy(raw)
    for site in without["site"]:
        site.pop(option, None)
    with_option = copy.deepcopy(without)
    with_option["site"][0][option] = {
        "hosting": {"max_mw": 2.0, "rate_usd_per_mwh": 60.0, "max_curtail_share": 0.2},
        "ai": {"hall_it_mw": 1.0, "max_halls": 1, "capex_usd_per_mw_it": 1e6,
               "lease_usd_per_kw_month": 120.0, "life_months": 120},
        "generation": [{"technology": "gas", "max_units": 1}],
    }[option]
    assert close_or_above(npv(with_option, params)["npv_usd"], npv(without, params)["npv_usd"])


@given(cases(), st.sampled_from([0.5, 3.0]))
def test_scaling_every_dollar_scales_npv(case: tuple[dict, dict], c: float) -> None:
    raw, params = case
    base = npv(raw, params)["npv_usd"]
    scaled = npv(scale_dollars(raw, c), params, dollar_scale=c)["npv_usd"]
    assert abs(scaled - c * base) <= TOL * max(1.0, abs(c * base))


@given(cases(), st.sampled_from(["firm_import_mw", "mining_infra_mw", "max_new_asic_mw",
                                 "export_mw"]))
def test_relaxing_a_capacity_never_lowers_npv(case: tuple[dict, dict], field: str) -> None:
    raw, params = case
    relaxed = copy.deepcopy(raw)
    for site in relaxed["site"]:
        site[field] = site[field] + 3.0
    assert close_or_above(npv(relaxed, params)["npv_usd"], npv(raw, params)["npv_usd"])


@given(cases())
def test_same_seed_same_bytes(case: tuple[dict, dict]) -> None:
    raw, params = case
    with tempfile.TemporaryDirectory() as tmp:
        outs = []
        for run in range(2):
            sc, series = build(raw, params)
            result = solve(sc, series=series, hourly=True)
            outs.append(result.write(Path(tmp) / f"run{run}"))
        for name in ("investments.parquet", "monthly.parquet", "hourly.parquet"):
            assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes()


@given(cases(), st.booleans())
def test_merging_identical_hours_changes_no_npv(case: tuple[dict, dict], fixed: bool) -> None:
    """Prices on a $20 grid (many hours of a day alike), optionally a fixed-price site: the
    merged hourly problem is smaller and has exactly the same optimum."""
    raw, params = case
    raw = copy.deepcopy(raw)
    if fixed:
        site = raw["site"][0]
        del site["node"]
        site["fixed_price_usd_per_mwh"] = 55.0
        site["cp_charge_usd_per_mw_year"] = 0.0
    sc, series = build(raw, params, price_step=20.0)
    merged, plain = (solve(sc, series=series, tuning=Tuning(merge_hours=m)).summary
                     for m in (True, False))
    assert merged["verified"] and plain["verified"]
    assert merged["variables"] < plain["variables"]
    assert abs(merged["npv_usd"] - plain["npv_usd"]) <= TOL * max(1.0, abs(plain["npv_usd"]))


@given(cases(), st.sampled_from(["hourly", "blocks:3"]))
def test_solving_uncoupled_sites_alone_changes_no_npv(case: tuple[dict, dict],
                                                      resolution: str) -> None:
    """Without a capex budget no constraint couples the sites: solving each alone (in
    worker processes) and combining gives the monolithic optimum."""
    raw, params = case
    raw = copy.deepcopy(raw)
    raw["scenario"]["capex_budget_usd"] = []
    if len(raw["site"]) == 1:
        raw["site"].append({**copy.deepcopy(raw["site"][0]), "name": "s1", "node": "N1"})
    sc, series = build(raw, params)
    alone, whole = (solve(sc, series=series, resolution=resolution,
                          tuning=Tuning(decompose=d)).summary for d in ("always", "never"))
    assert alone["solved_by_site"] and not whole["solved_by_site"]
    assert alone["verified"] and whole["verified"]
    assert abs(alone["npv_usd"] - whole["npv_usd"]) <= TOL * max(1.0, abs(whole["npv_usd"]))


@given(cases())
def test_warm_start_from_blocks_changes_no_npv(case: tuple[dict, dict]) -> None:
    """The blocks:12 plan handed to the hourly MIP as a start is only a start: at gap 0
    the optimum is the same with or without it."""
    raw, params = case
    sc, series = build(raw, params)
    warm, cold = (solve(sc, series=series, tuning=Tuning(warm_start=w, decompose="never")).summary
                  for w in (True, False))
    assert warm["verified"] and cold["verified"]
    assert cold["warm_start_s"] == 0
    assert abs(warm["npv_usd"] - cold["npv_usd"]) <= TOL * max(1.0, abs(cold["npv_usd"]))


@given(cases())
def test_a_start_the_relaxation_proves_is_the_optimum(case: tuple[dict, dict]) -> None:
    """Taking the completed start as the answer when the LP relaxation's bound proves it
    (certify_start) gives HiGHS's optimum at gap 0, and the bound reported is no lower."""
    raw, params = case
    sc, series = build(raw, params)
    proved, highs = (solve(sc, series=series, tuning=Tuning(certify_start=c,
                                                             decompose="never")).summary
                     for c in (True, False))
    assert proved["verified"] and highs["verified"]
    scale = TOL * max(1.0, abs(highs["npv_usd"]))
    assert abs(proved["npv_usd"] - highs["npv_usd"]) <= scale
    assert proved["bound_usd"] is None or proved["bound_usd"] >= highs["npv_usd"] - scale


@given(st.integers(1, 200), st.integers(1, 6), st.integers(1, 4), st.randoms(use_true_random=False))
def test_merged_steps_are_the_distinct_rows_in_first_occurrence_order(
        n: int, width: int, levels: int, rnd: object) -> None:
    """merge_identical_hours numbers hours exactly as distinct rows, ranked by first hour
    (the reference: numpy's sort-based unique over rows)."""
    data = np.array([[rnd.randrange(levels) * 0.5 - 1.0 for _ in range(width)]
                     for _ in range(n)])
    step = merge_identical_hours(data)
    _, first, inverse = np.unique(data, axis=0, return_index=True, return_inverse=True)
    rank = np.empty(len(first), int)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    assert step.tolist() == rank[inverse.ravel()].tolist()
    assert (data[np.unique(step, return_index=True)[1]][step] == data).all()
