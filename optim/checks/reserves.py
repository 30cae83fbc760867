"""Independent check of reserves (MODEL.md §7), from the raw scenario and series.

Per site and product: the offers per ASIC model (`reserve_<product>_mw:<asic>`), their sum
within `max_mw`, a monthly product's offer constant over each month, every ASIC model's
offers within its mining draw (one MW backs one product), the deployed MW in the balance
(`reserve_deployed_mw:<product>` = share * offer, the share as the plan saw it), the
capacity payment (`reserves` line) and the hashprice lost on deployed MW (booked in the
`mining` line), hour by hour. An hourly offer may be reported without an ASIC model
(`reserve_<product>_mw`) in an hour where the plan deploys none of it; every offer of the
site is then within the site's whole mining draw (a split per model exists).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

import numpy as np

from optim.checks.base import REPORT, SUPPLY, Context, SiteContext

if TYPE_CHECKING:
    from optim.scenario import Site

NAME = "reserves"
FLOWS = {"reserve_deployed_mw": SUPPLY}
LINES = {"reserves_usd": 1.5}


def details(ctx: Context, site: Site) -> Mapping[str, Collection[str]]:
    return {"reserve_deployed_mw": [r.product for r in site.reserves]}


def site_flows(ctx: Context, site: Site) -> Mapping[str, str]:
    """The offer of every product of the site, per ASIC model, and (hourly products) the
    offer reported without a model in hours where none of the site's products is deployed."""
    keys = {f"reserve_{r.product}_mw:{a.name}": REPORT for r in site.reserves
            for a in ctx.scenario.asic}
    keys.update({f"reserve_{r.product}_mw": REPORT for r in site.reserves})
    return keys


def check_site(ctx: SiteContext) -> None:
    site, time, sc = ctx.site, ctx.time, ctx.scenario.scenario
    if not site.reserves:
        return
    commitment = {r.name: r.commitment for r in ctx.scenario.reserve}
    data = ctx.series.extra["reserves"]
    hashprice = np.asarray(ctx.series.hashprice_usd_per_ph_day, float)[time.day_of_hour]
    backed = {a.name: np.zeros(time.n_hours) for a in ctx.scenario.asic}
    pooled_total = np.zeros(time.n_hours)
    for entry in site.reserves:
        price = np.asarray(data[entry.product]["price_usd_per_mw_h"], float)
        share = np.asarray(data[entry.product]["deployed_share"], float)
        pooled = ctx.flow(f"reserve_{entry.product}_mw")
        if commitment[entry.product] == "monthly":
            ctx.hourly("reserve_monthly_offer", pooled, 0.0)  # always per ASIC model
        ctx.hourly("reserve_pooled_deployed", pooled * ctx.as_planned(share), 0.0)
        pooled_total += pooled
        total = pooled.copy()
        for a in ctx.scenario.asic:
            offer = ctx.flow(f"reserve_{entry.product}_mw:{a.name}")
            if commitment[entry.product] == "monthly":
                mean = time.by_month(offer) / time.hours_in_month
                ctx.hourly("reserve_monthly_offer", np.abs(offer - mean[time.month_of_hour]),
                           mean[time.month_of_hour])
            rate = hashprice * (1000.0 / a.efficiency_j_per_th) / 24.0 * (1.0 - sc.pool_fee)
            ctx.cash("mining_usd", -time.by_month(rate * share * offer))
            backed[a.name] += offer
            total += offer
        ctx.hourly("reserve_max_mw", total - entry.max_mw, entry.max_mw)
        expected = ctx.as_planned(share) * (total - pooled)
        ctx.hourly("reserve_deployed", np.abs(ctx.flow(f"reserve_deployed_mw:{entry.product}")
                                              - expected), expected)
        ctx.cash("reserves_usd", time.by_month(price * total))
    mine_total = np.zeros(time.n_hours)
    for a in ctx.scenario.asic:
        mine = ctx.flow(f"mining_mw:{a.name}")
        ctx.hourly("reserve_backing", backed[a.name] - mine, mine)
        mine_total += mine
    offered = pooled_total + sum(backed.values())
    ctx.hourly("reserve_backing", offered - mine_total, mine_total)
