"""`lakehouse demo`: generate the reference workload and ingest it the normal way, as
one job — a cancel anywhere records the demo cancelled, and a re-run skips what is done
(identical bytes, embedded chunks) and continues."""

from __future__ import annotations

from pathlib import Path

from core.errors import Cancelled, Hint, LakehouseError
from core.demo import KEYS, generate


def start(root: Path, jobs, ingest, embed, scale: float, progress, cancel, sql=None, remember=None) -> list:
    """`ingest`, `embed`, `sql` and `remember` (memory_add) are the facade's own (audited,
    profile-checked) operations."""
    if not (0 < scale <= 100):
        raise LakehouseError(f"--scale must be between 0 and 100, got {scale}")
    out = root / "demo" / f"scale-{scale:g}"
    with jobs.run("demo", f"scale {scale:g}", progress, cancel) as job:
        job.progress(0, None, "", "generating the demo workload", force=True)
        paths = generate(out, scale, job)
        job.progress(message=f"generated {len(paths)} sources in {out}", force=True)
        results: list = []
        loaded = 0  # sources (a table, or the folder of documents) fully ingested
        try:
            for p in paths:  # each table with its primary key, so records can be updated by id
                results += ingest([str(p)], key=KEYS.get(Path(p).stem),
                                  reason="demo workload", progress=progress, cancel=job.cancel_event)
                loaded += 1
            # the candidates' resumes, searchable by meaning (`lakehouse search resumes "..."`)
            embed("candidates", "resume_text", index="resumes", actor="demo", progress=progress,
                  cancel=job.cancel_event)
            if remember is not None:  # successful placements as playbook memory (core/demo/memories.py)
                from core.demo.memories import seed

                job.progress(message="remembering the most recent successful placements", force=True)
                job.check_cancel()
                seeded = seed(sql, remember)
                job.progress(message=f"{seeded} successful placements remembered", force=True)
        except Cancelled as e:
            where = (f"all {len(paths)} sources are loaded, the resumes index is not finished"
                     if loaded == len(paths) else f"{loaded} of {len(paths)} sources are loaded")
            raise Cancelled(f"the demo was cancelled ({e}); {where}",
                            hint=Hint("run {the demo} again to continue from there", "demo")) from None
        job.progress(message=f"demo loaded into {root}", force=True)
    return results
