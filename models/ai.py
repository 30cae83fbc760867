"""AI colocation: hall retrofits (integer starts, lead time), halls online, the firm draw,
lease, pass-through, opex and signed leases with liquidated damages (MODEL.md §3).

Per site: `start[k]` integer halls in investment months; `online[k]` halls =
committed (under construction) + starts at least `lead_time_months` earlier; the draw
pue * hall_it_mw * online[m(j)] is firm in every step; `short[e, k]` halls late on
signed lease e. Each hall online displaces MW of the shared mining-infrastructure row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import Field, field_validator

from optim.checks import ai as checker
from optim.core import Core
from optim.option import Headline, Option, RowPart, SpecContext
from optim.problem import Problem, SiteSpec, month_index
from optim.scenario import NonNeg, Pos, Site, Strict, _month

NAME = "ai"
INFRA_ROW = "mining_infra"
TARIFF = "import_tariff_usd_per_mwh"  # the site's grid tariff, published by the grid


class UnderConstruction(Strict):
    halls: int = Field(gt=0)
    online_month: str

    _online = field_validator("online_month")(_month)


class SignedLease(Strict):
    halls: int = Field(gt=0)
    rfs_month: str
    ld_usd_per_mw_month: NonNeg

    _rfs = field_validator("rfs_month")(_month)


class Ai(Strict):
    hall_it_mw: Pos
    max_halls: int = Field(ge=0)
    capex_usd_per_mw_it: NonNeg
    lease_usd_per_kw_month: float
    life_months: int = Field(gt=0)
    lead_time_months: int = Field(0, ge=0)
    pue: float = Field(1.0, ge=1)
    power_pass_through: bool = False
    opex_usd_per_mw_it_month: NonNeg = 0.0
    displaces_mining_mw_per_hall: NonNeg = 0.0
    under_construction: list[UnderConstruction] = []
    signed: list[SignedLease] = []


@dataclass(frozen=True)
class AiSpec:
    hall_it_mw: float
    max_new_halls: int  # max_halls minus halls under construction
    hall_capex_usd: float
    lease_usd_per_kw_month: float
    life_months: int
    lead_time_months: int
    pue: float
    power_pass_through: bool
    opex_usd_per_mw_it_month: float
    displaces_mining_mw_per_hall: float
    committed_online_halls: np.ndarray  # (N,) halls under construction online by month k
    signed_halls: np.ndarray  # (E,)
    signed_due_month: np.ndarray  # (E,) month index of the ready-for-service date
    signed_ld_usd_per_mw_month: np.ndarray  # (E,)


def site_spec(ctx: SpecContext, site: Site) -> AiSpec | None:
    a = site.ai
    if a is None:
        return None
    k = np.arange(ctx.horizon.months)
    committed = np.zeros(len(k), int)
    for u in a.under_construction:
        committed += u.halls * (k >= month_index(u.online_month, ctx.horizon))
    return AiSpec(a.hall_it_mw, a.max_halls - sum(u.halls for u in a.under_construction),
                  a.capex_usd_per_mw_it * a.hall_it_mw, a.lease_usd_per_kw_month,
                  a.life_months, a.lead_time_months, a.pue, a.power_pass_through,
                  a.opex_usd_per_mw_it_month, a.displaces_mining_mw_per_hall, committed,
                  np.array([e.halls for e in a.signed], int),
                  np.array([month_index(e.rfs_month, ctx.horizon) for e in a.signed], int),
                  np.array([e.ld_usd_per_mw_month for e in a.signed], float))


def conflicts(problem: Problem, site: SiteSpec) -> list[str]:
    ai: AiSpec | None = site.spec(NAME)
    if ai is None or ai.max_new_halls >= 0:
        return []
    return [f"site {site.name!r}: halls under construction exceed ai.max_halls by "
            f"{-ai.max_new_halls}"]


def row_parts(problem: Problem, site: SiteSpec) -> list[RowPart]:
    """Halls under construction displace mining infrastructure whatever the plan."""
    ai: AiSpec | None = site.spec(NAME)
    if ai is None or ai.displaces_mining_mw_per_hall <= 0:
        return []
    return [RowPart(INFRA_ROW, ai.displaces_mining_mw_per_hall * ai.committed_online_halls,
                    f"ai.displaces_mining_mw_per_hall {ai.displaces_mining_mw_per_hall:g} x "
                    "halls under construction")]


def build(core: Core) -> None:
    p = core.problem
    b = core.block(NAME)
    months = np.arange(p.n_months)
    invest = np.flatnonzero(p.invest_month)
    for s, site in enumerate(p.sites):
        ai: AiSpec | None = site.spec(NAME)
        if ai is None:
            continue
        st = site.steps
        start: list = []
        if ai.max_new_halls > 0 and len(invest):
            start = core.decision(b, f"start_{s}", "ai_hall", "ai_hall", s, invest,
                                  ai.max_new_halls, True, ai.hall_it_mw, ai.hall_capex_usd,
                                  ai.life_months)
            core.total_cap(b, f"halls_cap_{s}", start, ai.max_new_halls)
        online = core.stock(b, f"online_{s}", start, invest[:len(start)], ai.lead_time_months,
                            ai.committed_online_halls.astype(float))
        core.draw(s, "ai_mw", *core.per(online, st.month, ai.pue * ai.hall_it_mw))
        core.explain("power", s, lambda short, ai=ai, st=st: (
            f"AI halls under construction draw "
            f"{ai.pue * ai.hall_it_mw * float(ai.committed_online_halls[st.month[short]].max()):g}"
            f" MW that is never curtailed"))
        if ai.displaces_mining_mw_per_hall > 0:
            core.add_to_row(INFRA_ROW, s,
                            *core.per(online, st.month, ai.displaces_mining_mw_per_hall))
            core.explain(INFRA_ROW, s, lambda _short, ai=ai: (
                f"ai.displaces_mining_mw_per_hall {ai.displaces_mining_mw_per_hall:g} for "
                f"every AI hall online"))
        monthly = {"lease_usd": ai.hall_it_mw * 1000.0 * ai.lease_usd_per_kw_month,
                   "ai_opex_usd": -ai.opex_usd_per_mw_it_month * ai.hall_it_mw}
        if ai.power_pass_through:
            [(_, _, tariff)] = core.published(TARIFF, s)
            tariff_mwh = np.bincount(st.month, weights=st.weight_h * tariff, minlength=p.n_months)
            monthly["pass_through_usd"] = ai.pue * ai.hall_it_mw * tariff_mwh
        for line, rate in monthly.items():
            variables, coef = core.per(online, months, rate)
            core.add_cash(line, s, months, coef, variables)
        core.add_state("ai_halls_online", s, months, *core.per(online, months))
        _signed_leases(core, b, s, ai, online)


def _signed_leases(core: Core, b: object, s: int, ai: AiSpec, online: np.ndarray | list) -> None:
    """Shortfall against contracts already due; each late hall pays its contract's LDs."""
    if len(ai.signed_halls) == 0:
        return
    months = np.arange(core.problem.n_months)
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


OPTION = Option(
    name=NAME,
    build=build,
    check=checker,
    site_fields={"ai": (Ai | None, None)},
    site_spec=site_spec,
    conflicts=conflicts,
    row_parts=row_parts,
    lines={"lease_usd": ("AI lease revenue", 3), "pass_through_usd": ("AI power pass-through", 4),
           "ai_opex_usd": ("AI opex", 8), "liquidated_damages_usd": ("Liquidated damages", 10)},
    flows={"ai_mw": ("ai", 3)},
    states={"ai_halls_online": "AI halls online"},
    kinds={"ai_hall": "AI halls started"},
    headline={"halls": Headline("AI halls started", "ai_hall", "quantity", 1)},
    needs=(TARIFF,),
)
