"""Tests of the independent solution checker `optim.verify` (hand-made plans, no solver)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optim.scenario import Scenario, parse_scenario
from optim.series import Series, read_series
from optim.verify import block_groups, crf, top_hours, verify

JAN, FEB = 744, 672
T = JAN + FEB
SPIKE = 14 * 24 + 12  # 2027-01-15T12: price 130, the top-1 hour of 2027 -> stress
PEAK = 9 * 24 + 18  # 2027-01-10T18: flagged peak in the events file
STRESS = JAN + 9 * 24 + 12  # 2027-02-10T12: flagged stress in the events file
NPV_HAND = 1_474_484.0


def _label(t: int) -> str:
    hour = np.datetime64("2027-01-01T00", "h") + t
    return str(hour) + ":00Z"


def _hours(start: str, months: int) -> pd.DatetimeIndex:
    first = pd.Timestamp(start + "-01", tz="UTC")
    return pd.date_range(first, first + pd.DateOffset(months=months), freq="h",
                         inclusive="left")


def _write_series(folder: Path, price: np.ndarray, months: int = 2,
                  events: pd.DataFrame | None = None,
                  profiles: dict[str, np.ndarray] | None = None) -> dict:
    ts = _hours("2027-01", months)
    pd.DataFrame({"timestamp": ts, "node": "N1", "price_usd_per_mwh": price}).to_parquet(
        folder / "prices.parquet", index=False)
    dates = pd.date_range(ts[0].date(), ts[-1].date(), freq="D")
    pd.DataFrame({"date": dates.date, "hashprice_usd_per_ph_day": 48.0}).to_parquet(
        folder / "hashprice.parquet", index=False)
    data = {"prices": "prices.parquet", "hashprice": "hashprice.parquet"}
    if events is not None:
        events.assign(timestamp=ts[events.pop("hour").to_numpy()], node="N1").to_parquet(
            folder / "events.parquet", index=False)
        data["events"] = "events.parquet"
    if profiles:
        frames = [pd.DataFrame({"timestamp": ts, "profile": name, "capacity_factor": cf})
                  for name, cf in profiles.items()]
        pd.concat(frames).to_parquet(folder / "profiles.parquet", index=False)
        data["profiles"] = "profiles.parquet"
    return data


def _case(folder: Path, budget: float | None = 1e9, invest_every: int = 1,
          infra: float = 20.0) -> tuple[Scenario, Series]:
    """Two sites over Jan-Feb 2027, r = 0 (see `test_correct_plan_is_verified`)."""
    price = np.full(T, 30.0)
    price[SPIKE] = 130.0
    events = pd.DataFrame({"hour": [PEAK, STRESS, 500], "stress": [False, True, False],
                           "peak": [True, False, False]})
    data = _write_series(folder, price, events=events)
    scenario = {"name": "hand", "start": "2027-01", "months": 2, "discount_rate": 0.0,
                "pool_fee": 0.0, "block_mw": 1.0, "invest_every_months": invest_every,
                "stress_hours_per_year": 1}
    if budget is not None:
        scenario["capex_budget_usd"] = [budget]
    raw = {
        "scenario": scenario,
        "data": data,
        "asic": [{"name": "A", "efficiency_j_per_th": 20.0, "price_usd_per_th": 10.0,
                  "life_months": 10, "delivery_months": 1}],
        "generator": [{"name": "G", "unit_mw": 5.0, "capex_usd_per_mw": 100_000,
                       "life_months": 50, "heat_rate_mmbtu_per_mwh": 10.0,
                       "vom_usd_per_mwh": 1.0, "fom_usd_per_mw_month": 200.0,
                       "fuel_usd_per_mmbtu": 2.0}],
        "site": [
            {"name": "alpha", "node": "N1", "firm_import_mw": 10.0, "flex_import_mw": 5.0,
             "energy_adder_usd_per_mwh": 2.0, "ppa_mw": 1.0, "ppa_price_usd_per_mwh": 25.0,
             "mining_infra_mw": infra, "max_new_asic_mw": 5.0,
             "existing_fleet": [{"asic": "A", "mw": 10.0}],
             "hosting": {"max_mw": 4.0, "rate_usd_per_mwh": 50.0, "contract_months": 1,
                         "max_curtail_share": 0.0},
             "ai": {"hall_it_mw": 2.0, "max_halls": 2, "capex_usd_per_mw_it": 1_000_000,
                    "lease_usd_per_kw_month": 100.0, "life_months": 20,
                    "lead_time_months": 1, "pue": 1.5, "power_pass_through": True,
                    "opex_usd_per_mw_it_month": 1000.0, "displaces_mining_mw_per_hall": 3.0,
                    "signed": [{"halls": 1, "rfs_month": "2027-01",
                                "ld_usd_per_mw_month": 5000.0}]},
             "cp_charge_usd_per_mw_year": 1200.0,
             "generation": [{"technology": "G", "max_units": 1}]},
            {"name": "beta", "fixed_price_usd_per_mwh": 40.0, "firm_import_mw": 5.0,
             "mining_infra_mw": 5.0, "existing_fleet": [{"asic": "A", "mw": 5.0}]},
        ],
    }
    sc = parse_scenario(raw, folder, "test")
    return sc, read_series(sc)


def _plan() -> tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]:
    jan = np.arange(T) < JAN
    mine = np.where(jan, 10.0, 11.0)
    mine[STRESS] = 8.0
    ai = np.where(jan, 0.0, 3.0)
    imp = mine + 4.0 + ai - 5.0
    investments = pd.DataFrame({
        "site": ["alpha", "alpha", "alpha", "alpha", "alpha"],
        "month": ["2027-01", "2027-01", "2027-01", "2027-02", "2027-01"],
        "kind": ["asic", "ai_hall", "generator", "hosting", "hosting"],
        "name": ["A", "ai_hall", "G", "hosting", "hosting"],
        "quantity": [1.0, 1.0, 1.0, 4.0, 4.0],
        "mw": [1.0, 2.0, 5.0, 4.0, 4.0],
        "capex_usd": [500_000.0, 2_000_000.0, 500_000.0, 0.0, 0.0],
    })
    dispatch = {
        "alpha": {"import_mw": imp, "export_mw": np.zeros(T), "hosting_mw": np.full(T, 4.0),
                  "ai_mw": ai, "mining_mw:A": mine, "generation_mw:G": np.full(T, 5.0)},
        "beta": {"import_mw": np.full(T, 5.0), "mining_mw:A": np.full(T, 5.0)},
    }
    return investments, dispatch


@pytest.fixture
def case(tmp_path: Path) -> tuple[Scenario, Series]:
    return _case(tmp_path)


def test_correct_plan_is_verified(case: tuple[Scenario, Series]) -> None:
    """The hand plan, r = 0, hashprice 48 at 20 J/TH = 100 $/MWh mined; 744 + 672 hours.

    alpha (node N1 at 30 $/MWh, 130 in the top-1 hour 2027-01-15T12, adder 2):
    one ASIC block bought in Jan (delivered Feb: fleet 10 then 11), one hall started in
    Jan (online Feb: AI draw 1.5 * 2 = 3 MW), one 5 MW gas unit built in Jan (run flat),
    hosting 4 MW both months, never curtailed. In the Feb stress hour the flex import is
    withdrawn (cap 10): mining drops from 11 to 8 MW. Import = mine + host + ai - 5.
      mining      (10*744 + 11*672 - 3) MWh * 100          = 1,482,900
      hosting     4 * 1416 * 50                             =   283,200
      lease       Feb: 1 hall * 2 MW * 1000 * 100           =   200,000
      pass-through 3 * 672 * (30 + 2)                       =    64,512
      import      -(9*744*32 + 9*100 + (13*672 - 3)*32)     =  -494,628
      fuel        -5 * 1416 * (10 * 2 + 1)                  =  -148,680
      AI opex     -1000 * 2 * 1 (Feb)                       =    -2,000
      gen FOM     -200 * 5 * 1 * 2 months                   =    -2,000
      damages     Jan: 1 signed hall due, 0 online: -5000*2 =   -10,000
      4CP         -1200 * 9 MW (the one Jan peak hour)      =   -10,800
      hedge       1 * (30 - 25) * 1416 + 100 (spike)        =     7,180
      capital     -(500k/10 + 2M/20 + 500k/50) * 2 months   =  -320,000
    beta (fixed price 40, no stress): 5 MW mined and imported all hours:
      mining 5 * 1416 * 100 = 708,000; import -5 * 1416 * 40 = -283,200.
    NPV = 1,474,484.
    """
    sc, series = case
    investments, dispatch = _plan()
    v = verify(sc, series, investments, dispatch, NPV_HAND)
    assert v.verified, v.describe()
    assert v.violations == [] and v.max_violation is None
    expected = {"mining_usd": 2_190_900, "hosting_usd": 283_200, "lease_usd": 200_000,
                "pass_through_usd": 64_512, "export_usd": 0, "import_usd": -777_828,
                "fuel_usd": -148_680, "ai_opex_usd": -2_000, "generation_fom_usd": -2_000,
                "liquidated_damages_usd": -10_000, "coincident_peak_usd": -10_800,
                "hedge_usd": 7_180, "capital_charges_usd": -320_000,
                "reserves_usd": 0, "compute_usd": 0}  # §10: own lines, 0 when unused
    assert v.lines_usd == pytest.approx(expected, abs=1e-6)
    assert v.npv_recomputed_usd == pytest.approx(NPV_HAND, abs=1e-6)


def test_npv_mismatch_fails(case: tuple[Scenario, Series]) -> None:
    sc, series = case
    investments, dispatch = _plan()
    v = verify(sc, series, investments, dispatch, NPV_HAND + 1000.0)
    assert not v.verified
    assert v.violations == []
    assert v.npv_mismatch_usd == pytest.approx(-1000.0)
    # within the relative tolerance (1e-6 of the sum of |lines|) it passes
    assert verify(sc, series, investments, dispatch, NPV_HAND + 0.5).verified


def _broken(case: tuple[Scenario, Series], edit) -> object:  # noqa: ANN001
    sc, series = case
    investments, dispatch = _plan()
    investments = edit(investments, dispatch) or investments
    v = verify(sc, series, investments, dispatch, NPV_HAND)
    assert not v.verified
    return v


def _assert_max(v, constraint: str, site: str | None, when: str | None,  # noqa: ANN001
                amount: float) -> None:
    assert v.max_violation is not None, v.describe()
    got = v.max_violation
    assert (got.constraint, got.site, got.when) == (constraint, site, when), v.describe()
    assert got.amount == pytest.approx(amount)


def test_balance_off_by_one_mw(case: tuple[Scenario, Series]) -> None:
    def edit(inv, d):  # noqa: ANN001, ANN202
        d["alpha"]["import_mw"][50] += 1.0
    v = _broken(case, edit)
    _assert_max(v, "power_balance", "alpha", _label(50), 1.0)
    assert len(v.violations) == 1


def test_import_above_stress_limit(case: tuple[Scenario, Series]) -> None:
    """Not curtailing in the events stress hour: 13 MW import against a 10 MW firm cap."""
    def edit(inv, d):  # noqa: ANN001, ANN202
        d["alpha"]["mining_mw:A"][STRESS] = 11.0
        d["alpha"]["import_mw"][STRESS] = 13.0
    v = _broken(case, edit)
    _assert_max(v, "import_limit", "alpha", _label(STRESS), 3.0)
    assert [x.constraint for x in v.violations] == ["import_limit"]


def test_top_price_hour_is_stress(case: tuple[Scenario, Series]) -> None:
    """The top-1 price hour of 2027 withdraws the flex import like an events stress hour:
    running the gas unit at 3 instead of 5 MW needs 11 MW of import, fine the hour after
    (cap 15), not in the spike hour (cap 10)."""
    def edit(inv, d):  # noqa: ANN001, ANN202
        d["alpha"]["generation_mw:G"][[SPIKE, SPIKE + 1]] = 3.0
        d["alpha"]["import_mw"][[SPIKE, SPIKE + 1]] += 2.0
    v = _broken(case, edit)
    _assert_max(v, "import_limit", "alpha", _label(SPIKE), 1.0)
    assert len(v.violations) == 1


def test_ai_draw_below_requirement(case: tuple[Scenario, Series]) -> None:
    def edit(inv, d):  # noqa: ANN001, ANN202
        d["alpha"]["ai_mw"][JAN + 100] = 2.0
        d["alpha"]["import_mw"][JAN + 100] -= 1.0
    v = _broken(case, edit)
    _assert_max(v, "ai_draw", "alpha", _label(JAN + 100), 1.0)
    assert len(v.violations) == 1


def test_hosting_curtailment_budget_exceeded(case: tuple[Scenario, Series]) -> None:
    def edit(inv, d):  # noqa: ANN001, ANN202
        d["alpha"]["hosting_mw"][[10, 11]] = 3.0
        d["alpha"]["import_mw"][[10, 11]] -= 1.0
    v = _broken(case, edit)
    _assert_max(v, "curtail_budget", "alpha", "2027-01", 2.0)
    assert len(v.violations) == 1


def test_hosting_above_contracted(case: tuple[Scenario, Series]) -> None:
    def edit(inv, d):  # noqa: ANN001, ANN202
        inv.loc[inv["kind"].eq("hosting") & inv["month"].eq("2027-02"), "quantity"] = 3.5
    v = _broken(case, edit)
    _assert_max(v, "host_cap", "alpha", _label(JAN), 0.5)
    assert {x.constraint for x in v.violations} == {"host_cap"}


def test_hosting_above_max(case: tuple[Scenario, Series]) -> None:
    def edit(inv, d):  # noqa: ANN001, ANN202
        inv.loc[inv["kind"].eq("hosting") & inv["month"].eq("2027-01"), "quantity"] = 5.0
        d["alpha"]["hosting_mw"][:JAN] = 5.0
        d["alpha"]["import_mw"][:JAN] += 1.0  # 10 MW: still within the firm import
    v = _broken(case, edit)
    _assert_max(v, "hosting_max", "alpha", "2027-01", 1.0)


def test_mining_above_fleet(case: tuple[Scenario, Series]) -> None:
    """The block bought in Jan is delivered in Feb: 11 MW in Jan exceeds the 10 MW fleet."""
    def edit(inv, d):  # noqa: ANN001, ANN202
        d["alpha"]["mining_mw:A"][7] = 11.0
        d["alpha"]["import_mw"][7] = 10.0
    v = _broken(case, edit)
    _assert_max(v, "mine_cap", "alpha", _label(7), 1.0)
    assert len(v.violations) == 1


def test_mining_infra(tmp_path: Path) -> None:
    """With 16 MW of infrastructure, Feb's 11 + 4 MW exceeds 16 - 3 MW (one hall online)."""
    sc, series = _case(tmp_path, infra=16.0)
    investments, dispatch = _plan()
    v = verify(sc, series, investments, dispatch, NPV_HAND)
    assert not v.verified
    _assert_max(v, "mining_infra", "alpha", _label(JAN), 2.0)
    assert {x.constraint for x in v.violations} == {"mining_infra"}
    assert len(v.violations) == 100  # capped


