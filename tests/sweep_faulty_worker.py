"""The sweep tests' own case worker: `python sweep_faulty_worker.py TASK.json`.

The cases named in FAULTS fail on purpose (raise, hang past the timeout, die by SIGKILL);
every other case runs the real `optim.sweep_worker`. The tests point
`optim.sweep.WORKER_COMMAND` at this file, so no fault hook lives in the package.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from optim import sweep_worker

FAULTS = {"boom": "raise", "stuck": "hang", "dead": "kill"}


def main(task_file: str) -> int:
    """Inject the case's fault, if it has one; else solve it as the real worker does."""
    task = json.loads(Path(task_file).read_text())
    fault = FAULTS.get(task["name"])
    if fault == "raise":
        raise RuntimeError(f"injected failure in case {task['name']!r}")
    if fault == "hang":
        time.sleep(10 * task["timeout_s"])
    if fault == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    return sweep_worker.main(task_file)


if __name__ == "__main__":
    sweep_worker.exit_fast(main(sys.argv[1]))
