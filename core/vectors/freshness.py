"""The facade's index refresh (a part of `core.Lakehouse`): indexes that stay fresh.

When a dataset changes, each index over it with `auto_refresh` on is embedded again with
its active generation's exact settings — only chunks not embedded before reach the
embedder — and, the settings being unchanged, the new generation goes live (the refresh
rule of `embed`). The CLI's ingest calls this after writing; the live runner (daemon, TUI)
calls it after its own ingests and every few seconds to catch any other change.
"""

from __future__ import annotations

import threading

from core.api import operation
from core.errors import LakehouseError
from core.models import RefreshOutcome
from core.ops.jobs import Listener
from core.text import count


class FreshnessOps:
    """Mixed into Lakehouse: uses its `indexes`, `index` and `embed`."""

    @operation("re-embed stale indexes (auto_refresh on, or the one named) into new live generations; "
               "a RefreshOutcome each", remote=True, scope="index", audited=True, mutates=True, retryable=True)
    def refresh(self, dataset: str | None = None, *, index: str | None = None, actor: str | None = None,
                progress: Listener | None = None, cancel: threading.Event | None = None) -> list[RefreshOutcome]:
        """Refresh the stale indexes over `dataset` (or every dataset) whose auto_refresh is on;
        `index` names one index to refresh whatever its setting. An index that fails (its model
        is not installed, say) is reported and the others still run."""
        infos = [self.index(index)] if index else [
            i for i in self.indexes() if i.auto_refresh and (dataset is None or i.dataset == dataset)]
        out = []
        for info in infos:
            a = info.active
            if a is None or not info.stale or info.dataset_version is None:
                if index:
                    out.append(RefreshOutcome(info.name, info.dataset, "up-to-date", info.active_gen,
                                              message=f"{info.name} is up to date"))
                continue
            try:
                r = self.embed(info.dataset, info.column, index=info.name, key=info.key,
                               chunk_size=a.chunk_size, overlap=a.overlap, embedder=a.provider, model=a.model,
                               kind=a.kind, m=a.m, ef_construction=a.ef_construction, ef_search=a.ef_search,
                               actor=actor or "refresh", progress=progress, cancel=cancel)
            except LakehouseError as e:
                if type(e).__name__ == "Cancelled":
                    raise
                out.append(RefreshOutcome(info.name, info.dataset, "failed", info.active_gen, message=(
                    f"index {info.name} was not refreshed: {e} — refresh it again once that is fixed (the "
                    "current generation keeps serving)")))
                continue
            if r.up_to_date:
                status, msg = "up-to-date", f"index {info.name} is up to date (g{r.active_gen})"
            elif r.active_gen == r.gen:
                status, msg = "refreshed", (f"index {info.name}: g{r.gen} live ({count(r.embedded, 'chunk')} "
                                            f"embedded, {r.reused:,} reused)")
            else:  # the active generation's model changed under it (a new digest): the user decides
                status, msg = "not-live", (f"index {info.name}: g{r.gen} built but not live (its "
                                           f"embedder's model changed) — promote g{r.gen} to make it live")
            out.append(RefreshOutcome(info.name, info.dataset, status, r.active_gen, r.embedded, msg))
        return out

    @operation("turn an index's automatic refresh on or off", remote=True, scope="index", mutates=True)
    def set_auto_refresh(self, index: str, on: bool) -> None:
        name = self.index(index).name
        self.catalog.indexes.set_auto_refresh(name, bool(on))