def test_generation_above_capacity_and_export(case: tuple[Scenario, Series]) -> None:
    def edit(inv, d):  # noqa: ANN001, ANN202
        d["alpha"]["generation_mw:G"][20] = 6.0
        d["alpha"]["import_mw"][20] -= 1.0
    v = _broken(case, edit)
    _assert_max(v, "gen_cap", "alpha", _label(20), 1.0)


def test_negative_flow(case: tuple[Scenario, Series]) -> None:
    def edit(inv, d):  # noqa: ANN001, ANN202
        d["alpha"]["export_mw"][30] = -1.0
        d["alpha"]["import_mw"][30] -= 1.0
    v = _broken(case, edit)
    _assert_max(v, "nonnegative", "alpha", _label(30), 1.0)
    assert len(v.violations) == 1


def test_nan_flow(case: tuple[Scenario, Series]) -> None:
    def edit(inv, d):  # noqa: ANN001, ANN202
        d["beta"]["import_mw"][40] = np.nan
    v = _broken(case, edit)
    assert v.max_violation.constraint == "nonfinite"
    assert v.max_violation.site == "beta"


def test_decision_in_non_investment_month(tmp_path: Path) -> None:
    """Every second month only: an extra ASIC block bought in Feb (month 1) is not allowed."""
    sc, series = _case(tmp_path, invest_every=2)
    investments, dispatch = _plan()
    assert verify(sc, series, investments, dispatch, NPV_HAND).verified
    extra = pd.DataFrame({"site": ["alpha"], "month": ["2027-02"], "kind": ["asic"],
                          "name": ["A"], "quantity": [1.0], "mw": [1.0],
                          "capex_usd": [500_000.0]})
    capital = 50_000.0  # 500k / 10 months, Feb only
    v = verify(sc, series, pd.concat([investments, extra]), dispatch, NPV_HAND - capital)
    assert not v.verified
    _assert_max(v, "invest_month", "alpha", "2027-02", 1.0)
    assert len(v.violations) == 1
    assert abs(v.npv_mismatch_usd) < 1e-6


