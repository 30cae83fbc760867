"""Independent check of BYO generation (MODEL.md §3 "BYO generation").

Units built per (site, technology) online after the lead time, the unit cap, output within
cf * availability * unit_mw * units (cf as the plan saw it: its group mean under blocks),
fuel and VOM per MWh, fixed O&M per month.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

import numpy as np

from optim.checks.base import SUPPLY, Capex, Context, Decision, SiteContext, delivered

if TYPE_CHECKING:
    from optim.scenario import Site

NAME = "generation"
KINDS = {"generator": True}
FLOWS = {"generation_mw": SUPPLY}
LINES = {"fuel_usd": 7, "generation_fom_usd": 9}


def details(ctx: Context, site: Site) -> Mapping[str, Collection[str]]:
    """`generation_mw:<technology>` for the technologies the site lists."""
    return {"generation_mw": [g.technology for g in site.generation]}


def read(ctx: Context, row: Decision) -> Capex | None:
    """`quantity` units of technology `name` started in the row's month."""
    g = next((g for g in ctx.scenario.generator if g.name == row.name), None)
    if g is None or row.name not in {e.technology for e in row.site.generation}:
        return None
    build = ctx.state.setdefault((row.site.name, row.name), np.zeros(ctx.time.n_months))
    build[row.month] += row.quantity
    return Capex(g.capex_usd_per_mw * g.unit_mw, g.life_months)


def check_site(ctx: SiteContext) -> None:
    """Unit caps, output within available capacity, fuel/VOM and FOM."""
    site, time = ctx.site, ctx.time
    n, T, m = time.n_months, time.n_hours, time.month_of_hour
    gens = {g.name: g for g in ctx.scenario.generator}
    for entry in site.generation:
        g = gens[entry.technology]
        build = ctx.state.get((site.name, g.name), np.zeros(n))
        units = entry.existing_units + delivered(build, g.lead_time_months)
        total_units = entry.existing_units + float(build.sum())
        ctx.add("units_cap", None, total_units - entry.max_units, entry.max_units)
        cf = np.ones(T)
        if g.profile:
            cf = ctx.as_planned(np.asarray(ctx.series.capacity_factor[g.profile], dtype=float))
        gen = ctx.flow(f"generation_mw:{g.name}")
        cap = cf * g.availability * g.unit_mw * units[m]
        ctx.hourly("gen_cap", gen - cap, cap)
        if g.fuel_hub is not None:
            fuel = np.asarray(ctx.series.fuel_usd_per_mmbtu[g.fuel_hub],
                              dtype=float)[time.day_of_hour]
        else:
            fuel = np.full(T, float(g.fuel_usd_per_mmbtu or 0.0))
        ctx.cash("fuel_usd", -time.by_month(gen * (g.heat_rate_mmbtu_per_mwh * fuel
                                                   + g.vom_usd_per_mwh)))
        ctx.cash("generation_fom_usd", -(g.fom_usd_per_mw_month * g.unit_mw * units))
