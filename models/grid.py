"""Grid: import (firm + flexible, withdrawn in stress hours), export, the import and
export dollars, the power hedge and the coincident-peak (4CP) charge (MODEL.md §3).

Variables per site and step j: `imp` in [0, firm + flex * (1 - stress_j)] MW,
`exp` in [0, export_mw] MW.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optim.checks import grid as checker
from optim.core import Core
from optim.option import Option, SpecContext
from optim.scenario import NonNeg, Site

NAME = "grid"
TARIFF = "import_tariff_usd_per_mwh"  # published: lmp + energy adder per step


@dataclass(frozen=True)
class GridSpec:
    firm_import_mw: float
    flex_import_mw: float
    export_mw: float
    energy_adder_usd_per_mwh: float
    ppa_mw: float
    ppa_price_usd_per_mwh: float
    cp_charge_usd_per_mw_year: float


def flags(ctx: SpecContext, site: Site) -> dict[str, np.ndarray]:
    """Peak intervals (events `peak`) form groups of their own where a 4CP charge is paid."""
    none = np.zeros(ctx.horizon.n_hours, bool)
    if site.node is None or site.cp_charge_usd_per_mw_year <= 0:
        return {"peak": none}
    return {"peak": ctx.series.peak.get(site.node, none)}


def site_spec(ctx: SpecContext, site: Site) -> GridSpec:
    return GridSpec(site.firm_import_mw, site.flex_import_mw, site.export_mw,
                    site.energy_adder_usd_per_mwh, site.ppa_mw, site.ppa_price_usd_per_mwh,
                    site.cp_charge_usd_per_mw_year)


def build(core: Core) -> None:
    p = core.problem
    b = core.block(NAME)
    for s, site in enumerate(p.sites):
        g: GridSpec = site.spec(NAME)
        st = site.steps
        steps = np.arange(st.n)
        cap_mw = g.firm_import_mw + g.flex_import_mw * (~st.stress)
        imp = core.var(b, f"imp_{s}", list(steps), 0.0, cap_mw)
        core.supply(s, "import_mw", imp)
        core.explain("power", s, lambda short, g=g, st=st: (
            f"in stress hours flex_import_mw {g.flex_import_mw:g} is withdrawn and only "
            f"firm_import_mw {g.firm_import_mw:g} plus generation remain"
            if st.stress[short].any() else
            f"import is limited to firm_import_mw {g.firm_import_mw:g} + flex_import_mw "
            f"{g.flex_import_mw:g}"))
        tariff = st.price_usd_per_mwh + g.energy_adder_usd_per_mwh
        core.publish(TARIFF, s, None, tariff)
        core.add_cash("import_usd", s, st.month, -tariff * st.weight_h, imp)
        if g.export_mw > 0:
            exp = core.var(b, f"exp_{s}", list(steps), 0.0, g.export_mw)
            core.draw(s, "export_mw", exp)
            core.add_cash("export_usd", s, st.month, st.price_usd_per_mwh * st.weight_h, exp)
        if g.ppa_mw != 0:
            hedge = g.ppa_mw * (st.price_usd_per_mwh - g.ppa_price_usd_per_mwh) * st.weight_h
            core.add_cash("hedge_usd", s, st.month, hedge)
        if g.cp_charge_usd_per_mw_year > 0 and st.flag("peak").any():
            _coincident_peak(core, s, imp, g.cp_charge_usd_per_mw_year)


def _coincident_peak(core: Core, s: int, imp: list, cp_usd_per_mw_year: float) -> None:
    """cp * mean(import over the year's peak hours), paid in the year's last horizon month."""
    p = core.problem
    st = p.sites[s].steps
    year = p.horizon.month_year[st.month]
    peak = np.flatnonzero(st.flag("peak"))
    peak_hours = {y: st.weight_h[peak][year[peak] == y].sum() for y in np.unique(year[peak])}
    last_month = {y: int(np.flatnonzero(p.horizon.month_year == y).max()) for y in peak_hours}
    coef = np.array([-cp_usd_per_mw_year * st.weight_h[j] / peak_hours[year[j]] for j in peak])
    pay = np.array([last_month[year[j]] for j in peak], int)
    core.add_cash("coincident_peak_usd", s, pay, coef, [imp[j] for j in peak])


OPTION = Option(
    name=NAME,
    build=build,
    check=checker,
    site_fields={
        "firm_import_mw": (NonNeg, 0.0),
        "flex_import_mw": (NonNeg, 0.0),
        "export_mw": (NonNeg, 0.0),
        "energy_adder_usd_per_mwh": (NonNeg, 0.0),
        "ppa_mw": (NonNeg, 0.0),
        "ppa_price_usd_per_mwh": (float, 0.0),
        "cp_charge_usd_per_mw_year": (NonNeg, 0.0),
    },
    flags=flags,
    site_spec=site_spec,
    lines={"export_usd": ("Export revenue", 5), "import_usd": ("Grid import cost", 6),
           "coincident_peak_usd": ("Coincident peak (4CP)", 11),
           "hedge_usd": ("Power hedge credits", 12)},
    flows={"import_mw": ("import", 5), "export_mw": ("export", 6)},
    provides=(TARIFF,),
)