def test_fractional_hall(case: tuple[Scenario, Series]) -> None:
    """1.5 halls: integrality (0.5) is the largest relative violation; the draw is off too."""
    def edit(inv, d):  # noqa: ANN001, ANN202
        inv.loc[inv["kind"].eq("ai_hall"), "quantity"] = 1.5
    v = _broken(case, edit)
    _assert_max(v, "integrality", "alpha", "2027-01", 0.5)
    assert "ai_draw" in {x.constraint for x in v.violations}


def test_capex_budget_exceeded(tmp_path: Path) -> None:
    """3.0 M$ spent in year 0 against a 2.9 M$ budget."""
    sc, series = _case(tmp_path, budget=2_900_000.0)
    investments, dispatch = _plan()
    v = verify(sc, series, investments, dispatch, NPV_HAND)
    assert not v.verified
    _assert_max(v, "capex_budget", None, "2027-01..2027-02", 100_000.0)
    assert len(v.violations) == 1
    sc, series = _case(tmp_path, budget=3_000_000.0)  # exactly binding: fine
    assert verify(sc, series, investments, dispatch, NPV_HAND).verified


@pytest.mark.parametrize("kind,name,site,quantity,constraint,amount", [
    ("asic", "A", "beta", 1.0, "asic_cap", 1.0),  # beta may buy nothing
    ("asic", "A", "alpha", 5.0, "asic_cap", 1.0),  # 6 blocks > 5 MW
    ("generator", "G", "alpha", 1.0, "units_cap", 1.0),  # 2 units > max 1
    ("ai_hall", "ai_hall", "alpha", 2.0, "halls_cap", 1.0),  # 3 halls > max 2
])
def test_whole_horizon_caps(case: tuple[Scenario, Series], kind: str, name: str, site: str,
                            quantity: float, constraint: str, amount: float) -> None:
    """Extra decisions in Feb, none of them online inside the horizon (leads of 1 month)."""
    sc, series = case
    investments, dispatch = _plan()
    extra = pd.DataFrame({"site": [site], "month": ["2027-02"], "kind": [kind],
                          "name": [name], "quantity": [quantity], "mw": [0.0],
                          "capex_usd": [0.0]})
    v = verify(sc, series, pd.concat([investments, extra]), dispatch, NPV_HAND)
    assert not v.verified
    _assert_max(v, constraint, site, None, amount)


