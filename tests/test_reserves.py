"""Reserves (MODEL.md §7): bad input is named, and properties that hold at every optimum.

Base case (tests/helpers.py): site alpha, January 2027 (744 h), price 30 $/MWh, firm import
10 MW, 10 MW of S21 at 20 J/TH earning 100 $/MWh at hashprice 48.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import SITE, hours, solve_bad_input, write_case
from hypothesis import given
from hypothesis import strategies as st

from optim.engine import solve

RESERVE_SITE = SITE + 'reserves = [{ product = "ECRS", max_mw = 6.0 }]\n'
PRODUCTS = '[[reserve]]\nname = "ECRS"\n'
DATA = 'reserve_prices = "reserve_prices.parquet"'


def write_reserves(folder: Path, price: float | np.ndarray = 5.0,
                   share: float | np.ndarray | None = None, months: int = 1,
                   products: tuple[str, ...] = ("ECRS",)) -> Path:
    ts = hours(months=months)
    frames = []
    for product in products:
        frame = pd.DataFrame({"timestamp": ts, "product": product,
                              "price_usd_per_mw_h": np.broadcast_to(price, len(ts)).astype(float)})
        if share is not None:
            frame["deployed_share"] = np.broadcast_to(share, len(ts)).astype(float)
        frames.append(frame)
    path = folder / "reserve_prices.parquet"
    pd.concat(frames).to_parquet(path, index=False)
    return path


def case(folder: Path, site: str = RESERVE_SITE, products: str = PRODUCTS, **prices: object,
         ) -> Path:
    path = write_case(folder, products + site, data_extra=DATA)
    write_reserves(folder, **prices)
    return path


def test_offers_earn_on_top_of_mining(tmp_path: Path) -> None:
    """ECRS at 5 $/MW-h, max 6 MW, never deployed: 6 MW offered in every hour on top of
    10 MW mined at a 70 $/MWh margin: 744 * (700 + 30) = 543,120."""
    result = solve(case(tmp_path))
    assert result.npv_usd == pytest.approx(744 * (10 * 70.0 + 6 * 5.0))
    assert result.summary["npv_lines_usd"]["reserves_usd"] == pytest.approx(744 * 30.0)
    assert result.monthly.loc[0, "reserve_ECRS_mw"] == pytest.approx(6.0)


@pytest.mark.parametrize(("site", "products", "expected"), [
    (SITE + 'reserves = [{ product = "ECSR", max_mw = 6.0 }]\n', PRODUCTS,
     "site[0] (alpha).reserves[0].product: 'ECSR' is not a [[reserve]] entry; did you mean "
     "'ECRS'?"),
    (SITE + 'reserves = [{ product = "ECRS", max_mw = 6.0 }, { product = "ECRS", max_mw = 1.0 '
     '}]\n', PRODUCTS, "site[0] (alpha).reserves[1]: product 'ECRS' is listed more than once"),
    (SITE + 'reserves = [{ product = "ECRS", max_mw = -1.0 }]\n', PRODUCTS,
     "site[0] (alpha).reserves[0].max_mw: Input should be greater than or equal to 0"),
    (RESERVE_SITE, '[[reserve]]\nname = "ECRS"\ncommitment = "weekly"\n',
     "reserve[0] (ECRS).commitment: Input should be 'hourly' or 'monthly'"),
])
def test_bad_reserve_entries_are_named(tmp_path: Path, site: str, products: str,
                                       expected: str) -> None:
    assert expected in solve_bad_input(case(tmp_path, site, products), tmp_path)


def test_reserve_prices_file_is_required(tmp_path: Path) -> None:
    path = write_case(tmp_path, PRODUCTS + RESERVE_SITE)
    text = solve_bad_input(path, tmp_path)
    assert "[data].reserve_prices is needed: a site offers reserves" in text


def test_missing_nan_and_out_of_range_rows_name_the_file(tmp_path: Path) -> None:
    """Hour 5 missing, hour 7 NaN, a negative price in hour 9 and a share of 1.5 in hour 11:
    every problem of the file is listed, with the file's name and the hours."""
    path = case(tmp_path)
    prices = write_reserves(tmp_path, share=0.0)
    frame = pd.read_parquet(prices)
    frame.loc[7, "price_usd_per_mw_h"] = np.nan
    frame.loc[9, "price_usd_per_mw_h"] = -1.0
    frame.loc[11, "deployed_share"] = 1.5
    frame.drop(index=5).to_parquet(prices, index=False)
    text = solve_bad_input(path, tmp_path)
    assert "reserve_prices.parquet" in text
    assert "product 'ECRS': 1 missing: 2027-01-01T05" in text
    assert "product 'ECRS': 1 NaN or infinite values at: 2027-01-01T07" in text
    assert "product 'ECRS': price_usd_per_mw_h must be >= 0; not at: 2027-01-01T09" in text
    assert "product 'ECRS': deployed_share outside [0, 1] at: 2027-01-01T11" in text


