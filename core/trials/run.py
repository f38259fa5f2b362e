"""One trial: build an HNSW graph from a generation's stored vectors (no re-embedding)
with given M and ef_construction, and measure it on an eval set at each ef_search.

    vectors/<index>/trials/.t<id>.<job>.building/   a trial being built (by that job)
    vectors/<index>/trials/t<id>/                   a finished trial: hnsw.bin, meta.json
                                                    (until graphs.prune removes it)

A graph measured on held-out queries is built without them and gets them inserted after
its measurement (core/trials/evals.py), so build seconds cover every vector.
The graph is written beside and renamed into place when every figure is measured; only
then are its rows recorded with status ok. A cancelled or failed trial removes what it
wrote and leaves one row saying so; a killed one leaves at most its .building directory,
which nothing reads and the next trial of the index removes (a trial becomes a generation
only through promote, from a finished trial's directory and ok rows).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np

from core import access
from core.errors import Cancelled, LakehouseError, NotFound, VectorError
from core.models import TrialResult
from core.storage.db import now
from core.storage.faults import crash_point
from core.trials import evals, graphs
from core.trials.measure import PeakMemory, machine, point
from core.vectors import store

MAX_M, MAX_EF_CONSTRUCTION, MAX_EF_SEARCH = 128, 2000, 5000


def trials_dir(root: Path, index: str) -> Path:
    return store.index_dir(root, index) / "trials"


def trial_dir(root: Path, index: str, trial_id: str) -> Path:
    return trials_dir(root, index) / f"t{trial_id}"


def check_graph(m: int, ef_construction: int) -> None:
    if not 2 <= m <= MAX_M:
        raise VectorError(f"M must be between 2 and {MAX_M}, got {m}")
    if not m <= ef_construction <= MAX_EF_CONSTRUCTION:
        raise VectorError(f"ef_construction must be between M ({m}) and {MAX_EF_CONSTRUCTION}, got {ef_construction}")


def check_settings(m: int, ef_construction: int, ef_search, k: int) -> list[int]:
    """The allowed space, each violation one sentence; the ef_search values sorted, once each."""
    check_graph(m, ef_construction)
    efs = sorted({int(e) for e in ef_search})
    if not efs:
        raise VectorError("give at least one ef_search value")
    bad = [e for e in efs if not k <= e <= MAX_EF_SEARCH]
    if bad:
        raise VectorError(f"ef_search must be between k ({k}) and {MAX_EF_SEARCH}, got {bad[0]}")
    return efs


def run_trial(vectors, index: str, m: int, ef_construction: int, ef_search: list[int],
              eval_name: str | None = None, job=None, listener=None, cancel=None) -> TrialResult:
    """Build and measure one trial of `index` (its generation this profile searches) on
    eval set `eval_name` (None: the newest usable one). Inside a running `job` (an
    autotune's) it reports there; otherwise it runs as its own "trial" job."""
    check_graph(m, ef_construction)  # before anything is read
    gen, vecs = evals.source(vectors, index)
    ev = evals.load_eval(vectors, index, eval_name, gen)
    efs = check_settings(m, ef_construction, ef_search, ev.k)
    if job is not None:
        return _run(vectors, index, gen, vecs, ev, m, ef_construction, efs, job)
    with vectors.ctx.jobs.run("trial", index, listener, cancel) as own:
        out = _run(vectors, index, gen, vecs, ev, m, ef_construction, efs, own)
    graphs.prune(vectors, index)
    return out


def _run(vectors, index, gen, vecs, ev, m, efc, efs, job) -> TrialResult:
    tid = uuid.uuid4().hex[:12]
    bdir = trials_dir(vectors.root, index) / f".t{tid}.{job.id}.building"  # its job: see _sweep
    final = trial_dir(vectors.root, index, tid)
    base = dict(trial_id=tid, index_name=index, generation=gen["gen"], eval_set=ev.name, k=ev.k, m=m,
                ef_construction=efc, dataset_version=gen["dataset_version"], embedder=gen["provider"],
                model=gen["model"], machine=machine(), profile=_profile(vectors), job_id=job.id, created_at=now(),
                origin=job.kind)
    _sweep(vectors, index)
    bdir.mkdir(parents=True)
    try:
        graph, build_s, peak = _build(vecs, ev.held_out, m, efc, max(efs), job)
        points = []
        for i, ef in enumerate(efs):
            job.progress(i, len(efs), "ef_search", f"measuring ef_search {ef} on {len(ev.queries):,} queries",
                         force=True)
            points.append(point(graph, ev.queries, ev.truth, ef))
        job.pause_point("measured")
        if ev.held_out is not None:  # the graph that may be promoted holds every vector
            t0 = time.perf_counter()
            with PeakMemory() as mem:
                graph.add(vecs, ev.held_out)
            build_s, peak = build_s + time.perf_counter() - t0, max(peak, mem.bytes)
        graph.save(str(bdir / store.HNSW))
        size = (bdir / store.HNSW).stat().st_size
        figures = dict(build_s=round(build_s, 4), index_bytes=size, peak_mem_bytes=peak)
        meta = dict(base, **figures, points=points, vectors=len(vecs),
                    files={store.HNSW: {"bytes": size, "crc32": store.crc32_file(bdir / store.HNSW)}})
        (bdir / store.META).write_text(json.dumps(meta, indent=2))
        crash_point("before_trial_ready")
        os.replace(bdir, final)
        vectors.catalog.trials.add_points([dict(base, **p, **figures, status="ok") for p in points])
        recalls = [p["recall"] for p in points]
        job.progress(len(efs), len(efs), "ef_search", f"trial {tid}: recall@{ev.k} {min(recalls):.3f} to "
                     f"{max(recalls):.3f} over ef_search {', '.join(map(str, efs))}", force=True)
    except BaseException as e:
        shutil.rmtree(bdir, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        status = "cancelled" if isinstance(e, (Cancelled, KeyboardInterrupt)) else "failed"
        vectors.catalog.trials.add_points([dict(base, status=status, error=_sentence(e))])
        raise
    return result(vectors.catalog.trials.points(tid))


def _sweep(vectors, index: str) -> None:
    """Remove what killed trials of `index` left: a .building directory whose job is not
    running (a trial that failed or was cancelled removed its own)."""
    for d in trials_dir(vectors.root, index).glob(".t*.*.building"):
        job = vectors.ctx.jobs.get(d.name.split(".")[2])
        if job is None or job.status != "running":
            shutil.rmtree(d, ignore_errors=True)


def _build(vecs: np.ndarray, held_out, m: int, efc: int, ef: int, job):
    """The graph of every vector but the held-out ones (None: of all), its seconds and peak memory."""
    from core.vectors.ann import HnswIndex

    def prog(done, total):
        job.progress(done, total, "vectors", f"building HNSW (M {m}, ef_construction {efc})")
        job.pause_point("hnsw")
    job.progress(0, len(vecs), "vectors", f"building HNSW (M {m}, ef_construction {efc})", force=True)
    t0 = time.perf_counter()
    with PeakMemory() as mem:
        rows = None if held_out is None else np.setdiff1d(np.arange(len(vecs)), held_out)
        graph = HnswIndex.build(vecs, m, efc, ef, progress=prog, rows=rows)
    return graph, time.perf_counter() - t0, mem.bytes


def _profile(vectors) -> str:
    return vectors.profile.id if vectors.profile is not None else "default"


def _sentence(e: BaseException) -> str:
    return str(e) if isinstance(e, LakehouseError) else f"{type(e).__name__}: {e}"


# -- reading trials ---------------------------------------------------------------------
def result(rows: list[dict]) -> TrialResult:
    """A trial from its rows (one per measured point; one without figures when it failed)."""
    r = rows[0]
    points = [{k: p[k] for k in ("ef_search", "recall", "p50_us", "p95_us", "p99_us")}
              for p in rows if p["ef_search"] is not None]
    return TrialResult(r["trial_id"], r["index_name"], r["generation"], r["eval_set"], r["m"],
                       r["ef_construction"], r["build_s"], r["index_bytes"], r["peak_mem_bytes"], points,
                       r["dataset_version"], r["embedder"], r["model"], r["machine"], r["profile"], r["status"],
                       r["created_at"], r["promoted_generation"], r["k"], r["job_id"], r["origin"],
                       bool(r["graph_removed"]))


def listing(vectors, index: str, best: bool = False, pareto: bool = False) -> list[TrialResult]:
    """The trials of `index` this profile ran, oldest first. `best`: the finished one with
    the highest recall at any ef_search (ties: the lowest p50); `pareto`: the finished ones
    with only their points on the Pareto front of recall against p50 latency."""
    vectors.require(index)
    by_id: dict[str, list[dict]] = {}
    for row in access.trials(vectors.profile, vectors.catalog.trials.of_index(index)):
        by_id.setdefault(row["trial_id"], []).append(row)
    out = [result(rows) for rows in by_id.values()]
    done = [t for t in out if t.status == "ok" and t.points]
    if best:
        return [max(done, key=lambda t: max((p["recall"], -p["p50_us"]) for p in t.points))] if done else []
    if pareto:
        from core.trials.front import pareto_front

        front = pareto_front([dict(p, trial=t.id, m=t.m, ef_construction=t.ef_construction)
                              for t in done for p in t.points])
        on = {(p["trial"], p["ef_search"]) for p in front}
        kept = [replace(t, points=[p for p in t.points if (t.id, p["ef_search"]) in on]) for t in done]
        return [t for t in kept if t.points]
    return out


def get(vectors, trial_id: str) -> TrialResult:
    """One trial this profile ran, over an index it searches; else one NotFound."""
    rows = access.trials(vectors.profile, vectors.catalog.trials.points(trial_id)) if isinstance(trial_id, str) else []
    if not rows:
        raise NotFound(f"no trial {trial_id!r}", hint=_list_hint())
    vectors.require(rows[0]["index_name"])
    return result(rows)


def _list_hint():
    from core.errors import Hint

    return Hint("list an index's trials to see their ids", "trials", {"index": "INDEX"})