def test_unknown_decision(case: tuple[Scenario, Series]) -> None:
    sc, series = case
    investments, dispatch = _plan()
    extra = pd.DataFrame({"site": ["beta"], "month": ["2027-01"], "kind": ["ai_hall"],
                          "name": ["ai_hall"], "quantity": [1.0], "mw": [0.0],
                          "capex_usd": [0.0]})
    v = verify(sc, series, pd.concat([investments, extra]), dispatch, NPV_HAND)
    assert not v.verified
    _assert_max(v, "unknown_decision", "beta", "2027-01", 1.0)


# --------------------------------------------------------------------------- discounting, LDs


def _small(folder: Path, rate: float, site_extra: dict) -> tuple[Scenario, Series]:
    data = _write_series(folder, np.full(T, 30.0))
    raw = {"scenario": {"name": "small", "start": "2027-01", "months": 2,
                        "discount_rate": rate},
           "data": data,
           "asic": [{"name": "A", "efficiency_j_per_th": 20.0, "price_usd_per_th": 10.0,
                     "life_months": 10}],
           "site": [{"name": "s", "fixed_price_usd_per_mwh": 40.0, "firm_import_mw": 5.0,
                     "mining_infra_mw": 5.0, **site_extra}]}
    sc = parse_scenario(raw, folder, "test")
    return sc, read_series(sc)


