"""Worked example: the sample portfolio under ERCOT's real grid-stress hours.

Writes into OUT (default results/headroom_example) the events file of the hours in which
ERCOT's 0.5 % curtailment-enabled headroom (Norris et al. 2025) is curtailed, taken from
2023 demand and replayed on 2027-2029 for the sample's four nodes (plus the sample's 4CP
peak flags), and three variants of the sample scenario:

* `real.toml`: flexible import withdrawn in those real stress hours (no price-ranked ones);
* `nostress.toml`: flexible import never withdrawn;
* `noflex.toml`: real stress hours, and no flexible import at all.

Usage: python data/headroom_example.py [OUT]; then `optim solve OUT/<variant>.toml`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from optim import headroom as hr  # noqa: E402

NODES = ["HB_NORTH", "HB_PAN", "HB_SOUTH", "HB_WEST"]


def main(out: Path) -> None:
    sample = REPO / "data" / "sample"
    out.mkdir(parents=True, exist_ok=True)
    profiles = hr.prepare_bas(hr.read_demand(hr.default_demand_path()), ["ERCO"],
                              years=(2016, 2024))
    load_mw = hr.headroom_mw(profiles["ERCO"], 0.5)
    stress = pd.concat([hr.stress_events(profiles["ERCO"], load_mw, n, 2023, "2027-01", 36)
                        for n in NODES])
    peak = pd.read_parquet(sample / "generated" / "events.parquet")
    peak = peak.loc[peak["peak"], ["timestamp", "node", "peak"]]
    real = stress.merge(peak, on=["timestamp", "node"], how="outer")
    real[["stress", "peak"]] = real[["stress", "peak"]].fillna(False).astype(bool)
    real.to_parquet(out / "events_real.parquet", index=False)
    peak.assign(stress=False).to_parquet(out / "events_peak_only.parquet", index=False)
    text = (sample / "scenario.toml").read_text()
    text = text.replace('"generated/', f'"{sample / "generated"}/')
    text = text.replace("stress_hours_per_year = 20", "stress_hours_per_year = 0")
    real_text = text.replace(f'events = "{sample / "generated"}/events.parquet"',
                             'events = "events_real.parquet"')
    (out / "real.toml").write_text(real_text)
    (out / "nostress.toml").write_text(real_text.replace("events_real", "events_peak_only"))
    (out / "noflex.toml").write_text(re.sub(r"(?m)^flex_import_mw = [0-9.]+",
                                            "flex_import_mw = 0.0", real_text))
    print(f"headroom {load_mw} MW; {len(stress) // len(NODES)} stress hours per node "
          f"in 36 months; scenarios in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "results" / "headroom_example")
