"""Independent check of the grid connection (MODEL.md §3 "Grid, balance, stress", §8
interconnection upgrades).

Import within firm + flex (flex withdrawn in stress hours), export within its limit, each
raised by the upgrades online (committed ones from their `online_month`, decided ones from
their decision month plus lead time; each decided at most once); import cost at lmp +
adder, export revenue at lmp, the hedge settlement and the coincident-peak (4CP) charge on
the mean import of each year's flagged hours.
"""

from __future__ import annotations

import numpy as np

from optim.checks.base import DRAW, SUPPLY, Capex, Context, Decision, SiteContext, delivered

NAME = "grid"
KINDS = {"interconnection": True}
FLOWS = {"import_mw": SUPPLY, "export_mw": DRAW}
LINES = {"export_usd": 5, "import_usd": 6, "coincident_peak_usd": 11, "hedge_usd": 12}


def read(ctx: Context, row: Decision) -> Capex | None:
    """An upgrade decided in the row's month (`name` is the upgrade's)."""
    upgrade = next((u for u in row.site.upgrades if u.name == row.name), None)
    if upgrade is None or upgrade.online_month is not None:
        return None
    starts = ctx.state.setdefault((row.site.name, row.name), np.zeros(ctx.time.n_months))
    starts[row.month] += row.quantity
    return Capex(upgrade.capex_usd, upgrade.life_months)


def limits(ctx: SiteContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Firm, flexible and export MW of every horizon month, upgrades included; each
    decided upgrade at most once."""
    site, time = ctx.site, ctx.time
    n = time.n_months
    mw = np.tile([site.firm_import_mw, site.flex_import_mw, site.export_mw], (n, 1))
    for u in site.upgrades:
        if u.online_month is not None:
            online = (np.arange(n) >= time.month_index(u.online_month)).astype(float)
        else:
            starts = ctx.state.get((site.name, u.name), np.zeros(n))
            ctx.add("upgrade_once", u.name, float(starts.sum()) - 1.0, 1.0)
            online = delivered(starts, u.lead_time_months)
        mw += online[:, None] * np.array([u.firm_mw, u.flex_mw, u.export_mw])
    return mw[:, 0], mw[:, 1], mw[:, 2]


def check_site(ctx: SiteContext) -> None:
    """Import/export limits, energy cash, hedge and 4CP of one site."""
    site, time = ctx.site, ctx.time
    imp, exp = ctx.flow("import_mw"), ctx.flow("export_mw")
    lmp = ctx.price
    firm, flex, export = (a[time.month_of_hour] for a in limits(ctx))
    import_cap = firm + flex * (1.0 - ctx.stress)
    ctx.hourly("import_limit", imp - import_cap, import_cap)
    ctx.hourly("export_limit", exp - export, export)
    ctx.cash("import_usd", -time.by_month(imp * (lmp + site.energy_adder_usd_per_mwh)))
    ctx.cash("export_usd", time.by_month(exp * lmp))
    if site.ppa_mw:
        ctx.cash("hedge_usd", time.by_month(site.ppa_mw * (lmp - site.ppa_price_usd_per_mwh)))
    peak = ctx.peak
    if peak.any():
        charge = np.zeros(time.n_months)
        for year in np.unique(time.year_of_hour[peak]):
            flagged = peak & (time.year_of_hour == year)
            k_pay = int(np.flatnonzero(time.month_year == year).max())
            charge[k_pay] -= site.cp_charge_usd_per_mw_year * float(imp[flagged].mean())
        ctx.cash("coincident_peak_usd", charge)
