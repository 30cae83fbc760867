"""The option registry: the only list of options.

Adding an option is adding a module here (its `OPTION` bundle, see `optim.option`) and
one line in `OPTIONS`. Everything else (schema, problem, model, results, report, sweep,
diagnosis and the independent check) iterates `registry()`.
"""

from __future__ import annotations

from optim.models import ai, generation, grid, hosting, mining, reserves
from optim.option import Option, build_order

OPTIONS: tuple[Option, ...] = (
    grid.OPTION,
    mining.OPTION,
    hosting.OPTION,
    ai.OPTION,
    generation.OPTION,
    reserves.OPTION,
)


def registry() -> tuple[Option, ...]:
    """The registered options, every provider of a quantity before its consumers."""
    return build_order(OPTIONS)
