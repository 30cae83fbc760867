"""Self-mining: ASIC purchases in integer blocks with a delivery lag, the fleet, and the
hourly draw that earns the hashprice (MODEL.md §3 "Self-mining").

Per site s and ASIC model a: `buy[k]` integer blocks in investment months, `fleet[k]` MW,
`mine[j]` MW in [0, uptime * fleet[m(j)]].
"""

from __future__ import annotations

import numpy as np

from optim.core import Core


def revenue_usd_per_mwh(hashprice_usd_per_ph_day: np.ndarray, efficiency_j_per_th: float,
                        pool_fee: float) -> np.ndarray:
    """Mining revenue per MWh drawn: 1 MW at e J/TH is 1000/e PH/s."""
    return hashprice_usd_per_ph_day * (1000.0 / efficiency_j_per_th) / 24.0 * (1.0 - pool_fee)


def build(core: Core) -> None:
    p = core.problem
    b = core.block("mining")
    months = np.arange(p.n_months)
    invest = np.flatnonzero(p.invest_month)
    for s, site in enumerate(p.sites):
        st = site.steps
        can_buy = site.max_new_asic_blocks > 0 and len(invest) > 0
        all_buys: list = []
        for a, asic in enumerate(p.asics):
            existing_mw = site.existing_fleet_mw[a]
            if existing_mw <= 0 and not can_buy:
                continue
            buy: list = []
            if can_buy:
                buy = core.var(b, f"buy_{s}_{a}", list(invest), 0.0, site.max_new_asic_blocks,
                               integer=True)
                all_buys += buy
                core.add_investment("asic", asic.name, s, invest, buy, p.block_mw,
                                    asic.block_capex_usd, asic.life_months)
            fleet = core.stock(b, f"fleet_{s}_{a}", buy, invest[:len(buy)],
                               asic.delivery_months, existing_mw, p.block_mw)
            mine = core.capped(b, f"mine_{s}_{a}", st.n, fleet, st.month, asic.uptime)
            core.add_state("asic_fleet_mw", s, months, *core.per(fleet, months))
            core.draw(s, "mining_mw", mine, detail=asic.name)
            core.add_to_row("mining_infra", s, mine, 1.0)
            rate = revenue_usd_per_mwh(st.hashprice_usd_per_ph_day, asic.efficiency_j_per_th,
                                       p.pool_fee)
            core.add_cash("mining_usd", s, st.month, rate * st.weight_h, mine)
        core.total_cap(b, f"buy_cap_{s}", all_buys, site.max_new_asic_blocks)