def test_discounting_and_crf(tmp_path: Path) -> None:
    """r = 12 %: Feb flows weigh 1.12**(-1/12); a 1 MW block bought in Jan pays C*crf(10)."""
    sc, series = _small(tmp_path, 0.12, {"max_new_asic_mw": 1.0})
    investments = pd.DataFrame({"site": ["s"], "month": ["2027-01"], "kind": ["asic"],
                                "name": ["A"], "quantity": [1.0], "mw": [1.0],
                                "capex_usd": [500_000.0]})
    flat = np.full(T, 1.0)
    dispatch = {"s": {"import_mw": flat, "mining_mw:A": flat}}
    df1 = 1.12 ** (-1 / 12)
    i = 1.12 ** (1 / 12) - 1
    charge = 500_000 * i / (1 - (1 + i) ** -10)
    assert crf(0.12, 10) == pytest.approx(i / (1 - (1 + i) ** -10))
    assert crf(0.0, 10) == 0.1
    expected = {"mining_usd": 100 * (JAN + FEB * df1), "import_usd": -40 * (JAN + FEB * df1),
                "capital_charges_usd": -charge * (1 + df1)}
    npv = sum(expected.values())
    v = verify(sc, series, investments, dispatch, npv)
    assert v.verified, v.describe()
    for line, value in expected.items():
        assert v.lines_usd[line] == pytest.approx(value, rel=1e-12)


