"""The `optim` command's entry point: Ctrl-C while the program is still starting (importing
pandas, Pyomo, ...) ends it quietly with exit 130 instead of a traceback."""

from __future__ import annotations

import os
import sys


def main() -> None:
    try:
        from optim.cli import main as run
    except KeyboardInterrupt:
        sys.stderr.write("interrupted while starting; nothing done\n")
        sys.stderr.flush()
        os._exit(130)
    run()
