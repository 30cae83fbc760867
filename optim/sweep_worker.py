"""One sweep case in its own process: `python -m optim.sweep_worker TASK.json`.

Exit codes are those of `optim solve`. `OPTIM_SWEEP_INJECT` (a JSON mapping of case name
to `raise`, `hang` or `kill`) injects faults, for the sweep's own tests.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import sys
import time
from pathlib import Path


def main(task_file: str) -> int:
    task = json.loads(Path(task_file).read_text())
    fault = json.loads(os.environ.get("OPTIM_SWEEP_INJECT", "{}")).get(task["name"])
    if fault == "raise":
        raise RuntimeError(f"injected failure in case {task['name']!r}")
    if fault == "hang":
        time.sleep(10 * task["timeout_s"])
    if fault == "kill":
        os.kill(os.getpid(), signal.SIGKILL)

    from optim.engine import solve
    from optim.errors import OptimError, VerificationError
    from optim.scenario import parse_scenario

    with open(task["series_file"], "rb") as fh:
        series = pickle.load(fh)
    try:
        sc = parse_scenario(task["raw"], Path(task["base_dir"]), f"case {task['name']}")
        result = solve(sc, series=series.scaled(**task["scales"]), **task["options"])
    except VerificationError as exc:
        exc.result.summary.update(case_id=task["case_id"], overrides=task["overrides"])
        exc.result.write(Path(task["out"]))
        print(str(exc).splitlines()[0], file=sys.stderr)
        return exc.exit_code
    except OptimError as exc:
        print(" ".join(str(exc).split()), file=sys.stderr)
        return exc.exit_code
    result.summary.update(case_id=task["case_id"], overrides=task["overrides"])
    result.write(Path(task["out"]))
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # the case is written; skip freeing its model object by object
