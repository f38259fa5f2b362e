#!/usr/bin/env python
"""Lakehouse sensitivity-scan benchmark (issue 19): what the column scan at ingest adds to
the demo's ingest — the goal is at most 10%.

    .venv/bin/python bench/sensitivity.py [--scale 1.0] [--rounds 3]

The demo workload (`lakehouse demo`'s seven tables and its documents) is generated once at
--scale; each round ingests all of it into a fresh root twice — once as shipped (each
table scanned after its commit: core/governance/scan.py) and once with the scan turned off
in this process (scan.ENABLED = False), the order alternating. Measured: wall seconds for
the whole ingest, and separately the scan alone on each ingested table. Prints a markdown
report (medians) and writes bench/results-sensitivity.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results-sensitivity.json"
sys.path[:0] = [str(ROOT), str(BENCH)]

from vectors import machine, md_table  # noqa: E402


def ingest_all(home: Path, paths: list[Path], scanned: bool) -> tuple[float, dict]:
    """Seconds to ingest the demo's sources the way `lakehouse demo` does; the tags found."""
    from core import Lakehouse
    from core.demo import KEYS
    from core.governance import scan

    scan.ENABLED = scanned
    try:
        with Lakehouse.open(home=home) as lh:
            t0 = time.perf_counter()
            for p in paths:
                lh.ingest([str(p)], key=KEYS.get(p.stem), reason="demo workload")
            seconds = time.perf_counter() - t0
            tags = {d.name: lh.catalog.tags.effective(d.name) for d in lh.datasets()}
    finally:
        scan.ENABLED = True
    return seconds, tags


def scan_only(home: Path) -> dict[str, float]:
    """Seconds for the scan alone, per table (sampling plus detection)."""
    from core import Lakehouse
    from core.governance.scan import scan_dataset

    out = {}
    with Lakehouse.open(home=home) as lh:
        for d in lh.datasets():
            if d.kind == "table":
                t0 = time.perf_counter()
                scan_dataset(lh.root, lh.catalog, d.name)
                out[d.name] = time.perf_counter() - t0
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args(argv)

    from core.demo import generate, row_counts

    runs: dict[str, list[float]] = {"scan": [], "off": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = [Path(p) for p in generate(tmp / "demo", a.scale)]
        tags: dict = {}
        per_table: list[dict[str, float]] = []
        for r in range(a.rounds):
            for mode in (("scan", "off") if r % 2 == 0 else ("off", "scan")):
                home = tmp / f"home-{r}-{mode}"
                seconds, found = ingest_all(home, paths, mode == "scan")
                runs[mode].append(seconds)
                if mode == "scan":
                    tags = found
                    per_table.append(scan_only(home))
                shutil.rmtree(home)
                print(f"round {r + 1} {mode}: {seconds:.2f} s", file=sys.stderr)
    med = {m: statistics.median(v) for m, v in runs.items()}
    added = (med["scan"] - med["off"]) / med["off"] * 100
    tables = {t: statistics.median(p[t] for p in per_table) for t in per_table[0]}
    out = {"machine": machine(), "scale": a.scale, "rounds": a.rounds, "rows": row_counts(a.scale),
           "ingest_s": runs, "median_s": med, "added_pct": round(added, 1),
           "scan_only_median_s": tables, "tags": tags}
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"## Sensitivity scan at ingest (demo scale {a.scale:g}, {a.rounds} rounds, medians)\n")
    print(md_table(["ingest", "seconds"], [("with the scan", f"{med['scan']:.2f}"),
                                            ("without", f"{med['off']:.2f}"),
                                            ("added", f"{added:+.1f}%")]))
    print()
    print(md_table(["table", "rows", "scan alone (s)", "tags found"],
                   [(t, f"{row_counts(a.scale).get(t, 0):,}", f"{s:.3f}",
                     ", ".join(f"{c}={g}" for c, g in sorted(tags.get(t, {}).items())) or "-")
                    for t, s in tables.items()]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
