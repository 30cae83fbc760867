"""An independent check of a solved plan: MODEL.md §3-§5 re-derived from the raw inputs.

This module is a second implementation of the model's arithmetic, written with numpy
only. It reads the scenario and the series (nothing of the optimisation model: it
imports no `optim.problem`, `optim.core`, `optim.engine`, `optim.results` or `models`),
takes the plan as the engine reports it (the investments table and the hour-by-hour
dispatch) and

* checks every constraint of §3 hour by hour (or month, block, year), with the
  tolerance `1e-5 + 1e-6 * |bound|` (capex budget: `1e-2 USD + 1e-6 * budget`);
* recomputes the NPV line by line and compares it with the solver's objective.

Conventions of this checker (where the brief leaves a choice):

* `Violation.amount` is the excess over the bound in the constraint's unit (MW, MWh for
  the curtailment budget, halls, blocks, units, USD); for an equality (`ai_draw`,
  `power_balance`) it is the absolute difference. Decision-level problems
  (`invest_month`, `unknown_decision`, `hosting_block`) carry the quantity concerned.
* The "relative" size used to pick `max_violation` and to order `violations` is
  `amount / max(1, |bound|)`; `nonfinite` values rank first.
* `when` is an hour `YYYY-MM-DDTHH:00Z`, a month `YYYY-MM` (for hosting and budget
  blocks, their first month), a horizon year as `YYYY-MM..YYYY-MM` (capex budget), or
  None for whole-horizon caps.
* The curtailment budget is tolerated relative to `hours(b) * hosted[b]`, the size of
  the row `sum host >= (1 - share) * hours(b) * hosted[b]`.
* With `plan_resolution = "blocks:K"` the NPV of the expanded dispatch is computed hour
  by hour; since each hour holds its group's value, this equals the blocks objective
  (sum over t of x_g * p_t = w * x_g * mean(p)).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optim.scenario import Scenario, Site, resolution_blocks
from optim.series import Series

ABS_TOL = 1e-5
REL_TOL = 1e-6
BUDGET_ABS_TOL_USD = 1e-2
NPV_REL_TOL = 1e-6
MAX_LISTED = 100

LINES = ("mining_usd", "hosting_usd", "lease_usd", "pass_through_usd", "export_usd",
         "import_usd", "fuel_usd", "ai_opex_usd", "generation_fom_usd",
         "liquidated_damages_usd", "coincident_peak_usd", "hedge_usd", "capital_charges_usd")
INTEGER_KINDS = ("asic", "ai_hall", "generator")


@dataclass(frozen=True)
class Violation:
    constraint: str
    site: str | None
    when: str | None
    amount: float


@dataclass(frozen=True)
class Verification:
    verified: bool
    max_violation: Violation | None
    violations: list[Violation]
    npv_recomputed_usd: float
    lines_usd: dict[str, float]
    objective_usd: float
    npv_mismatch_usd: float
    npv_tolerance_usd: float = 0.0

    def describe(self) -> str:
        """One paragraph for a log or an error message."""
        head = ("plan verified" if self.verified else "plan FAILED the independent check")
        parts = [f"{head}: NPV recomputed {self.npv_recomputed_usd:,.2f} vs objective "
                 f"{self.objective_usd:,.2f} (mismatch {self.npv_mismatch_usd:,.4f}, "
                 f"tolerance {self.npv_tolerance_usd:,.4f})"]
        for v in self.violations[:10]:
            parts.append(f"  {v.constraint} site={v.site} when={v.when} by {v.amount:.6g}")
        if len(self.violations) > 10:
            parts.append(f"  ... {len(self.violations) - 10} more")
        return "\n".join(parts)


# --------------------------------------------------------------------------- collecting


@dataclass
class _Collector:
    """Violations above tolerance with their relative size (for ranking)."""

    found: list[tuple[float, Violation]] = field(default_factory=list)

    def add(self, constraint: str, site: str | None, when: str | None, amount: float,
            bound: float, tol: float | None = None, rel: float | None = None) -> None:
        tol = ABS_TOL + REL_TOL * abs(bound) if tol is None else tol
        if not amount > tol:
            return
        rel = amount / max(1.0, abs(bound)) if rel is None else rel
        self.found.append((rel, Violation(constraint, site, when, float(amount))))

    def hourly(self, constraint: str, site: str, excess: np.ndarray, bound: np.ndarray | float,
               hour_labels: np.ndarray) -> None:
        """Per-hour excesses over a bound (vectorised; only the worst few become objects)."""
        bound = np.broadcast_to(np.abs(np.asarray(bound, dtype=float)), excess.shape)
        bad = np.flatnonzero(excess > ABS_TOL + REL_TOL * bound)
        if not bad.size:
            return
        rel = excess[bad] / np.maximum(1.0, bound[bad])
        keep = bad[np.argsort(-rel, kind="stable")[:MAX_LISTED]]
        for t in keep:
            self.found.append((float(excess[t] / max(1.0, bound[t])),
                               Violation(constraint, site, str(hour_labels[t]),
                                         float(excess[t]))))

    def result(self) -> list[Violation]:
        order = sorted(range(len(self.found)), key=lambda i: -self.found[i][0])
        return [self.found[i][1] for i in order[:MAX_LISTED]]


# --------------------------------------------------------------------------- time


@dataclass(frozen=True)
class _Time:
    n_months: int
    n_hours: int
    month_of_hour: np.ndarray
    day_of_hour: np.ndarray
    year_of_hour: np.ndarray  # calendar year of each hour
    month_year: np.ndarray  # calendar year of each month
    month_labels: list[str]
    hour_labels: np.ndarray
    hours_in_month: np.ndarray
    discount: np.ndarray  # df_k
    start: np.datetime64

    def month_index(self, label: str) -> int:
        """Index of a 'YYYY-MM' month relative to the horizon start (may fall outside)."""
        return int((np.datetime64(label, "M") - self.start).astype(int))

    def by_month(self, hourly: np.ndarray) -> np.ndarray:
        return np.bincount(self.month_of_hour, weights=hourly, minlength=self.n_months)


def _time(scenario: Scenario, series: Series) -> _Time:
    h = series.horizon
    n = len(h.month_labels)
    r = scenario.scenario.discount_rate
    labels = np.char.add(np.datetime_as_string(h.hours_utc, unit="h"), ":00Z")
    return _Time(
        n_months=n, n_hours=len(h.hours_utc), month_of_hour=np.asarray(h.month_of_hour),
        day_of_hour=np.asarray(h.day_of_hour),
        year_of_hour=h.hours_utc.astype("datetime64[Y]").astype(int) + 1970,
        month_year=np.asarray(h.month_year), month_labels=list(h.month_labels),
        hour_labels=labels,
        hours_in_month=np.bincount(h.month_of_hour, minlength=n).astype(float),
        discount=(1.0 + r) ** (-np.arange(n) / 12.0),
        start=np.datetime64(scenario.scenario.start, "M"))


def crf(rate: float, life_months: int) -> float:
    """Monthly capital recovery factor of MODEL.md §2."""
    if rate == 0:
        return 1.0 / life_months
    i = (1.0 + rate) ** (1.0 / 12.0) - 1.0
    return i / (1.0 - (1.0 + i) ** (-life_months))


def _delivered(quantity: np.ndarray, lag: int) -> np.ndarray:
    """sum(quantity[k'] for k' <= k - lag), for every month k."""
    cum = np.cumsum(quantity)
    out = np.zeros_like(cum)
    if lag < len(cum):
        out[lag:] = cum[:len(cum) - lag]
    return out


# --------------------------------------------------------------------------- inputs per site


def site_price(site: Site, series: Series) -> np.ndarray:
    """lmp[t]: the node's price, or the fixed price everywhere."""
    n = len(series.horizon.hours_utc)
    if site.fixed_price_usd_per_mwh is not None:
        return np.full(n, float(site.fixed_price_usd_per_mwh))
    return np.asarray(series.price_usd_per_mwh[site.node], dtype=float)


def top_hours(price: np.ndarray, year_of_hour: np.ndarray, h: int) -> np.ndarray:
    """The `h` highest-price hours of each calendar year (ties: earlier hour first)."""
    flag = np.zeros(len(price), bool)
    if h <= 0:
        return flag
    for year in np.unique(year_of_hour):
        pos = np.flatnonzero(year_of_hour == year)
        order = np.argsort(-price[pos], kind="stable")
        flag[pos[order[:h]]] = True
    return flag


def site_stress(site: Site, scenario: Scenario, series: Series, price: np.ndarray,
                year_of_hour: np.ndarray) -> np.ndarray:
    """stress[s,t]: events stress UNION the top-H price hours per year; none at fixed price."""
    n = len(price)
    if site.node is None:
        return np.zeros(n, bool)
    events = series.stress.get(site.node)
    flag = np.zeros(n, bool) if events is None else np.asarray(events, bool).copy()
    return flag | top_hours(price, year_of_hour, scenario.scenario.stress_hours_per_year)


def site_peak(site: Site, series: Series) -> np.ndarray:
    """Peak intervals: events `peak` at node sites with a 4CP charge, else none."""
    n = len(series.horizon.hours_utc)
    if site.node is None or site.cp_charge_usd_per_mw_year <= 0:
        return np.zeros(n, bool)
    peak = series.peak.get(site.node)
    return np.zeros(n, bool) if peak is None else np.asarray(peak, bool)


def block_groups(price: np.ndarray, stress: np.ndarray, peak: np.ndarray,
                 month_of_hour: np.ndarray, k: int) -> np.ndarray:
    """Group id of every hour under `blocks:K` (MODEL.md §4), numbered 0..G-1."""
    group = np.full(len(price), -1, dtype=np.int64)
    next_id = 0
    for month in np.unique(month_of_hour):
        hours = np.flatnonzero(month_of_hour == month)
        plain = hours[~(stress[hours] | peak[hours])]
        order = plain[np.argsort(price[plain], kind="stable")]
        for part in np.array_split(order, k):
            if part.size:
                group[part] = next_id
                next_id += 1
        for want_s, want_p in ((True, True), (True, False), (False, True)):
            part = hours[(stress[hours] == want_s) & (peak[hours] == want_p)]
            if part.size:
                group[part] = next_id
                next_id += 1
    return group


def _group_mean(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    total = np.bincount(group, weights=values)
    count = np.bincount(group)
    return (total / np.maximum(count, 1))[group]


# --------------------------------------------------------------------------- decisions


@dataclass
class _Decisions:
    """Quantities per month (integer decisions) and per contract block (hosting)."""

    buy: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # (site, asic)
    start: dict[str, np.ndarray] = field(default_factory=dict)  # site
    build: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # (site, tech)
    hosted: dict[str, np.ndarray] = field(default_factory=dict)  # site -> (blocks,)
    capex: np.ndarray | None = None  # cash capex per month
    capital_usd: np.ndarray | None = None  # undiscounted capital charges per month


def _read_decisions(scenario: Scenario, investments: pd.DataFrame, time: _Time,
                    out: _Collector) -> _Decisions:
    sc = scenario.scenario
    n = time.n_months
    sites = {s.name: s for s in scenario.site}
    asics = {a.name: a for a in scenario.asic}
    gens = {g.name: g for g in scenario.generator}
    dec = _Decisions(capex=np.zeros(n), capital_usd=np.zeros(n))
    rate = sc.discount_rate
    rows = investments.itertuples(index=False) if len(investments) else []
    for row in rows:
        site_name, kind, name = str(row.site), str(row.kind), str(row.name)
        q = float(row.quantity)
        label = str(row.month)
        site = sites.get(site_name)
        if not np.isfinite(q):
            out.add("nonfinite", site_name, label, 1.0, 0.0, rel=np.inf)
            continue
        if q < 0:
            out.add("nonnegative", site_name, label, -q, 0.0)
        try:
            k = time.month_index(label)
        except ValueError:
            k = -1
        if not 0 <= k < n:
            out.add("invest_month", site_name, label, abs(q), 0.0, tol=0.0, rel=1.0)
            continue
        if kind in INTEGER_KINDS:
            frac = abs(q - round(q))
            out.add("integrality", site_name, label, frac, 0.0)
            if k % sc.invest_every_months != 0:
                out.add("invest_month", site_name, label, abs(q), 0.0, tol=0.0, rel=1.0)
        if site is None:
            out.add("unknown_decision", site_name, label, abs(q), 0.0, tol=0.0, rel=1.0)
            continue
        unit_capex, life = 0.0, 1
        if kind == "asic" and name in asics:
            a = asics[name]
            unit_capex = sc.block_mw * 1e6 / a.efficiency_j_per_th * a.price_usd_per_th
            life = a.life_months
            dec.buy.setdefault((site_name, name), np.zeros(n))[k] += q
        elif kind == "ai_hall" and site.ai is not None:
            unit_capex = site.ai.capex_usd_per_mw_it * site.ai.hall_it_mw
            life = site.ai.life_months
            dec.start.setdefault(site_name, np.zeros(n))[k] += q
        elif kind == "generator" and name in gens and \
                name in {g.technology for g in site.generation}:
            g = gens[name]
            unit_capex = g.capex_usd_per_mw * g.unit_mw
            life = g.life_months
            dec.build.setdefault((site_name, name), np.zeros(n))[k] += q
        elif kind == "hosting" and site.hosting is not None:
            cm = site.hosting.contract_months
            if k % cm != 0:
                out.add("hosting_block", site_name, label, abs(q), 0.0, tol=0.0, rel=1.0)
            n_blocks = -(-n // cm)
            dec.hosted.setdefault(site_name, np.zeros(n_blocks))[k // cm] += q
            continue
        else:
            out.add("unknown_decision", site_name, label, abs(q), 0.0, tol=0.0, rel=1.0)
            continue
        dec.capex[k] += q * unit_capex
        dec.capital_usd[k:] += q * unit_capex * crf(rate, life)
    return dec


# --------------------------------------------------------------------------- the check


def verify(scenario: Scenario, series: Series, investments: pd.DataFrame,
           dispatch: dict[str, dict[str, np.ndarray]], objective_usd: float,
           plan_resolution: str = "hourly") -> Verification:
    """Check a plan against every constraint and recompute its NPV from the raw inputs."""
    sc = scenario.scenario
    time = _time(scenario, series)
    out = _Collector()
    dec = _read_decisions(scenario, investments, time, out)
    k_blocks = resolution_blocks(plan_resolution)
    monthly = {line: np.zeros(time.n_months) for line in LINES}
    monthly["capital_charges_usd"] -= dec.capital_usd

    known_sites = {s.name for s in scenario.site}
    for name in sorted(set(dispatch) - known_sites):
        flows = dispatch[name]
        size = max((float(np.max(np.abs(v))) for v in flows.values() if np.size(v)),
                   default=0.0)
        out.add("unknown_flow", name, None, size, 0.0)

    for site in scenario.site:
        _check_site(scenario, series, site, dispatch.get(site.name, {}), dec, time, k_blocks,
                    out, monthly)

    # portfolio: the capex budget per horizon year
    for y, budget in enumerate(sc.capex_budget_usd):
        first, last = 12 * y, min(12 * y + 12, time.n_months)
        if first >= time.n_months:
            break
        spent = float(dec.capex[first:last].sum())
        out.add("capex_budget", None,
                f"{time.month_labels[first]}..{time.month_labels[last - 1]}",
                spent - budget, budget, tol=BUDGET_ABS_TOL_USD + REL_TOL * abs(budget))

    lines = {line: float(np.dot(monthly[line], time.discount)) for line in LINES}
    npv = float(sum(lines.values()))
    tolerance = NPV_REL_TOL * max(1.0, sum(abs(v) for v in lines.values()))
    mismatch = float(npv - objective_usd)
    npv_ok = bool(abs(mismatch) <= tolerance)
    violations = out.result()
    return Verification(
        verified=not violations and npv_ok,
        max_violation=violations[0] if violations else None,
        violations=violations,
        npv_recomputed_usd=npv,
        lines_usd=lines,
        objective_usd=float(objective_usd),
        npv_mismatch_usd=mismatch,
        npv_tolerance_usd=tolerance,
    )


def _flows(site: Site, scenario: Scenario, raw: dict[str, np.ndarray], n_hours: int,
           out: _Collector, hour_labels: np.ndarray) -> dict[str, np.ndarray]:
    """The site's hourly flows as float arrays (absent = 0), non-finite and negatives flagged."""
    asics = {a.name for a in scenario.asic}
    techs = {g.technology for g in site.generation}
    known = {"import_mw", "export_mw", "hosting_mw", "ai_mw"}
    known |= {f"mining_mw:{a}" for a in asics} | {f"generation_mw:{g}" for g in techs}
    flows: dict[str, np.ndarray] = {}
    for key, values in raw.items():
        arr = np.asarray(values, dtype=float)
        if arr.shape != (n_hours,):
            raise ValueError(f"dispatch[{site.name!r}][{key!r}] has shape {arr.shape}, "
                             f"expected ({n_hours},)")
        bad = ~np.isfinite(arr)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            out.add("nonfinite", site.name, str(hour_labels[first]), float(bad.sum()), 0.0,
                    tol=0.0, rel=np.inf)
            arr = np.where(bad, 0.0, arr)
        if key not in known:
            out.add("unknown_flow", site.name, None, float(np.max(np.abs(arr), initial=0.0)),
                    0.0)
            continue
        out.hourly("nonnegative", site.name, -arr, 0.0, hour_labels)
        flows[key] = arr
    zero = np.zeros(n_hours)
    for key in known:
        flows.setdefault(key, zero)
    return flows


def _check_site(scenario: Scenario, series: Series, site: Site, raw: dict[str, np.ndarray],
                dec: _Decisions, time: _Time, k_blocks: int | None, out: _Collector,
                monthly: dict[str, np.ndarray]) -> None:
    sc = scenario.scenario
    n, T = time.n_months, time.n_hours
    m, labels = time.month_of_hour, time.hour_labels
    name = site.name
    flows = _flows(site, scenario, raw, T, out, labels)
    lmp = site_price(site, series)
    stress = site_stress(site, scenario, series, lmp, time.year_of_hour)
    peak = site_peak(site, series)
    group = None
    if k_blocks is not None:
        group = block_groups(lmp, stress, peak, m, k_blocks)

    imp, exp = flows["import_mw"], flows["export_mw"]
    host, ai = flows["hosting_mw"], flows["ai_mw"]

    # --- grid
    import_cap = site.firm_import_mw + site.flex_import_mw * (1.0 - stress)
    out.hourly("import_limit", name, imp - import_cap, import_cap, labels)
    out.hourly("export_limit", name, exp - site.export_mw, site.export_mw, labels)
    adder = site.energy_adder_usd_per_mwh
    monthly["import_usd"] -= time.by_month(imp * (lmp + adder))
    monthly["export_usd"] += time.by_month(exp * lmp)
    if site.ppa_mw:
        monthly["hedge_usd"] += time.by_month(site.ppa_mw * (lmp - site.ppa_price_usd_per_mwh))

    # --- self-mining
    mine_total = np.zeros(T)
    blocks_bought = 0.0
    hashprice = np.asarray(series.hashprice_usd_per_ph_day, dtype=float)[time.day_of_hour]
    existing: dict[str, float] = {}
    for entry in site.existing_fleet:
        existing[entry.asic] = existing.get(entry.asic, 0.0) + entry.mw
    for a in scenario.asic:
        buy = dec.buy.get((name, a.name), np.zeros(n))
        blocks_bought += float(buy.sum())
        fleet = existing.get(a.name, 0.0) + sc.block_mw * _delivered(buy, a.delivery_months)
        mine = flows[f"mining_mw:{a.name}"]
        cap = a.uptime * fleet[m]
        out.hourly("mine_cap", name, mine - cap, cap, labels)
        mine_total += mine
        per_mwh = hashprice * (1000.0 / a.efficiency_j_per_th) / 24.0 * (1.0 - sc.pool_fee)
        monthly["mining_usd"] += time.by_month(mine * per_mwh)
    out.add("asic_cap", name, None, sc.block_mw * blocks_bought - site.max_new_asic_mw,
            site.max_new_asic_mw)

    # --- AI colocation
    online = np.zeros(n)
    if site.ai is not None:
        ai_opt = site.ai
        for u in ai_opt.under_construction:
            k_on = max(time.month_index(u.online_month), 0)
            online[k_on:] += u.halls
        starts = dec.start.get(name, np.zeros(n))
        online += _delivered(starts, ai_opt.lead_time_months)
        halls = sum(u.halls for u in ai_opt.under_construction) + float(starts.sum())
        out.add("halls_cap", name, None, halls - ai_opt.max_halls, ai_opt.max_halls)
        mw_it = ai_opt.hall_it_mw
        need = ai_opt.pue * mw_it * online[m]
        out.hourly("ai_draw", name, np.abs(ai - need), need, labels)
        monthly["lease_usd"] += online * mw_it * 1000.0 * ai_opt.lease_usd_per_kw_month
        monthly["ai_opex_usd"] -= ai_opt.opex_usd_per_mw_it_month * mw_it * online
        if ai_opt.power_pass_through:
            monthly["pass_through_usd"] += time.by_month(ai * (lmp + adder))
        monthly["liquidated_damages_usd"] -= _damages(ai_opt, online, time)
    else:
        out.hourly("ai_draw", name, np.abs(ai), 0.0, labels)

    # --- hosting
    hosted_h = np.zeros(T)
    if site.hosting is not None:
        h = site.hosting
        cm = h.contract_months
        n_blocks = -(-n // cm)
        hosted = dec.hosted.get(name, np.zeros(n_blocks))
        block_of_hour = m // cm
        hosted_h = hosted[block_of_hour]
        for b in range(n_blocks):
            when = time.month_labels[b * cm]
            out.add("hosting_max", name, when, hosted[b] - h.max_mw, h.max_mw)
            out.add("nonnegative", name, when, -hosted[b], 0.0)
        hours_b = np.bincount(block_of_hour, minlength=n_blocks).astype(float)
        drawn_b = np.bincount(block_of_hour, weights=host, minlength=n_blocks)
        curtailed = hours_b * hosted - drawn_b
        allowed = h.max_curtail_share * hours_b * hosted
        for b in range(n_blocks):
            out.add("curtail_budget", name, time.month_labels[b * cm], curtailed[b] - allowed[b],
                    hours_b[b] * hosted[b])
        monthly["hosting_usd"] += time.by_month(h.rate_usd_per_mwh * host)
    out.hourly("host_cap", name, host - hosted_h, hosted_h, labels)

    # --- mining infrastructure
    displaces = site.ai.displaces_mining_mw_per_hall if site.ai is not None else 0.0
    infra = site.mining_infra_mw - displaces * online[m]
    out.hourly("mining_infra", name, mine_total + host - infra, infra, labels)

    # --- generation
    gen_total = np.zeros(T)
    gens = {g.name: g for g in scenario.generator}
    for entry in site.generation:
        g = gens[entry.technology]
        build = dec.build.get((name, g.name), np.zeros(n))
        units = entry.existing_units + _delivered(build, g.lead_time_months)
        total_units = entry.existing_units + float(build.sum())
        out.add("units_cap", name, None, total_units - entry.max_units, entry.max_units)
        cf = np.ones(T)
        if g.profile:
            cf = np.asarray(series.capacity_factor[g.profile], dtype=float)
            if group is not None:
                cf = _group_mean(cf, group)
        gen = flows[f"generation_mw:{g.name}"]
        cap = cf * g.availability * g.unit_mw * units[m]
        out.hourly("gen_cap", name, gen - cap, cap, labels)
        gen_total += gen
        if g.fuel_hub is not None:
            fuel = np.asarray(series.fuel_usd_per_mmbtu[g.fuel_hub], dtype=float)[time.day_of_hour]
        else:
            fuel = np.full(T, float(g.fuel_usd_per_mmbtu or 0.0))
        monthly["fuel_usd"] -= time.by_month(gen * (g.heat_rate_mmbtu_per_mwh * fuel
                                                    + g.vom_usd_per_mwh))
        monthly["generation_fom_usd"] -= g.fom_usd_per_mw_month * g.unit_mw * units

    # --- balance: imp + gen - exp = mine + host + ai
    supply = imp + gen_total
    demand = mine_total + host + ai
    out.hourly("power_balance", name, np.abs(supply - exp - demand),
               np.maximum(np.abs(supply), np.abs(demand)), labels)

    # --- coincident peak (4CP)
    if peak.any():
        for year in np.unique(time.year_of_hour[peak]):
            flagged = peak & (time.year_of_hour == year)
            k_pay = int(np.flatnonzero(time.month_year == year).max())
            monthly["coincident_peak_usd"][k_pay] -= (site.cp_charge_usd_per_mw_year
                                                      * float(imp[flagged].mean()))


def _damages(ai, online: np.ndarray, time: _Time) -> np.ndarray:  # noqa: ANN001
    """Liquidated damages per month: the shortfall goes to the cheapest contracts first."""
    n = len(online)
    cost = np.zeros(n)
    if not ai.signed:
        return cost
    contracts = sorted(ai.signed, key=lambda e: e.ld_usd_per_mw_month)  # stable: file order
    due_month = [time.month_index(e.rfs_month) for e in contracts]
    for k in range(n):
        due = [(e, d) for e, d in zip(contracts, due_month, strict=True) if d <= k]
        short = max(0.0, sum(e.halls for e, _ in due) - online[k])
        for e, _ in due:
            take = min(short, e.halls)
            cost[k] += e.ld_usd_per_mw_month * ai.hall_it_mw * take
            short -= take
            if short <= 0:
                break
    return cost
