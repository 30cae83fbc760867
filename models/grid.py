"""Grid: import (firm + flexible, withdrawn in stress hours), export, the import and
export dollars, the power hedge and the coincident-peak (4CP) charge (MODEL.md §3).

Variables per site and step j: `imp` in [0, firm + flex * (1 - stress_j)] MW,
`exp` in [0, export_mw] MW.
"""

from __future__ import annotations

import numpy as np

from optim.core import Core


def build(core: Core) -> None:
    p = core.problem
    b = core.block("grid")
    for s, site in enumerate(p.sites):
        st = site.steps
        steps = np.arange(st.n)
        cap_mw = site.firm_import_mw + site.flex_import_mw * (~st.stress)
        imp = core.var(b, f"imp_{s}", list(steps), 0.0, cap_mw)
        core.supply(s, "import_mw", imp)
        core.add_cash("import_usd", s, st.month,
                      -(st.price_usd_per_mwh + site.energy_adder_usd_per_mwh) * st.weight_h, imp)
        if site.export_mw > 0:
            exp = core.var(b, f"exp_{s}", list(steps), 0.0, site.export_mw)
            core.draw(s, "export_mw", exp)
            core.add_cash("export_usd", s, st.month, st.price_usd_per_mwh * st.weight_h, exp)
        if site.ppa_mw != 0:
            hedge = site.ppa_mw * (st.price_usd_per_mwh - site.ppa_price_usd_per_mwh) * st.weight_h
            core.add_cash("hedge_usd", s, st.month, hedge)
        if site.cp_charge_usd_per_mw_year > 0 and st.peak.any():
            _coincident_peak(core, s, imp)


def _coincident_peak(core: Core, s: int, imp: list) -> None:
    """cp * mean(import over the year's peak hours), paid in the year's last horizon month."""
    p = core.problem
    site = p.sites[s]
    st = site.steps
    year = p.horizon.month_year[st.month]
    peak = np.flatnonzero(st.peak)
    peak_hours = {y: st.weight_h[peak][year[peak] == y].sum() for y in np.unique(year[peak])}
    last_month = {y: int(np.flatnonzero(p.horizon.month_year == y).max()) for y in peak_hours}
    coef = np.array([-site.cp_charge_usd_per_mw_year * st.weight_h[j] / peak_hours[year[j]]
                     for j in peak])
    pay = np.array([last_month[year[j]] for j in peak], int)
    core.add_cash("coincident_peak_usd", s, pay, coef, [imp[j] for j in peak])
