#!/usr/bin/env python
"""Lakehouse index-refresh benchmark (issue 18): what keeping an index fresh costs after an
append — the HNSW graph extended (the product) against rebuilt from scratch (before).

    .venv/bin/python bench/refresh.py [--rows 100000] [--append 1000] [--rounds 3]

Data: --rows short texts in bench/vectors.py's vocabulary, keyed, ingested and embedded
with the offline hashing embedder (384 dims, HNSW M16/efc80). Each round appends --append
new rows twice — once refreshed by `Lakehouse.refresh` as shipped (the base graph extended)
and once with the extension turned off in this process (a full rebuild, as before) — the
order alternating. Measured: seconds per refresh (embedding the new chunks, the graph,
writing the generation), and that every appended row's own text finds it first (top-1 over
50 sampled new rows). Prints a markdown report and writes bench/results-refresh.json.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results-refresh.json"
sys.path[:0] = [str(ROOT), str(BENCH)]

from vectors import PLACES, ROLES, SKILLS, VERBS, machine, md_table  # noqa: E402


def text(rng: random.Random, i: int) -> str:
    return (f"{rng.choice(ROLES)} {i} {rng.choice(VERBS)} {rng.choice(SKILLS)} and {rng.choice(SKILLS)} "
            f"systems in {rng.choice(PLACES)} for {rng.randint(1, 30)} years (ref {rng.randint(0, 10**9)})")


def write_rows(path: Path, start: int, n: int, rng: random.Random) -> dict[int, str]:
    rows = {i: text(rng, i) for i in range(start, start + n)}
    path.write_text("id,bio\n" + "".join(f"{i},{t}\n" for i, t in rows.items()))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--append", type=int, default=1_000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args(argv)

    from core import Lakehouse
    from core.vectors import extend

    rng = random.Random(18)
    shipped = extend.append_order
    out = {"machine": machine(), "rows": a.rows, "append": a.append, "extend": [], "rebuild": [], "top1": []}
    with tempfile.TemporaryDirectory() as tmp, Lakehouse.open(home=Path(tmp) / "home") as lh:
        data = Path(tmp)
        write_rows(data / "base.csv", 0, a.rows, rng)
        lh.ingest([data / "base.csv"], name="bios", key="id")
        t = time.perf_counter()
        lh.embed("bios", "bio", embedder="hashing")
        out["initial_build_s"] = round(time.perf_counter() - t, 2)
        print(f"initial embed + build of {a.rows:,} rows: {out['initial_build_s']} s", file=sys.stderr)
        n = a.rows
        for r in range(a.rounds):
            for arm in (("extend", "rebuild") if r % 2 == 0 else ("rebuild", "extend")):
                path = data / f"add-{n}.csv"
                rows = write_rows(path, n, a.append, rng)
                n += a.append
                lh.ingest([path], name="bios", mode="append")
                extend.append_order = shipped if arm == "extend" else (lambda *_: None)
                t = time.perf_counter()
                [o] = lh.refresh("bios")
                out[arm].append(time.perf_counter() - t)
                extend.append_order = shipped
                assert o.status == "refreshed", o.message
                sample = rng.sample(sorted(rows), 50)
                hits = sum(lh.search("bios_bio", rows[i], 1).hits[0].row_key == str(i) for i in sample)
                out["top1"].append(hits / 50)
                print(f"round {r + 1} {arm}: {out[arm][-1]:.2f} s, top-1 {hits}/50", file=sys.stderr)
    ext, reb = statistics.median(out["extend"]), statistics.median(out["rebuild"])
    out.update(extend_median_s=round(ext, 3), rebuild_median_s=round(reb, 3))
    RESULTS.write_text(json.dumps(out, indent=1))
    m = out["machine"]
    print(f"Machine: {m}\n")
    print(md_table(["refresh after appending", "median s", "runs (s)"], [
        (f"{a.append:,} rows to {a.rows:,}: graph extended (shipped)", f"**{ext:.2f}**",
         ", ".join(f"{x:.2f}" for x in out["extend"])),
        (f"{a.append:,} rows to {a.rows:,}: graph rebuilt (before)", f"{reb:.2f}",
         ", ".join(f"{x:.2f}" for x in out["rebuild"]))]))
    print(f"\nAppended rows finding themselves first: {min(out['top1']):.0%} (lowest round); "
          f"initial build {out['initial_build_s']} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
