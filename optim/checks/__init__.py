"""Independent checkers, one per option; `optim.verify` runs them and names no option.

A checker is any object (usually a module) with these attributes; all but `check_site`
are optional:

* `NAME: str` -- its name; fixes the order in which shared sums are added (so the result
  does not depend on the order of the checkers). Default: the module's `__name__`.
* `KINDS: Mapping[str, bool]` -- the investment kinds it decides -> integer? For an
  integer kind the shared code checks integrality and the investment months.
* `read(ctx: Context, row: Decision) -> Capex | None` -- reads one decision row of its
  kinds (quantity finite, month inside the horizon, site known: checked before) into its
  own state `ctx.state` (a dict kept for the run) and returns the unit cash capex and
  life (`Capex(unit_usd, life_months)`, `NO_CAPEX` for no investment), or None when the
  row does not fit (-> `unknown_decision`). It may report e.g. a block misalignment with
  `ctx.violation(...)`. The shared code adds `quantity * unit_usd` to the month's cash
  capex (capex budget) and the capital charge from that month.
* `FLOWS: Mapping[str, str]` -- its dispatch keys -> `SUPPLY` or `DRAW` (their side of the
  power balance `sum(supply) - sum(draw) == 0`, checked by the shared code) or `REPORT`
  (reported, not a power flow).
* `site_flows(ctx: Context, site) -> Mapping[str, str]` -- full dispatch keys that depend on
  the scenario (e.g. `reserve_ECRS_mw:S21XP`, one per product and ASIC) -> side.
* `details(ctx: Context, site) -> Mapping[str, Collection[str]]` -- for the keys of
  `FLOWS` that take a detail suffix, the valid details at the site (`mining_mw:S21XP`);
  a base key absent from it is a bare key. Any other dispatch key is `unknown_flow`.
* `LINES: Mapping[str, float] | Sequence[str]` -- its cash lines (USD) -> rank; `lines_usd`
  is ordered by (rank, name) with `capital_charges_usd` last (a plain sequence: unranked).
* `check_site(ctx: SiteContext) -> None` -- checks its constraints at `ctx.site` hour by
  hour (`ctx.hourly`, `ctx.add`), adds its signed monthly cash (`ctx.cash(line, monthly)`,
  to its own lines or where MODEL.md books it in another's)
  and contributes to shared rows: `ctx.declare_row(row, rhs)`, `ctx.add_to_row(row, lhs)`,
  `ctx.add_to_rhs(row, rhs)`. Each declared row `sum(lhs) <= sum(rhs)` is checked hour
  by hour after every checker ran; a row nobody declares is not checked. It reads flows
  with `ctx.flow(key)` (any valid key, zeros when absent), inputs with `ctx.price`,
  `ctx.stress`, `ctx.peak`, `ctx.as_planned(hourly)` (group means of a blocks plan).

A kind, flow or line owned by two checkers is an error. Each option's bundle names its
checker (`Option.check`); `verify` takes them from the registry.
"""

from optim.checks.base import (
    DRAW,
    NO_CAPEX,
    REPORT,
    SUPPLY,
    Capex,
    Context,
    Decision,
    SiteContext,
    Violation,
)

__all__ = ["DRAW", "NO_CAPEX", "REPORT", "SUPPLY", "Capex", "Context", "Decision", "SiteContext",
           "Violation"]
