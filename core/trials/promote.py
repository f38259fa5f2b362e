"""A trial's graph as a new generation: g<N+1> is assembled beside (the measured
generation's embeddings and vectors, the trial's hnsw.bin, a meta.json with the trial's
settings), renamed into place, then marked ready and active in one catalog transaction
(a `build` and a `promote` event). Rollback returns to the generation before it, as for
any generation."""

from __future__ import annotations

import json
import os
import shutil

from core.errors import Hint, VectorError
from core.models import IndexInfo
from core.storage.db import now
from core.storage.faults import crash_point
from core.trials import run
from core.vectors import store
from core.vectors.build import next_gen
from core.vectors.context import figures


def audited(vectors, audit_log, trial_id: str, ef_search: int | None, actor: str) -> IndexInfo:
    """promote(), recorded in the audit log (ok, refused or failed) with the trial's index."""
    def index() -> list[str]:
        rows = vectors.catalog.trials.points(trial_id) if isinstance(trial_id, str) else []
        return [rows[0]["index_name"]] if rows else []
    return audit_log.timed("trial_promote", index, str(trial_id), lambda: promote(vectors, trial_id, ef_search, actor))


def promote(vectors, trial_id: str, ef_search: int | None = None, actor: str = "") -> IndexInfo:
    """Make trial `trial_id`'s graph the active generation of its index; `ef_search` the
    generation's default (None: the trial's smallest with its best recall)."""
    t = run.get(vectors, trial_id)
    index = t.index
    if t.status != "ok":
        raise VectorError(f"trial {trial_id} {t.status}, so it has no graph to promote")
    if vectors.catalog.trials.points(trial_id)[0]["graph_removed"]:
        raise VectorError(f"trial {trial_id}'s graph was removed (only the Pareto front's and the newest trials' "
                          "are kept), so it must be run again to be promoted",
                          hint=Hint("run it again", "trial", {"index": index, "m": t.m,
                                                              "ef_construction": t.ef_construction}))
    if t.promoted_generation is not None and vectors.catalog.indexes.generation(index, t.promoted_generation):
        raise VectorError(f"trial {trial_id} was already promoted as {index} g{t.promoted_generation}",
                          hint=Hint("make that generation active again", "promote",
                                    {"index": index, "gen": t.promoted_generation}))
    src = _source(vectors, t)
    ef = _ef(t, ef_search)
    tdir = run.trial_dir(vectors.root, index, trial_id)
    tmeta = _trial_meta(tdir, trial_id)
    with vectors.ctx.index_lock(index):
        gen = next_gen(vectors.root, vectors.catalog, index)
        fields = {k: src[k] for k in ("provider", "model", "digest", "dim", "chunk_size", "overlap", "dataset_version")}
        vectors.catalog.indexes.add_generation(dict(index_name=index, gen=gen, kind="hnsw", **fields, m=t.m,
                                                    ef_construction=t.ef_construction, ef_search=ef,
                                                    base_gen=src["gen"], job_id=""))
        bdir = store.building_dir(vectors.root, index, gen)
        try:
            meta = _assemble(vectors.root, index, src["gen"], gen, tdir, t, ef, tmeta)
            crash_point("before_trial_generation_ready")
            os.replace(bdir, store.gen_dir(vectors.root, index, gen))
            vectors.catalog.indexes.finish_generation(
                index, gen, figures(meta), True, actor or "trial promote",
                f"from trial {trial_id} (M {t.m}, ef_construction {t.ef_construction}, ef_search {ef})")
        except BaseException:
            shutil.rmtree(bdir, ignore_errors=True)
            shutil.rmtree(store.gen_dir(vectors.root, index, gen), ignore_errors=True)
            vectors.catalog.indexes.drop_generation(index, gen, actor, event=False)
            raise
    vectors.catalog.trials.set_promoted(trial_id, gen)
    return vectors.registry.info(index)


def _source(vectors, t) -> dict:
    """The generation the trial was built from, still there and not older than the active one's data."""
    src = vectors.catalog.indexes.generation(t.index, t.generation)
    if src is None or src["status"] != "ready":
        raise VectorError(f"trial {t.id} was built from {t.index} g{t.generation}, which is gone",
                          hint=Hint("run a new trial", "trial", {"index": t.index}))
    active = vectors.catalog.indexes.get(t.index)["active_gen"]
    act = vectors.catalog.indexes.generation(t.index, active) if active is not None else None
    if act is not None and act["dataset_version"] > src["dataset_version"]:
        raise VectorError(f"trial {t.id} measured version {src['dataset_version']} of the data, and {t.index} "
                          f"now serves version {act['dataset_version']}",
                          hint=Hint("run a new trial", "trial", {"index": t.index}))
    return src


def _ef(t, ef_search: int | None) -> int:
    measured = [p["ef_search"] for p in t.points]
    if ef_search is None:
        top = max(p["recall"] for p in t.points)
        return min(p["ef_search"] for p in t.points if p["recall"] == top)
    if ef_search not in measured:
        raise VectorError(f"trial {t.id} measured ef_search {', '.join(map(str, measured))}, not {ef_search}")
    return ef_search


def _trial_meta(tdir, trial_id: str) -> dict:
    try:
        meta = json.loads((tdir / store.META).read_text())
    except (OSError, ValueError):
        raise VectorError(f"trial {trial_id}'s graph is missing or unreadable",
                          hint=Hint("run the trial again", "trial", {"index": "INDEX"})) from None
    problems = store.verify(tdir, meta, f"trial {trial_id}")
    if problems:
        raise VectorError(problems[0], hint=Hint("run the trial again", "trial", {"index": "INDEX"}))
    return meta


def _assemble(root, index: str, src_gen: int, gen: int, tdir, t, ef: int, tmeta: dict) -> dict:
    """Fill .g<gen>.building: the source generation's Parquet and vectors (hard links where
    the filesystem allows), the trial's graph, and a meta.json with checksums."""
    src = store.gen_dir(root, index, src_gen)
    bdir = store.building_dir(root, index, gen)
    bdir.mkdir(parents=True, exist_ok=True)
    for name, origin in ((store.EMBEDDINGS, src), (store.VECTORS, src), (store.HNSW, tdir)):
        try:
            os.link(origin / name, bdir / name)
        except OSError:
            shutil.copy2(origin / name, bdir / name)
    meta = {k: v for k, v in store.read_meta(src, f"{index} g{src_gen}").items() if k != "files"}
    meta.update(gen=gen, kind="hnsw", m=t.m, ef_construction=t.ef_construction, ef_search=ef, trial=t.id,
                eval_set=t.eval_set, embedded=0, reused=meta.get("chunks", 0), split_inputs=0,
                build_seconds=tmeta.get("build_s", 0), created_at=now())
    meta["files"] = {n: {"bytes": (bdir / n).stat().st_size, "crc32": store.crc32_file(bdir / n)}
                     for n in (store.EMBEDDINGS, store.VECTORS, store.HNSW)}
    (bdir / store.META).write_text(json.dumps(meta, indent=2))
    return meta
