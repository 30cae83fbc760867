"""The engine's speed levers. Each one leaves the answer unchanged; `bench/run.py --levers`
measures what each is worth and checks that the NPV does not move.

Set from Python (`engine.solve(..., tuning=Tuning(...))`) or, for a command-line run, from
the environment: `OPTIM_TUNING="merge_hours=false,resolve_workers=1"`.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from optim.errors import InputError
from optim.solver import PROBE

ENV = "OPTIM_TUNING"
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
DECOMPOSE = ("hourly", "always", "never")
PRESOLVE = ("off", "on", PROBE)
CHOICES = {"decompose": DECOMPOSE, "resolve_presolve": PRESOLVE}


@dataclass(frozen=True)
class Tuning:
    """merge_hours: hourly problems give identical hours of a (site, month) one step.
    resolve_workers: processes for per-site solves (None: one per core; 1: in-process).
    decompose: without a capex budget no constraint couples the sites, so each site's
        investment problem can be solved alone (in those processes) and the plans combined:
        "hourly" (at hourly resolution, where one big LP is slow), "always" or "never".
        At blocks:K the whole MIP takes seconds and the processes would cost more.
    warm_start: a monolithic MIP starts from the investments of a coarser solve (hourly
        from blocks:12, blocks:K with K > 2 from blocks:2), so HiGHS has an incumbent once
        its root LP is solved (measured: the worst of three HiGHS seeds 46 s -> 29 s on the
        5 x 12 hourly benchmark; the sample with reserves at blocks:12 5.0 s -> 0.3 s, the
        35 x 60 benchmark's MIP 4.8 s -> 4.1 s at a smaller gap, where the root cut loop
        ran long before the heuristics met the gap).
    certify_start: an hourly MIP's start (a blocks:12 plan solved to the requested gap,
        its dispatch completed hour by hour) is its answer when the bound of the LP
        relaxation proves it within the gap, as HiGHS would conclude at its root node, but
        with LP presolve, which leaves that LP half the size MIP presolve does (the 5 x 12
        hourly bench: 47 s -> 19 s). Else HiGHS solves the MIP from the completed start.
    speculate: while the investment MIP runs on one core, a worker re-solves the sites hour
        by hour with the decisions of its completed start; sites where the MIP keeps them
        need no re-solve after it (engine.Speculation).
    direct_handoff: HiGHS receives the rows the Core recorded as it built them
        (optim.standard_form) instead of Pyomo's standard form compiled from the model's
        expressions; the same LP (tested), without the walk over every constraint.
    split_blocks: an LP (a re-solve, its decisions fixed) whose rows and columns fall into
        independent blocks (windows of hours nothing couples) is solved block by block,
        exactly (optim.standard_form.StandardForm.blocks; needs direct_handoff).
    resolve_presolve: HiGHS presolve for the hourly re-solve's LPs (investments fixed):
        "off", "on", or "probe" (the default): off, except for a site's groups of tiny
        blocks (an hour alone) once the first shows that presolve solves them outright.
        Presolve shrinks a block it cannot solve too little to repay itself (a 60-month
        site's LP 3.4 s with it, 1.5 s without), but solves an hour whose few columns
        share one row 2-3x faster than dual simplex (optim.solver.solve_blocks). A
        `[solver] presolve` of the scenario still wins.
    """

    merge_hours: bool = True
    resolve_workers: int | None = None
    decompose: str = "hourly"
    warm_start: bool = True
    certify_start: bool = True
    speculate: bool = True
    direct_handoff: bool = True
    resolve_presolve: str = PROBE
    split_blocks: bool = True

    @property
    def handoff(self) -> str:
        """How a model reaches HiGHS: "pyomo" (Pyomo's standard form), "rows" (the rows
        the Core recorded) or "blocks" (those rows, an LP solved block by block)."""
        if not self.direct_handoff:
            return "pyomo"
        return "blocks" if self.split_blocks else "rows"

    @classmethod
    def from_env(cls, text: str | None = None) -> Tuning:
        """Parse `key=value,...` (default: the OPTIM_TUNING variable); bad input names it."""
        text = os.environ.get(ENV, "") if text is None else text
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, object] = {}
        problems = []
        for item in filter(None, (p.strip() for p in text.split(","))):
            key, sep, raw = (s.strip() for s in item.partition("="))
            if not sep or key not in fields:
                problems.append(f"{item!r}: expected one of {', '.join(fields)} as key=value")
            elif key == "resolve_workers":
                if raw.isdigit() and int(raw) >= 1:
                    values[key] = int(raw)
                else:
                    problems.append(f"{key} = {raw!r}: expected a whole number >= 1")
            elif key in CHOICES:
                if raw in CHOICES[key]:
                    values[key] = raw
                else:
                    problems.append(f"{key} = {raw!r}: expected one of "
                                    f"{', '.join(CHOICES[key])}")
            elif raw.lower() in _TRUE | _FALSE:
                values[key] = raw.lower() in _TRUE
            else:
                problems.append(f"{key} = {raw!r}: expected true or false")
        if problems:
            raise InputError(problems, ENV)
        return cls(**values)

    def describe(self) -> dict[str, object]:
        """The levers in force, for summary.json."""
        return dataclasses.asdict(self)

    def resolve_options(self, options: dict[str, object]) -> dict[str, object]:
        """HiGHS options of the hourly re-solve's LPs."""
        return {"presolve": self.resolve_presolve, **options}

    def decomposes(self, resolution: str) -> bool:
        return self.decompose == "always" or (self.decompose == "hourly" and
                                              resolution == "hourly")
