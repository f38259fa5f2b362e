"""What a facade reads through, scoped to its profile: the SQL engine and the vector
layer (made on first use; activation warms new ones and hands them over), the datasets
the profile may name, and the profile's defaults for embedding."""

from __future__ import annotations

import threading
from pathlib import Path

from core.errors import ConfigError
from core.query.cache import parse_size


def cache_limit(config) -> int:
    raw = config.get("cache.memory_limit")
    try:
        return parse_size(raw)
    except ValueError:
        raise ConfigError(f"{config.sources.get('cache.memory_limit', 'config')}: key "
                          f"'cache.memory_limit' must be a size such as 512MB or 2GB, got {raw!r}") from None


def new_engine(config, catalog, root: Path, profile):
    """A SQL engine scoped to `profile`; the profile's limits override the config's."""
    from core.query.engine import Limits, SqlEngine

    c = config
    if c.get("sql.memory_limit"):
        try:
            parse_size(c.get("sql.memory_limit"))
        except ValueError:
            raise ConfigError(f"{c.sources.get('sql.memory_limit', 'config')}: key 'sql.memory_limit' must be "
                              f"a size such as 512MB or 4GB, got {c.get('sql.memory_limit')!r}") from None
    timeout = profile.sql_timeout_s if profile.sql_timeout_s is not None else c.get("sql.timeout_s")
    limits = Limits(timeout, c.get("sql.max_statement_bytes"), c.get("sql.max_query_blocks"))
    return SqlEngine(catalog, root, c.get("sql.threads"),
                     profile.sql_memory_limit or c.get("sql.memory_limit"), cache_limit(c), profile, limits,
                     guard_for(config, catalog, root, profile))


def guard_for(config, catalog, root: Path, profile):
    """The policies binding `profile` (None when none does: the engine reads raw)."""
    if not config.policies:
        return None
    from core.governance.policies import guard_for as bound

    from core.governance.scan import current_tags

    return bound(config.policies, profile.id, lambda name: current_tags(root, catalog, name), root)


class Reader:
    """A facade's SQL engine and vector layer for its current profile."""

    def __init__(self, root: Path, config, catalog, jobs, profile):
        self.root, self.config, self.catalog, self.jobs, self.profile = root, config, catalog, jobs, profile
        self.sql = None  # the engine, once made
        self.vectors_obj = None  # the vector layer, once made
        # two first queries at once (a daemon's workers) must share one engine: a query on a
        # second one would be out of interrupt_sql's reach
        self._making = threading.RLock()

    def new_engine(self, profile):
        return new_engine(self.config, self.catalog, self.root, profile)

    @property
    def engine(self):
        if self.sql is None:
            with self._making:
                if self.sql is None:
                    self.sql = self.new_engine(self.profile)
        return self.sql

    @property
    def vectors(self):
        if self.vectors_obj is None:
            from core.vectors.manager import Vectors

            with self._making:
                if self.vectors_obj is None:
                    self.vectors_obj = Vectors(self.root, self.config, self.catalog, lambda: self.engine,
                                               self.jobs, self.profile)
        return self.vectors_obj

    def switch(self, profile, engine=None, vectors=None) -> None:
        """Read as `profile` from now on, through `engine` and `vectors` when activation
        warmed them; generations already loaded stay loaded."""
        if self.sql is not None and self.sql is not engine:
            self.sql.close()
        self.sql = engine
        self.profile = profile
        if vectors is not None:
            self.vectors_obj = vectors
        elif self.vectors_obj is not None:
            self.vectors_obj.profile = profile

    def interrupt(self, thread: int | None) -> bool:
        return self.sql.interrupt(thread) if self.sql is not None else False

    def close(self) -> None:
        if self.sql is not None:
            self.sql.close()


def binding_problems(profile, catalog) -> list[str]:
    """What the profile's bindings point at that does not exist (the built-in one: none)."""
    from core.profiles.store import problems

    if not profile.defined:
        return []
    return problems(profile, [d.name for d in catalog.datasets.all()], [i["name"] for i in catalog.indexes.all()])


def embed_options(profile, embedder, model, m, ef_construction, ef_search) -> dict:
    """The profile's embedder, model and HNSW settings where the call gives none."""
    hnsw = profile.hnsw
    return dict(embedder=embedder or profile.embedder or None, model=model or profile.embed_model or None,
                m=m or hnsw.get("m"), ef_construction=ef_construction or hnsw.get("ef_construction"),
                ef_search=ef_search or hnsw.get("ef_search"))
