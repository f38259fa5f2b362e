"""Building generations: embed a text column (chunk, embed what is missing, build the
HNSW graph, move the generation into place) and rebuild a generation's sidecars.

A build is resumable: vectors already made (by the generation it is based on, or by
an earlier run of the same build in its part log) are reused, never made again.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import access
from core.storage.db import now
from core.errors import Cancelled, Hint, NotFound, VectorError
from core.storage.faults import crash_point
from core.models import EmbedResult, Generation
from core.names import check_index_name, quote_ident
from core.vectors import store
from core.vectors.context import SETTINGS, VectorContext, figures, key_expr
from core.vectors.registry import IndexRegistry

_TEXT_TYPES = ("VARCHAR", "STRING", "TEXT", "JSON")


@dataclass
class Plan:
    """What one embed run builds, decided before it takes the index lock."""
    name: str
    dataset: str
    column: str
    keys: list[str]
    version: int
    kind: str
    m: int
    efc: int
    efs: int
    emb: object
    note: str | None
    settings: dict  # the embedder's identity plus chunking (see SETTINGS)
    base: dict | None  # the generation whose vectors are reused

    @property
    def graph(self) -> dict:
        return dict(kind=self.kind, m=self.m, ef_construction=self.efc, ef_search=self.efs)


class Builder:
    def __init__(self, ctx: VectorContext, registry: IndexRegistry):
        self.ctx, self.registry = ctx, registry
        self.catalog, self.root = ctx.catalog, ctx.root

    def embed(self, dataset: str, column: str, *, index: str | None = None, key=None,
              chunk_size: int | None = None, overlap: int | None = None, embedder: str | None = None,
              model: str | None = None, kind: str | None = None, m: int | None = None,
              ef_construction: int | None = None, ef_search: int | None = None,
              promote: bool | None = None, actor: str = "", listener=None, cancel=None) -> EmbedResult:
        if promote is not None and not isinstance(promote, bool):  # a JSON client's "no" is not a yes
            raise VectorError(f"promote must be true, false or left out, got {promote!r}")
        ds, name, keys, existing = self._target(dataset, column, index, key)
        p = self._plan(ds, column, name, keys, existing, chunk_size, overlap, embedder, model, kind, m,
                       ef_construction, ef_search)
        started = time.monotonic()
        with self.ctx.index_lock(name), self.ctx.jobs.run("embed", name, listener, cancel) as job:
            job.progress(0, None, "chunks", f"reading {dataset}.{column}", force=True)
            chunks = self._chunks(dataset, column, p.keys, p.settings["chunk_size"], p.settings["overlap"])
            self.catalog.indexes.create(name, dataset, column, p.keys)
            gen, resumed = self._building(p, job.id)
            bdir = store.building_dir(self.root, name, gen)
            have = self._have(p.base, name, bdir / "parts", p.settings["dim"])
            chunks, extend_from = self._append_only(p, have, chunks)
            todo = [i for i, cid in enumerate(chunks["chunk_id"]) if cid not in have]
            base_ids = set(have.get("_base_ids", ()))
            current = set(chunks["chunk_id"])
            if not resumed and not todo and self._unchanged(p, base_ids, current):
                return self._up_to_date(p, gen, bdir, chunks, actor, job, started)
            embedded = self._embed_missing(p.emb, chunks, todo, bdir / "parts", job, name)
            job.progress(message=f"indexing {len(current):,} chunks ({p.kind})", force=True)
            meta = self._finish(p, gen, chunks, bdir, job, extend_from)
            meta.update(embedded=embedded, reused=len(current) - embedded,
                        split_inputs=getattr(p.emb, "split_inputs", 0),
                        build_seconds=round(time.monotonic() - started, 3))
            activate = self._activates(p, promote)
            crash_point("before_generation_ready")
            self.catalog.indexes.finish_generation(name, gen, figures(meta), bool(activate), actor or "embed",
                                           f"{embedded} embedded, {len(current) - embedded} reused")
            self.registry.prune(name)
            removed = len(base_ids - current) if p.base else 0
            msg = (f"g{gen}: {embedded:,} chunks embedded, {len(current) - embedded:,} reused"
                   + (f", {removed:,} removed" if removed else ""))
            job.progress(len(current), len(current), "chunks", msg, force=True)
        return EmbedResult(name, gen, dataset, column, p.emb.describe(), p.note, meta["rows"], meta["chunks"],
                           embedded, len(current) - embedded, removed, meta["split_inputs"],
                           bool(activate), self.catalog.indexes.get(name)["active_gen"],
                           time.monotonic() - started, False, job.id)

    # -- deciding what to build ----------------------------------------------------------
    def _target(self, dataset: str, column: str, index: str | None, key) -> tuple:
        """(dataset, index name, key columns, existing index row), each checked."""
        from core.names import dataset_name_from_stem

        ds = self.catalog.datasets.require(dataset)
        cols = {c.name: c for c in ds.columns}
        if column not in cols:
            raise VectorError(f"dataset {dataset!r} has no column {column!r} — its columns: "
                              f"{', '.join(cols)}")
        if not cols[column].type.upper().startswith(_TEXT_TYPES):
            raise VectorError(f"column {column!r} of {dataset!r} is {cols[column].type}, not text — "
                              "embed a text column")
        keys = key_columns(key, ds)
        for k in keys:
            if k not in cols:
                raise VectorError(f"key column {k!r} is not a column of {dataset!r}")
        name = check_index_name(index or dataset_name_from_stem(f"{dataset}_{column}"))
        access.check_build(self.ctx.profile, name)
        existing = self.catalog.indexes.get(name)
        if existing is not None:
            self.registry.require(name)
        if existing and (existing["dataset"], existing["column_name"]) != (dataset, column):
            raise VectorError(f"index {name!r} already indexes {existing['dataset']}.{existing['column_name']}",
                              hint=Hint("choose another index name, or drop it", "drop_index", {"index": name}))
        if existing and key is not None and existing["key"] != keys:
            raise VectorError(f"index {name!r} identifies rows by {', '.join(existing['key'])}, not "
                              f"{', '.join(keys)} — use another --index name for a different key")
        if existing:
            keys = existing["key"]
            self.registry.settle(name)
        return ds, name, keys, existing

    def _plan(self, ds, column, name, keys, existing, chunk_size, overlap, embedder, model, kind, m,
              ef_construction, ef_search) -> Plan:
        """Settings: a flag, else the index's latest generation, else config."""
        from core.vectors.chunking import check_chunking
        from core.vectors.embedders import make_embedder

        prev = self.registry.latest(name, existing)

        def pick(flag, field, cfg_key):
            if flag is not None:
                return flag
            return prev[field] if prev else self.ctx.cfg.get(cfg_key)
        chunk_size = pick(chunk_size, "chunk_size", "vectors.chunk_size")
        overlap = pick(overlap, "overlap", "vectors.overlap")
        check_chunking(chunk_size, overlap)
        kind = pick(kind, "kind", "vectors.index_kind")
        if kind not in ("hnsw", "exact"):
            raise VectorError(f"unknown index kind {kind!r} — use hnsw or exact")
        m = pick(m, "m", "vectors.hnsw_m")
        ef_construction = pick(ef_construction, "ef_construction", "vectors.hnsw_ef_construction")
        ef_search = pick(ef_search, "ef_search", "vectors.hnsw_ef_search")
        check_hnsw(m, ef_construction, ef_search)
        provider = embedder or (prev["provider"] if prev else self.ctx.cfg.get("vectors.embedder"))
        same_provider = prev is not None and provider == prev["provider"]
        if model is None and same_provider and provider == "ollama":
            model = prev["model"]
        same_model = same_provider and (provider == "hashing" and model is None or
                                        provider == "ollama" and model == prev["model"])
        dim = prev["dim"] if same_model else None  # known: no probe request needed
        emb, note = make_embedder(provider, self.ctx.cfg, model, dim)
        settings = dict(emb.identity(), chunk_size=chunk_size, overlap=overlap)
        return Plan(name, ds.name, column, keys, ds.table_version, kind, m, ef_construction, ef_search,
                    emb, note, settings, self.registry.base(name, existing, settings))

    def _building(self, p: Plan, job_id: str) -> tuple[int, bool]:
        """Resume an interrupted build with the same settings, or start generation N+1
        (an abandoned build with other settings is discarded: one pending build per index)."""
        name, base_gen = p.name, p.base["gen"] if p.base else None
        for row in self.catalog.indexes.generations(name):
            if row["status"] != "building" or self.registry.build_running(row):
                continue
            if not (all(row[k] == p.settings[k] for k in SETTINGS) and row["kind"] == p.kind):
                self.registry.drop_gen(name, row["gen"], "embed")
                continue
            self.catalog.indexes.update_generation(name, row["gen"], job_id=job_id, dataset_version=p.version,
                                           m=p.m, ef_construction=p.efc, ef_search=p.efs, base_gen=base_gen)
            return row["gen"], True
        gen = next_gen(self.root, self.catalog, name)
        self.catalog.indexes.add_generation(dict(index_name=name, gen=gen, kind=p.kind, **p.settings, m=p.m,
                                         ef_construction=p.efc, ef_search=p.efs, dataset_version=p.version,
                                         base_gen=base_gen, job_id=job_id))
        store.building_dir(self.root, name, gen).mkdir(parents=True, exist_ok=True)
        return gen, False

    def _unchanged(self, p: Plan, base_ids: set, current: set) -> bool:
        """Whether the base generation already holds exactly this build."""
        b = p.base
        return (b is not None and base_ids == current
                and (b["kind"], b["m"], b["ef_construction"]) == (p.kind, p.m, p.efc))

    def _up_to_date(self, p: Plan, gen: int, bdir: Path, chunks: dict, actor: str, job,
                    started: float) -> EmbedResult:
        """Discard the new generation: its base covers this dataset version too."""
        name, base = p.name, p.base
        shutil.rmtree(bdir, ignore_errors=True)
        self.catalog.indexes.drop_generation(name, gen, actor or "embed", event=False)
        # the text did not change with the data: the generation covers this version too,
        # so `index list` agrees that it is fresh
        self.catalog.indexes.update_generation(name, base["gen"], dataset_version=p.version)
        active = self.catalog.indexes.get(name)["active_gen"]
        n = len(set(chunks["chunk_id"]))
        msg = f"{name} is up to date: g{base['gen']} already covers {p.dataset} v{p.version}"
        job.progress(n, n, "chunks", msg, force=True)
        return EmbedResult(name, base["gen"], p.dataset, p.column, p.emb.describe(), p.note,
                           len(set(chunks["row_key"])), n, 0, n, 0, 0,
                           False, active, time.monotonic() - started, True, job.id)

    def _activates(self, p: Plan, promote: bool | None) -> bool:
        """--promote decides; else a new build goes live when nothing is active or it is a
        data refresh of the active generation (same settings)."""
        active = self.catalog.indexes.get(p.name)["active_gen"]
        if promote is not None:
            return promote
        return active is None or self.registry.same_settings(p.name, active, dict(p.settings, **p.graph))

    # -- making vectors ------------------------------------------------------------------
    def _chunks(self, dataset: str, column: str, keys: list[str], size: int, overlap: int) -> dict:
        import pyarrow.compute as pc

        from core.vectors.chunking import chunk_id, chunk_text

        t = self.ctx.engine.run(f"SELECT {key_expr(keys)} AS row_key, {quote_ident(column)} AS text "
                                f"FROM {quote_ident(dataset)}")
        rk = t.column("row_key")
        if rk.null_count:
            raise VectorError(f"{rk.null_count:,} rows of {dataset!r} have no value in the key "
                              f"({', '.join(keys)}) — give --key columns that identify every row")
        distinct = pc.count_distinct(rk).as_py()
        if distinct != len(rk):
            raise VectorError(f"the key ({', '.join(keys)}) is not unique in {dataset!r}: "
                              f"{len(rk) - distinct:,} duplicate values — give --key columns that identify rows")
        out = {"row_key": [], "chunk_id": [], "chunk_no": [], "chunk_text": []}
        for row_key, text in zip(rk.to_pylist(), t.column("text").to_pylist()):
            if not text:
                continue
            for n, piece in enumerate(chunk_text(text, size, overlap)):
                out["row_key"].append(row_key)
                out["chunk_id"].append(chunk_id(row_key, n, piece))
                out["chunk_no"].append(n)
                out["chunk_text"].append(piece)
        if not out["chunk_id"]:
            raise VectorError(f"column {column!r} of {dataset!r} has no text to embed")
        return out

    def _have(self, base: dict | None, name: str, parts_dir: Path, dim: int) -> dict:
        """chunk_id -> (source, position) for vectors already made (base generation,
        then earlier runs of this build)."""
        import pyarrow.parquet as pq

        have: dict = {}
        if base is not None:
            path = store.gen_dir(self.root, name, base["gen"]) / store.EMBEDDINGS
            ids = pq.read_table(path, columns=["chunk_id"]).column(0).to_pylist()
            have.update((cid, ("base", i)) for i, cid in enumerate(ids))
            have["_base_ids"] = ids
        parts = store.read_parts(parts_dir, dim)
        if parts is not None:
            for i, cid in enumerate(parts.column("chunk_id").to_pylist()):
                have.setdefault(cid, ("parts", i))
        return have

    def _embed_missing(self, emb, chunks: dict, todo: list[int], parts_dir: Path, job, name: str) -> int:
        if not todo:
            return 0
        group = getattr(emb, "batch", 0) or 2048  # ollama: one request per saved batch
        log = store.PartLog(parts_dir, emb.dim)
        done, t0, batches = 0, time.monotonic(), 0
        try:
            job.progress(0, len(todo), "chunks", f"embedding with {emb.describe()}", force=True)
            for start in range(0, len(todo), group):
                idx = todo[start:start + group]
                vecs = emb.embed([chunks["chunk_text"][i] for i in idx])
                log.write([chunks["row_key"][i] for i in idx], [chunks["chunk_id"][i] for i in idx],
                          [chunks["chunk_no"][i] for i in idx], [chunks["chunk_text"][i] for i in idx], vecs)
                done += len(idx)
                batches += 1
                crash_point(f"embed_batch_{batches}")
                job.pause_point("batches")
                rate = done / max(time.monotonic() - t0, 1e-9)
                job.progress(done, len(todo), "chunks", f"{rate:,.0f} chunks/s · {emb.describe()}")
        except Cancelled:
            raise Cancelled(f"embedding {name} was cancelled after {done:,} of {len(todo):,} chunks; they "
                            "are kept — run the same command again to continue") from None
        finally:
            log.close()
        return done

    # -- assembling the generation -------------------------------------------------------
    def _gather(self, p: Plan, gen: int, chunks: dict, bdir: Path):
        """The build's vectors in chunk order, from the base generation and the part log."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        sources = []
        if p.base is not None:
            sources.append(pq.read_table(store.gen_dir(self.root, p.name, p.base["gen"]) / store.EMBEDDINGS,
                                         columns=["chunk_id", "vector"]))
        parts = store.read_parts(bdir / "parts", p.emb.dim)
        if parts is not None:
            sources.append(parts.select(["chunk_id", "vector"]))
        pool = pa.concat_tables(sources) if sources else None
        ids = pa.array(chunks["chunk_id"], pa.string())
        pos = pc.index_in(ids, value_set=pool.column("chunk_id"))
        if pos.null_count:
            raise VectorError(f"{pos.null_count} chunks of {p.name} g{gen} have no vector — run the "
                              "same embed command again to finish them")
        return ids, store.vectors_numpy(pool.column("vector").take(pos), p.emb.dim)

    def _append_only(self, p: Plan, have: dict, chunks: dict) -> tuple[dict, tuple[int, int] | None]:
        """(chunks, (base generation, its chunk count) to extend): the base's chunks first
        when this build only adds to a graph of the same settings (core/vectors/extend.py)."""
        from core.vectors import extend

        b = p.base
        if b is None or p.kind != "hnsw" or (b["kind"], b["m"], b["ef_construction"]) != (p.kind, p.m, p.efc):
            return chunks, None
        base_ids = have.get("_base_ids", [])
        order = extend.append_order(base_ids, chunks["chunk_id"])
        return (chunks, None) if order is None else (extend.reorder(chunks, order), (b["gen"], len(base_ids)))

    def _finish(self, p: Plan, gen: int, chunks: dict, bdir: Path, job,
                extend_from: tuple[int, int] | None = None) -> dict:
        """Assemble the generation from reused and new vectors, build its index, and
        move it into place."""
        import pyarrow as pa

        from core.vectors.ann import normalise

        ids, vectors = self._gather(p, gen, chunks, bdir)
        emb = p.emb
        table = pa.table({
            "dataset": pa.array([p.dataset] * len(ids), pa.string()).dictionary_encode(),
            "row_key": pa.array(chunks["row_key"], pa.string()),
            "chunk_id": ids,
            "chunk_no": pa.array(chunks["chunk_no"], pa.int32()),
            "chunk_text": pa.array(chunks["chunk_text"], pa.string()),
            "vector": store.vectors_array(vectors),
            "model": pa.array([emb.model] * len(ids), pa.string()).dictionary_encode(),
        })
        normalised = normalise(vectors)
        hnsw = self._graph(p, gen, normalised, job, extend_from) if p.kind == "hnsw" else None
        meta = {"index": p.name, "gen": gen, "kind": p.kind, "dataset": p.dataset, "column": p.column,
                "key": p.keys, **emb.identity(), "chunk_size": None, "overlap": None, "m": p.m,
                "ef_construction": p.efc, "ef_search": p.efs, "dataset_version": p.version,
                "rows": len(set(chunks["row_key"])), "chunks": len(ids), "created_at": now()}
        row = self.catalog.indexes.generation(p.name, gen)
        meta.update(chunk_size=row["chunk_size"], overlap=row["overlap"])
        meta = store.write_files(bdir, table, normalised, hnsw, meta)
        shutil.rmtree(bdir / "parts", ignore_errors=True)
        final = store.gen_dir(self.root, p.name, gen)
        if final.exists():  # left by a crash between rename and catalog: replace it
            shutil.rmtree(final)
        os.replace(bdir, final)
        meta["bytes"] = sum(f["bytes"] for f in meta["files"].values())
        return meta

    def _graph(self, p: Plan, gen: int, normalised: np.ndarray, job, extend_from: tuple[int, int] | None = None):
        from core.vectors.ann import HnswIndex
        from core.vectors.extend import extended_graph

        def prog(done, total):
            job.progress(done, total, "vectors", f"{'extending' if extend_from else 'building'} HNSW "
                                                 f"(M {p.m}, ef_construction {p.efc})")
            job.pause_point("hnsw")
        try:
            if extend_from is not None:  # (base generation, its chunk count): insert only the new vectors
                base_gen, n_base = extend_from
                graph = extended_graph(store.gen_dir(self.root, p.name, base_gen), f"{p.name} g{base_gen}",
                                       n_base, normalised, p.efs, prog)
                if graph is not None:
                    return graph
            return HnswIndex.build(normalised, p.m, p.efc, p.efs, progress=prog)
        except Cancelled:
            raise Cancelled(f"building the HNSW graph of {p.name} g{gen} was cancelled; its "
                            f"{len(normalised):,} vectors are kept — run the same command again to "
                            "build it") from None

    # -- other builds --------------------------------------------------------------------
    def ensure_profile_generation(self, info, listener=None, cancel=None) -> int:
        """Build the profile's own graph of an index when it sets M / ef_construction and
        none exists yet: every vector is reused, only the HNSW graph is built; the
        active generation is not changed."""
        gen = self.registry.profile_generation(info.name, info.active_gen)
        want = self.registry.graph_wanted()
        act = info.active
        if gen != info.active_gen or not want or act.kind != "hnsw" or all(
                getattr(act, k) == v for k, v in want.items()):
            return gen
        r = self.embed(info.dataset, info.column, index=info.name, embedder=act.provider,
                       model=act.model if act.provider == "ollama" else None, chunk_size=act.chunk_size,
                       overlap=act.overlap, kind="hnsw", m=want.get("m", act.m),
                       ef_construction=want.get("ef_construction", act.ef_construction),
                       ef_search=act.ef_search, promote=False, actor=f"profile {self.ctx.profile.id}",
                       listener=listener, cancel=cancel)
        return r.gen

    def rebuild(self, name: str, gen: int, listener=None, cancel=None) -> Generation:
        """Re-derive vectors.npy and hnsw.bin of a generation from its embeddings.parquet."""
        import pyarrow.parquet as pq

        from core.vectors.ann import HnswIndex, normalise

        self.registry.require(name)
        row = self.catalog.indexes.generation(name, gen)
        if row is None or row["status"] != "ready":
            raise NotFound(f"index {name!r} has no finished generation g{gen}")
        d = store.gen_dir(self.root, name, gen)
        with self.ctx.index_lock(name), self.ctx.jobs.run("rebuild", f"{name} g{gen}", listener, cancel) as job:
            try:
                table = pq.read_table(d / store.EMBEDDINGS)
            except Exception as e:
                raise VectorError(f"{name} g{gen}: its embeddings.parquet is unreadable ({e}) — this "
                                  f"generation cannot be rebuilt; drop it and embed again") from None
            normalised = normalise(store.vectors_numpy(table.column("vector"), row["dim"]))
            hnsw = None
            if row["kind"] == "hnsw":
                hnsw = HnswIndex.build(normalised, row["m"], row["ef_construction"], row["ef_search"],
                                       progress=lambda a, b: job.progress(a, b, "vectors", "rebuilding HNSW"))
            try:
                old = store.read_meta(d, f"{name} g{gen}")
            except VectorError:
                old = {k: row[k] for k in row if k not in ("status", "job_id")}
            _replace_sidecars(d, gen, normalised, hnsw, old)
            self.ctx.cache.evict(name, gen)
            self.catalog.indexes.log_rebuild(name, gen)
            job.progress(message=f"rebuilt {name} g{gen}", force=True)
        return next(g for g in self.registry.info(name).generations if g.gen == gen)


def _replace_sidecars(d: Path, gen: int, normalised: np.ndarray, hnsw, old_meta: dict) -> None:
    """Rewrite vectors.npy, hnsw.bin and meta.json in place, each atomically; the Parquet
    (the truth) stays as it is."""
    tmp = d.parent / f".g{gen}.rebuild"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    meta = {k: v for k, v in old_meta.items() if k != "files"}
    np.save(tmp / store.VECTORS, normalised)
    os.replace(tmp / store.VECTORS, d / store.VECTORS)
    if hnsw is not None:
        hnsw.save(str(tmp / store.HNSW))
        os.replace(tmp / store.HNSW, d / store.HNSW)
    shutil.rmtree(tmp, ignore_errors=True)
    meta["files"] = {n: {"bytes": (d / n).stat().st_size, "crc32": store.crc32_file(d / n)}
                     for n in (store.EMBEDDINGS, store.VECTORS, store.HNSW) if (d / n).exists()}
    (d / (store.META + ".tmp")).write_text(json.dumps(meta, indent=2))
    os.replace(d / (store.META + ".tmp"), d / store.META)


def next_gen(root: Path, catalog, name: str) -> int:
    """The number of an index's next generation: never one of a generation, a directory,
    or one dropped before."""
    taken = [r["gen"] for r in catalog.indexes.generations(name)]
    taken += [int(d.name[1:]) for d in store.index_dir(root, name).glob("g*") if d.name[1:].isdigit()]
    taken += [g for e in catalog.indexes.events(name) for g in (e["from_gen"], e["to_gen"]) if g]
    return max(taken, default=0) + 1


def key_columns(key, ds) -> list[str]:
    """The columns that identify a row: --key, else the primary key, else (doc_id, page)."""
    if key:
        return [k.strip() for k in (key.split(",") if isinstance(key, str) else key) if k.strip()]
    if ds.primary_key:
        return list(ds.primary_key)
    if ds.kind == "documents":
        return ["doc_id", "page"]
    raise VectorError(f"dataset {ds.name!r} has no primary key, so its rows cannot be tracked across "
                      "re-embeds — give --key COLUMN (one that identifies each row)")


def check_hnsw(m: int, efc: int, efs: int) -> None:
    if not 2 <= m <= 128:
        raise VectorError(f"HNSW M must be between 2 and 128, got {m}")
    if not 1 <= efc <= 5000:
        raise VectorError(f"HNSW ef_construction must be between 1 and 5000, got {efc}")
    if not 1 <= efs <= 10_000:
        raise VectorError(f"HNSW ef_search must be between 1 and 10000, got {efs}")
