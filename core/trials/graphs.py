"""Trial graphs don't pile up: every trial writes its graph under
vectors/<index>/trials/t<id>/, and an autotune runs dozens, so after each trial and each
autotune `prune` keeps only the graphs worth promoting:

- those on the Pareto front of recall against each objective's cost (p50, p95, build,
  memory), computed per eval set and generation (recall on one eval set says nothing of
  another's), so whatever objective a later promotion uses, its pick is still there;
- the newest [trials] keep_graphs trials' (0: keep every graph);
- those the caller names (`keep`: a running autotune's own front, which it may promote),
  and those of any other job still running (an autotune in another process).

The others' directories are removed and their rows stay in `_trials` with graph_removed = 1,
so their figures remain queryable and `trial promote` of one says its graph is gone. A
graph being built (.t<id>.<job>.building) is never touched here. `index drop` removes the
whole index directory, trial graphs included.
"""

from __future__ import annotations

import shutil

from core.trials.front import OBJECTIVES, pareto_front


def prune(vectors, index: str, keep: set[str] = frozenset(), own_job: str = "") -> list[str]:
    """Remove the graphs of `index`'s trials that are neither on a front, nor among the
    newest, nor in `keep`, nor run by a job still running other than `own_job` (an
    autotune in another process may yet promote one); mark their rows; return their ids."""
    from core.trials.run import trial_dir

    newest = vectors.ctx.cfg.get("trials.keep_graphs")
    if not newest:
        return []
    rows = [r for r in vectors.catalog.trials.of_index(index) if r["status"] == "ok" and not r["graph_removed"]]
    order = list(dict.fromkeys(r["trial_id"] for r in reversed(rows)))  # newest first (rows are by id)
    running = {r["trial_id"] for r in rows if r["job_id"] != own_job and _running(vectors, r["job_id"])}
    kept = set(order[:newest]) | set(keep) | _on_a_front(rows) | running
    gone = [t for t in order if t not in kept]
    for tid in gone:
        shutil.rmtree(trial_dir(vectors.root, index, tid), ignore_errors=True)
    if gone:
        vectors.catalog.trials.set_graph_removed(gone)
    return gone


def _running(vectors, job_id: str) -> bool:
    job = vectors.ctx.jobs.get(job_id) if job_id else None
    return job is not None and job.status == "running"


def _on_a_front(rows: list[dict]) -> set[str]:
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["recall"] is not None:
            groups.setdefault((r["eval_set"], r["generation"]), []).append(r)
    return {p["trial_id"] for pts in groups.values() for figure in OBJECTIVES.values()
            for p in pareto_front(pts, figure)}
