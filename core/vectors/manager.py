"""Vectors: embed a text column into index generations, manage them, search them.

An index is a name bound to one dataset column and the columns that identify its
rows. Each `embed` run produces a generation (g1, g2, ...) recording the embedder,
chunking and HNSW settings it was built with. One generation is active; `promote`
and `rollback` move that pointer in one catalog transaction.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..catalog import now
from ..errors import Cancelled, LakehouseError, NotFound, VectorError
from ..faults import crash_point
from ..models import EmbedResult, Generation, IndexInfo, SearchHit, SearchResult
from ..names import check_index_name, quote_ident
from . import store
from .cache import Loaded, VectorCache

_TEXT_TYPES = ("VARCHAR", "STRING", "TEXT", "JSON")
_SETTINGS = ("provider", "model", "digest", "dim", "chunk_size", "overlap")


def key_expr(columns: list[str], text_columns: set[str] = frozenset()) -> str:
    """SQL for a row's key as text: one column as is, several joined by '/'. A text
    key is used bare, so DuckDB can prune row groups by its min/max statistics."""
    if len(columns) == 1 and columns[0] in text_columns:
        return quote_ident(columns[0])
    parts = [f"CAST({quote_ident(c)} AS VARCHAR)" for c in columns]
    return parts[0] if len(parts) == 1 else "concat_ws('/', " + ", ".join(parts) + ")"


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def parse_selector(selector: str) -> tuple[str, int | None]:
    """'resumes' -> (resumes, None); 'resumes@g2' or 'resumes@2' -> (resumes, 2)."""
    name, sep, gen = selector.partition("@")
    check_index_name(name)
    if not sep:
        return name, None
    g = gen.strip().lower().removeprefix("g")
    if not g.isdigit():
        raise VectorError(f"{selector!r} does not name a generation — write INDEX@gN, e.g. {name}@g2")
    return name, int(g)


class Vectors:
    def __init__(self, root: Path, cfg, catalog, engine_fn, jobs, profile=None):
        self.root, self.cfg, self.catalog, self._engine_fn, self._jobs = root, cfg, catalog, engine_fn, jobs
        self.profile = profile  # the reader: only its indexes over its datasets exist for it
        self.cache = VectorCache(cfg.get("vectors.cache_mb") * 1024 * 1024)
        self._embedders: dict[tuple, tuple[object, float]] = {}
        self._emb_lock = threading.Lock()
        self._row_cache: dict[str, tuple] = {}  # dataset -> ((version, key sql), rows, key -> position)

    @property
    def engine(self):
        return self._engine_fn()

    # -- listing -------------------------------------------------------------------------
    def _generation(self, row: dict, active_gen: int | None) -> Generation:
        row = dict(row)
        index = row.pop("index_name")
        return Generation(index=index, active=row["gen"] == active_gen, **row)

    def _visible(self, idx: dict) -> bool:
        p = self.profile
        return p is None or (p.searches(idx["name"]) and p.sees(idx["dataset"]))

    def require(self, name: str) -> dict:
        check_index_name(name)
        idx = self.catalog.index(name)
        if idx is not None and not self._visible(idx):
            raise NotFound(f"no such index in profile {self.profile.id}: {name}")
        if idx is None:
            raise NotFound(f"no index named {name!r} — `lakehouse index list` shows them; build one with "
                           f"`lakehouse embed DATASET --column COL --index {name}`")
        return idx

    def info(self, name: str) -> IndexInfo:
        idx = self.require(name)
        self._settle(name)
        ds = self.catalog.get(idx["dataset"])
        gens = [self._generation(r, idx["active_gen"]) for r in self.catalog.generations(name)]
        return IndexInfo(name, idx["dataset"], idx["column_name"], idx["key"], idx["active_gen"], gens,
                         ds.table_version if ds else None)

    def list(self) -> list[IndexInfo]:
        return [self.info(i["name"]) for i in self.catalog.indexes() if self._visible(i)]

    def _settle(self, name: str) -> None:
        """Finish the bookkeeping of builds whose process died: a build renamed into
        place becomes ready (never active); one that left nothing is forgotten."""
        for row in self.catalog.generations(name):
            if row["status"] != "building" or self._build_running(row):
                continue
            final = store.gen_dir(self.root, name, row["gen"])
            if (final / store.META).exists():
                meta = store.read_meta(final, f"{name} g{row['gen']}")
                self.catalog.finish_generation(name, row["gen"], _figures(meta), False, "recovery",
                                               "finished by recovery after its process stopped")
            elif not store.building_dir(self.root, name, row["gen"]).exists():
                self.catalog.drop_generation(name, row["gen"], "recovery")

    def _build_running(self, row: dict) -> bool:
        job = self.catalog.job(row["job_id"]) if row["job_id"] else None
        if job is None or job.status != "running":
            return False
        from ..jobs import _alive

        return _alive(job.pid)

    @contextmanager
    def _index_lock(self, name: str):
        d = store.index_dir(self.root, name)
        d.mkdir(parents=True, exist_ok=True)
        fd = os.open(d / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise VectorError(f"index {name!r} is being built or changed by another job — wait for it "
                              "(`lakehouse jobs`) or cancel it with `lakehouse jobs cancel ID`") from None
        try:
            yield
        finally:
            os.close(fd)

    # -- embedding -----------------------------------------------------------------------
    def embed(self, dataset: str, column: str, *, index: str | None = None, key=None,
              chunk_size: int | None = None, overlap: int | None = None, embedder: str | None = None,
              model: str | None = None, kind: str | None = None, m: int | None = None,
              ef_construction: int | None = None, ef_search: int | None = None,
              promote: bool | None = None, actor: str = "", listener=None, cancel=None) -> EmbedResult:
        from ..names import dataset_name_from_stem
        from .chunking import check_chunking
        from .embedders import make_embedder

        ds = self.catalog.require(dataset)
        cols = {c.name: c for c in ds.columns}
        if column not in cols:
            raise VectorError(f"dataset {dataset!r} has no column {column!r} — its columns: "
                              f"{', '.join(cols)}")
        if not cols[column].type.upper().startswith(_TEXT_TYPES):
            raise VectorError(f"column {column!r} of {dataset!r} is {cols[column].type}, not text — "
                              "embed a text column")
        keys = _key_columns(key, ds)
        for k in keys:
            if k not in cols:
                raise VectorError(f"key column {k!r} is not a column of {dataset!r}")
        name = check_index_name(index or dataset_name_from_stem(f"{dataset}_{column}"))
        if self.profile is not None and not self.profile.searches(name):
            raise VectorError(f"profile {self.profile.id} may only build its indexes "
                              f"({', '.join(self.profile.indexes)}) — give --index with one of those names")
        existing = self.catalog.index(name)
        if existing is not None:
            self.require(name)
        if existing and (existing["dataset"], existing["column_name"]) != (dataset, column):
            raise VectorError(f"index {name!r} already indexes {existing['dataset']}.{existing['column_name']} — "
                              "choose another --index name, or drop it with `lakehouse index drop "
                              f"{name}`")
        if existing and key is not None and existing["key"] != keys:
            raise VectorError(f"index {name!r} identifies rows by {', '.join(existing['key'])}, not "
                              f"{', '.join(keys)} — use another --index name for a different key")
        if existing:
            keys = existing["key"]
            self._settle(name)
        prev = self._latest(name, existing)

        # settings: flag > the index's latest generation > config
        def pick(flag, field, cfg_key):
            if flag is not None:
                return flag
            return prev[field] if prev else self.cfg.get(cfg_key)
        chunk_size = pick(chunk_size, "chunk_size", "vectors.chunk_size")
        overlap = pick(overlap, "overlap", "vectors.overlap")
        check_chunking(chunk_size, overlap)
        kind = pick(kind, "kind", "vectors.index_kind")
        if kind not in ("hnsw", "exact"):
            raise VectorError(f"unknown index kind {kind!r} — use hnsw or exact")
        m = pick(m, "m", "vectors.hnsw_m")
        ef_construction = pick(ef_construction, "ef_construction", "vectors.hnsw_ef_construction")
        ef_search = pick(ef_search, "ef_search", "vectors.hnsw_ef_search")
        _check_hnsw(m, ef_construction, ef_search)
        provider = embedder or (prev["provider"] if prev else self.cfg.get("vectors.embedder"))
        same_provider = prev is not None and provider == prev["provider"]
        if model is None and same_provider and provider == "ollama":
            model = prev["model"]
        same_model = same_provider and (provider == "hashing" and model is None or
                                        provider == "ollama" and model == prev["model"])
        dim = prev["dim"] if same_model else None  # known: no probe request needed
        emb, note = make_embedder(provider, self.cfg, model, dim)
        ident = emb.identity()
        settings = dict(ident, chunk_size=chunk_size, overlap=overlap)
        base = self._base(name, existing, settings)

        started = time.monotonic()
        with self._index_lock(name), self._jobs.run("embed", name, listener, cancel) as job:
            job.progress(0, None, "chunks", f"reading {dataset}.{column}", force=True)
            chunks = self._chunks(dataset, column, keys, chunk_size, overlap)
            self.catalog.create_index(name, dataset, column, keys)
            gen, resumed = self._building(name, settings, kind, m, ef_construction, ef_search,
                                          ds.table_version, base, job.id)
            bdir = store.building_dir(self.root, name, gen)
            have = self._have(base, name, bdir / "parts", ident["dim"])
            todo = [i for i, cid in enumerate(chunks["chunk_id"]) if cid not in have]
            base_ids = set(have.get("_base_ids", ()))
            current = set(chunks["chunk_id"])
            unchanged = (base is not None and not todo and base_ids == current
                         and (base["kind"], base["m"], base["ef_construction"]) == (kind, m, ef_construction))
            if unchanged and not resumed:
                shutil.rmtree(bdir, ignore_errors=True)
                self.catalog.drop_generation(name, gen, actor or "embed", event=False)
                # the text did not change with the data: the generation covers this version too,
                # so `index list` agrees that it is fresh
                self.catalog.update_generation(name, base["gen"], dataset_version=ds.table_version)
                active = self.catalog.index(name)["active_gen"]
                msg = f"{name} is up to date: g{base['gen']} already covers {dataset} v{ds.table_version}"
                job.progress(len(current), len(current), "chunks", msg, force=True)
                return EmbedResult(name, base["gen"], dataset, column, emb.describe(), note,
                                   len(set(chunks["row_key"])), len(current), 0, len(current), 0, 0,
                                   False, active, time.monotonic() - started, True, job.id)
            embedded = self._embed_missing(emb, chunks, todo, bdir / "parts", job, name)
            job.progress(message=f"indexing {len(current):,} chunks ({kind})", force=True)
            meta = self._finish(name, gen, dataset, column, keys, emb, kind, m, ef_construction, ef_search,
                                ds.table_version, chunks, bdir, base, job)
            meta.update(embedded=embedded, reused=len(current) - embedded,
                        split_inputs=getattr(emb, "split_inputs", 0),
                        build_seconds=round(time.monotonic() - started, 3))
            active_before = self.catalog.index(name)["active_gen"]
            activate = promote if promote is not None else (
                active_before is None or self._same_settings(
                    name, active_before, dict(settings, kind=kind, m=m, ef_construction=ef_construction,
                                              ef_search=ef_search)))
            crash_point("before_generation_ready")
            self.catalog.finish_generation(name, gen, _figures(meta), bool(activate), actor or "embed",
                                           f"{embedded} embedded, {len(current) - embedded} reused")
            self._prune(name)
            removed = len(base_ids - current) if base else 0
            msg = (f"g{gen}: {embedded:,} chunks embedded, {len(current) - embedded:,} reused"
                   + (f", {removed:,} removed" if removed else ""))
            job.progress(len(current), len(current), "chunks", msg, force=True)
        return EmbedResult(name, gen, dataset, column, emb.describe(), note, meta["rows"], meta["chunks"],
                           embedded, len(current) - embedded, removed, meta["split_inputs"],
                           bool(activate), self.catalog.index(name)["active_gen"],
                           time.monotonic() - started, False, job.id)

    def _latest(self, name: str, existing: dict | None) -> dict | None:
        if not existing:
            return None
        gens = [g for g in self.catalog.generations(name) if g["status"] == "ready"]
        active = next((g for g in gens if g["gen"] == existing["active_gen"]), None)
        return active or (gens[-1] if gens else None)

    def _same_settings(self, name: str, gen: int, settings: dict) -> bool:
        """Built exactly like generation `gen` (then a new build is a data refresh)."""
        row = self.catalog.index_generation(name, gen)
        return row is not None and all(row[k] == v for k, v in settings.items())

    def _base(self, name: str, existing: dict | None, settings: dict) -> dict | None:
        """The generation whose vectors this build can reuse: same embedder, same chunking."""
        if not existing:
            return None
        same = [g for g in self.catalog.generations(name)
                if g["status"] == "ready" and all(g[k] == settings[k] for k in _SETTINGS)]
        active = next((g for g in same if g["gen"] == existing["active_gen"]), None)
        return active or (same[-1] if same else None)

    def _building(self, name, settings, kind, m, efc, efs, version, base, job_id) -> tuple[int, bool]:
        """Resume an interrupted build with the same settings, or start generation N+1
        (an abandoned build with other settings is discarded: one pending build per index)."""
        for row in self.catalog.generations(name):
            if row["status"] != "building" or self._build_running(row):
                continue
            if not (all(row[k] == settings[k] for k in _SETTINGS) and row["kind"] == kind):
                self._drop_gen(name, row["gen"], "embed")
                continue
            self.catalog.update_generation(name, row["gen"], job_id=job_id, dataset_version=version,
                                           m=m, ef_construction=efc, ef_search=efs,
                                           base_gen=base["gen"] if base else None)
            return row["gen"], True
        rows = self.catalog.generations(name)
        # never reuse a number: not of a generation, a directory, or one dropped before
        taken = [r["gen"] for r in rows] + [int(p.name[1:]) for p in store.index_dir(self.root, name).glob("g*")
                                           if p.name[1:].isdigit()]
        taken += [g for e in self.catalog.index_events(name) for g in (e["from_gen"], e["to_gen"]) if g]
        gen = max(taken, default=0) + 1
        self.catalog.add_generation(dict(index_name=name, gen=gen, kind=kind, **settings, m=m,
                                         ef_construction=efc, ef_search=efs, dataset_version=version,
                                         base_gen=base["gen"] if base else None, job_id=job_id))
        store.building_dir(self.root, name, gen).mkdir(parents=True, exist_ok=True)
        return gen, False

    def _chunks(self, dataset: str, column: str, keys: list[str], size: int, overlap: int) -> dict:
        import pyarrow.compute as pc

        from .chunking import chunk_id, chunk_text

        t = self.engine.run(f"SELECT {key_expr(keys)} AS row_key, {quote_ident(column)} AS text "
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

    def _finish(self, name, gen, dataset, column, keys, emb, kind, m, efc, efs, version, chunks, bdir,
                base, job) -> dict:
        """Assemble the generation from reused and new vectors, build its index, and
        move it into place."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        from .ann import HnswIndex, normalise

        dim = emb.dim
        sources = []
        if base is not None:
            sources.append(pq.read_table(store.gen_dir(self.root, name, base["gen"]) / store.EMBEDDINGS,
                                         columns=["chunk_id", "vector"]))
        parts = store.read_parts(bdir / "parts", dim)
        if parts is not None:
            sources.append(parts.select(["chunk_id", "vector"]))
        pool = pa.concat_tables(sources) if sources else None
        ids = pa.array(chunks["chunk_id"], pa.string())
        pos = pc.index_in(ids, value_set=pool.column("chunk_id"))
        if pos.null_count:
            raise VectorError(f"{pos.null_count} chunks of {name} g{gen} have no vector — run the "
                              "same embed command again to finish them")
        vectors = store.vectors_numpy(pool.column("vector").take(pos), dim)
        table = pa.table({
            "dataset": pa.array([dataset] * len(ids), pa.string()).dictionary_encode(),
            "row_key": pa.array(chunks["row_key"], pa.string()),
            "chunk_id": ids,
            "chunk_no": pa.array(chunks["chunk_no"], pa.int32()),
            "chunk_text": pa.array(chunks["chunk_text"], pa.string()),
            "vector": store.vectors_array(vectors),
            "model": pa.array([emb.model] * len(ids), pa.string()).dictionary_encode(),
        })
        normalised = normalise(vectors)
        hnsw = None
        if kind == "hnsw":
            def prog(done, total):
                job.progress(done, total, "vectors", f"building HNSW (M {m}, ef_construction {efc})")
                job.pause_point("hnsw")
            try:
                hnsw = HnswIndex.build(normalised, m, efc, efs, progress=prog)
            except Cancelled:
                raise Cancelled(f"building the HNSW graph of {name} g{gen} was cancelled; its {len(ids):,} "
                                "vectors are kept — run the same command again to build it") from None
        meta = {"index": name, "gen": gen, "kind": kind, "dataset": dataset, "column": column, "key": keys,
                **emb.identity(), "chunk_size": None, "overlap": None, "m": m, "ef_construction": efc,
                "ef_search": efs, "dataset_version": version, "rows": len(set(chunks["row_key"])),
                "chunks": len(ids), "created_at": now()}
        row = self.catalog.index_generation(name, gen)
        meta.update(chunk_size=row["chunk_size"], overlap=row["overlap"])
        meta = store.write_files(bdir, table, normalised, hnsw, meta)
        shutil.rmtree(bdir / "parts", ignore_errors=True)
        final = store.gen_dir(self.root, name, gen)
        if final.exists():  # left by a crash between rename and catalog: replace it
            shutil.rmtree(final)
        os.replace(bdir, final)
        meta["bytes"] = sum(f["bytes"] for f in meta["files"].values())
        return meta

    def _prune(self, name: str) -> None:
        keep = self.cfg.get("vectors.keep_generations")
        if not keep:
            return
        idx = self.catalog.index(name)
        ready = [g["gen"] for g in self.catalog.generations(name) if g["status"] == "ready"]
        protected = {idx["active_gen"]} | set(idx["history"][-1:])
        extra = len(ready) - keep
        for g in ready:
            if extra <= 0:
                break
            if g not in protected:
                self._drop_gen(name, g, "prune")
                extra -= 1

    # -- generations ---------------------------------------------------------------------
    def promote(self, name: str, gen: int, actor: str = "") -> IndexInfo:
        self.require(name)
        row = self.catalog.index_generation(name, gen)
        if row is None or row["status"] != "ready":
            have = ", ".join(f"g{g['gen']}" for g in self.catalog.generations(name) if g["status"] == "ready")
            raise NotFound(f"index {name!r} has no finished generation g{gen} — ready: {have or 'none'}")
        d = store.gen_dir(self.root, name, gen)
        meta = store.read_meta(d, f"{name} g{gen}")
        problems = [p for p in store.verify(d, meta, f"{name} g{gen}", (store.HNSW,))
                    if "missing" in p or "truncated" in p]
        if problems:
            raise VectorError(problems[0] + f" — rebuild it with `lakehouse index rebuild {name} g{gen}` "
                              "before promoting it")
        if self.catalog.index(name)["active_gen"] != gen:
            self.catalog.activate(name, gen, "promote", actor)
        return self.info(name)

    def rollback(self, name: str, actor: str = "") -> IndexInfo:
        idx = self.require(name)
        history = list(idx["history"])
        ready = {g["gen"] for g in self.catalog.generations(name) if g["status"] == "ready"}
        while history and history[-1] not in ready:
            history.pop()
        if not history:
            raise VectorError(f"index {name!r} has no earlier generation to roll back to")
        target = history.pop()
        self.catalog.activate(name, target, "rollback", actor, history=history)
        return self.info(name)

    def drop(self, name: str, gen: int | None = None, actor: str = "") -> str:
        idx = self.require(name)
        with self._index_lock(name):
            if gen is None:
                self.cache.evict(name)
                self.catalog.drop_index(name, actor)
                shutil.rmtree(store.index_dir(self.root, name), ignore_errors=True)
                return f"dropped index {name} and all its generations"
            if self.catalog.index_generation(name, gen) is None:
                raise NotFound(f"index {name!r} has no generation g{gen}")
            if idx["active_gen"] == gen:
                raise VectorError(f"g{gen} is the active generation of {name!r} — promote another first, "
                                  f"or drop the whole index with `lakehouse index drop {name}`")
            self._drop_gen(name, gen, actor)
            return f"dropped {name} g{gen}"

    def _drop_gen(self, name: str, gen: int, actor: str) -> None:
        self.cache.evict(name, gen)
        self.catalog.drop_generation(name, gen, actor)
        shutil.rmtree(store.gen_dir(self.root, name, gen), ignore_errors=True)
        shutil.rmtree(store.building_dir(self.root, name, gen), ignore_errors=True)

    def verify(self, name: str, gen: int | None = None) -> list[str]:
        """Problems with the files of one generation (or all); [] when all are sound."""
        self.require(name)
        gens = [gen] if gen is not None else [g["gen"] for g in self.catalog.generations(name)
                                              if g["status"] == "ready"]
        problems = []
        for g in gens:
            d = store.gen_dir(self.root, name, g)
            try:
                problems += store.verify(d, store.read_meta(d, f"{name} g{g}"), f"{name} g{g}")
            except VectorError as e:
                problems.append(str(e))
        return problems

    def rebuild(self, name: str, gen: int, listener=None, cancel=None) -> Generation:
        """Re-derive vectors.npy and hnsw.bin of a generation from its embeddings.parquet."""
        import pyarrow.parquet as pq

        from .ann import HnswIndex, normalise

        self.require(name)
        row = self.catalog.index_generation(name, gen)
        if row is None or row["status"] != "ready":
            raise NotFound(f"index {name!r} has no finished generation g{gen}")
        d = store.gen_dir(self.root, name, gen)
        with self._index_lock(name), self._jobs.run("rebuild", f"{name} g{gen}", listener, cancel) as job:
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
            tmp = d.parent / f".g{gen}.rebuild"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            meta = {k: v for k, v in old.items() if k != "files"}
            # rewrite the sidecars in place, each atomically; the Parquet stays as it is
            np.save(tmp / store.VECTORS, normalised)
            os.replace(tmp / store.VECTORS, d / store.VECTORS)
            if hnsw is not None:
                hnsw.save(str(tmp / store.HNSW))
                os.replace(tmp / store.HNSW, d / store.HNSW)
            shutil.rmtree(tmp, ignore_errors=True)
            files = {n: {"bytes": (d / n).stat().st_size, "crc32": store.crc32_file(d / n)}
                     for n in (store.EMBEDDINGS, store.VECTORS, store.HNSW) if (d / n).exists()}
            meta["files"] = files
            import json

            (d / (store.META + ".tmp")).write_text(json.dumps(meta, indent=2))
            os.replace(d / (store.META + ".tmp"), d / store.META)
            self.cache.evict(name, gen)
            self.catalog._tx([("INSERT INTO index_events (ts, index_name, action, from_gen, to_gen, actor) "
                               "VALUES (?, ?, 'rebuild', ?, ?, '')", (now(), name, gen, gen))])
            job.progress(message=f"rebuilt {name} g{gen}", force=True)
        return next(g for g in self.info(name).generations if g.gen == gen)

    # -- search --------------------------------------------------------------------------
    def _load(self, name: str, gen: int) -> Loaded:
        d = store.gen_dir(self.root, name, gen)
        label = f"{name} g{gen}"

        def loader() -> Loaded:
            import pyarrow.parquet as pq

            from .ann import ExactIndex, HnswIndex

            t0 = time.perf_counter()
            meta = store.read_meta(d, label)
            problems = store.verify(d, meta, label, (store.VECTORS, store.HNSW))
            if problems:
                raise VectorError(f"{problems[0]} — rebuild it from its embeddings with "
                                  f"`lakehouse index rebuild {name} g{gen}`")
            try:
                t = pq.read_table(d / store.EMBEDDINGS, columns=["row_key", "chunk_id", "chunk_text"])
            except Exception as e:
                raise VectorError(f"{label}: its embeddings.parquet is unreadable ({e}) — drop the "
                                  "generation and embed again") from None
            vectors = np.load(d / store.VECTORS, mmap_mode="r")
            exact = ExactIndex(vectors)
            ann = HnswIndex.load(str(d / store.HNSW), meta["dim"], meta["ef_search"]) \
                if meta["kind"] == "hnsw" else exact
            nbytes = t.nbytes + vectors.nbytes + (os.path.getsize(d / store.HNSW) if meta["kind"] == "hnsw" else 0)
            return Loaded(name, gen, meta, t.column("row_key").combine_chunks(),
                          t.column("chunk_id").combine_chunks(), t.column("chunk_text").combine_chunks(),
                          vectors, ann, exact, nbytes, (time.perf_counter() - t0) * 1000)
        return self.cache.get(name, gen, d, loader)

    def _graph_wanted(self) -> dict:
        """The HNSW build settings the profile asks for (M, ef_construction), if any."""
        h = self.profile.hnsw if self.profile is not None else {}
        return {k: h[k] for k in ("m", "ef_construction") if k in h}

    def profile_generation(self, name: str, active: int) -> int:
        """The generation this profile searches: the active one, or — when the profile
        sets its own M / ef_construction — the newest ready generation built like the
        active one but with those (activation builds it when missing)."""
        want = self._graph_wanted()
        if not want:
            return active
        act = self.catalog.index_generation(name, active)
        if act is None or act["kind"] != "hnsw" or all(act[k] == v for k, v in want.items()):
            return active
        same = [g for g in self.catalog.generations(name)
                if g["status"] == "ready" and g["kind"] == "hnsw" and all(g[k] == act[k] for k in _SETTINGS)
                and all(g[k] == v for k, v in want.items())]
        return same[-1]["gen"] if same else active

    def ensure_profile_generation(self, info, listener=None, cancel=None) -> int:
        """Build the profile's own graph of an index when it sets M / ef_construction and
        none exists yet: every vector is reused, only the HNSW graph is built; the
        active generation is not changed."""
        gen = self.profile_generation(info.name, info.active_gen)
        want = self._graph_wanted()
        act = info.active
        if gen != info.active_gen or not want or act.kind != "hnsw" or all(
                getattr(act, k) == v for k, v in want.items()):
            return gen
        r = self.embed(info.dataset, info.column, index=info.name, embedder=act.provider,
                       model=act.model if act.provider == "ollama" else None, chunk_size=act.chunk_size,
                       overlap=act.overlap, kind="hnsw", m=want.get("m", act.m),
                       ef_construction=want.get("ef_construction", act.ef_construction),
                       ef_search=act.ef_search, promote=False, actor=f"profile {self.profile.id}",
                       listener=listener, cancel=cancel)
        return r.gen

    def warm(self, name: str, gen: int) -> None:
        """Make the first search of a generation cost nothing extra: load it, build its
        embedder, and keep its dataset's rows in memory (when small enough)."""
        self._load(name, gen)
        self._embedder(self.catalog.index_generation(name, gen))
        self._rows(self.require(name), ["\x00warm"])

    def _embedder(self, row: dict):
        """The embedder that built a generation, reused across searches; an Ollama
        model's digest is re-checked at most once a minute."""
        from .embedders import embedder_for

        ident = {k: row[k] for k in ("provider", "model", "digest", "dim")}
        key = tuple(ident.values())
        with self._emb_lock:
            hit = self._embedders.get(key)
            if hit and (ident["provider"] == "hashing" or time.monotonic() - hit[1] < 60):
                return hit[0]
        emb = embedder_for(ident, self.cfg)
        with self._emb_lock:
            self._embedders[key] = (emb, time.monotonic())
        return emb

    def resolve(self, selector: str) -> tuple[dict, dict]:
        """(index, generation row) for 'name' (its active generation) or 'name@gN'."""
        name, gen = parse_selector(selector)
        idx = self.require(name)
        if gen is None:
            gen = idx["active_gen"]
            if gen is None:
                raise VectorError(f"index {name!r} has no active generation yet — promote one with "
                                  f"`lakehouse index promote {name} GEN`")
            gen = self.profile_generation(name, gen)
        row = self.catalog.index_generation(name, gen)
        if row is None or row["status"] != "ready":
            have = ", ".join(f"g{g['gen']}" for g in self.catalog.generations(name) if g["status"] == "ready")
            raise NotFound(f"index {name!r} has no finished generation g{gen} — ready: {have or 'none'}")
        return idx, row

    def search(self, selector: str, text: str, k: int = 10, where: str | None = None,
               ef: int | None = None, embedder: str | None = None) -> SearchResult:
        t0 = time.perf_counter()
        if not isinstance(text, str) or not text.strip():
            raise VectorError("the search text is empty — say what to look for")
        max_k = self.cfg.get("vectors.max_k")
        if not isinstance(k, int) or isinstance(k, bool) or k < 1 or k > max_k:
            raise VectorError(f"k must be between 1 and {max_k} (vectors.max_k), got {k}")
        if ef is not None and not (1 <= ef <= 10_000):
            raise VectorError(f"--ef must be between 1 and 10000, got {ef}")
        idx, row = self.resolve(selector)
        name, gen = idx["name"], row["gen"]
        if embedder is not None and embedder not in ("auto", row["provider"]):
            raise VectorError(f"{name} g{gen} was built with the {row['provider']} embedder "
                              f"({row['model']}); searching it with {embedder} would compare unrelated "
                              f"vectors — search with {row['provider']}, or embed again with {embedder} "
                              "to build a generation for it")
        ds = self.catalog.get(idx["dataset"])  # looked up once per search
        if ds is None:
            raise NotFound(f"index {name!r} covers dataset {idx['dataset']!r}, which no longer exists")
        t = {}
        subset_sql = self._filter_sql(idx, where) if where else None
        emb = self._embedder(row)
        q = emb.embed([text])
        from .ann import normalise
        from .embedders import check_vectors

        q = normalise(check_vectors(q, 1, row["dim"], emb.describe()))
        t["embed_ms"] = (time.perf_counter() - t0) * 1000
        cached = self.cache.loaded(name, gen)
        t_load = time.perf_counter()
        loaded = self._load(name, gen)
        if not cached:
            t["load_ms"] = (time.perf_counter() - t_load) * 1000
        t1 = time.perf_counter()
        passed = None
        if subset_sql is None:
            labels, scores = (loaded.ann.search(q, k, ef=ef) if loaded.ann.kind == "hnsw"
                              else loaded.ann.search(q, k))
            strategy = loaded.ann.kind
        else:
            import pyarrow.compute as pc

            allowed = self.engine.run(subset_sql).column(0)
            mask = pc.is_in(loaded.row_keys, value_set=allowed.combine_chunks()).to_numpy(zero_copy_only=False)
            passed = int(mask.sum())
            t["filter_ms"] = (time.perf_counter() - t1) * 1000
            if loaded.ann.kind == "exact" or passed <= self.cfg.get("vectors.exact_max"):
                labels, scores = loaded.exact.search(q, k, subset=np.flatnonzero(mask))
                strategy = "exact (filtered)"
            else:
                labels, scores = loaded.ann.search(q, k, ef=ef, allowed=mask)
                strategy = "hnsw (filtered)"
        t["search_ms"] = (time.perf_counter() - t1) * 1000 - t.get("filter_ms", 0)
        t2 = time.perf_counter()
        labels, scores = labels[0], scores[0]
        keys = [loaded.row_keys[int(i)].as_py() for i in labels]
        rows = self._rows(idx, keys, ds)
        hits = [SearchHit(r + 1, round(float(s), 6), idx["dataset"], key, loaded.chunk_ids[int(i)].as_py(),
                          loaded.texts[int(i)].as_py(), rows.get(key))
                for r, (i, s, key) in enumerate(zip(labels, scores, keys))]
        t["fetch_ms"] = (time.perf_counter() - t2) * 1000
        t["total_ms"] = (time.perf_counter() - t0) * 1000
        return SearchResult(name, gen, emb.describe(), strategy, k, hits, len(loaded.row_keys), passed,
                            {a: round(b, 3) for a, b in t.items()}, idx["column_name"], idx["key"])

    def _key_sql(self, idx: dict, ds=None) -> str:
        ds = ds or self.catalog.get(idx["dataset"])
        text = {c.name for c in ds.columns if c.type.upper() == "VARCHAR"} if ds else set()
        return key_expr(idx["key"], text)

    def _rows(self, idx: dict, keys: list[str], ds=None) -> dict:
        """The current source rows of the hits, by row key. Datasets up to
        vectors.row_cache_mb stay in memory per table version (a lookup is then a
        dict hit, not a scan); bigger ones are read with SQL."""
        if not keys:
            return {}
        ds = ds or self.catalog.get(idx["dataset"])
        ke = self._key_sql(idx, ds)
        if ds is not None and ds.bytes * 3 <= self.cfg.get("vectors.row_cache_mb") * 1024 * 1024:
            with self._emb_lock:
                hit = self._row_cache.get(ds.name)
            if hit is None or hit[0] != (ds.table_version, ke):
                t = self.engine.run(f"SELECT {ke} AS __row_key, * FROM {quote_ident(ds.name)}")
                positions = {k: i for i, k in enumerate(t.column(0).to_pylist())}
                hit = ((ds.table_version, ke), t.drop_columns(["__row_key"]).combine_chunks(), positions)
                with self._emb_lock:
                    self._row_cache[ds.name] = hit
            _, table, positions = hit
            found = [positions[k] for k in dict.fromkeys(keys) if k in positions]
            if not found:
                return {}
            rows = table.take(found).to_pylist()
            return {table_key: row for table_key, row in zip((k for k in dict.fromkeys(keys) if k in positions), rows)}
        t = self.engine.run(f"SELECT {ke} AS __row_key, * FROM {quote_ident(idx['dataset'])} "
                            f"WHERE {ke} IN ({', '.join(_sql_str(k) for k in set(keys))})")
        out = {}
        for r in t.to_pylist():
            out[r.pop("__row_key")] = r
        return out

    def _filter_sql(self, idx: dict, where: str) -> str:
        """SQL selecting the keys of the rows that pass --where. The filter may use the
        dataset's columns and functions, nothing else: no subquery, no other table."""
        ds = quote_ident(idx["dataset"])
        if not _self_contained(where):  # e.g. "x) WINDOW w AS (…" would close our bracket
            raise VectorError("--where must be one condition whose brackets pair up on their own — "
                              "write a SQL condition such as \"state = 'IL' AND years_experience > 5\"")
        probe = f"SELECT 1 FROM {ds} WHERE ({where}\n)"
        ast = _serialize(probe)
        if ast.get("error"):
            raise VectorError(f"--where does not parse: {ast.get('error_message', 'syntax error')} — "
                              "write a SQL condition such as \"state = 'IL' AND years_experience > 5\"")
        stmts = ast["statements"]
        node = stmts[0]["node"] if len(stmts) == 1 else {}
        ok = (len(stmts) == 1 and node.get("type") == "SELECT_NODE" and not node.get("modifiers")
              and not node.get("group_expressions") and node.get("having") is None
              and node.get("from_table", {}).get("type") == "BASE_TABLE"
              and node["from_table"].get("table_name") == idx["dataset"]
              and len(node.get("select_list", [])) == 1)
        if not ok or _has_subquery(node.get("where_clause")):
            raise VectorError(f"--where must be a condition on the columns of {idx['dataset']!r} alone — "
                              "no subqueries, other datasets or extra clauses")
        return f"SELECT DISTINCT {self._key_sql(idx)} FROM {ds} WHERE ({where}\n)"


