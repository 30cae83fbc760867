"""AI deals (MODEL.md §8): cloud halls, tenant load profiles and lease escalators. Bad input
is named (exit 2, nothing written); properties that hold at every optimum.

Base case (tests/helpers.py): site alpha, 10 MW of S21 earning 100 $/MWh at hashprice 48,
here with firm import 20 MW and a slot for two 5 MW IT halls that displace 5 MW of the
10 MW mining infrastructure each.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import hours, solve_bad_input, write_case
from hypothesis import given, settings
from hypothesis import strategies as st

from optim.engine import solve

CLOUD = ("cloud = {{ gpus_per_mw_it = 100.0, gpu_capex_usd_per_mw_it = 2000000.0, "
         "gpu_life_months = 48, utilization = {utilization}, "
         "opex_usd_per_mw_it_month = 20000.0 }}")


def ai_site(lease: float = 120.0, cloud: str = "", extra: str = "") -> str:
    fields = [f"hall_it_mw = 5.0, max_halls = 2, capex_usd_per_mw_it = 1000000.0, "
              f"lease_usd_per_kw_month = {lease}, life_months = 60, pue = 1.2, "
              f"displaces_mining_mw_per_hall = 5.0", cloud, extra]
    return ('\n[[site]]\nname = "alpha"\nnode = "N1"\nfirm_import_mw = 20.0\n'
            'mining_infra_mw = 10.0\nexisting_fleet = [{ asic = "S21", mw = 10.0 }]\n'
            f'ai = {{ {", ".join(f for f in fields if f)} }}\n')


def write_compute(folder: Path, price: float | np.ndarray, months: int = 1) -> Path:
    ts = hours(months=months)
    dates = pd.date_range(ts[0].date(), ts[-1].date(), freq="D")
    path = folder / "compute.parquet"
    pd.DataFrame({"date": dates.date, "price_usd_per_gpu_hour":
                  np.broadcast_to(price, len(dates)).astype(float)}).to_parquet(path, index=False)
    return path


def write_profile(folder: Path, load: float | np.ndarray, name: str = "tenant") -> Path:
    ts = hours()
    path = folder / "profiles.parquet"
    pd.DataFrame({"timestamp": ts, "profile": name, "capacity_factor":
                  np.broadcast_to(load, len(ts)).astype(float)}).to_parquet(path, index=False)
    return path


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize(("cloud", "named"), [
    (CLOUD.format(utilization=0.0), "utilization"),
    (CLOUD.format(utilization=1.5), "utilization"),
    ("cloud = { gpus_per_mw_it = 100.0, gpu_capex_usd_per_mw_it = 1.0, gpu_life_months = 48, "
     "utilization = 0.8 }", "opex_usd_per_mw_it_month"),
])
def test_bad_cloud_fields_are_named(tmp_path: Path, cloud: str, named: str) -> None:
    path = write_case(tmp_path, ai_site(cloud=cloud), data_extra='compute = "compute.parquet"')
    write_compute(tmp_path, 2.0)
    text = solve_bad_input(path, tmp_path)
    assert "alpha" in text or "site[0]" in text
    assert named in text


def test_a_negative_escalator_is_named(tmp_path: Path) -> None:
    path = write_case(tmp_path, ai_site(extra="lease_escalator_per_year = -0.02"))
    assert "lease_escalator_per_year" in solve_bad_input(path, tmp_path)


def test_cloud_needs_the_compute_file_and_its_dates(tmp_path: Path) -> None:
    path = write_case(tmp_path, ai_site(cloud=CLOUD.format(utilization=0.8)))
    assert "[data].compute" in solve_bad_input(path, tmp_path)
    path = write_case(tmp_path, ai_site(cloud=CLOUD.format(utilization=0.8)),
                      data_extra='compute = "compute.parquet"')
    compute = write_compute(tmp_path, 2.0)
    frame = pd.read_parquet(compute)
    frame.loc[3, "price_usd_per_gpu_hour"] = -1.0
    frame.drop(index=5).to_parquet(compute, index=False)
    text = solve_bad_input(path, tmp_path)
    assert "compute.parquet" in text and "2027-01-06" in text
    assert "price_usd_per_gpu_hour must be > 0; not at: 2027-01-04" in text


def test_an_unknown_load_profile_is_named(tmp_path: Path) -> None:
    path = write_case(tmp_path, ai_site(extra='load_profile = "trainer"'))
    assert "[data].profiles" in solve_bad_input(path, tmp_path)
    path = write_case(tmp_path, ai_site(extra='load_profile = "trainer"'),
                      data_extra='profiles = "profiles.parquet"')
    write_profile(tmp_path, 0.5, name="inference")
    text = solve_bad_input(path, tmp_path)
    assert "profiles.parquet" in text and "trainer" in text


# ----------------------------------------------------------------------------- properties

@st.composite
def ai_cases(draw: st.DrawFn) -> dict:
    """Random hourly energy prices, lease, GPU-hour price and utilization."""
    return {"seed": draw(st.integers(0, 2**16)),
            "lease": draw(st.sampled_from([40.0, 120.0])),
            "gpu_price": draw(st.sampled_from([1.0, 2.5, 4.0])),
            "utilization": draw(st.sampled_from([0.5, 0.9])),
            "resolution": draw(st.sampled_from(["hourly", "blocks:4"]))}


def _run(folder: Path, params: dict, cloud: bool = True, gpu_scale: float = 1.0,
         profile: str | None = None) -> object:
    rng = np.random.default_rng(params["seed"])
    energy = rng.choice([20.0, 40.0, 95.0, 130.0], size=744, p=[.3, .4, .2, .1])
    data = ['compute = "compute.parquet"'] if cloud else []
    extra = ""
    if profile is not None:
        data.append('profiles = "profiles.parquet"')
        extra = 'load_profile = "tenant"'
        write_profile(folder, 1.0)
    body = ai_site(params["lease"],
                   CLOUD.format(utilization=params["utilization"]) if cloud else "", extra)
    path = write_case(folder, body, data_extra="\n".join(data), price=energy,
                      resolution=params["resolution"])
    if cloud:
        write_compute(folder, params["gpu_price"] * gpu_scale)
    result = solve(path)
    assert result.summary["verified"]
    return result


@settings(max_examples=6)
@given(ai_cases())
def test_a_cloud_option_never_lowers_the_npv(tmp_path_factory: pytest.TempPathFactory,
                                             params: dict) -> None:
    without = _run(tmp_path_factory.mktemp("lease"), params, cloud=False)
    with_cloud = _run(tmp_path_factory.mktemp("cloud"), params)
    assert with_cloud.npv_usd >= without.npv_usd - 1e-6 * max(1.0, abs(without.npv_usd))


@settings(max_examples=6)
@given(ai_cases(), st.sampled_from([1.5, 3.0]))
def test_a_higher_gpu_price_never_lowers_the_npv(tmp_path_factory: pytest.TempPathFactory,
                                                 params: dict, factor: float) -> None:
    low = _run(tmp_path_factory.mktemp("low"), params)
    high = _run(tmp_path_factory.mktemp("high"), params, gpu_scale=factor)
    assert high.npv_usd >= low.npv_usd - 1e-6 * max(1.0, abs(low.npv_usd))


@settings(max_examples=6)
@given(ai_cases())
def test_a_profile_of_all_ones_is_no_profile(tmp_path_factory: pytest.TempPathFactory,
                                             params: dict) -> None:
    plain = _run(tmp_path_factory.mktemp("plain"), params)
    ones = _run(tmp_path_factory.mktemp("ones"), params, profile="ones")
    assert ones.npv_usd == pytest.approx(plain.npv_usd, rel=1e-9, abs=1e-6)


# ----------------------------------------------------------------------------- upgrades

UPGRADE_SITE = ('\n[[site]]\nname = "alpha"\nnode = "N1"\nfirm_import_mw = 10.0\n'
                'mining_infra_mw = 10.0\nexisting_fleet = [{ asic = "S21", mw = 10.0 }]\n')


@pytest.mark.parametrize(("upgrades", "named"), [
    ('[{ name = "sub", firm_mw = 5.0, lead_time_months = 2, life_months = 60 }]',
     "capex_usd required unless online_month is given"),
    ('[{ name = "sub", firm_mw = -5.0, online_month = "2027-01" }]', "firm_mw"),
    ('[{ name = "sub", firm_mw = 5.0, online_month = "2027-13" }]', "online_month"),
    ('[{ name = "sub", firm_mw = 5.0, online_month = "2027-01" }, '
     '{ name = "sub", flex_mw = 5.0, online_month = "2027-01" }]',
     "upgrades: name 'sub' is used more than once"),
    ('[{ firm_mw = 5.0, online_month = "2027-01" }]', "name"),
])
def test_bad_upgrades_are_named(tmp_path: Path, upgrades: str, named: str) -> None:
    path = write_case(tmp_path, UPGRADE_SITE + f"upgrades = {upgrades}\n")
    text = solve_bad_input(path, tmp_path)
    assert "alpha" in text and named in text


@settings(max_examples=6)
@given(st.integers(0, 2**16), st.sampled_from([0, 1, 2]),
       st.sampled_from(["hourly", "blocks:4"]))
def test_an_upgrade_option_never_lowers_the_npv(tmp_path_factory: pytest.TempPathFactory,
                                                seed: int, lead: int, resolution: str) -> None:
    """An upgrade that may be bought (0/1) can only add value; bought, its MW are used
    within the raised limits (checked by the independent check). 25 MW of miners behind
    10 MW of import; the upgrade adds 15 MW."""
    energy = np.random.default_rng(seed).choice([20.0, 40.0, 95.0], size=len(hours(months=3)))
    site = UPGRADE_SITE.replace("10.0 }]", "25.0 }]").replace("mining_infra_mw = 10.0",
                                                              "mining_infra_mw = 25.0")
    without = solve(write_case(tmp_path_factory.mktemp("plain"), site, months=3, price=energy,
                               resolution=resolution))
    upgrade = (f'upgrades = [{{ name = "sub", firm_mw = 15.0, capex_usd = 200000.0, '
               f'lead_time_months = {lead}, life_months = 60 }}]\n')
    with_upgrade = solve(write_case(tmp_path_factory.mktemp("up"), site + upgrade, months=3,
                                    price=energy, resolution=resolution))
    assert with_upgrade.summary["verified"]
    assert with_upgrade.npv_usd >= without.npv_usd - 1e-6 * max(1.0, abs(without.npv_usd))
