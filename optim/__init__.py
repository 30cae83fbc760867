"""optim: which mix of mining, hosting, AI colocation and generation earns the most."""

from optim.engine import Result, solve
from optim.scenario import Scenario, load_scenario

__all__ = ["Result", "Scenario", "load_scenario", "solve"]