def test_damages_go_to_cheapest_contract_first(tmp_path: Path) -> None:
    """Two signed halls due in Jan (LD 100 and 50 $/MW-month, 2 MW halls); one hall online
    from Feb (under construction). Jan: both short, 2*(100+50) = 300. Feb: one short, the
    cheaper: 2*50 = 100. Total 400 (r = 0); lease 1 hall * 2 MW * 1000 * 10 in Feb."""
    ai = {"hall_it_mw": 2.0, "max_halls": 1, "capex_usd_per_mw_it": 1.0,
          "lease_usd_per_kw_month": 10.0, "life_months": 10,
          "under_construction": [{"halls": 1, "online_month": "2027-02"}],
          "signed": [{"halls": 1, "rfs_month": "2027-01", "ld_usd_per_mw_month": 100.0},
                     {"halls": 1, "rfs_month": "2026-06", "ld_usd_per_mw_month": 50.0}]}
    sc, series = _small(tmp_path, 0.0, {"ai": ai, "firm_import_mw": 2.0})
    ai_mw = np.where(np.arange(T) < JAN, 0.0, 2.0)
    dispatch = {"s": {"import_mw": ai_mw, "ai_mw": ai_mw}}
    npv = -400.0 + 20_000.0 - 40.0 * 2 * FEB
    v = verify(sc, series, pd.DataFrame(columns=["site", "month", "kind", "name", "quantity",
                                                 "mw", "capex_usd"]), dispatch, npv)
    assert v.verified, v.describe()
    assert v.lines_usd["liquidated_damages_usd"] == pytest.approx(-400.0)


# --------------------------------------------------------------------------- stress, blocks


def test_top_hours_ties_and_years() -> None:
    price = np.array([5.0, 9.0, 9.0, 1.0, 9.0, 2.0, 2.0])
    year = np.array([2027, 2027, 2027, 2027, 2028, 2028, 2028])
    assert top_hours(price, year, 1).tolist() == [0, 1, 0, 0, 1, 0, 0]
    assert top_hours(price, year, 2).tolist() == [0, 1, 1, 0, 1, 1, 0]
    assert top_hours(price, year, 0).sum() == 0
    assert top_hours(price, year, 10).all()


def test_block_groups() -> None:
    """Per month: plain hours sorted by price (stable) and split; then the flag groups."""
    price = np.array([3.0, 1.0, 2.0, 1.0, 9.0, 9.0, 5.0, 4.0, 6.0])
    stress = np.array([0, 0, 0, 0, 1, 1, 0, 0, 0], bool)
    peak = np.array([0, 0, 0, 0, 0, 1, 0, 0, 1], bool)
    month = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1])
    g = block_groups(price, stress, peak, month, 2)
    # month 0 plain order by price: 1 (1.0), 3 (1.0), 2 (2.0), 0 (3.0) -> [1, 3] [2, 0]
    assert g[1] == g[3] != g[2] == g[0]
    # stress+peak (5) and stress only (4) are groups of their own
    assert len({g[1], g[2], g[4], g[5]}) == 4
    # month 1: plain 7 (4.0), 6 (5.0) -> [7] [6]; peak only: 8
    assert len({g[6], g[7], g[8]}) == 3 and not {g[6], g[7], g[8]} & set(g[:6])
    assert sorted(set(g.tolist())) == list(range(7))