def test_duplicated_hour_and_absent_product_are_named(tmp_path: Path) -> None:
    path = case(tmp_path)
    prices = write_reserves(tmp_path, products=("RRS",))
    frame = pd.read_parquet(prices)
    pd.concat([frame, frame.iloc[[3]]]).to_parquet(prices, index=False)
    text = solve_bad_input(path, tmp_path)
    assert "reserve_prices.parquet" in text and "product 'ECRS' is not in the file" in text
    write_reserves(tmp_path)
    frame = pd.read_parquet(prices)
    pd.concat([frame, frame.iloc[[3]]]).to_parquet(prices, index=False)
    assert "product 'ECRS': 1 duplicated: 2027-01-01T03" in solve_bad_input(path, tmp_path)


# ----------------------------------------------------------------------------- properties

@st.composite
def reserve_cases(draw: st.DrawFn) -> dict:
    """Random hourly prices and shares of one product at the base site (one month)."""
    return {"seed": draw(st.integers(0, 2**16)),
            "monthly": draw(st.booleans()),
            "max_mw": draw(st.sampled_from([3.0, 6.0, 10.0])),
            "resolution": draw(st.sampled_from(["hourly", "blocks:4"]))}


def _run(tmp_path: Path, params: dict, scale: float = 1.0, share: str = "random",
         price: str = "random") -> object:
    rng = np.random.default_rng(params["seed"])
    n = 744
    energy = rng.choice([20.0, 40.0, 95.0, 130.0], size=n, p=[.3, .4, .2, .1])
    reserve_price = rng.choice([0.0, 2.0, 8.0, 25.0], size=n) * scale
    deployed = rng.choice([0.0, 0.05, 0.3], size=n)
    commitment = 'commitment = "monthly"\n' if params["monthly"] else ""
    site = SITE + f'reserves = [{{ product = "ECRS", max_mw = {params["max_mw"]} }}]\n'
    path = write_case(tmp_path, PRODUCTS + commitment + site, data_extra=DATA, price=energy,
                      resolution=params["resolution"])
    write_reserves(tmp_path, price=0.0 if price == "zero" else reserve_price,
                   share={"random": deployed, "one": 1.0, "zero": 0.0}[share])
    return solve(path)


@given(reserve_cases())
def test_a_product_priced_zero_changes_nothing(tmp_path_factory: pytest.TempPathFactory,
                                               params: dict) -> None:
    """Offering at price 0 only costs (deployment loses hashprice net of the import saved,
    which is >= 0 since mining only runs at a positive margin): the NPV is that of the same
    scenario without reserves."""
    with_zero = _run(tmp_path_factory.mktemp("zero"), params, price="zero")
    base = tmp_path_factory.mktemp("none")
    write_case(base, price=1.0)  # a scenario without reserves, same energy prices:
    rng = np.random.default_rng(params["seed"])
    energy = rng.choice([20.0, 40.0, 95.0, 130.0], size=744, p=[.3, .4, .2, .1])
    without = solve(write_case(base, price=energy, resolution=params["resolution"]))
    assert with_zero.npv_usd == pytest.approx(without.npv_usd, rel=1e-9, abs=1e-6)


