"""Explain an infeasible scenario in business words: which site, which requirements.

First, requirements that contradict each other in the data alone (each option's
`conflicts` hook, e.g. halls under construction above `max_halls`). Then, after the
solver finds no plan, each site is solved alone to find the culprit(s), and an elastic
copy of that site's model (slack on the power balance and on every row an option
declared) shows where and by how many MW the requirements cannot be met; the row's owner
and the options that add to it word the explanation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from optim.core import Core
from optim.problem import Problem

POWER_PHRASE = "the draw that may not be curtailed exceeds the supply available"


def data_conflicts(problem: Problem) -> list[str]:
    """Contradictions visible in the inputs without solving: each option's own, then every
    shared row whose committed uses exceed its owner's capacity in some month."""
    from optim.models import registry

    options = registry()
    out = [message for site in problem.sites for option in options
           if option.conflicts is not None for message in option.conflicts(problem, site)]
    for site in problem.sites:
        parts = [part for option in options if option.row_parts is not None
                 for part in option.row_parts(problem, site)]
        for row in dict.fromkeys(part.row for part in parts):
            mine = [part for part in parts if part.row == row]
            capacity = [part for part in mine if part.capacity]
            uses = [part for part in mine if not part.capacity and part.monthly_mw.any()]
            if not capacity or not uses:
                continue
            room = sum(p.monthly_mw for p in capacity) - sum(p.monthly_mw for p in uses)
            bad = np.flatnonzero(room < -1e-9)
            if len(bad):
                words = " minus ".join(p.words for p in [*capacity, *uses])
                out.append(f"site {site.name!r}: {words} is negative ({room[bad[0]]:g} MW) "
                           f"from {problem.horizon.month_labels[bad[0]]}")
    return out


def raise_if_conflicts(problem: Problem) -> None:
    """Raise InfeasibleError (exit 3) listing the data conflicts of `problem`, if any:
    what `optim solve` stops on before solving, and `optim validate` reports."""
    from optim.errors import InfeasibleError

    conflicts = data_conflicts(problem)
    if conflicts:
        raise InfeasibleError("the scenario's requirements conflict:\n  " +
                              "\n  ".join(conflicts))


def explain_site(problem: Problem, build: Callable[..., Core],
                 solve: Callable[[Core], object]) -> list[str]:
    """Elastic solve of a one-site problem; describe the rows that need slack."""
    core = build(problem, elastic=True)
    solve(core)
    x = core.values()
    site = problem.sites[0]
    st = site.steps
    hours = problem.horizon.hours_utc
    out = []
    for key, cols in core.slack_cols.items():
        slack = x[cols]
        short = np.flatnonzero(slack > 1e-6)
        if not len(short):
            continue
        first = hours[np.flatnonzero(np.isin(st.step_of_hour, short))[0]]
        first_hour = np.datetime_as_string(first.astype("datetime64[m]"))
        n_hours = int(st.weight_h[short].sum())
        stress_hours = int(st.weight_h[short][st.stress[short]].sum())
        phrases = [explain(short) for explain in core.explanations(key)]
        if key[0] == "power":
            phrases.insert(0, POWER_PHRASE)
        out.append(f"site {site.name!r}: {core.row(key).label}: {'; '.join(phrases)}: in "
                   f"{n_hours} hours ({stress_hours} of them stress hours), first at "
                   f"{first_hour}Z, short by up to {slack.max():.3f} MW")
    return out