_parser = None
_parser_lock = threading.Lock()


def _serialize(sql: str) -> dict:
    """DuckDB's own parse tree of `sql` (json_serialize_sql), from a private
    in-memory connection that never touches data."""
    import json

    import duckdb

    global _parser
    with _parser_lock:
        if _parser is None:
            _parser = duckdb.connect()
        return json.loads(_parser.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])


def _self_contained(where: str) -> bool:
    """Whether the condition's brackets pair up within it, read with DuckDB's tokenizer."""
    import duckdb

    try:
        every = duckdb.tokenize(where)
    except Exception:
        return False
    ends = [p for p, _ in every[1:]] + [len(where)]
    depth = 0
    for (p, kind), e in zip(every, ends):
        if kind.name != "operator":  # brackets in strings, quoted names and comments do not count
            continue
        for ch in where[p:e]:
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth < 0:
                return False
    return depth == 0


def _has_subquery(node) -> bool:
    if isinstance(node, dict):
        if node.get("class") == "SUBQUERY" or node.get("type") in ("SUBQUERY", "TABLE_FUNCTION", "BASE_TABLE"):
            return True
        return any(_has_subquery(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_subquery(v) for v in node)
    return False


def _key_columns(key, ds) -> list[str]:
    if key:
        return [k.strip() for k in (key.split(",") if isinstance(key, str) else key) if k.strip()]
    if ds.primary_key:
        return list(ds.primary_key)
    if ds.kind == "documents":
        return ["doc_id", "page"]
    raise VectorError(f"dataset {ds.name!r} has no primary key, so its rows cannot be tracked across "
                      "re-embeds — give --key COLUMN (one that identifies each row)")


def _check_hnsw(m: int, efc: int, efs: int) -> None:
    if not 2 <= m <= 128:
        raise VectorError(f"HNSW M must be between 2 and 128, got {m}")
    if not 1 <= efc <= 5000:
        raise VectorError(f"HNSW ef_construction must be between 1 and 5000, got {efc}")
    if not 1 <= efs <= 10_000:
        raise VectorError(f"HNSW ef_search must be between 1 and 10000, got {efs}")


def _figures(meta: dict) -> dict:
    """The catalog fields a finished generation records, from its meta."""
    out = {k: meta[k] for k in ("rows", "chunks", "embedded", "reused", "split_inputs", "build_seconds")
           if k in meta}
    out["bytes"] = sum(f["bytes"] for f in meta.get("files", {}).values())
    return out


__all__ = ["Vectors", "parse_selector", "key_expr", "LakehouseError"]
