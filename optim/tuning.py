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

ENV = "OPTIM_TUNING"
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Tuning:
    """merge_hours: hourly problems give identical hours of a (site, month) one step.
    resolve_workers: processes for the hourly re-solve (None: one per core; 1: in-process).
    warm_start: an hourly-resolution MIP starts from the investments of a blocks:12 solve.
    """

    merge_hours: bool = True
    resolve_workers: int | None = None
    warm_start: bool = False

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
            elif raw.lower() in _TRUE | _FALSE:
                values[key] = raw.lower() in _TRUE
            else:
                problems.append(f"{key} = {raw!r}: expected true or false")
        if problems:
            raise InputError(problems, ENV)
        return cls(**values)
