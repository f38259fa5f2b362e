"""The facade's playbook-memory operations (a part of `core.Lakehouse`): add, revise,
retire, history, show, list and search memories, and the memory boost of `search`.
The store opens on first use; every change is journaled in memory.sqlite and audited."""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property

from core.api import operation
from core.storage.db import now


def _user() -> str:
    from core.ingest.run import current_user

    return current_user()


class MemoryOps:
    """Mixed into Lakehouse: uses its root, config, profile, audit log and vectors."""

    @cached_property
    def _memory(self):
        from core.memory.rows import MemoryRows
        from core.memory.service import MemoryService

        self._memory_rows = MemoryRows(self.root / "memory.sqlite")
        self._scope_cache: dict = {}
        return MemoryService(self._memory_rows, self._vectors)

    def _close_memory(self) -> None:
        if "_memory" in self.__dict__:
            self._memory_rows.close()

    def _forget_memories(self, index: str) -> None:
        """A dropped index's memories are retired (journaled), so a new index of that name starts clean."""
        if "_memory" in self.__dict__ or (self.root / "memory.sqlite").exists():
            self._memory.rows.forget_index(index)

    @operation("remember what worked: upsert a memory endorsing row keys (ADD, UPDATE or NOOP); a MemoryEntry",
               remote=True, scope="index", audited=True, mutates=True)
    def memory_add(self, index: str, operation: str, keys: list[str], *, approach: str = "",
                   scope: dict | None = None, valid_from: str | None = None, valid_until: str | None = None,
                   actor: str | None = None):
        return self.audit_log.timed("memory_add", [index], operation, lambda: self._memory.add(
            index, operation, keys, approach=approach, scope=scope, valid_from=valid_from, valid_until=valid_until,
            actor=actor or _user(), profile=self.profile.id))

    @operation("a new version of a memory (the old one is superseded); a MemoryEntry",
               remote=True, scope="index", audited=True, mutates=True)
    def memory_revise(self, entry_id: int, *, operation: str | None = None, approach: str | None = None,
                      keys: list[str] | None = None, scope: dict | None = None, valid_until: str | None = None,
                      reason: str = "", actor: str | None = None):
        changes = dict(operation=operation, approach=approach, keys=keys, scope=scope, valid_until=valid_until)
        return self.audit_log.timed("memory_revise", lambda: self._memory_index(entry_id), f"#{entry_id} {reason}",
                                    lambda: self._memory.revise(entry_id, {k: v for k, v in changes.items()
                                                                           if v is not None},
                                                                actor=actor or _user(), reason=reason))

    @operation("retire memories with a reason: one by id, those of an index passing a condition, or those made "
               "under another schema; the retired MemoryEntry list", remote=True, scope="index", audited=True,
               mutates=True)
    def memory_retire(self, entry_id: int | None = None, *, reason: str = "", index: str | None = None,
                      where: str | None = None, drifted: bool = False, actor: str | None = None) -> list:
        from core.errors import VectorError

        actor = actor or _user()
        ways = sum([entry_id is not None, where is not None, drifted])
        if ways != 1 or (entry_id is None and index is None):
            raise VectorError("retire one memory by id, or an index's memories with a condition (where) or those "
                              "made under another schema (drifted) — one of the three")
        if entry_id is not None:
            return [self.audit_log.timed("memory_retire", lambda: self._memory_index(entry_id),
                                         f"#{entry_id} {reason}",
                                         lambda: self._memory.retire(entry_id, reason, actor=actor))]
        if drifted:
            return self.audit_log.timed("memory_retire", [index], f"drifted {reason}",
                                        lambda: self._memory.retire_drifted(index, reason, actor=actor),
                                        rows=len)
        return self.audit_log.timed("memory_retire", [index], f"WHERE {where} {reason}",
                                    lambda: self._memory.retire_where(index, where, reason, actor=actor),
                                    rows=len)

    @operation("remove a memory no later version revises (a deleted revision's parent is the tip again); "
               "the MemoryEntry as it was", remote=True, scope="index", audited=True, mutates=True)
    def memory_delete(self, entry_id: int, *, reason: str = "", actor: str | None = None):
        return self.audit_log.timed("memory_delete", self._memory_index(entry_id), f"#{entry_id} {reason}",
                                    lambda: self._memory.delete(entry_id, reason, actor=actor or _user()))

    def _memory_index(self, entry_id) -> list[str]:
        e = self._memory.rows.get(entry_id) if isinstance(entry_id, int) else None
        return [e["index_name"]] if e else []

    @operation("a memory's versions, root to tip, from any of them", remote=True, scope="index")
    def memory_history(self, entry_id: int) -> list:
        return self._memory.history(entry_id)

    @operation("one memory", remote=True, scope="index")
    def memory_show(self, entry_id: int):
        return self._memory.show(entry_id)

    @operation("memories of the indexes this profile searches (live, retired, superseded, expired, pending or all)",
               remote=True, scope="index")
    def memory_list(self, index: str | None = None, status: str = "live", limit: int = 100) -> list:
        return self._memory.listing(index, status, limit)

    @operation("memories of an index most like a text", remote=True, scope="index")
    def memory_search(self, index: str, text: str, k: int = 10) -> list:
        return self._memory.search(index, text, k)

    @operation("the memory journal: every add, update, revise and retire, oldest first", remote=True, scope="index")
    def memory_journal(self, entry_id: int | None = None) -> list[dict]:
        if entry_id is not None:
            self._memory.show(entry_id)  # one this profile sees, or NotFound
            return self._memory.rows.journal(entry_id)
        seen = {i.name for i in self._vectors.list()}
        import json

        return [r for r in self._memory.rows.journal() if json.loads(r["entry"])["index_name"] in seen]

    def _uses_memory(self, asked: bool | None, where_used: str) -> bool:
        """The flag, else the profile's `memory`, else [memory] search / ask."""
        if asked is not None:
            return bool(asked)
        if self.profile.memory is not None:
            return self.profile.memory
        return bool(self.config.get(f"memory.{where_used}"))

    def _boosted(self, index: str, text: str, k: int, where: str | None, ef: int | None, embedder: str | None):
        """A search whose hits the memory boost re-ranked (core/memory/boost.py)."""
        import time

        from core.memory import boost
        from core.memory.service import identity

        t0 = time.perf_counter()
        mem, cfg = self._memory, self.config
        idx, gen = self._vectors.registry.resolve(index)
        self._vectors.searcher.check_request(text, k, ef)
        q = self._vectors.searcher.query_vector(gen, text)
        pool = boost.pool_size(k, cfg.get("vectors.max_k"))
        res = self._vectors.search(index, text, pool, where, ef, embedder, q=q)
        t1, at = time.perf_counter(), now()
        ds = self.catalog.datasets.get(idx["dataset"])
        scope_ids = boost.scopes_passing(mem.rows, idx["name"], ds, where, self._scope_cache) if where else None
        near = mem.rows.knn(gen["dim"], q[0], cfg.get("memory.top"), idx["name"], identity(gen), at, scope_ids)
        hits, stats = boost.apply(res.hits, near, mem.rows.by_ids(i for i, _ in near), k=k,
                                  weight=cfg.get("memory.weight"), cap=cfg.get("memory.cap"),
                                  min_similarity=cfg.get("memory.min_similarity"),
                                  half_life_days=cfg.get("memory.half_life_days"), at=at)
        same, other = mem.rows.live_count(idx["name"], at, identity(gen), scope_ids)
        stats = {"considered": same, **stats, "scoped": where is not None, "other_embedder": other}
        timings = dict(res.timings_ms, memory_ms=round((time.perf_counter() - t1) * 1000, 3),
                       total_ms=round((time.perf_counter() - t0) * 1000, 3))
        return replace(res, k=k, hits=hits, memory=stats, timings_ms=timings)
