"""AI halls: leased (colocation, MODEL.md §3) or run as a GPU cloud (§8).

Per site: `start[k]` integer lease halls and `cloud_start[k]` integer cloud halls in
investment months, together within `max_halls`; each online after `lead_time_months`
(lease halls also from their under-construction `online_month`). A lease hall draws
pue * hall_it_mw * u[j] (the tenant's load profile, 1 without one) and is paid the lease
on the whole hall, escalated per vintage by `lease_escalator_per_year`, plus the
pass-through on its draw; `short[e, k]` halls late on signed lease e pay damages. A cloud
hall draws pue * hall_it_mw in every step, earns the GPU-hour price on
gpus_per_mw_it * hall_it_mw * utilization GPUs (line `compute`), pays the facility opex
and its own cloud opex, and its GPUs are charged over their own life. Every hall online
displaces MW of the shared mining-infrastructure row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import Field, field_validator

from optim.checks import ai as checker
from optim.core import Core
from optim.errors import InputError
from optim.option import Headline, Option, RowPart, SpecContext
from optim.problem import Problem, SiteSpec, month_index
from optim.scenario import NonNeg, Pos, Scenario, Site, Strict, _month
from optim.series import Horizon, read_daily

NAME = "ai"
INFRA_ROW = "mining_infra"
TARIFF = "import_tariff_usd_per_mwh"  # the site's grid tariff, published by the grid
GPU_PRICE = "price_usd_per_gpu_hour"
LOAD = "tenant_load"


class UnderConstruction(Strict):
    halls: int = Field(gt=0)
    online_month: str

    _online = field_validator("online_month")(_month)


class SignedLease(Strict):
    halls: int = Field(gt=0)
    rfs_month: str
    ld_usd_per_mw_month: NonNeg

    _rfs = field_validator("rfs_month")(_month)


class Cloud(Strict):
    gpus_per_mw_it: Pos
    gpu_capex_usd_per_mw_it: NonNeg
    gpu_life_months: int = Field(gt=0)
    utilization: float = Field(gt=0, le=1)
    opex_usd_per_mw_it_month: NonNeg


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
    cloud: Cloud | None = None
    load_profile: str = ""
    lease_escalator_per_year: NonNeg = 0.0


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
    committed_halls: np.ndarray  # (U,) halls of each under-construction entry
    committed_online_month: np.ndarray  # (U,) its online month index (may be < 0)
    lease_escalator_per_year: float
    tenant_load: bool  # lease halls draw pue * hall_it_mw * u[j] (a load profile)
    cloud: Cloud | None
    gpu_hours_usd_per_gpu: np.ndarray  # (N,) sum over a month's hours of the GPU-hour price


def validate(scenario: Scenario) -> list[str]:
    problems = []
    for site in scenario.site:
        a = site.ai
        if a is not None and a.cloud is not None and scenario.data.compute is None and \
                scenario.futures is None:
            problems.append(f"site {site.name!r}: ai.cloud needs [data].compute (the GPU-hour "
                            "price file)")
        if a is not None and a.load_profile and scenario.data.profiles is None:
            problems.append(f"site {site.name!r}: ai.load_profile {a.load_profile!r} needs "
                            "[data].profiles")
    return problems


def series_needs(scenario: Scenario) -> dict[str, set[str]]:
    return {"profiles": {s.ai.load_profile for s in scenario.site
                         if s.ai is not None and s.ai.load_profile}}


def read(scenario: Scenario, horizon: Horizon) -> dict[str, np.ndarray]:
    """The daily GPU-hour price, when a site can run cloud halls."""
    if not any(s.ai is not None and s.ai.cloud is not None for s in scenario.site) or \
            scenario.data.compute is None:
        return {}
    return {GPU_PRICE: read_daily(scenario.path("compute"), GPU_PRICE, horizon)}


def scale(data: dict[str, np.ndarray], factor: float) -> dict[str, np.ndarray]:
    """The GPU-hour price times `factor`."""
    return {key: value * factor for key, value in data.items()}


def hourly(ctx: SpecContext, site: Site) -> dict[str, np.ndarray]:
    """The tenant's hourly utilization of its lease halls (averaged per blocks step)."""
    if site.ai is None or not site.ai.load_profile:
        return {}
    return {LOAD: ctx.series.capacity_factor[site.ai.load_profile]}