@given(reserve_cases(), st.sampled_from([1.5, 3.0]))
def test_raising_a_reserve_price_never_lowers_the_npv(tmp_path_factory: pytest.TempPathFactory,
                                                      params: dict, factor: float) -> None:
    low = _run(tmp_path_factory.mktemp("low"), params)
    high = _run(tmp_path_factory.mktemp("high"), params, scale=factor)
    assert high.npv_usd >= low.npv_usd - 1e-6 * max(1.0, abs(low.npv_usd))
    assert high.summary["verified"] and low.summary["verified"]


@given(reserve_cases())
def test_fully_deployed_offers_earn_no_hashprice(tmp_path_factory: pytest.TempPathFactory,
                                                 params: dict) -> None:
    """With deployed_share = 1 an offered MW is never drawn: the mining line is the
    hashprice on (mine - offer) only, and the import pays only for that."""
    result = _run(tmp_path_factory.mktemp("one"), params, share="one")
    flows = result.dispatch["alpha"]
    mine, offer = flows["mining_mw:S21"], flows["reserve_ECRS_mw:S21"]
    assert np.all(offer <= mine + 1e-6)
    hourly_usd = 100.0 * (mine - offer)
    assert result.monthly.loc[0, "mining_usd"] == pytest.approx(hourly_usd.sum(), abs=1e-3)
    assert np.allclose(flows["import_mw"], mine - offer, atol=1e-6)


def test_the_benchmark_strips_every_reserve_from_the_sample() -> None:
    """bench/reserves.py compares the sample with its MODEL.md §1-6 twin: same sites, no
    products, no offers, no reserve_prices file."""
    import importlib.util
    import tomllib

    from optim.scenario import parse_scenario

    bench = Path(__file__).resolve().parents[1] / "bench" / "reserves.py"
    spec = importlib.util.spec_from_file_location("bench_reserves", bench)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sample = module.SAMPLE
    raw = tomllib.loads(module.without_reserves(sample.read_text(), sample.parent))
    original = tomllib.loads(sample.read_text())
    assert "reserve" not in raw and "reserve_prices" not in raw["data"]
    assert [s["name"] for s in raw["site"]] == [s["name"] for s in original["site"]]
    assert all("reserves" not in s for s in raw["site"])
    assert any("reserves" in s for s in original["site"])
    parse_scenario(raw, sample.parent, "sample without reserves")


def test_an_unpaid_offer_can_pay_in_a_deployed_blocks_group(tmp_path: Path) -> None:
    """blocks:1, price 60, hashprice 48 (100 $/MWh) on the odd dates of January (1, 3, ...,
    31: 16 days) and 24 (50 $/MWh) on the even ones (15 days). Mining alone at the group's
    mean rate 2,350/31: 744 * 10 * (2,350/31 - 60) = 117,600. An offer priced 0 but
    deployed (share 1) on the even dates takes exactly those hours off the grid: mining
    then earns 744 * 10 * (2,350 - 750)/31 and imports 744 * 10 * 16/31 at 60, i.e.
    16 days * 24 h * 10 MW * 40 = 153,600, the hourly optimum (mine the good days only).
    §4/§7's blocks problem has that plan, so the offer must exist though it pays nothing."""
    ts = hours()
    day = ts.day.to_numpy()
    path = write_case(tmp_path, PRODUCTS + SITE + 'reserves = [{ product = "ECRS", '
                      'max_mw = 10.0 }]\n',
                      data_extra=DATA, price=60.0, resolution="blocks:1")
    dates = pd.date_range("2027-01-01", "2027-01-31", freq="D")
    pd.DataFrame({"date": dates.date,
                  "hashprice_usd_per_ph_day": np.where(dates.day % 2 == 1, 48.0, 24.0)}) \
        .to_parquet(tmp_path / "hashprice.parquet", index=False)
    write_reserves(tmp_path, price=0.0, share=np.where(day % 2 == 0, 1.0, 0.0))
    result = solve(path)
    assert result.npv_usd == pytest.approx(16 * 24 * 10 * 40.0)
    assert result.summary["npv_hourly_usd"] == pytest.approx(16 * 24 * 10 * 40.0)
    assert result.summary["verified"]
