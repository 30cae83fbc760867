"""AI colocation: hall retrofits (integer starts, lead time), halls online, the firm draw,
lease, pass-through, opex and signed leases with liquidated damages (MODEL.md §3).

Per site: `start[k]` integer halls in investment months; `online[k]` halls =
committed (under construction) + starts at least `lead_time_months` earlier; the draw
pue * hall_it_mw * online[m(j)] is firm in every step; `short[e, k]` halls late on
signed lease e.
"""

from __future__ import annotations

import numpy as np

from optim.core import Core


def build(core: Core) -> None:
    p = core.problem
    b = core.block("ai")
    months = np.arange(p.n_months)
    invest = np.flatnonzero(p.invest_month)
    for s, site in enumerate(p.sites):
        ai = site.ai
        if ai is None:
            continue
        st = site.steps
        start: list = []
        if ai.max_new_halls > 0 and len(invest):
            start = core.var(b, f"start_{s}", list(invest), 0.0, ai.max_new_halls, integer=True)
            core.total_cap(b, f"halls_cap_{s}", start, ai.max_new_halls)
            core.add_investment("ai_hall", "ai_hall", s, invest, start, ai.hall_it_mw,
                                ai.hall_capex_usd, ai.life_months)
        online = core.stock(b, f"online_{s}", start, invest[:len(start)], ai.lead_time_months,
                            ai.committed_online_halls.astype(float))
        core.draw(s, "ai_mw", *core.per(online, st.month, ai.pue * ai.hall_it_mw))
        if ai.displaces_mining_mw_per_hall > 0:
            core.add_to_row("mining_infra", s,
                            *core.per(online, st.month, ai.displaces_mining_mw_per_hall))
        monthly = {"lease_usd": ai.hall_it_mw * 1000.0 * ai.lease_usd_per_kw_month,
                   "ai_opex_usd": -ai.opex_usd_per_mw_it_month * ai.hall_it_mw}
        if ai.power_pass_through:
            tariff_mwh = np.bincount(st.month, weights=st.weight_h * (
                st.price_usd_per_mwh + site.energy_adder_usd_per_mwh), minlength=p.n_months)
            monthly["pass_through_usd"] = ai.pue * ai.hall_it_mw * tariff_mwh
        for line, rate in monthly.items():
            variables, coef = core.per(online, months, rate)
            core.add_cash(line, s, months, coef, variables)
        core.add_state("ai_halls_online", s, months, *core.per(online, months))
        _signed_leases(core, b, s, online)


def _signed_leases(core: Core, b: object, s: int, online: np.ndarray | list) -> None:
    """Shortfall against contracts already due; each late hall pays its contract's LDs."""
    p = core.problem
    ai = p.sites[s].ai
    if ai is None or len(ai.signed_halls) == 0:
        return
    months = np.arange(p.n_months)
    due = ai.signed_due_month[None, :] <= months[:, None]  # (N, E)
    keys = [(int(e), int(k)) for k in months for e in np.flatnonzero(due[k])]
    if not keys:
        return
    short = core.var(b, f"short_{s}", keys, 0.0, [ai.signed_halls[e] for e, _ in keys])
    by_month: dict[int, list] = {}
    for (_e, k), v in zip(keys, short, strict=True):
        by_month.setdefault(k, []).append(v)
    due_months = np.array(sorted(by_month))
    owed = np.array([ai.signed_halls[due[k]].sum() for k in due_months], float)
    delivered, coef = core.per(online, due_months)
    if delivered is None:
        rows = [(by_month[k], [1.0] * len(by_month[k])) for k in due_months]
        rhs = owed - coef
    else:
        rows = [([delivered[i], *by_month[k]], [1.0] * (1 + len(by_month[k])))
                for i, k in enumerate(due_months)]
        rhs = owed
    core.rows(b, f"signed_{s}", rows, ">=", rhs)
    e_idx = np.array([e for e, _ in keys])
    core.add_cash("liquidated_damages_usd", s, np.array([k for _, k in keys]),
                  -ai.signed_ld_usd_per_mw_month[e_idx] * ai.hall_it_mw, short)
