"""The index registry: which indexes and generations exist, which one is active, and
moving that pointer (promote, rollback), dropping, verifying and recovery bookkeeping.

It owns the catalog rows of indexes and generations; building and searching ask it
which generation to use and never change the pointer themselves.
"""

from __future__ import annotations

import shutil

from core.errors import Hint, NotFound, VectorError
from core.models import Generation, IndexInfo
from core.names import check_index_name
from core.vectors import store
from core.vectors.context import SETTINGS, VectorContext, figures, parse_selector


class IndexRegistry:
    def __init__(self, ctx: VectorContext):
        self.ctx = ctx
        self.catalog = ctx.catalog

    # -- listing -------------------------------------------------------------------------
    def _generation(self, row: dict, active_gen: int | None) -> Generation:
        row = dict(row)
        index = row.pop("index_name")
        return Generation(index=index, active=row["gen"] == active_gen, **row)

    def require(self, name: str) -> dict:
        check_index_name(name)
        idx = self.catalog.indexes.get(name)
        if idx is not None and not self.ctx.visible(idx):
            raise NotFound(f"no such index in profile {self.ctx.profile.id}: {name}")
        if idx is None:
            raise NotFound(f"no index named {name!r}", hint=Hint(
                "list the indexes to see them, or build one", "embed",
                {"dataset": "DATASET", "column": "COL", "index": name}))
        return idx

    def info(self, name: str) -> IndexInfo:
        idx = self.require(name)
        self.settle(name)
        ds = self.catalog.datasets.get(idx["dataset"])
        gens = [self._generation(r, idx["active_gen"]) for r in self.catalog.indexes.generations(name)]
        return IndexInfo(name, idx["dataset"], idx["column_name"], idx["key"], idx["active_gen"], gens,
                         ds.table_version if ds else None, bool(idx.get("auto_refresh", 1)))

    def list(self) -> list[IndexInfo]:
        return [self.info(i["name"]) for i in self.catalog.indexes.all() if self.ctx.visible(i)]

    def ready(self, name: str) -> list[int]:
        return [g["gen"] for g in self.catalog.indexes.generations(name) if g["status"] == "ready"]

    def ready_row(self, name: str, gen: int) -> dict:
        """The catalog row of finished generation `gen`, or NotFound naming the ready ones."""
        row = self.catalog.indexes.generation(name, gen)
        if row is None or row["status"] != "ready":
            have = ", ".join(f"g{g}" for g in self.ready(name))
            raise NotFound(f"index {name!r} has no finished generation g{gen} — ready: {have or 'none'}")
        return row

    # -- recovery ------------------------------------------------------------------------
    def settle(self, name: str) -> None:
        """Finish the bookkeeping of builds whose process died: a build renamed into
        place becomes ready (never active); one that left nothing is forgotten."""
        for row in self.catalog.indexes.generations(name):
            if row["status"] != "building" or self.build_running(row):
                continue
            final = store.gen_dir(self.ctx.root, name, row["gen"])
            if (final / store.META).exists():
                meta = store.read_meta(final, f"{name} g{row['gen']}")
                self.catalog.indexes.finish_generation(name, row["gen"], figures(meta), False, "recovery",
                                               "finished by recovery after its process stopped")
            elif not store.building_dir(self.ctx.root, name, row["gen"]).exists():
                self.catalog.indexes.drop_generation(name, row["gen"], "recovery")

    def build_running(self, row: dict) -> bool:
        job = self.catalog.jobs.get(row["job_id"]) if row["job_id"] else None
        if job is None or job.status != "running":
            return False
        from core.ops.jobs import _alive

        return _alive(job.pid)

    # -- which generation ----------------------------------------------------------------
    def latest(self, name: str, existing: dict | None) -> dict | None:
        """The generation a new build takes its defaults from: the active one, else the newest."""
        if not existing:
            return None
        gens = [g for g in self.catalog.indexes.generations(name) if g["status"] == "ready"]
        active = next((g for g in gens if g["gen"] == existing["active_gen"]), None)
        return active or (gens[-1] if gens else None)

    def same_settings(self, name: str, gen: int, settings: dict) -> bool:
        """Built exactly like generation `gen` (then a new build is a data refresh)."""
        row = self.catalog.indexes.generation(name, gen)
        return row is not None and all(row[k] == v for k, v in settings.items())

    def base(self, name: str, existing: dict | None, settings: dict) -> dict | None:
        """The generation whose vectors this build can reuse: same embedder, same chunking."""
        if not existing:
            return None
        same = [g for g in self.catalog.indexes.generations(name)
                if g["status"] == "ready" and all(g[k] == settings[k] for k in SETTINGS)]
        active = next((g for g in same if g["gen"] == existing["active_gen"]), None)
        return active or (same[-1] if same else None)

    def graph_wanted(self) -> dict:
        """The HNSW build settings the profile asks for (M, ef_construction), if any."""
        h = self.ctx.profile.hnsw if self.ctx.profile is not None else {}
        return {k: h[k] for k in ("m", "ef_construction") if k in h}

    def profile_generation(self, name: str, active: int) -> int:
        """The generation this profile searches: the active one, or — when the profile
        sets its own M / ef_construction — the newest ready generation built like the
        active one but with those (activation builds it when missing)."""
        want = self.graph_wanted()
        if not want:
            return active
        act = self.catalog.indexes.generation(name, active)
        if act is None or act["kind"] != "hnsw" or all(act[k] == v for k, v in want.items()):
            return active
        same = [g for g in self.catalog.indexes.generations(name)
                if g["status"] == "ready" and g["kind"] == "hnsw" and all(g[k] == act[k] for k in SETTINGS)
                and all(g[k] == v for k, v in want.items())]
        return same[-1]["gen"] if same else active

    def resolve(self, selector: str) -> tuple[dict, dict]:
        """(index, generation row) for 'name' (its active generation) or 'name@gN'."""
        name, gen = parse_selector(selector)
        idx = self.require(name)
        if gen is None:
            gen = idx["active_gen"]
            if gen is None:
                raise VectorError(f"index {name!r} has no active generation yet",
                                  hint=Hint("promote one", "promote", {"index": name, "gen": "GEN"}))
            gen = self.profile_generation(name, gen)
        return idx, self.ready_row(name, gen)

    # -- moving the pointer, dropping ----------------------------------------------------
    def promote(self, name: str, gen: int, actor: str = "") -> IndexInfo:
        self.require(name)
        self.ready_row(name, gen)
        d = store.gen_dir(self.ctx.root, name, gen)
        meta = store.read_meta(d, f"{name} g{gen}")
        problems = [p for p in store.verify(d, meta, f"{name} g{gen}", (store.HNSW,))
                    if "missing" in p or "truncated" in p]
        if problems:
            raise VectorError(problems[0], hint=Hint("rebuild it before promoting it", "rebuild_index",
                                                     {"index": name, "gen": gen}))
        if self.catalog.indexes.get(name)["active_gen"] != gen:
            self.catalog.indexes.activate(name, gen, "promote", actor)
        return self.info(name)

    def rollback(self, name: str, actor: str = "") -> IndexInfo:
        idx = self.require(name)
        history = list(idx["history"])
        ready = set(self.ready(name))
        while history and history[-1] not in ready:
            history.pop()
        if not history:
            raise VectorError(f"index {name!r} has no earlier generation to roll back to")
        target = history.pop()
        self.catalog.indexes.activate(name, target, "rollback", actor, history=history)
        return self.info(name)

    def drop(self, name: str, gen: int | None = None, actor: str = "") -> str:
        idx = self.require(name)
        with self.ctx.index_lock(name):
            if gen is None:
                self.ctx.cache.evict(name)
                self.catalog.indexes.drop(name, actor)
                self.catalog.trials.forget_index(name)
                shutil.rmtree(store.index_dir(self.ctx.root, name), ignore_errors=True)
                return f"dropped index {name} and all its generations"
            if self.catalog.indexes.generation(name, gen) is None:
                raise NotFound(f"index {name!r} has no generation g{gen}")
            if idx["active_gen"] == gen:
                raise VectorError(f"g{gen} is the active generation of {name!r}", hint=Hint(
                    "promote another first, or drop the whole index", "drop_index", {"index": name}))
            self.drop_gen(name, gen, actor)
            return f"dropped {name} g{gen}"

    def drop_gen(self, name: str, gen: int, actor: str) -> None:
        """Forget one generation: its cache entry, catalog row and files (built or building)."""
        self.ctx.cache.evict(name, gen)
        self.catalog.indexes.drop_generation(name, gen, actor)
        shutil.rmtree(store.gen_dir(self.ctx.root, name, gen), ignore_errors=True)
        shutil.rmtree(store.building_dir(self.ctx.root, name, gen), ignore_errors=True)

    def prune(self, name: str) -> None:
        """Keep vectors.keep_generations ready generations; never the active one or the
        one a rollback would return to."""
        keep = self.ctx.cfg.get("vectors.keep_generations")
        if not keep:
            return
        idx = self.catalog.indexes.get(name)
        ready = self.ready(name)
        protected = {idx["active_gen"]} | set(idx["history"][-1:])
        extra = len(ready) - keep
        for g in ready:
            if extra <= 0:
                break
            if g not in protected:
                self.drop_gen(name, g, "prune")
                extra -= 1

    def verify(self, name: str, gen: int | None = None) -> list[str]:
        """Problems with the files of one generation (or all); [] when all are sound."""
        self.require(name)
        gens = [gen] if gen is not None else self.ready(name)
        problems = []
        for g in gens:
            d = store.gen_dir(self.ctx.root, name, g)
            try:
                problems += store.verify(d, store.read_meta(d, f"{name} g{g}"), f"{name} g{g}")
            except VectorError as e:
                problems.append(str(e))
        return problems
