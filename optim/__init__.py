"""optim: which mix of mining, hosting, AI colocation and generation earns the most.

The public names are imported on first use, so that `import optim` (and the `optim`
command's start, where Ctrl-C must already be handled) stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Result", "Scenario", "load_scenario", "solve"]
_WHERE = {"Result": "optim.engine", "solve": "optim.engine", "Scenario": "optim.scenario",
          "load_scenario": "optim.scenario"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'optim' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_WHERE[name]), name)
