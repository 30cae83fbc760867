"""Tables a strategist reads in the terminal, computed from a Result (the CLI only renders)."""

from __future__ import annotations

import pandas as pd

from optim.engine import Result

LINE_LABELS = {
    "mining_usd": "Self-mining revenue", "hosting_usd": "Hosting revenue",
    "lease_usd": "AI lease revenue", "pass_through_usd": "AI power pass-through",
    "export_usd": "Export revenue", "import_usd": "Grid import cost",
    "fuel_usd": "Fuel and VOM", "ai_opex_usd": "AI opex", "generation_fom_usd": "Generation FOM",
    "liquidated_damages_usd": "Liquidated damages", "coincident_peak_usd": "Coincident peak (4CP)",
    "hedge_usd": "Power hedge credits", "capital_charges_usd": "Capital charges",
}
USES = ["mining_mw", "hosting_mw", "ai_mw", "generation_mw", "import_mw", "export_mw"]


def npv_lines(result: Result) -> pd.DataFrame:
    """NPV lines of the plan that is run (the hourly re-solve when blocks were used)."""
    lines = result.summary.get("npv_lines_hourly_usd") or result.summary["npv_lines_usd"]
    return pd.DataFrame([(LINE_LABELS.get(k, k), v) for k, v in lines.items()],
                        columns=["line", "npv_usd"])


def site_uses(result: Result) -> pd.DataFrame:
    """Per site and use: average MW in the first, middle and last month (non-zero uses)."""
    monthly = result.monthly
    start, mid, end = month_picks(result)
    rows = []
    for site, frame in monthly.groupby("site", sort=False):
        by_month = frame.set_index("month")
        for use in USES:
            values = [float(by_month.at[m, use]) for m in (start, mid, end)]
            if by_month[use].abs().max() > 1e-6:
                rows.append((site, use.removesuffix("_mw"), *values))
    return pd.DataFrame(rows, columns=["site", "use", f"{start} MW", f"{mid} MW", f"{end} MW"])


def site_builds(result: Result) -> pd.DataFrame:
    """Per site: ASIC MW bought, halls started, generator units built, months of AI online."""
    inv = result.investments
    rows = []
    for site, frame in result.monthly.groupby("site", sort=False):
        mine = inv[inv["site"] == site]
        rows.append((site, float(mine.loc[mine["kind"] == "asic", "mw"].sum()),
                     int(round(mine.loc[mine["kind"] == "ai_hall", "quantity"].sum())),
                     int(round(mine.loc[mine["kind"] == "generator", "quantity"].sum())),
                     int((frame["ai_halls_online"] > 1e-6).sum())))
    return pd.DataFrame(rows, columns=["site", "asic_mw_bought", "halls_started", "units_built",
                                       "ai_months_online"])


def month_picks(result: Result) -> list[str]:
    months = result.monthly["month"].drop_duplicates().tolist()
    return [months[0], months[len(months) // 2], months[-1]]
