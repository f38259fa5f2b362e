"""Vectors: embed a text column into index generations, manage them, search them.

An index is a name bound to one dataset column and the columns that identify its
rows. Each `embed` run produces a generation (g1, g2, ...) recording the embedder,
chunking and HNSW settings it was built with. One generation is active; `promote`
and `rollback` move that pointer in one catalog transaction.

`Vectors` is the one entry point the facade and activation use; the work is done by
the registry (registry.py), the builder (build.py) and the searcher (search.py),
which share one VectorContext (context.py).
"""

from __future__ import annotations

from pathlib import Path

from core.errors import LakehouseError
from core.models import EmbedResult, Generation, IndexInfo, SearchResult
from core.vectors.build import Builder
from core.vectors.context import VectorContext, key_expr, parse_selector
from core.vectors.registry import IndexRegistry
from core.vectors.search import Searcher


class Vectors:
    def __init__(self, root: Path, cfg, catalog, engine_fn, jobs, profile=None):
        self.root, self.cfg, self.catalog = root, cfg, catalog
        self.ctx = VectorContext(root, cfg, catalog, engine_fn, jobs, profile)
        self.registry = IndexRegistry(self.ctx)
        self.builder = Builder(self.ctx, self.registry)
        self.searcher = Searcher(self.ctx, self.registry)

    # shared state, settable: the facade swaps the reader, activation hands over what is loaded
    @property
    def profile(self):
        return self.ctx.profile

    @profile.setter
    def profile(self, value) -> None:
        self.ctx.profile = value

    @property
    def cache(self):
        return self.ctx.cache

    def keep_loaded(self, other: "Vectors") -> None:
        """Share what `other` has loaded (generations, source rows): activation's new
        reader starts warm."""
        self.ctx.cache, self.searcher.row_cache = other.ctx.cache, other.searcher.row_cache

    @property
    def engine(self):
        return self.ctx.engine

    # -- registry --------------------------------------------------------------------------
    def require(self, name: str) -> dict:
        return self.registry.require(name)

    def info(self, name: str) -> IndexInfo:
        return self.registry.info(name)

    def list(self) -> list[IndexInfo]:
        return self.registry.list()

    def resolve(self, selector: str) -> tuple[dict, dict]:
        return self.registry.resolve(selector)

    def profile_generation(self, name: str, active: int) -> int:
        return self.registry.profile_generation(name, active)

    def promote(self, name: str, gen: int, actor: str = "") -> IndexInfo:
        return self.registry.promote(name, gen, actor)

    def rollback(self, name: str, actor: str = "") -> IndexInfo:
        return self.registry.rollback(name, actor)

    def drop(self, name: str, gen: int | None = None, actor: str = "") -> str:
        return self.registry.drop(name, gen, actor)

    def verify(self, name: str, gen: int | None = None) -> list[str]:
        return self.registry.verify(name, gen)

    def graph_wanted(self) -> dict:  # activation reports it
        return self.registry.graph_wanted()

    # -- building --------------------------------------------------------------------------
    def embed(self, dataset: str, column: str, **options) -> EmbedResult:
        """See Builder.embed for the options (index, key, chunking, embedder, HNSW, promote)."""
        return self.builder.embed(dataset, column, **options)

    def rebuild(self, name: str, gen: int, listener=None, cancel=None) -> Generation:
        return self.builder.rebuild(name, gen, listener, cancel)

    def ensure_profile_generation(self, info, listener=None, cancel=None) -> int:
        return self.builder.ensure_profile_generation(info, listener, cancel)

    # -- searching -------------------------------------------------------------------------
    def search(self, selector: str, text: str, k: int = 10, where: str | None = None,
               ef: int | None = None, embedder: str | None = None, q=None) -> SearchResult:
        return self.searcher.search(selector, text, k, where, ef, embedder, q)

    def warm(self, name: str, gen: int) -> None:
        self.searcher.warm(name, gen)

    def embedder(self, row: dict):  # activation warms an Ollama model through it
        return self.searcher.embedder(row)


__all__ = ["Vectors", "parse_selector", "key_expr", "LakehouseError"]