def test_blocks_plan_checks_generation_against_group_mean(tmp_path: Path) -> None:
    """A solar unit (5 MW, cf 1 in even hours, 0 in odd ones) under blocks:K over January.

    Prices rise hour by hour, so the plain hours sort in time order. The events file flags
    2027-01-02T00 (hour 24, cf 1) as stress: its own group; and hour 25 as peak, which
    does not count (the site has no 4CP charge), else that hour would need gen = 0. With
    K = 1 the plain group (743 hours, 371 of them even) has mean cf 371/743; the plan
    generates 5 * 371/743 flat (5 MW in hour 24) and mines it, with no import. Hour by hour
    the odd hours exceed cf = 0. With K = 2 the second half (hours 373..743, 185 of 371
    even) has a lower mean: hour 373 is the first one over.
    """
    months, n = 1, JAN
    cf = (np.arange(n) % 2 == 0).astype(float)
    stress_hour, peak_hour = 24, 25
    events = pd.DataFrame({"hour": [stress_hour, peak_hour], "stress": [True, False],
                           "peak": [False, True]})
    data = _write_series(tmp_path, np.linspace(10.0, 50.0, n), months=months, events=events,
                         profiles={"sun": cf})
    raw = {"scenario": {"name": "b", "start": "2027-01", "months": months},
           "data": data,
           "asic": [{"name": "A", "efficiency_j_per_th": 20.0, "price_usd_per_th": 10.0,
                     "life_months": 10}],
           "generator": [{"name": "pv", "unit_mw": 5.0, "capex_usd_per_mw": 0.0,
                          "life_months": 10, "profile": "sun"}],
           "site": [{"name": "s", "node": "N1", "mining_infra_mw": 5.0,
                     "existing_fleet": [{"asic": "A", "mw": 5.0}],
                     "generation": [{"technology": "pv", "max_units": 1,
                                     "existing_units": 1}]}]}
    sc = parse_scenario(raw, tmp_path, "test")
    series = read_series(sc)
    plain = np.ones(n, bool)
    plain[stress_hour] = False
    gen = np.full(n, 5.0 * cf[plain].mean())
    gen[stress_hour] = 5.0
    dispatch = {"s": {"generation_mw:pv": gen, "mining_mw:A": gen}}
    npv = float(np.sum(gen * 100.0))
    empty = pd.DataFrame(columns=["site", "month", "kind", "name", "quantity", "mw",
                                  "capex_usd"])
    as_blocks = verify(sc, series, empty, dispatch, npv, "blocks:1")
    assert as_blocks.verified, as_blocks.describe()
    as_hourly = verify(sc, series, empty, dispatch, npv, "hourly")
    assert not as_hourly.verified
    _assert_max(as_hourly, "gen_cap", "s", _label(1), 5.0 * cf[plain].mean())
    as_two = verify(sc, series, empty, dispatch, npv, "blocks:2")
    _assert_max(as_two, "gen_cap", "s", _label(373), 5.0 * (371 / 743 - 185 / 371))


# --------------------------------------------------------------------------- engine plans


FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.mark.parametrize("name", ["ai_bridge", "hosting_budget", "stress_top_hours",
                                  "gen_profile"])
def test_engine_solutions_verify(name: str) -> None:
    """The checker agrees with the solver on its own solutions (hourly and blocks plans)."""
    path = FIXTURES / name / "scenario.toml"
    if not path.is_file():
        pytest.skip(f"fixture {name} not present")
    engine = pytest.importorskip("optim.engine")
    from optim.scenario import load_scenario

    sc = load_scenario(path)
    series = read_series(sc)
    for resolution in ("hourly", "blocks:2"):
        r = engine.solve(sc, series=series, resolution=resolution)
        objective = r.summary["npv_hourly_usd"] if r.summary["npv_hourly_usd"] is not None \
            else r.summary["npv_usd"]
        v = verify(sc, series, r.investments, r.dispatch, objective)
        assert v.verified, v.describe()
        if r.dispatch_blocks is not None:
            vb = verify(sc, series, r.investments, r.dispatch_blocks, r.summary["npv_usd"],
                        resolution)
            assert vb.verified, vb.describe()
