"""Grid: import (firm + flexible, withdrawn in stress hours), export, the import and
export dollars, the power hedge, the coincident-peak (4CP) charge (MODEL.md §3) and
interconnection upgrades (§8).

Variables per site and step j: `imp` in [0, firm + flex * (1 - stress_j)] MW,
`exp` in [0, export_mw] MW, each limit raised by the upgrades online in month m(j). A
committed upgrade (`online_month`) adds its MW from that month; any other is a 0/1
decision `up[u, k]` in investment months (at most one per upgrade) that adds its MW from
k + lead_time_months, with capex and a capital charge. While an upgrade is a decision the
limits are rows (`import_limit`, `export_limit`); once settled they are bounds again.
A greenfield site is one with no import of its own and an upgrade.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import Field, field_validator, model_validator

from optim.checks import grid as checker
from optim.core import Core
from optim.option import Headline, Option, SpecContext
from optim.problem import month_index
from optim.scenario import NonNeg, Scenario, Site, Strict, _month, duplicate_names

NAME = "grid"
TARIFF = "import_tariff_usd_per_mwh"  # published: lmp + energy adder per step


class Upgrade(Strict):
    name: str = Field(min_length=1)
    firm_mw: NonNeg = 0.0
    flex_mw: NonNeg = 0.0
    export_mw: NonNeg = 0.0
    capex_usd: NonNeg | None = None
    lead_time_months: int | None = Field(None, ge=0)
    life_months: int | None = Field(None, gt=0)
    online_month: str | None = None

    _online = field_validator("online_month")(lambda v: v if v is None else _month(v))

    @model_validator(mode="after")
    def _decision_fields(self) -> Upgrade:
        if self.online_month is None:
            missing = [f for f in ("capex_usd", "lead_time_months", "life_months")
                       if getattr(self, f) is None]
            if missing:
                raise ValueError(f"upgrade {self.name!r}: {', '.join(missing)} required "
                                 "unless online_month is given (a committed upgrade)")
        return self


@dataclass(frozen=True)
class UpgradeSpec:
    name: str
    firm_mw: float
    flex_mw: float
    export_mw: float
    capex_usd: float
    lead_time_months: int
    life_months: int


@dataclass(frozen=True)
class GridSpec:
    firm_import_mw: float
    flex_import_mw: float
    export_mw: float
    energy_adder_usd_per_mwh: float
    ppa_mw: float
    ppa_price_usd_per_mwh: float
    cp_charge_usd_per_mw_year: float
    committed_mw: np.ndarray  # (N, 3): firm, flex and export MW of committed upgrades by month
    upgrades: tuple[UpgradeSpec, ...]  # the upgrades that are decisions


def validate(scenario: Scenario) -> list[str]:
    return [f"site {site.name!r}: upgrades: {problem}" for site in scenario.site
            for problem in duplicate_names("upgrades", [u.name for u in site.upgrades])]


def flags(ctx: SpecContext, site: Site) -> dict[str, np.ndarray]:
    """Peak intervals (events `peak`) form groups of their own where a 4CP charge is paid."""
    none = np.zeros(ctx.horizon.n_hours, bool)
    if site.node is None or site.cp_charge_usd_per_mw_year <= 0:
        return {"peak": none}
    return {"peak": ctx.series.peak.get(site.node, none)}


def site_spec(ctx: SpecContext, site: Site) -> GridSpec:
    k = np.arange(ctx.horizon.months)
    committed = np.zeros((len(k), 3))
    for u in site.upgrades:
        if u.online_month is not None:
            online = k >= month_index(u.online_month, ctx.horizon)
            committed[online] += [u.firm_mw, u.flex_mw, u.export_mw]
    upgrades = tuple(UpgradeSpec(u.name, u.firm_mw, u.flex_mw, u.export_mw, u.capex_usd,
                                 u.lead_time_months, u.life_months)
                     for u in site.upgrades if u.online_month is None)
    return GridSpec(site.firm_import_mw, site.flex_import_mw, site.export_mw,
                    site.energy_adder_usd_per_mwh, site.ppa_mw, site.ppa_price_usd_per_mwh,
                    site.cp_charge_usd_per_mw_year, committed, upgrades)


def build(core: Core) -> None:
    p = core.problem
    b = core.block(NAME)
    for s, site in enumerate(p.sites):
        g: GridSpec = site.spec(NAME)
        st = site.steps
        firm, flex, export = _limits(core, b, s, g)
        imp = _limited(core, b, f"imp_{s}", s, "import_limit", [
            (firm, np.ones(st.n)), (flex, (~st.stress).astype(float))],
            "import is limited to firm_import_mw + flex_import_mw and the upgrades online")
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
        if g.export_mw > 0 or g.committed_mw[:, 2].any() or \
                any(u.export_mw > 0 for u in g.upgrades):
            exp = _limited(core, b, f"exp_{s}", s, "export_limit", [(export, np.ones(st.n))],
                           "export is limited to export_mw and the upgrades online")
            core.draw(s, "export_mw", exp)
            core.add_cash("export_usd", s, st.month, st.price_usd_per_mwh * st.weight_h, exp)
        if g.ppa_mw != 0:
            hedge = g.ppa_mw * (st.price_usd_per_mwh - g.ppa_price_usd_per_mwh) * st.weight_h
            core.add_cash("hedge_usd", s, st.month, hedge)
        if g.cp_charge_usd_per_mw_year > 0 and st.flag("peak").any():
            _coincident_peak(core, s, imp, g.cp_charge_usd_per_mw_year)


def _limits(core: Core, b: object, s: int, g: GridSpec) -> tuple[list, list, list]:
    """Firm, flexible and export MW by month: each a list of (monthly quantity, MW per
    unit) parts -- the site's own and committed MW (an array), and every upgrade's online
    0/1 stock (variables while a decision, an array once settled)."""
    n = core.problem.n_months
    invest = np.flatnonzero(core.problem.invest_month)
    base = np.column_stack([np.full(n, g.firm_import_mw), np.full(n, g.flex_import_mw),
                            np.full(n, g.export_mw)]) + g.committed_mw
    parts: list[list] = [[(base[:, i], 1.0)] for i in range(3)]
    for i, u in enumerate(g.upgrades):
        if not len(invest):
            break
        up = core.decision(b, f"up_{s}_{i}", "interconnection", u.name, s, invest, 1.0, True,
                           u.firm_mw + u.flex_mw, u.capex_usd, u.life_months)
        core.total_cap(b, f"up_once_{s}_{i}", up, 1.0)
        online = core.stock(b, f"up_online_{s}_{i}", up, invest, u.lead_time_months, 0.0)
        for column, mw in enumerate((u.firm_mw, u.flex_mw, u.export_mw)):
            if mw > 0:
                parts[column].append((online, mw))
    return parts[0], parts[1], parts[2]


def _limited(core: Core, b: object, name: str, s: int, row: str,
             limits: list[tuple[list, np.ndarray]], label: str) -> list:
    """Per-step variables in [0, sum over limits of their parts in month m(j) times the
    step's factor]: a bound where every part is settled, else a row."""
    st = core.problem.sites[s].steps
    bound = np.zeros(st.n)
    decided: list[tuple[list, np.ndarray]] = []
    for parts, factor in limits:
        for quantity, mw in parts:
            if isinstance(quantity, np.ndarray):
                bound += mw * quantity[st.month] * factor
            else:
                decided.append((quantity, mw * factor))
    if not decided:
        return core.var(b, name, range(st.n), 0.0, bound)
    upper = bound + sum(coef for _, coef in decided)
    x = core.var(b, name, range(st.n), 0.0, upper)
    core.declare_row(row, s, "<=", bound, label, lambda _short, label=label: label)
    core.add_to_row(row, s, x, 1.0)
    for quantity, coef in decided:
        core.add_to_row(row, s, *core.per(quantity, st.month, -coef))
    return x


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
    core.add_cash("coincident_peak_usd", s, pay, coef, core.pick(imp, peak))


OPTION = Option(
    name=NAME,
    build=build,
    check=checker,
    validate=validate,
    site_fields={
        "upgrades": (list[Upgrade], []),
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
    kinds={"interconnection": "Interconnection upgrades"},
    headline={"upgrades": Headline("Interconnection upgrades", "interconnection", "quantity",
                                   4)},
    provides=(TARIFF,),
)
