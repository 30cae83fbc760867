"""An independent check of a solved plan: MODEL.md §3-§5 re-derived from the raw inputs.

This module is a second implementation of the model's arithmetic, written with numpy
only. It reads the scenario and the series (nothing of the optimisation model: it
imports no `optim.problem`, `optim.core`, `optim.engine` or `optim.results`; of the
registry `optim.models` it only reads each option's checker), takes the plan as the
engine reports it (the investments table and the hour-by-hour dispatch) and

* checks every constraint of §3 hour by hour (or month, block, year), with the
  tolerance `1e-5 + 1e-6 * |bound|` (capex budget: `1e-2 USD + 1e-6 * budget`);
* recomputes the NPV line by line and compares it with the solver's objective.

It names no option: each option's constraints and cash lines are checked by its checker
in `optim.checks` (protocol there); this module reads the decisions and flows through
them, adds the capital charges and the capex budget, and checks the shared rows and the
power balance from the flows' sides.

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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from optim.checks.base import (
    ABS_TOL,
    BUDGET_ABS_TOL_USD,
    MAX_LISTED,
    NPV_REL_TOL,
    REL_TOL,
    Collector,
    Context,
    Decision,
    Owners,
    Run,
    SiteContext,
    SiteData,
    Time,
    Violation,
    block_groups,
    check_balance,
    check_rows,
    crf,
    make_time,
    owners,
    site_flow_keys,
    site_peak,
    site_price,
    site_stress,
    top_hours,
)
from optim.scenario import resolution_blocks

if TYPE_CHECKING:
    from optim.scenario import Scenario, Site
    from optim.series import Series

__all__ = ["ABS_TOL", "BUDGET_ABS_TOL_USD", "CAPITAL_LINE", "MAX_LISTED", "NPV_REL_TOL",
           "REL_TOL", "Verification", "Violation", "block_groups", "crf", "default_checkers",
           "site_peak", "site_price", "site_stress", "top_hours", "verify"]

CAPITAL_LINE = "capital_charges_usd"


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


def default_checkers() -> list[Any]:
    """The registered options' checkers (each option names its own), in registry order.

    Only the checkers are taken from the registry: none of the options' model code."""
    from optim.models import registry

    return [o.check for o in registry() if o.check is not None]


# --------------------------------------------------------------------------- decisions


def _read_decisions(run: Run, investments: pd.DataFrame,
                    own: Owners) -> tuple[np.ndarray, np.ndarray]:
    """Every decision row through its kind's checker; returns the cash capex and the
    undiscounted capital charges per month."""
    sc, time, out = run.scenario.scenario, run.time, run.out
    n = time.n_months
    sites = {s.name: s for s in run.scenario.site}
    capex, capital = np.zeros(n), np.zeros(n)
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
        owner = own.kinds.get(kind)
        if owner is not None and own.integer[kind]:
            out.add("integrality", site_name, label, abs(q - round(q)), 0.0)
            if k % sc.invest_every_months != 0:
                out.add("invest_month", site_name, label, abs(q), 0.0, tol=0.0, rel=1.0)
        cost = None
        if site is not None and owner is not None:
            cost = owner.read(Context(run, owner), Decision(site, k, label, kind, name, q))
        if cost is None:
            out.add("unknown_decision", site_name, label, abs(q), 0.0, tol=0.0, rel=1.0)
            continue
        if cost.unit_usd:
            capex[k] += q * cost.unit_usd
            capital[k:] += q * sum(usd * crf(sc.discount_rate, life)
                                   for usd, life in cost.charged())
    return capex, capital


# --------------------------------------------------------------------------- the check


def verify(scenario: Scenario, series: Series, investments: pd.DataFrame,
           dispatch: dict[str, dict[str, np.ndarray]], objective_usd: float,
           plan_resolution: str = "hourly", *,
           checkers: Sequence[Any] | None = None) -> Verification:
    """Check a plan against every constraint and recompute its NPV from the raw inputs.

    `checkers`: the options' checkers (protocol in `optim.checks`); default: the
    registry's. The result does not depend on their order.
    """
    sc = scenario.scenario
    checkers = default_checkers() if checkers is None else list(checkers)
    own = owners(checkers)
    if CAPITAL_LINE in own.lines:
        raise ValueError(f"{CAPITAL_LINE!r} is the shared line of capital charges")
    time = make_time(scenario, series)
    out = Collector(site_index={s.name: i for i, s in enumerate(scenario.site)})
    monthly = {line: np.zeros(time.n_months) for line in (*own.lines, CAPITAL_LINE)}
    run = Run(scenario, series, time, out, resolution_blocks(plan_resolution), monthly)

    capex, capital = _read_decisions(run, investments, own)
    monthly[CAPITAL_LINE] -= capital

    out.stage = 1
    known_sites = {s.name for s in scenario.site}
    for name in sorted(set(dispatch) - known_sites):
        flows = dispatch[name]
        size = max((float(np.max(np.abs(v))) for v in flows.values() if np.size(v)),
                   default=0.0)
        out.add("unknown_flow", name, None, size, 0.0)

    out.stage = 2
    for site in scenario.site:
        sides = site_flow_keys(run, site, own)
        flows = _flows(site, dispatch.get(site.name, {}), sides, time, out)
        data = SiteData(run, site, flows, sides)
        for checker in checkers:
            checker.check_site(SiteContext(run, checker, data))
        check_rows(data)
        check_balance(data)

    # portfolio: the capex budget per horizon year
    out.stage = 3
    for y, budget in enumerate(sc.capex_budget_usd):
        first, last = 12 * y, min(12 * y + 12, time.n_months)
        if first >= time.n_months:
            break
        spent = float(capex[first:last].sum())
        out.add("capex_budget", None,
                f"{time.month_labels[first]}..{time.month_labels[last - 1]}",
                spent - budget, budget, tol=BUDGET_ABS_TOL_USD + REL_TOL * abs(budget))

    lines = {line: float(np.dot(values, time.discount)) for line, values in monthly.items()}
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


def _flows(site: Site, raw: dict[str, np.ndarray], sides: dict[str, str], time: Time,
           out: Collector) -> dict[str, np.ndarray]:
    """The site's hourly flows as float arrays (absent = 0), non-finite and negatives
    flagged; a key no checker owns at this site is `unknown_flow`."""
    n_hours, hour_labels = time.n_hours, time.hour_labels
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
                    tol=0.0, rel=np.inf, checks=False)
            arr = np.where(bad, 0.0, arr)
        if key not in sides:
            out.add("unknown_flow", site.name, None, float(np.max(np.abs(arr), initial=0.0)),
                    0.0, checks=False)
            continue
        out.hourly("nonnegative", site.name, -arr, 0.0, hour_labels, checks=False)
        flows[key] = arr
    zero = np.zeros(n_hours)
    for key in sides:
        flows.setdefault(key, zero)
    return flows