def site_spec(ctx: SpecContext, site: Site) -> AiSpec | None:
    a = site.ai
    if a is None:
        return None
    horizon = ctx.horizon
    k = np.arange(horizon.months)
    committed = np.zeros(len(k), int)
    for u in a.under_construction:
        committed += u.halls * (k >= month_index(u.online_month, horizon))
    gpu_hours = np.zeros(len(k))
    if a.cloud is not None:
        if GPU_PRICE not in ctx.series.extra.get(NAME, {}):
            raise InputError(f"site {site.name!r}: ai.cloud needs a GPU-hour price: "
                             f"[data].compute or {GPU_PRICE} for every future",
                             "[futures]")
        price = ctx.series.extra[NAME][GPU_PRICE][horizon.day_of_hour]
        gpu_hours = np.bincount(horizon.month_of_hour, weights=price, minlength=len(k))
    return AiSpec(a.hall_it_mw, a.max_halls - sum(u.halls for u in a.under_construction),
                  a.capex_usd_per_mw_it * a.hall_it_mw, a.lease_usd_per_kw_month,
                  a.life_months, a.lead_time_months, a.pue, a.power_pass_through,
                  a.opex_usd_per_mw_it_month, a.displaces_mining_mw_per_hall, committed,
                  np.array([e.halls for e in a.signed], int),
                  np.array([month_index(e.rfs_month, horizon) for e in a.signed], int),
                  np.array([e.ld_usd_per_mw_month for e in a.signed], float),
                  np.array([u.halls for u in a.under_construction], int),
                  np.array([month_index(u.online_month, horizon)
                            for u in a.under_construction], int),
                  a.lease_escalator_per_year, bool(a.load_profile), a.cloud, gpu_hours)


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
        start, cloud_start = _starts(core, b, s, ai, invest)
        online = core.stock(b, f"online_{s}", start, invest[:len(start)], ai.lead_time_months,
                            ai.committed_online_halls.astype(float))
        load = st.input(NAME, LOAD) if ai.tenant_load else np.ones(st.n)
        core.draw(s, "ai_mw", *core.per(online, st.month, ai.pue * ai.hall_it_mw * load))
        if ai.tenant_load:
            core.add_flow("ai_unused_mw", s,
                          *core.per(online, st.month, ai.pue * ai.hall_it_mw * (1.0 - load)))
        core.explain("power", s, lambda short, ai=ai, st=st: (
            f"AI halls under construction draw "
            f"{ai.pue * ai.hall_it_mw * float(ai.committed_online_halls[st.month[short]].max()):g}"
            f" MW that is never curtailed"))
        halls = [(online, 1.0)]
        if cloud_start:
            cloud = core.stock(b, f"cloud_online_{s}", cloud_start, invest,
                               ai.lead_time_months, 0.0)
            _cloud(core, s, ai, cloud, st)
            halls.append((cloud, 1.0))
        if ai.displaces_mining_mw_per_hall > 0:
            for quantity, _ in halls:
                core.add_to_row(INFRA_ROW, s,
                                *core.per(quantity, st.month, ai.displaces_mining_mw_per_hall))
            core.explain(INFRA_ROW, s, lambda _short, ai=ai: (
                f"ai.displaces_mining_mw_per_hall {ai.displaces_mining_mw_per_hall:g} for "
                f"every AI hall online"))
        _lease(core, s, ai, start, invest)
        for quantity, _ in halls:
            variables, coef = core.per(quantity, months,
                                       -ai.opex_usd_per_mw_it_month * ai.hall_it_mw)
            core.add_cash("ai_opex_usd", s, months, coef, variables)
        if ai.power_pass_through:
            [(_, _, tariff)] = core.published(TARIFF, s)
            tariff_mwh = np.bincount(st.month, weights=st.weight_h * tariff * load,
                                     minlength=p.n_months)
            variables, coef = core.per(online, months, ai.pue * ai.hall_it_mw * tariff_mwh)
            core.add_cash("pass_through_usd", s, months, coef, variables)
        core.add_state("ai_halls_online", s, months, *core.per(online, months))
        _signed_leases(core, b, s, ai, online)


def _starts(core: Core, b: object, s: int, ai: AiSpec, invest: np.ndarray) -> tuple[list, list]:
    """Lease and cloud hall starts in the investment months, within max_halls together."""
    if ai.max_new_halls <= 0 or not len(invest):
        return [], []
    start = core.decision(b, f"start_{s}", "ai_hall", "ai_hall", s, invest, ai.max_new_halls,
                          True, ai.hall_it_mw, ai.hall_capex_usd, ai.life_months)
    cloud_start: list = []
    if ai.cloud is not None:
        gpu_capex_usd = ai.cloud.gpu_capex_usd_per_mw_it * ai.hall_it_mw
        cloud_start = core.decision(
            b, f"cloud_start_{s}", "ai_cloud_hall", "ai_cloud_hall", s, invest,
            ai.max_new_halls, True, ai.hall_it_mw, ai.hall_capex_usd + gpu_capex_usd,
            ai.life_months, ((ai.hall_capex_usd, ai.life_months),
                             (gpu_capex_usd, ai.cloud.gpu_life_months)))
    core.total_cap(b, f"halls_cap_{s}", [*start, *cloud_start], ai.max_new_halls)
    return start, cloud_start


