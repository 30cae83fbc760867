"""Small scenarios written into a temporary folder, for tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

BASE_TOML = """
[scenario]
name = "case"
start = "2027-01"
months = {months}
resolution = "{resolution}"
mip_gap = 0
{scenario_extra}

[data]
prices = "prices.parquet"
hashprice = "hashprice.parquet"
{data_extra}

[[asic]]
name = "S21"
efficiency_j_per_th = 20.0
price_usd_per_th = 10.0
life_months = 36

{body}
"""

SITE = """
[[site]]
name = "alpha"
node = "N1"
firm_import_mw = 10.0
mining_infra_mw = 10.0
existing_fleet = [{ asic = "S21", mw = 10.0 }]
"""


def hours(start: str = "2027-01", months: int = 1) -> pd.DatetimeIndex:
    first = pd.Timestamp(start + "-01", tz="UTC")
    return pd.date_range(first, first + pd.DateOffset(months=months), freq="h",
                         inclusive="left")


def write_case(folder: Path, body: str = SITE, months: int = 1, resolution: str = "hourly",
               scenario_extra: str = "", data_extra: str = "", price: float | np.ndarray = 30.0,
               nodes: tuple[str, ...] = ("N1",), hashprice: float = 48.0) -> Path:
    """Write scenario.toml, prices.parquet and hashprice.parquet; return the scenario path."""
    folder.mkdir(parents=True, exist_ok=True)
    ts = hours(months=months)
    frames = [pd.DataFrame({"timestamp": ts, "node": n,
                            "price_usd_per_mwh": np.broadcast_to(price, len(ts)).astype(float)})
              for n in nodes]
    pd.concat(frames).to_parquet(folder / "prices.parquet", index=False)
    dates = pd.date_range(ts[0].date(), ts[-1].date(), freq="D")
    pd.DataFrame({"date": dates.date, "hashprice_usd_per_ph_day": hashprice}).to_parquet(
        folder / "hashprice.parquet", index=False)
    path = folder / "scenario.toml"
    path.write_text(BASE_TOML.format(months=months, resolution=resolution,
                                     scenario_extra=scenario_extra, data_extra=data_extra,
                                     body=body))
    return path


def solve_bad_input(path: Path, tmp_path: Path) -> str:
    """`optim solve` of a bad scenario: exit 2, nothing written; the message on one line."""
    from typer.testing import CliRunner

    from optim import cli

    out = tmp_path / "out"
    result = CliRunner().invoke(cli.app, ["solve", str(path), "--out", str(out), "-q"])
    assert result.exit_code == 2, result.output
    assert not out.exists()
    return " ".join(result.output.split())
