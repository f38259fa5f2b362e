"""Searching a generation: embed the query with the generation's own embedder, rank by
HNSW or an exact scan (filtered by --where when given), and fetch the hits' source rows.

Loaded generations, built embedders and small datasets' rows stay in memory between
searches, so a warm search costs the ranking and little else.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np

from core.errors import Hint, NotFound, VectorError
from core.names import sql_str
from core.models import SearchHit, SearchResult
from core.names import quote_ident
from core.vectors import store
from core.vectors.cache import Loaded
from core.vectors.context import VectorContext, key_expr
from core.vectors.registry import IndexRegistry
from core.query.gate import filter_sql


class Searcher:
    def __init__(self, ctx: VectorContext, registry: IndexRegistry):
        self.ctx, self.registry = ctx, registry
        self.catalog = ctx.catalog
        self._embedders: dict[tuple, tuple[object, float]] = {}
        self.lock = threading.Lock()  # guards the embedders and the row cache
        self.row_cache: dict[str, tuple] = {}  # dataset -> ((version, key sql), rows, key -> position)

    def search(self, selector: str, text: str, k: int = 10, where: str | None = None,
               ef: int | None = None, embedder: str | None = None, q: np.ndarray | None = None) -> SearchResult:
        """`q`: the query's vector when the caller embedded it already (query_vector)."""
        t0 = time.perf_counter()
        self.check_request(text, k, ef)
        idx, row = self.registry.resolve(selector)
        name, gen = idx["name"], row["gen"]
        if embedder is not None and embedder not in ("auto", row["provider"]):
            raise VectorError(f"{name} g{gen} was built with the {row['provider']} embedder "
                              f"({row['model']}); searching it with {embedder} would compare unrelated "
                              f"vectors — search with {row['provider']}, or embed again with {embedder} "
                              "to build a generation for it")
        ds = self.catalog.datasets.get(idx["dataset"])  # looked up once per search
        if ds is None:
            raise NotFound(f"index {name!r} covers dataset {idx['dataset']!r}, which no longer exists")
        t = {}
        if self.guarded(idx) and where is None:  # only the rows the policy leaves: a filter of every row
            where = "true"
        subset_sql = filter_sql(idx["dataset"], where, self.key_sql(idx)) if where else None
        emb = self.embedder(row)
        q = self.query_vector(row, text) if q is None else q
        t["embed_ms"] = (time.perf_counter() - t0) * 1000
        cached = self.ctx.cache.loaded(name, gen)
        t_load = time.perf_counter()
        loaded = self.load(name, gen)
        if not cached:
            t["load_ms"] = (time.perf_counter() - t_load) * 1000
        labels, scores, strategy, passed = self._rank(loaded, q, k, ef, subset_sql, t)
        t2 = time.perf_counter()
        keys = [loaded.row_keys[int(i)].as_py() for i in labels]
        rows = self.rows(idx, keys, ds)
        hits = [SearchHit(r + 1, round(float(s), 6), idx["dataset"], key, loaded.chunk_ids[int(i)].as_py(),
                          loaded.texts[int(i)].as_py(), rows.get(key))
                for r, (i, s, key) in enumerate(zip(labels, scores, keys))]
        t["fetch_ms"] = (time.perf_counter() - t2) * 1000
        t["total_ms"] = (time.perf_counter() - t0) * 1000
        return SearchResult(name, gen, emb.describe(), strategy, k, hits, len(loaded.row_keys), passed,
                            {a: round(b, 3) for a, b in t.items()}, idx["column_name"], idx["key"])

    def guarded(self, idx: dict) -> bool:
        """Whether a policy filters the index's dataset (its hits must then pass the filter);
        refuse an index whose text or key column a policy masks: its passages, its keys and
        its very ranking (nearest to a guessed value) would show the masked values."""
        engine = self.ctx.engine
        if engine.guard is None:
            return False
        from core.access import Refused

        shape = engine.shape(idx["dataset"])
        masked = [c for c in [idx["column_name"], *idx["key"]] if c in shape.masks]
        if masked:
            raise Refused(f"index {idx['name']} is built over {idx['dataset']}.{masked[0]}, which policy "
                          f"{shape.masks[masked[0]][1]} masks for this profile — search an index over columns "
                          "the policy shows")
        return shape.row_filter is not None

    def query_vector(self, row: dict, text: str) -> np.ndarray:
        """`text` embedded with generation `row`'s embedder, normalised: a (1, dim) array."""
        from core.vectors.ann import normalise
        from core.vectors.embedders import check_vectors

        emb = self.embedder(row)
        return normalise(check_vectors(emb.embed([text]), 1, row["dim"], emb.describe()))

    def check_request(self, text, k, ef) -> None:
        if not isinstance(text, str) or not text.strip():
            raise VectorError("the search text is empty — say what to look for")
        max_k = self.ctx.cfg.get("vectors.max_k")
        if not isinstance(k, int) or isinstance(k, bool) or k < 1 or k > max_k:
            raise VectorError(f"k must be between 1 and {max_k} (vectors.max_k), got {k}")
        if ef is not None and not (1 <= ef <= 10_000):
            raise VectorError(f"--ef must be between 1 and 10000, got {ef}")

    def _rank(self, loaded: Loaded, q, k: int, ef, subset_sql: str | None, t: dict) -> tuple:
        """(labels, scores, strategy, rows passing the filter): the graph unfiltered; with a
        filter, an exact scan of the passing rows when few pass, else the filtered graph."""
        t1 = time.perf_counter()
        passed = None
        if subset_sql is None:
            labels, scores = (loaded.ann.search(q, k, ef=ef) if loaded.ann.kind == "hnsw"
                              else loaded.ann.search(q, k))
            strategy = loaded.ann.kind
        else:
            import pyarrow.compute as pc

            allowed = self.ctx.engine.run(subset_sql).column(0)
            mask = pc.is_in(loaded.row_keys, value_set=allowed.combine_chunks()).to_numpy(zero_copy_only=False)
            passed = int(mask.sum())
            t["filter_ms"] = (time.perf_counter() - t1) * 1000
            if loaded.ann.kind == "exact" or passed <= self.ctx.cfg.get("vectors.exact_max"):
                labels, scores = loaded.exact.search(q, k, subset=np.flatnonzero(mask))
                strategy = "exact (filtered)"
            else:
                labels, scores = loaded.ann.search(q, k, ef=ef, allowed=mask)
                strategy = "hnsw (filtered)"
        t["search_ms"] = (time.perf_counter() - t1) * 1000 - t.get("filter_ms", 0)
        return labels[0], scores[0], strategy, passed

    # -- what stays in memory ------------------------------------------------------------
    def load(self, name: str, gen: int) -> Loaded:
        d = store.gen_dir(self.ctx.root, name, gen)
        label = f"{name} g{gen}"

        def loader() -> Loaded:
            import pyarrow.parquet as pq

            from core.vectors.ann import ExactIndex, HnswIndex

            t0 = time.perf_counter()
            meta = store.read_meta(d, label)
            problems = store.verify(d, meta, label, (store.VECTORS, store.HNSW))
            if problems:
                raise VectorError(problems[0], hint=Hint("rebuild it from its embeddings", "rebuild_index",
                                                         {"index": name, "gen": gen}))
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
        return self.ctx.cache.get(name, gen, d, loader)

    def warm(self, name: str, gen: int) -> None:
        """Make the first search of a generation cost nothing extra: load it, build its
        embedder, and keep its dataset's rows in memory (when small enough)."""
        self.load(name, gen)
        self.embedder(self.catalog.indexes.generation(name, gen))
        self.rows(self.registry.require(name), ["\x00warm"])

    def embedder(self, row: dict):
        """The embedder that built a generation, reused across searches; an Ollama
        model's digest is re-checked at most once a minute."""
        from core.vectors.embedders import embedder_for

        ident = {k: row[k] for k in ("provider", "model", "digest", "dim")}
        key = tuple(ident.values())
        with self.lock:
            hit = self._embedders.get(key)
            if hit and (ident["provider"] == "hashing" or time.monotonic() - hit[1] < 60):
                return hit[0]
        emb = embedder_for(ident, self.ctx.cfg)
        with self.lock:
            self._embedders[key] = (emb, time.monotonic())
        return emb

    # -- source rows ---------------------------------------------------------------------
    def key_sql(self, idx: dict, ds=None) -> str:
        ds = ds or self.catalog.datasets.get(idx["dataset"])
        text = {c.name for c in ds.columns if c.type.upper() == "VARCHAR"} if ds else set()
        return key_expr(idx["key"], text)

    def rows(self, idx: dict, keys: list[str], ds=None) -> dict:
        """The current source rows of the hits, by row key. Datasets up to
        vectors.row_cache_mb stay in memory per table version (a lookup is then a
        dict hit, not a scan); bigger ones are read with SQL."""
        if not keys:
            return {}
        ds = ds or self.catalog.datasets.get(idx["dataset"])
        ke = self.key_sql(idx, ds)
        if ds is not None and ds.bytes * 3 <= self.ctx.cfg.get("vectors.row_cache_mb") * 1024 * 1024:
            return self._cached_rows(ds, ke, keys)
        t = self.ctx.engine.run(f"SELECT {ke} AS __row_key, * FROM {quote_ident(idx['dataset'])} "
                                f"WHERE {ke} IN ({', '.join(sql_str(k) for k in set(keys))})")
        out = {}
        for r in t.to_pylist():
            out[r.pop("__row_key")] = r
        return out

    def _cached_rows(self, ds, ke: str, keys: list[str]) -> dict:
        with self.lock:
            hit = self.row_cache.get(ds.name)
        engine = self.ctx.engine  # rows as this engine's policies show them: never shared with another
        version = (ds.table_version, ke, engine.shape(ds.name).key() if engine.guard is not None else None)
        if hit is None or hit[0] != version:
            t = engine.run(f"SELECT {ke} AS __row_key, * FROM {quote_ident(ds.name)}")
            positions = {k: i for i, k in enumerate(t.column(0).to_pylist())}
            hit = (version, t.drop_columns(["__row_key"]).combine_chunks(), positions)
            with self.lock:
                self.row_cache[ds.name] = hit
        _, table, positions = hit
        present = [k for k in dict.fromkeys(keys) if k in positions]
        if not present:
            return {}
        return dict(zip(present, table.take([positions[k] for k in present]).to_pylist()))
