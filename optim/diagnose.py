"""Explain an infeasible scenario in business words: which site, which requirements.

First, requirements that contradict each other in the data alone (halls under
construction above `max_halls`, an infrastructure limit below the halls already
committed). Then, after the solver finds no plan, each site is solved alone to find
the culprit(s), and an elastic copy of that site's model (slack on its power balance and
infrastructure rows) shows where and by how many MW the requirements cannot be met.
"""

from __future__ import annotations

import numpy as np

from optim.core import Core
from optim.problem import Problem


def data_conflicts(problem: Problem) -> list[str]:
    """Contradictions visible in the inputs without solving."""
    out = []
    labels = problem.horizon.month_labels
    for site in problem.sites:
        ai = site.ai
        if ai is not None and ai.max_new_halls < 0:
            out.append(f"site {site.name!r}: halls under construction exceed ai.max_halls by "
                       f"{-ai.max_new_halls}")
        for sg in site.generation:
            if sg.max_new_units < 0:
                out.append(f"site {site.name!r}: generation {problem.generators[sg.tech].name!r} "
                           f"has existing_units above max_units by {-sg.max_new_units}")
        if ai is not None:
            room = site.mining_infra_mw - ai.displaces_mining_mw_per_hall * \
                ai.committed_online_halls
            bad = np.flatnonzero(room < -1e-9)
            if len(bad):
                out.append(f"site {site.name!r}: mining_infra_mw {site.mining_infra_mw:g} minus "
                           f"ai.displaces_mining_mw_per_hall {ai.displaces_mining_mw_per_hall:g} "
                           f"x halls under construction is negative ({room[bad[0]]:g} MW) "
                           f"from {labels[bad[0]]}")
    return out


def explain_site(problem: Problem, build, solve) -> list[str]:  # noqa: ANN001
    """Elastic solve of a one-site problem; describe the rows that need slack."""
    core: Core = build(problem, elastic=True)
    solve(core)
    x = core.values()
    site = problem.sites[0]
    st = site.steps
    hours = problem.horizon.hours_utc
    out = []
    for (row, _), cols in core.slack_cols.items():
        slack = x[cols]
        short = np.flatnonzero(slack > 1e-6)
        if not len(short):
            continue
        first = hours[np.flatnonzero(np.isin(st.step_of_hour, short))[0]]
        first_hour = np.datetime_as_string(first.astype("datetime64[m]"))
        n_hours = int(st.weight_h[short].sum())
        stress_hours = int(st.weight_h[short][st.stress[short]].sum())
        if row == "power":
            ai = site.ai
            ai_mw = 0.0 if ai is None else ai.pue * ai.hall_it_mw * float(
                ai.committed_online_halls[st.month[short]].max())
            what = (f"the firm draw ({ai_mw:g} MW for AI halls under construction, plus any "
                    f"hosting that may not be curtailed) exceeds the supply available")
            out.append(f"site {site.name!r}: power balance: {what} in {n_hours} hours "
                       f"({stress_hours} of them stress hours, where flex_import_mw "
                       f"{site.flex_import_mw:g} is withdrawn and only firm_import_mw "
                       f"{site.firm_import_mw:g} plus generation remain), first at {first_hour}Z,"
                       f" short by up to {slack.max():.3f} MW")
        else:
            out.append(f"site {site.name!r}: mining infrastructure: mining_infra_mw "
                       f"{site.mining_infra_mw:g} is below the MW displaced by AI halls in "
                       f"{n_hours} hours, first at {first_hour}Z, by up to {slack.max():.3f} MW")
    return out
