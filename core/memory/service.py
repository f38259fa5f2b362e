"""Playbook memory's lifecycle: add (an upsert), revise, retire (one, by condition, on schema
drift), history, list, show and search — over the store in core/memory/rows.py.

An entry's vector is its operation and approach embedded with the embedder of the index it
applies to (the generation the profile searches), so a search of that index can find the
memories like it. What an entry is, and the rules:

- **Natural key** (upsert): the index, the operation (case and spacing folded), the UTC day
  it becomes valid, and its scope. `add` of an entry whose natural key has a live entry is
  an UPDATE of that entry in place (the id stays, so citations stay valid) when anything
  differs — approach, keys or valid_until, the new values winning — and a NOOP when nothing
  does; otherwise an ADD.
- **Revise** makes a new version (version + 1, parent_id) and marks the old one superseded;
  a retired or superseded entry cannot be revised (revise its tip). One live tip per chain.
- **Retire** (with a reason) takes an entry out of every later search; retired, superseded
  and expired (valid_until passed) entries never boost.
- **Scope**: column = value pairs of the index's dataset (city, state, role, ...), which a
  filtered search matches against its own condition (core/memory/boost.py).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone

from core.errors import Hint, NotFound, VectorError
from core.models import MemoryEntry
from core.storage.db import now

STATUSES = ("live", "retired", "superseded", "expired", "pending", "all")
MAX_TEXT, MAX_KEYS, MAX_SCOPE, MAX_K = 4000, 1000, 32, 1000


def status_of(e: dict, at: str) -> str:
    if e["retired_at"] is not None:
        return "retired"
    if e["superseded_at"] is not None:
        return "superseded"
    if e["valid_until"] is not None and e["valid_until"] <= at:
        return "expired"
    if e["valid_from"] > at:
        return "pending"
    return "live"


def entry(e: dict, at: str | None = None, **extra) -> MemoryEntry:
    return MemoryEntry(e["id"], e["index_name"], e["operation"], e["approach"], e["keys"], e["scope"], e["actor"],
                       e["profile"], e["created_at"], e["updated_at"], e["valid_from"], e["valid_until"],
                       e["fingerprint"], e["version"], e["parent_id"], e["superseded_at"], e["superseded_by"],
                       e["retired_at"], e["retired_reason"], e["embedder"], status_of(e, at or now()), **extra)


def fingerprint(ds) -> str:
    """The dataset's schema (column names and types, in order), hashed."""
    text = ";".join(f"{c.name}:{c.type}" for c in ds.columns)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def identity(gen: dict) -> str:
    return f"{gen['provider']}/{gen['model']}/{gen['digest']}"


def natural_key(index: str, operation: str, valid_from: str, scope: dict) -> str:
    op = re.sub(r"\s+", " ", operation).strip().casefold()
    return json.dumps([index, op, valid_from[:10], scope], sort_keys=True, ensure_ascii=False)


def timestamp(value: str | None, what: str) -> str | None:
    """An ISO date or time as UTC ISO text (a date alone: its midnight UTC)."""
    if value is None or value == "":
        return None
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise VectorError(f"{what} {value!r} is not a date or time — write e.g. 2026-12-31 or "
                           "2026-12-31T18:00:00Z") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds")


