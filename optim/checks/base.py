"""The option-free part of the independent check: time, tolerances, violations, contexts.

Nothing here names an option. `optim.verify` drives one run: it reads the decision rows
through the checkers' `KINDS`/`read`, the dispatch through their `FLOWS`/`details`, calls
every checker's `check_site` and then checks what the checkers declared together (the
shared rows and the power balance). See `optim.checks` for the checker protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from optim.scenario import Scenario, Site
    from optim.series import Series

ABS_TOL = 1e-5
REL_TOL = 1e-6
BUDGET_ABS_TOL_USD = 1e-2
NPV_REL_TOL = 1e-6
MAX_LISTED = 100

SUPPLY, DRAW, REPORT = "supply", "draw", "report"
"""The sides a flow may sit on (`FLOWS` values): the two of the power balance, or none
(`REPORT`: a reported quantity such as a reserve offer, not a power flow)."""


@dataclass(frozen=True)
class Violation:
    constraint: str
    site: str | None
    when: str | None
    amount: float


class Capex(NamedTuple):
    """What one unit of a decision costs: cash capex (USD) and the life of its capital
    charge (months); `parts` ((USD, life months), ...) when parts of the unit are charged
    over different lives (a cloud hall and its GPUs). `NO_CAPEX` for decisions that are
    not investments (hosting MW)."""

    unit_usd: float
    life_months: int
    parts: tuple[tuple[float, int], ...] = ()

    def charged(self) -> tuple[tuple[float, int], ...]:
        return self.parts or ((self.unit_usd, self.life_months),)


NO_CAPEX = Capex(0.0, 0)


@dataclass(frozen=True)
class Decision:
    """One row of the investments table, validated by the shared code: finite quantity,
    month inside the horizon, known site."""

    site: Site
    month: int  # k, index in the horizon
    label: str  # "YYYY-MM" as written in the row
    kind: str
    name: str
    quantity: float


# --------------------------------------------------------------------------- collecting


@dataclass
class Collector:
    """Violations above tolerance with their relative size (for ranking).

    Ranking is by relative size; ties keep a fixed order that does not depend on the
    order of the checkers: by stage (decisions, unknown sites, sites, portfolio), and
    within a site the flows as read, then the checks by (constraint, when, amount).
    """

    site_index: dict[str, int] = field(default_factory=dict)
    stage: int = 0
    found: list[tuple[tuple, Violation]] = field(default_factory=list)
    _seq: int = 0

    def _key(self, rel: float, v: Violation, checks: bool) -> tuple:
        self._seq += 1
        if self.stage != 2:
            return (-rel, self.stage, self._seq)
        site = self.site_index.get(v.site or "", -1)
        if not checks:
            return (-rel, 2, site, 0, self._seq)
        return (-rel, 2, site, 1, v.constraint, v.when or "", v.amount)

    def add(self, constraint: str, site: str | None, when: str | None, amount: float,
            bound: float, tol: float | None = None, rel: float | None = None,
            checks: bool = True) -> None:
        """One violation if `amount` exceeds the tolerance of `bound`."""
        tol = ABS_TOL + REL_TOL * abs(bound) if tol is None else tol
        if not amount > tol:
            return
        rel = amount / max(1.0, abs(bound)) if rel is None else rel
        v = Violation(constraint, site, when, float(amount))
        self.found.append((self._key(rel, v, checks), v))

    def hourly(self, constraint: str, site: str, excess: np.ndarray, bound: np.ndarray | float,
               hour_labels: np.ndarray, checks: bool = True) -> None:
        """Per-hour excesses over a bound (vectorised; only the worst few become objects)."""
        bound = np.broadcast_to(np.abs(np.asarray(bound, dtype=float)), excess.shape)
        bad = np.flatnonzero(excess > ABS_TOL + REL_TOL * bound)
        if not bad.size:
            return
        rel = excess[bad] / np.maximum(1.0, bound[bad])
        keep = bad[np.argsort(-rel, kind="stable")[:MAX_LISTED]]
        for t in keep:
            v = Violation(constraint, site, str(hour_labels[t]), float(excess[t]))
            self.found.append((self._key(float(excess[t] / max(1.0, bound[t])), v, checks),
                               v))

    def result(self) -> list[Violation]:
        order = sorted(range(len(self.found)), key=lambda i: self.found[i][0])
        return [self.found[i][1] for i in order[:MAX_LISTED]]


# --------------------------------------------------------------------------- time


@dataclass(frozen=True)
class Time:
    """The horizon as arrays: month of each hour, labels, hours per month, discounting."""

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
        """Monthly sums of an hourly array."""
        return np.bincount(self.month_of_hour, weights=hourly, minlength=self.n_months)


def make_time(scenario: Scenario, series: Series) -> Time:
    """The horizon of the series with the scenario's discount rate (MODEL.md §2)."""
    h = series.horizon
    n = len(h.month_labels)
    r = scenario.scenario.discount_rate
    labels = np.char.add(np.datetime_as_string(h.hours_utc, unit="h"), ":00Z")
    return Time(
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


def delivered(quantity: np.ndarray, lag: int) -> np.ndarray:
    """sum(quantity[k'] for k' <= k - lag), for every month k."""
    cum = np.cumsum(quantity)
    out = np.zeros_like(cum)
    if lag < len(cum):
        out[lag:] = cum[:len(cum) - lag]
    return out


def group_mean(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Each hour's value replaced by the mean of its block group."""
    total = np.bincount(group, weights=values)
    count = np.bincount(group)
    return (total / np.maximum(count, 1))[group]


# --------------------------------------------------------------------------- site inputs


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


# --------------------------------------------------------------------------- checkers


def checker_name(checker: Any) -> str:
    """`NAME`, else the module's or class's name: fixes the order of shared sums."""
    name = getattr(checker, "NAME", None) or getattr(checker, "__name__", None)
    return str(name or type(checker).__name__)


def line_ranks(checker: Any) -> dict[str, float]:
    """The checker's `LINES` as line -> rank (a plain sequence of names: unranked)."""
    lines = getattr(checker, "LINES", ())
    if isinstance(lines, Mapping):
        return {str(k): float(v) for k, v in lines.items()}
    return {str(k): float("inf") for k in lines}


@dataclass
class Run:
    """The state of one verification shared by every checker (built by `optim.verify`)."""

    scenario: Scenario
    series: Series
    time: Time
    out: Collector
    k_blocks: int | None
    monthly: dict[str, np.ndarray]
    states: dict[int, dict] = field(default_factory=dict)

    def state(self, checker: Any) -> dict:
        return self.states.setdefault(id(checker), {})


class Context:
    """What a checker sees outside a site (reading decisions): the inputs, the horizon,
    its own `state` dict (kept for the whole run) and `violation` to report a problem."""

    def __init__(self, run: Run, checker: Any) -> None:
        self._run = run
        self.name = checker_name(checker)
        self.scenario: Scenario = run.scenario
        self.series: Series = run.series
        self.time: Time = run.time
        self.state: dict = run.state(checker)

    def violation(self, constraint: str, site: str | None, when: str | None, amount: float,
                  bound: float, tol: float | None = None, rel: float | None = None) -> None:
        """Report `amount` over `bound` (tolerance `1e-5 + 1e-6 * |bound|` unless `tol`)."""
        self._run.out.add(constraint, site, when, amount, bound, tol, rel)


@dataclass
class SiteData:
    """One site's flows and lazily computed price, stress, peak and block groups, shared
    by every checker of that site; plus the shared rows the checkers declared."""

    run: Run
    site: Site
    flows: dict[str, np.ndarray]  # every valid key at the site (absent = zeros)
    sides: dict[str, str]  # key -> SUPPLY | DRAW
    rows: dict[str, dict[str, list]] = field(default_factory=dict)

    @cached_property
    def price(self) -> np.ndarray:
        return site_price(self.site, self.run.series)

    @cached_property
    def stress(self) -> np.ndarray:
        return site_stress(self.site, self.run.scenario, self.run.series, self.price,
                           self.run.time.year_of_hour)

    @cached_property
    def peak(self) -> np.ndarray:
        return site_peak(self.site, self.run.series)

    @cached_property
    def group(self) -> np.ndarray | None:
        if self.run.k_blocks is None:
            return None
        return block_groups(self.price, self.stress, self.peak, self.run.time.month_of_hour,
                            self.run.k_blocks)


class SiteContext(Context):
    """What a checker sees in `check_site`: the site, its hourly flows and prices, and the
    ways to report (violations, cash lines, contributions to shared rows)."""

    def __init__(self, run: Run, checker: Any, data: SiteData) -> None:
        super().__init__(run, checker)
        self._data = data
        self.site: Site = data.site
        self.lines = line_ranks(checker)

    # inputs
    def flow(self, key: str) -> np.ndarray:
        """The hourly MW of a valid flow key at this site (zeros when the plan omits it);
        any checker may read any key (e.g. a reserve reading the mining draw)."""
        return self._data.flows[key]

    @property
    def flow_keys(self) -> list[str]:
        """Every valid flow key at this site, sorted."""
        return sorted(self._data.flows)

    @property
    def price(self) -> np.ndarray:
        """lmp[t] of the site (node price or the fixed price)."""
        return self._data.price

    @property
    def stress(self) -> np.ndarray:
        return self._data.stress

    @property
    def peak(self) -> np.ndarray:
        return self._data.peak

    @property
    def group(self) -> np.ndarray | None:
        """Block group of every hour for a `blocks:K` plan, else None."""
        return self._data.group

    def as_planned(self, hourly: np.ndarray) -> np.ndarray:
        """An hourly input as the plan saw it: its group mean under `blocks:K`."""
        group = self.group
        return hourly if group is None else group_mean(hourly, group)

    # reporting
    def add(self, constraint: str, when: str | None, amount: float, bound: float,
            tol: float | None = None, rel: float | None = None) -> None:
        """A monthly/whole-horizon violation at this site (see `Context.violation`)."""
        self._run.out.add(constraint, self.site.name, when, amount, bound, tol, rel)

    def hourly(self, constraint: str, excess: np.ndarray, bound: np.ndarray | float) -> None:
        """Hourly excesses over `bound` at this site (`excess <= tol(bound)` is fine)."""
        self._run.out.hourly(constraint, self.site.name, excess, bound,
                             self._run.time.hour_labels)

    def cash(self, line: str, monthly: np.ndarray) -> None:
        """Add a signed monthly amount (USD, costs negative) to one of its own `LINES`, or
        to a line another checker owns where MODEL.md books it there (e.g. the hashprice a
        deployed reserve gives up is booked in the mining line)."""
        if line not in self._run.monthly:
            raise KeyError(f"checker {self.name} adds to {line!r}, a line no checker owns")
        self._run.monthly[line] += monthly

    # shared rows: sum(lhs) <= sum(rhs), hour by hour, checked after every checker ran
    def _row(self, row: str) -> dict[str, list]:
        return self._data.rows.setdefault(row, {"declared": [], "lhs": [], "rhs": []})

    def declare_row(self, row: str, rhs: np.ndarray | float) -> None:
        """Declare the row `row` (also the violation's name) with a right-hand side."""
        entry = self._row(row)
        entry["declared"].append(self.name)
        self._add(entry["rhs"], rhs)

    def add_to_row(self, row: str, lhs: np.ndarray | float) -> None:
        """Add a hourly term to the left-hand side of a shared row."""
        self._add(self._row(row)["lhs"], lhs)

    def add_to_rhs(self, row: str, rhs: np.ndarray | float) -> None:
        """Add a hourly term to the right-hand side of a shared row (e.g. a reduction)."""
        self._add(self._row(row)["rhs"], rhs)

    def _add(self, terms: list, values: np.ndarray | float) -> None:
        arr = np.broadcast_to(np.asarray(values, dtype=float), (self._run.time.n_hours,))
        terms.append((self.name, len(terms), arr))


def ordered_sum(terms: Iterable[tuple[str, int, np.ndarray]], n: int) -> np.ndarray:
    """Sum of contributions in a fixed order (by checker name), whatever the call order."""
    total = np.zeros(n)
    for _, _, arr in sorted(terms, key=lambda t: (t[0], t[1])):
        total = total + arr
    return total


def check_rows(data: SiteData) -> None:
    """Every declared shared row of the site: sum(lhs) <= sum(rhs), hour by hour."""
    run = data.run
    n = run.time.n_hours
    for row in sorted(data.rows):
        entry = data.rows[row]
        if not entry["declared"]:
            continue  # nobody owns the row (its owner is not checked): no constraint
        lhs, rhs = ordered_sum(entry["lhs"], n), ordered_sum(entry["rhs"], n)
        run.out.hourly(row, data.site.name, lhs - rhs, rhs, run.time.hour_labels)


def check_balance(data: SiteData) -> None:
    """supply - draw == 0 every hour, from the flows' sides (names no flow)."""
    run = data.run
    n = run.time.n_hours
    supply = ordered_sum([("", 0, data.flows[k]) for k in sorted(data.flows)
                          if data.sides[k] == SUPPLY], n)
    draw = ordered_sum([("", 0, data.flows[k]) for k in sorted(data.flows)
                        if data.sides[k] == DRAW], n)
    run.out.hourly("power_balance", data.site.name, np.abs(supply - draw),
                   np.maximum(np.abs(supply), np.abs(draw)), run.time.hour_labels)


# --------------------------------------------------------------------------- registry checks


@dataclass(frozen=True)
class Owners:
    """Who owns which kind, flow and line among a list of checkers (each at most one)."""

    kinds: dict[str, Any]
    integer: dict[str, bool]
    flows: dict[str, tuple[Any, str]]  # base key -> (checker, side)
    lines: list[str]  # ordered by (rank, name)
    checkers: tuple[Any, ...] = ()


def owners(checkers: Sequence[Any]) -> Owners:
    """Map kinds, flow keys and lines to their checker; two owners of one is an error."""
    kinds: dict[str, Any] = {}
    integer: dict[str, bool] = {}
    flows: dict[str, tuple[Any, str]] = {}
    ranks: dict[str, float] = {}

    def claim(table: dict, key: str, what: str) -> None:
        if key in table:
            raise ValueError(f"{what} {key!r} is claimed by two checkers")

    for c in checkers:
        for kind, is_int in getattr(c, "KINDS", {}).items():
            claim(kinds, kind, "decision kind")
            kinds[kind], integer[kind] = c, bool(is_int)
        for base, side in getattr(c, "FLOWS", {}).items():
            claim(flows, base, "flow")
            if side not in (SUPPLY, DRAW, REPORT):
                raise ValueError(f"flow {base!r}: side must be {SUPPLY!r}, {DRAW!r} or "
                                 f"{REPORT!r}")
            flows[base] = (c, side)
        for line, rank in line_ranks(c).items():
            claim(ranks, line, "cash line")
            ranks[line] = rank
    lines = sorted(ranks, key=lambda x: (ranks[x], x))
    return Owners(kinds, integer, flows, lines, tuple(checkers))


def site_flow_keys(run: Run, site: Site, own: Owners) -> dict[str, str]:
    """Every valid flow key at a site with its side: a bare base key, or `base:detail` for
    each detail that the owner's `details(ctx, site)` lists for that base, and the full
    keys a checker's `site_flows(ctx, site)` names (keys that depend on the scenario, e.g.
    one per reserve product)."""
    listed: dict[int, Mapping[str, Collection[str]]] = {}
    keys: dict[str, str] = {}
    for checker in own.checkers:
        site_flows: Callable | None = getattr(checker, "site_flows", None)
        if site_flows is not None:
            keys.update(site_flows(Context(run, checker), site))
    for base, (checker, side) in own.flows.items():
        if id(checker) not in listed:
            details: Callable | None = getattr(checker, "details", None)
            listed[id(checker)] = {} if details is None else details(Context(run, checker),
                                                                     site)
        detailed = listed[id(checker)]
        if base in detailed:
            keys.update({f"{base}:{d}": side for d in detailed[base]})
        else:
            keys[base] = side
    return keys
