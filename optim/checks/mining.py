"""Independent check of self-mining (MODEL.md §3 "Self-mining", "Mining infrastructure").

ASIC blocks bought per (site, model) and month, delivered after `delivery_months`; the draw
within uptime * fleet; purchases within `max_new_asic_mw`; revenue at the hashprice. It
declares the site's `mining_infra` row (rhs `mining_infra_mw`) and adds its draw to it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

import numpy as np

from optim.checks.base import DRAW, Capex, Context, Decision, SiteContext, delivered

if TYPE_CHECKING:
    from optim.scenario import Site

NAME = "mining"
KINDS = {"asic": True}
FLOWS = {"mining_mw": DRAW}
LINES = {"mining_usd": 1}
INFRA_ROW = "mining_infra"


def details(ctx: Context, site: Site) -> Mapping[str, Collection[str]]:
    """Every ASIC model may run at every site: `mining_mw:<asic>`."""
    return {"mining_mw": [a.name for a in ctx.scenario.asic]}


def read(ctx: Context, row: Decision) -> Capex | None:
    """A purchase of `quantity` blocks of the ASIC model `name`."""
    asic = next((a for a in ctx.scenario.asic if a.name == row.name), None)
    if asic is None:
        return None
    buy = ctx.state.setdefault((row.site.name, row.name), np.zeros(ctx.time.n_months))
    buy[row.month] += row.quantity
    block_mw = ctx.scenario.scenario.block_mw
    return Capex(block_mw * 1e6 / asic.efficiency_j_per_th * asic.price_usd_per_th,
                 asic.life_months)


def check_site(ctx: SiteContext) -> None:
    """Draw within the delivered fleet, the purchase cap, revenue, the infrastructure row."""
    sc, site, time = ctx.scenario.scenario, ctx.site, ctx.time
    n, m = time.n_months, time.month_of_hour
    mine_total = np.zeros(time.n_hours)
    blocks_bought = 0.0
    hashprice = np.asarray(ctx.series.hashprice_usd_per_ph_day, dtype=float)[time.day_of_hour]
    existing: dict[str, float] = {}
    for entry in site.existing_fleet:
        existing[entry.asic] = existing.get(entry.asic, 0.0) + entry.mw
    for a in ctx.scenario.asic:
        buy = ctx.state.get((site.name, a.name), np.zeros(n))
        blocks_bought += float(buy.sum())
        fleet = existing.get(a.name, 0.0) + sc.block_mw * delivered(buy, a.delivery_months)
        mine = ctx.flow(f"mining_mw:{a.name}")
        cap = a.uptime * fleet[m]
        ctx.hourly("mine_cap", mine - cap, cap)
        mine_total += mine
        per_mwh = hashprice * (1000.0 / a.efficiency_j_per_th) / 24.0 * (1.0 - sc.pool_fee)
        ctx.cash("mining_usd", time.by_month(mine * per_mwh))
    ctx.add("asic_cap", None, sc.block_mw * blocks_bought - site.max_new_asic_mw,
            site.max_new_asic_mw)
    ctx.declare_row(INFRA_ROW, site.mining_infra_mw)
    ctx.add_to_row(INFRA_ROW, mine_total)
