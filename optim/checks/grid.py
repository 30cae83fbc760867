"""Independent check of the grid connection (MODEL.md §3 "Grid, balance, stress").

Import within firm + flex (flex withdrawn in stress hours), export within its limit; import
cost at lmp + adder, export revenue at lmp, the hedge settlement and the coincident-peak
(4CP) charge on the mean import of each year's flagged hours.
"""

from __future__ import annotations

import numpy as np

from optim.checks.base import DRAW, SUPPLY, SiteContext

NAME = "grid"
KINDS: dict[str, bool] = {}
FLOWS = {"import_mw": SUPPLY, "export_mw": DRAW}
LINES = {"export_usd": 5, "import_usd": 6, "coincident_peak_usd": 11, "hedge_usd": 12}


def check_site(ctx: SiteContext) -> None:
    """Import/export limits, energy cash, hedge and 4CP of one site."""
    site, time = ctx.site, ctx.time
    imp, exp = ctx.flow("import_mw"), ctx.flow("export_mw")
    lmp = ctx.price
    import_cap = site.firm_import_mw + site.flex_import_mw * (1.0 - ctx.stress)
    ctx.hourly("import_limit", imp - import_cap, import_cap)
    ctx.hourly("export_limit", exp - site.export_mw, site.export_mw)
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
