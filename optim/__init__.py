"""optim: which mix of mining, hosting, AI colocation and generation earns the most.

The public names are imported on first use, so that `import optim` (and the `optim`
command's start, where Ctrl-C must already be handled) stays light.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["Result", "Scenario", "load_scenario", "solve"]
_WHERE = {"Result": "optim.engine", "solve": "optim.engine", "Scenario": "optim.scenario",
          "load_scenario": "optim.scenario"}


def _no_eager_scipy_stats() -> None:
    """Pyomo hooks the import of scipy to import scipy.stats, .spatial and .integrate with
    it (about 1 s, a fifth of the sample's `optim solve`); optim needs scipy.sparse and
    scipy.optimize only. Without the hook, Pyomo code that uses scipy (its standard-form
    compiler) still imports what it needs on first use, through its deferred module."""
    if "scipy" in sys.modules:
        return
    from pyomo.common.dependencies import DeferredImportCallbackFinder

    DeferredImportCallbackFinder._callbacks.pop("scipy", None)


_no_eager_scipy_stats()


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'optim' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_WHERE[name]), name)