def _cloud(core: Core, s: int, ai: AiSpec, cloud: np.ndarray | list, st: object) -> None:
    """A cloud hall's firm draw, its GPU-hour revenue and its own opex, per hall online."""
    months = np.arange(core.problem.n_months)
    c = ai.cloud
    core.draw(s, "ai_mw", *core.per(cloud, st.month, ai.pue * ai.hall_it_mw))
    gpus = c.gpus_per_mw_it * ai.hall_it_mw * c.utilization
    for line, rate in (("compute_usd", gpus * ai.gpu_hours_usd_per_gpu),
                       ("ai_opex_usd", np.full(len(months),
                                               -c.opex_usd_per_mw_it_month * ai.hall_it_mw))):
        variables, coef = core.per(cloud, months, rate)
        core.add_cash(line, s, months, coef, variables)
    core.add_state("ai_cloud_halls_online", s, months, *core.per(cloud, months))


def escalation(months_online: np.ndarray, escalator_per_year: float) -> np.ndarray:
    """The lease multiplier of a hall online for `months_online` months (>= 0)."""
    return (1.0 + escalator_per_year) ** np.floor_divide(months_online, 12)


def _lease(core: Core, s: int, ai: AiSpec, start: list, invest: np.ndarray) -> None:
    """The lease on every lease hall online, escalated per vintage: a hall online since
    month k_r earns lease * (1 + g) ** floor((k - k_r) / 12) in month k >= k_r."""
    n = core.problem.n_months
    months = np.arange(n)
    rate = ai.hall_it_mw * 1000.0 * ai.lease_usd_per_kw_month
    committed = np.zeros(n)
    for halls, k_r in zip(ai.committed_halls, ai.committed_online_month, strict=True):
        earning = months >= k_r
        committed[earning] += halls * escalation(months[earning] - k_r,
                                                 ai.lease_escalator_per_year)
    core.add_cash("lease_usd", s, months, rate * committed)
    if not start:
        return
    k_r = invest + ai.lead_time_months
    settled = core.settled(start)
    month = np.concatenate([np.arange(min(k, n), n) for k in k_r])
    vintage = np.repeat(np.arange(len(k_r)), n - np.minimum(k_r, n))
    coef = rate * escalation(month - k_r[vintage], ai.lease_escalator_per_year)
    if isinstance(settled, np.ndarray):
        core.add_cash("lease_usd", s, month, coef * settled[vintage])
    else:
        core.add_cash("lease_usd", s, month, coef, [start[i] for i in vintage])


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
    month_of = np.array([k for _, k in keys])
    due_months = np.unique(month_of)
    owed = np.array([ai.signed_halls[due[k]].sum() for k in due_months], float)
    row, col = np.searchsorted(due_months, month_of), core.cols(short)
    delivered, coef = core.per(online, due_months)
    if delivered is None:
        rhs = owed - coef
    else:
        row = np.concatenate([np.arange(len(due_months)), row])
        col = np.concatenate([core.cols(delivered), col])
        rhs = owed
    core.sparse_rows(b, f"signed_{s}", row, col, np.ones(len(row)), len(due_months), ">=", rhs)
    e_idx = np.array([e for e, _ in keys])
    core.add_cash("liquidated_damages_usd", s, month_of,
                  -ai.signed_ld_usd_per_mw_month[e_idx] * ai.hall_it_mw, short)


OPTION = Option(
    name=NAME,
    build=build,
    check=checker,
    site_fields={"ai": (Ai | None, None)},
    data_fields={"compute": (str | None, None)},
    validate=validate,
    series_needs=series_needs,
    read=read,
    scale=scale,
    future_columns={GPU_PRICE: GPU_PRICE},
    hourly=hourly,
    site_spec=site_spec,
    conflicts=conflicts,
    row_parts=row_parts,
    lines={"lease_usd": ("AI lease revenue", 3), "pass_through_usd": ("AI power pass-through", 4),
           "compute_usd": ("GPU cloud revenue (compute)", 3.5),
           "ai_opex_usd": ("AI opex", 8), "liquidated_damages_usd": ("Liquidated damages", 10)},
    flows={"ai_mw": ("ai", 3), "ai_unused_mw": ("AI tenant unused", 3.1)},
    states={"ai_halls_online": "AI halls online",
            "ai_cloud_halls_online": "AI cloud halls online"},
    kinds={"ai_hall": "AI halls started", "ai_cloud_hall": "AI cloud halls started"},
    headline={"halls": Headline("AI halls started", "ai_hall", "quantity", 1),
              "cloud_halls": Headline("AI cloud halls started", "ai_cloud_hall", "quantity",
                                      1.5)},
    needs=(TARIFF,),
)
