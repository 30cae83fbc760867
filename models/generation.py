"""BYO generation: integer unit builds with a lead time, existing units, availability and
profiles, fuel and VOM per MWh, FOM per unit-month (MODEL.md §3 "BYO generation").

Per site s and technology g: `build[k]` integer units in investment months, `units[k]`,
`gen[j]` MW in [0, cf_j * availability * unit_mw * units[m(j)]].
"""

from __future__ import annotations

import numpy as np

from optim.core import Core


def build(core: Core) -> None:
    p = core.problem
    b = core.block("generation")
    months = np.arange(p.n_months)
    invest = np.flatnonzero(p.invest_month)
    for s, site in enumerate(p.sites):
        st = site.steps
        for sg in site.generation:
            g = p.generators[sg.tech]
            tag = f"{s}_{sg.tech}"
            new: list = []
            if sg.max_new_units > 0 and len(invest):
                new = core.var(b, f"build_{tag}", list(invest), 0.0, sg.max_new_units,
                               integer=True)
                core.total_cap(b, f"units_cap_{tag}", new, sg.max_new_units)
                core.add_investment("generator", g.name, s, invest, new, g.unit_mw,
                                    g.unit_capex_usd, g.life_months)
            units = core.stock(b, f"units_{tag}", new, invest[:len(new)], g.lead_time_months,
                               float(sg.existing_units))
            unit_cap = st.capacity_factor[:, sg.tech] * g.availability * g.unit_mw
            gen = core.capped(b, f"gen_{tag}", st.n, units, st.month, unit_cap)
            fom_vars, fom = core.per(units, months, -g.fom_usd_per_mw_month * g.unit_mw)
            core.add_cash("generation_fom_usd", s, months, fom, fom_vars)
            core.add_state("generator_units", s, months, *core.per(units, months))
            core.supply(s, "generation_mw", gen, detail=g.name)
            cost = g.heat_rate_mmbtu_per_mwh * st.fuel_usd_per_mmbtu[:, sg.tech] + g.vom_usd_per_mwh
            core.add_cash("fuel_usd", s, st.month, -cost * st.weight_h, gen)