class MemoryService:
    """The lifecycle over one store, for one profile's view of the indexes (`vectors`)."""

    def __init__(self, rows, vectors):
        self.rows, self.vectors = rows, vectors

    # -- checks -------------------------------------------------------------------------
    def _index(self, index: str) -> tuple[dict, dict, object]:
        """(index row, the generation this profile searches, its dataset) — or one sentence."""
        idx, gen = self.vectors.registry.resolve(index)
        ds = self.vectors.catalog.datasets.get(idx["dataset"])
        if ds is None:
            raise NotFound(f"index {index!r} covers dataset {idx['dataset']!r}, which no longer exists")
        return idx, gen, ds

    def _visible(self, e: dict | None, entry_id) -> dict:
        """The entry, if this profile searches its index; else the same NotFound as no entry."""
        if e is not None:
            try:
                self.vectors.require(e["index_name"])
                return e
            except NotFound:
                pass
        raise NotFound(f"no memory #{entry_id}", hint=Hint("list the memories to see their ids", "memory_list", {}))

    def _clean(self, ds, idx: dict, operation: str, approach: str, keys, scope) -> tuple[str, str, list, dict]:
        operation, approach = (operation or "").strip(), (approach or "").strip()
        if not operation:
            raise VectorError("a memory needs its operation: what was done, e.g. \"filled 3 welders in Toledo\"")
        if len(operation) > MAX_TEXT or len(approach) > MAX_TEXT:
            raise VectorError(f"operation and approach take at most {MAX_TEXT:,} characters each")
        if isinstance(keys, str) or not isinstance(keys, (list, tuple)) and keys is not None:
            raise VectorError("keys must be a list of row keys, e.g. [\"P00105\"]")
        if scope is not None and not isinstance(scope, dict):
            raise VectorError("a scope must be a table of column = value, e.g. {\"state\": \"IL\"}")
        keys = list(dict.fromkeys(str(k) for k in (keys or [])))
        if not keys:
            raise VectorError("a memory endorses at least one row key (--key K, repeatable)")
        if len(keys) > MAX_KEYS:
            raise VectorError(f"a memory endorses at most {MAX_KEYS:,} row keys, got {len(keys):,}")
        found = self.vectors.searcher.rows(idx, keys, ds)
        missing = [k for k in keys if k not in found]
        if missing:
            raise VectorError(f"row key {missing[0]!r} is not in {ds.name}"
                               + (f" ({len(missing) - 1} more are not either)" if len(missing) > 1 else "")
                               + f" — endorse keys of its rows ({', '.join(idx['key'])})")
        scope = {str(k): str(v) for k, v in (scope or {}).items()}
        columns = {c.name for c in ds.columns}
        unknown = [k for k in scope if k not in columns]
        if unknown:
            raise VectorError(f"scope {unknown[0]!r} is not a column of {ds.name} — a scope names the dataset's "
                               f"columns, e.g. {next(iter(sorted(columns)), 'city')}=VALUE")
        if len(scope) > MAX_SCOPE:
            raise VectorError(f"a scope takes at most {MAX_SCOPE} columns")
        from core.memory.boost import uncastable

        types = {c.name: c.type for c in ds.columns}
        bad = uncastable(types, scope)
        if bad:
            raise VectorError(f"scope {bad[0]}={scope[bad[0]]!r} is not a {types[bad[0]]} value, the type of "
                              f"{ds.name}.{bad[0]} — a filtered search could never match it")
        return operation, approach, keys, dict(sorted(scope.items()))

    def _embed(self, gen: dict, operation: str, approach: str):
        from core.vectors.ann import normalise
        from core.vectors.embedders import check_vectors

        emb = self.vectors.searcher.embedder(gen)
        text = operation + ("\n" + approach if approach else "")
        return normalise(check_vectors(emb.embed([text]), 1, gen["dim"], emb.describe()))[0]

    # -- lifecycle ----------------------------------------------------------------------
    def add(self, index: str, operation: str, keys, *, approach: str = "", scope: dict | None = None,
            valid_from: str | None = None, valid_until: str | None = None, actor: str, profile: str) -> MemoryEntry:
        """Upsert an entry (see the module docstring); its `action` says ADD, UPDATE or NOOP."""
        idx, gen, ds = self._index(index)
        operation, approach, keys, scope = self._clean(ds, idx, operation, approach, keys, scope)
        t = now()
        start = timestamp(valid_from, "valid_from") or t
        until = timestamp(valid_until, "valid_until")
        if until is not None and until <= start:
            raise VectorError(f"valid_until {until} is not after valid_from {start} — the memory would never apply")
        nk = natural_key(idx["name"], operation, start, scope)
        old = self.rows.live_by_natural_key(nk)
        if old is not None:
            self._visible(old, old["id"])
            if (old["approach"], old["keys"], old["valid_until"]) == (approach, keys, until):
                return entry(old, t, action="NOOP")
            text_changed = old["approach"] != approach
            new = dict(old, approach=approach, keys=keys, valid_until=until, updated_at=t, actor=actor)
            self.rows.update(new, self._embed(gen, operation, approach) if text_changed else None, "update", actor)
            return entry(self.rows.get(old["id"]), t, action="UPDATE")
        e = dict(index_name=idx["name"], operation=operation, approach=approach, keys=keys, scope=scope,
                 natural_key=nk, actor=actor, profile=profile, created_at=t, updated_at=t, valid_from=start,
                 valid_until=until, fingerprint=fingerprint(ds), version=1, parent_id=None, superseded_at=None,
                 superseded_by=None, retired_at=None, retired_reason=None, embedder=identity(gen), dim=gen["dim"])
        eid = self.rows.insert(e, self._embed(gen, operation, approach), "add", actor)
        return entry(self.rows.get(eid), t, action="ADD")

    def revise(self, entry_id: int, changes: dict, *, actor: str, reason: str = "") -> MemoryEntry:
        """A new version of a live tip with `changes` (operation, approach, keys, scope,
        valid_until); the old version is superseded."""
        old = self._visible(self.rows.get(entry_id), entry_id)
        if old["retired_at"] is not None:
            raise VectorError(f"memory #{entry_id} is retired ({old['retired_reason']}) — a retired entry is not "
                               "revised; add a new one")
        if old["superseded_at"] is not None:
            raise VectorError(f"memory #{entry_id} was superseded by #{old['superseded_by']} — revise the newest "
                               f"version (#{self._tip(entry_id)})")
        idx, gen, ds = self._index(old["index_name"])
        allowed = {"operation", "approach", "keys", "scope", "valid_until"}
        bad = sorted(set(changes) - allowed)
        if bad:
            raise VectorError(f"a revision may change {', '.join(sorted(allowed))}, not {bad[0]}")
        merged = {**{k: old[k] for k in allowed}, **{k: v for k, v in changes.items() if v is not None}}
        operation, approach, keys, scope = self._clean(ds, idx, merged["operation"], merged["approach"],
                                                       merged["keys"], merged["scope"])
        t = now()
        until = timestamp(merged["valid_until"], "valid_until")
        if until is not None and until <= old["valid_from"]:
            raise VectorError(f"valid_until {until} is not after valid_from {old['valid_from']}")
        new = dict(old, operation=operation, approach=approach, keys=keys, scope=scope, valid_until=until,
                   natural_key=natural_key(idx["name"], operation, old["valid_from"], scope), actor=actor,
                   created_at=t, updated_at=t, version=old["version"] + 1, parent_id=old["id"],
                   fingerprint=fingerprint(ds), embedder=identity(gen), dim=gen["dim"])
        del new["id"]
        eid = self.rows.insert(new, self._embed(gen, operation, approach), "revise", actor, reason,
                               supersede=old["id"])
        return entry(self.rows.get(eid), t)

    def retire(self, entry_id: int, reason: str, *, actor: str) -> MemoryEntry:
        reason = _reason(reason)
        e = self._visible(self.rows.get(entry_id), entry_id)
        if e["retired_at"] is not None:
            raise VectorError(f"memory #{entry_id} is already retired ({e['retired_reason']})")
        if e["superseded_at"] is not None:
            raise VectorError(f"memory #{entry_id} was superseded by #{e['superseded_by']}, which is what searches "
                               f"use — retire #{self._tip(entry_id)}")
        t = now()
        self.rows.update(dict(e, retired_at=t, retired_reason=reason, updated_at=t), None, "retire", actor, reason)
        return entry(self.rows.get(entry_id), t)

    def delete(self, entry_id: int, reason: str, *, actor: str) -> MemoryEntry:
        """Remove an entry no later version revises (a revision deleted: its parent is the
        tip again). The journal keeps the line that says so."""
        reason = _reason(reason)
        e = self._visible(self.rows.get(entry_id), entry_id)
        if e["superseded_at"] is not None:
            raise VectorError(f"memory #{entry_id} was revised by #{e['superseded_by']} — delete the newest version "
                              f"(#{self._tip(entry_id)}) first, or retire it")
        self.rows.delete(e, actor, reason)
        return entry(e, now(), action="DELETE")

    def retire_where(self, index: str, where: str, reason: str, *, actor: str) -> list[MemoryEntry]:
        """Retire the live entries of `index` that pass a SQL condition over their fields
        (operation, approach, actor, created_at, valid_from, valid_until, version) and their
        scope's columns; return them."""
        from core.memory.boost import entries_passing

        reason = _reason(reason)
        idx, _, ds = self._index(index)
        live = [e for e in self.rows.select("index_name = ? AND retired_at IS NULL AND superseded_at IS NULL",
                                            (idx["name"],))]
        return [self.retire(e["id"], reason, actor=actor) for e in entries_passing(live, ds, where)]

    def retire_drifted(self, index: str, reason: str, *, actor: str) -> list[MemoryEntry]:
        """Retire the live entries of `index` made when its dataset had another schema."""
        reason = _reason(reason)
        idx, _, ds = self._index(index)
        fp = fingerprint(ds)
        drifted = self.rows.select("index_name = ? AND retired_at IS NULL AND superseded_at IS NULL AND "
                                   "fingerprint != ?", (idx["name"], fp))
        return [self.retire(e["id"], reason, actor=actor) for e in drifted]

    # -- reading ------------------------------------------------------------------------
    def _tip(self, entry_id: int) -> int:
        return self.history(entry_id)[-1].id

    def history(self, entry_id: int) -> list[MemoryEntry]:
        """The version chain root → tip through `entry_id`, whichever node it is; a cycle
        (a damaged store) ends the walk instead of looping."""
        start = self._visible(self.rows.get(entry_id), entry_id)
        up, seen, e = [start], {start["id"]}, start
        while e["parent_id"] is not None and e["parent_id"] not in seen and (e := self.rows.get(e["parent_id"])):
            up.append(e)
            seen.add(e["id"])
        down, e = [], start
        while e["superseded_by"] is not None and e["superseded_by"] not in seen and \
                (e := self.rows.get(e["superseded_by"])):
            down.append(e)
            seen.add(e["id"])
        chain, t = up[::-1] + down, now()
        return [entry(x, t) for x in chain]

    def show(self, entry_id: int) -> MemoryEntry:
        return entry(self._visible(self.rows.get(entry_id), entry_id))

    def listing(self, index: str | None = None, status: str = "live", limit: int = 100) -> list[MemoryEntry]:
        if status not in STATUSES:
            raise VectorError(f"unknown status {status!r} — one of {', '.join(STATUSES)}")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise VectorError(f"limit must be 0 (all) or more, got {limit!r}")
        if index is not None:
            names = [self._index(index)[0]["name"]]
        else:
            names = [i.name for i in self.vectors.list()]
        if not names:
            return []
        marks = ",".join("?" * len(names))
        t = now()
        out = [entry(e, t) for e in self.rows.select(f"index_name IN ({marks})", tuple(names))]
        out = [e for e in out if status == "all" or e.status == status]
        return out[-limit:] if limit else out

    def search(self, index: str, text: str, k: int = 10, status: str = "live") -> list[MemoryEntry]:
        """Memories of `index` most like `text` (embedded with the index's embedder)."""
        if not isinstance(text, str) or not text.strip():
            raise VectorError("the search text is empty — say what to look for")
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
            raise VectorError(f"k must be between 1 and {MAX_K}, got {k!r}")
        idx, gen, _ = self._index(index)
        q = self._embed(gen, text.strip(), "")
        t = now()
        near = self.rows.knn(gen["dim"], q, k, idx["name"], identity(gen), t)
        by_id = self.rows.by_ids(i for i, _ in near)
        return [entry(by_id[i], t, similarity=round(s, 6)) for i, s in near if i in by_id]


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise VectorError("say why (--reason): a retirement is journaled with its reason")
    return reason[:1000]
