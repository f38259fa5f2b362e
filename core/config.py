"""Configuration: documented defaults, the user's lakehouse.toml, env and flags.

Precedence (lowest to highest): built-in default < config file < environment < flag.
Every effective value remembers where it came from, so `lakehouse config` can say.
The repo's lakehouse.toml documents every key in SCHEMA with its default (tested).

The checker is our own (SCHEMA plus `_check_type`, ~30 lines), not a schema library:
measured for issue 15, msgspec adds ~11 ms to this module's import and pydantic-settings
~100-160 ms, and this module is on the `lakehouse sql` fast path (bench/RESULTS.md §13,
~60 ms in all). Neither says what ours says — the file, the dotted key, the value that was
given and, for an unknown key or section, the known ones (msgspec: "Expected `int`, got
`str` - at `$.sql.threads`") — so keeping the messages would mean parsing theirs back
into ours. The environment only relocates the root (LAKEHOUSE_HOME), which is not what
pydantic-settings' per-field environment variables do.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.trials.front import OBJECTIVES

# section -> key -> (type, default, one-line doc)
SCHEMA: dict[str, dict[str, tuple[type, Any, str]]] = {
    "storage": {
        "root": (str, "", "storage root; empty = the platform data dir (LAKEHOUSE_HOME / --home override)"),
    },
    "ingest": {
        "row_group_rows": (int, 122880, "rows per Parquet row group (~120K keeps scans parallel)"),
        "target_file_mb": (int, 128, "target size of one data file in a Delta table"),
        "batch_rows": (int, 122880, "rows per Arrow batch streamed from the reader to the writer"),
        "sample_bytes": (int, 1048576, "bytes read up front to detect a CSV's dialect and validate its structure"),
        "memory_limit": (str, "1GB", "DuckDB memory limit while ingesting (bounds RAM for big files)"),
    },
    "postgres": {
        "secrets_file": (str, "", "TOML file (mode 0600) of passwords for postgresql:// sources, one per \"user@host[:port]/db\" under [passwords]; empty = none (PGPASSWORD and ~/.pgpass still apply)"),
        "connect_timeout_s": (int, 10, "seconds to wait for a PostgreSQL server to answer before the ingest fails"),
    },
    "sql": {
        "threads": (int, 0, "DuckDB threads for queries; 0 = one per core"),
        "memory_limit": (str, "", "DuckDB memory limit for queries, e.g. '4GB'; empty = DuckDB's default"),
        "display_rows": (int, 100, "rows printed by table output; the remainder is counted, never dropped silently"),
        "timeout_s": (float, 300.0, "a query running longer is interrupted with one sentence; 0 = no limit (a profile's sql_timeout_s overrides)"),
        "max_statement_bytes": (int, 1048576, "longer statements are refused before planning; 0 = no limit"),
        "max_query_blocks": (int, 2000, "statements with more SELECT/JOIN/UNION blocks are refused before planning (the planner ignores memory_limit); 0 = no limit"),
    },
    "tables": {
        "keyed_file_mb": (int, 4, "data file target for datasets with a primary key, so updating a row rewrites a small file"),
        "auto_compact_files": (int, 64, "compact a dataset after a commit once it has more small files than this; 0 = never"),
        "small_file_mb": (int, 16, "files smaller than this count as small for auto-compaction"),
        "vacuum_retain_hours": (int, 168, "default retention of `compact --vacuum`: older unreferenced files are removed"),
    },
    "ollama": {
        "host": (str, "", "Ollama server; empty = $OLLAMA_HOST, else http://127.0.0.1:11434 (a bare host gets port 11434)"),
        "timeout_s": (float, 60.0, "seconds to wait for one Ollama request before giving up (the client's own default is forever)"),
        "retries": (int, 3, "retries, with backoff, of a transient Ollama failure (busy, 5xx, dropped connection)"),
        "embed_model": (str, "nomic-embed-text", "embedding model used by the ollama embedder"),
        "embed_batch": (int, 16, "texts per /api/embed request; kept modest because large batches can drift from single-input results"),
        "num_ctx": (int, 0, "context window to request for embeddings; 0 = the model's own; longer inputs are split, never truncated"),
        "chat_model": (str, "qwen2.5:7b", "model that writes SQL and answers for `lakehouse ask`"),
        "chat_num_ctx": (int, 8192, "context window of every chat request (one value, so requests never force a model reload)"),
        "num_predict": (int, 1024, "most tokens one reply may generate before it counts as cut short"),
        "max_continuations": (int, 2, "times a cut-short reply is continued before the call fails with its numbers"),
        "keep_alive": (str, "5m", "how long Ollama keeps the chat model loaded after a request (Ollama duration, e.g. 5m, 1h, -1)"),
    },
    "ask": {
        "row_limit": (int, 200, "most rows an NL->SQL answer fetches (the true count is reported)"),
        "sample_values": (int, 3, "sample values per column shown to the model in the schema prompt"),
        "examples": (int, 3, "accepted question->SQL pairs shown to the model as examples"),
        "sql_attempts": (int, 3, "tries for the model to write SQL that runs (the error is shown to it each time)"),
        "rag_k": (int, 6, "passages retrieved for a RAG answer"),
        "min_score": (float, 0.15, "below this best retrieval score the answer is 'the data does not say'"),
        "index": (str, "", "index RAG searches; empty = the only index, or the first one"),
    },
    "vectors": {
        "embedder": (str, "auto", "auto (Ollama when reachable, else hashing), ollama, or hashing (built-in, offline)"),
        "hashing_dim": (int, 384, "dimension of the built-in hashing embedder"),
        "chunk_size": (int, 1000, "characters per chunk when embedding a text column"),
        "overlap": (int, 150, "characters shared by consecutive chunks"),
        "index_kind": (str, "hnsw", "hnsw (approximate, fast) or exact (NumPy brute force)"),
        "hnsw_m": (int, 16, "HNSW links per node (M): more = better recall, more memory"),
        "hnsw_ef_construction": (int, 80, "HNSW build beam (ef_construction): more = better graph, slower build"),
        "hnsw_ef_search": (int, 64, "HNSW search beam (ef_search): recall@10 >= 0.99 on the 100K x 768 benchmark"),
        "exact_max": (int, 10000, "hybrid search scans the filtered rows exactly when at most this many chunks pass the filter"),
        "max_k": (int, 1000, "largest number of results one search may ask for"),
        "cache_mb": (int, 4096, "memory for loaded index generations; least recently used are evicted"),
        "row_cache_mb": (int, 256, "indexed datasets up to this size keep their rows in memory for search results; bigger ones are read with SQL"),
        "keep_generations": (int, 5, "generations kept per index (the active one always is); 0 = keep all"),
    },
    "trials": {
        "min_recall": (float, 0.95, "autotune never promotes a configuration under this recall@k (a profile's autotune_min_recall overrides)"),
        "objective": (str, "p50", "what an autotune's promotion lowers: p50, p95, build or memory (a profile's autotune_objective overrides)"),
        "keep_graphs": (int, 20, "trial graphs kept per index besides the Pareto front's: the newest this many; the rest are removed"),
    },
    "memory": {
        "search": (bool, False, "searches use playbook memory without --memory (a profile's memory key overrides)"),
        "ask": (bool, True, "Ask's retrieval uses playbook memory (a profile's memory key overrides)"),
        "top": (int, 10, "memories nearest the query that may boost a search"),
        "min_similarity": (float, 0.3, "a memory boosts only when its cosine similarity to the query is at least this"),
        "weight": (float, 0.05, "boost per matching memory for each row it endorses, times its similarity"),
        "cap": (float, 0.15, "the most one row's score can gain from memories, however many endorse it"),
        "half_life_days": (float, 0.0, "a memory's boost halves every this many days of age; 0 = no decay"),
    },
    "watch": {
        "settle_s": (float, 2.0, "a watched file is ingested once its size and mtime have not changed for this many seconds"),
        "rescan_s": (float, 30.0, "watched folders are walked again this often, catching what file events missed"),
        "refresh_s": (float, 5.0, "the process running watches brings auto-refreshing indexes up to date this often; 0 = only after its own ingests"),
    },
    "cache": {
        "memory_limit": (str, "1GB", "memory for pinned datasets copied into DuckDB; least recently used are evicted"),
    },
    "audit": {
        "flush_s": (float, 1.0, "seconds between writes of the audit log; a crash loses at most this much of it"),
    },
    "retention": {
        "audit_days": (int, 0, "audit entries older than this many days are deleted by the retention job; 0 = keep forever"),
        "errors_days": (int, 0, "errors-journal entries older than this many days are deleted; 0 = keep forever"),
        "journal_days": (int, 0, "record-level change events (history) older than this are deleted; Delta versions and restore are untouched; 0 = keep forever"),
        "asks_days": (int, 0, "asked questions older than this are deleted (accepted ones are kept); 0 = keep forever"),
    },
    "tui": {
        "theme": (str, "lakehouse-dark", "the workstation's theme: lakehouse-dark or lakehouse-light (--theme overrides)"),
    },
    "daemon": {
        "socket": (str, "", "Unix socket of `lakehouse serve`; empty = one per storage root in the user's runtime dir"),
        "tcp": (str, "", "also listen on HOST:PORT (loopback unless you say otherwise; clients need the token file)"),
        "auto_connect": (bool, False, "CLI commands use a running daemon for this storage root when there is one"),
        "max_line_mb": (int, 16, "largest request line a client may send; a longer one gets an error and the connection closes"),
        "workers": (int, 16, "threads serving requests at once (one DuckDB cursor each; the connection is never shared)"),
        "max_requests_per_client": (int, 4, "requests one connection may have running at once; past it a request gets an error at once (ping, cancel and status are never refused)"),
        "shutdown_grace_s": (float, 10.0, "on SIGTERM the daemon exits within this many seconds: jobs checkpoint, queries get half of it to finish, then are interrupted"),
        "auth_timeout_s": (float, 5.0, "a TCP connection that has not authenticated by then is closed"),
        "max_auth_line_bytes": (int, 4096, "largest line a TCP connection may send before it has authenticated"),
        "io_timeout_s": (float, 30.0, "a started request line must arrive, and a client must take result bytes, within this many seconds; else its connection is closed"),
        "idle_timeout_s": (float, 600.0, "a connection with nothing in flight and nothing sent for this long is closed (0 = never)"),
        "max_connections": (int, 512, "connections served at once; past it a new one gets one refusal line and is closed (unauthenticated TCP ones may fill half)"),
        "max_connections_per_peer": (int, 64, "TCP connections one address may hold at once; past it a new one gets one refusal line and is closed"),
        "max_json_rows": (int, 100000, "largest limit, k or sample_rows a JSON result may ask for over the daemon (sql_stream has no limit)"),
        "log_max_mb": (float, 5.0, "daemon.log is rotated past this size (a detached daemon's log)"),
        "log_backups": (int, 3, "rotated daemon.log files kept (daemon.log.1 ...)"),
        "client_connect_timeout_s": (float, 5.0, "a client (--remote, tui --connect) gives up connecting to the daemon after this"),
        "client_timeout_s": (float, 30.0, "a client gives up when the daemon answers neither a control call (session, status) nor, "
                             "during a long call, a ping within this; long queries and jobs are never cut off; 0 = wait forever"),
    },
    "jobs": {
        "keep": (int, 500, "finished jobs kept in the job list"),
    },
    "demo": {
        "offer_on_first_run": (bool, True, "offer to load the demo workload when the storage root is empty"),
        "scale": (float, 1.0, "size of the demo workload (1 = 2.47M rows) offered on first run and made by `lakehouse demo`"),
    },
    "mcp": {
        "calls_per_minute": (int, 60, "calls of one read tool an MCP client may make in any minute; past it the call is refused with when to retry; 0 = no limit"),
        "write_calls_per_minute": (int, 10, "calls of one write tool an MCP client may make in any minute; 0 = no limit"),
        "max_rows": (int, 200, "most rows (or entries) one MCP tool result carries; a larger limit, k or sample_rows is refused"),
        "ingest_dirs": (str, "", "folders (comma-separated) an agent's ingest may read files from; empty = none: the ingest tool refuses every path and database URL"),
    },
}

# sections of named tables ([profiles.NAME], ...) -> the module whose parse(raw, path) validates them
NAMED: dict[str, str] = {
    "profiles": "core.profiles.store",
    "policies": "core.governance.policies",
    "contracts": "core.governance.contracts",
}

def named_tables(raw: Any, path, section: str, valid, what: str):
    """(name, table) of each [SECTION.NAME] table, refusing a malformed one in one sentence:
    `valid` is a compiled pattern names must match, `what` says what a name must be."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: '{section}' must be tables like [{section}.NAME], got {raw!r}")
    for name, table in raw.items():
        if not valid.fullmatch(name):
            raise ConfigError(f"{path}: [{section}.{name}] — {what}")
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{section}.{name}] must be a table of keys, got {table!r}")
        yield name, table


_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", float: "a number"}


def default_config_file() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("lakehouse")) / "lakehouse.toml"


def default_root() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("lakehouse"))


@dataclass
class Config:
    values: dict[str, dict[str, Any]]
    sources: dict[str, str] = field(default_factory=dict)
    file: Path | None = None
    profiles: dict = field(default_factory=dict)  # id -> core.profiles.store.Profile, as defined in the file
    policies: dict = field(default_factory=dict)  # name -> core.governance.policies.Policy ([policies.NAME])
    contracts: dict = field(default_factory=dict)  # dataset -> core.governance.contracts.Contract ([contracts.NAME])
    profile: str | None = None  # --profile, else LAKEHOUSE_PROFILE; None: the activated one, else default

    @property
    def writable_file(self) -> Path:
        """Where profile edits go: the file in use, else where it would be read from."""
        if self.file is not None:
            return self.file
        root = self.values["storage"]["root"]
        src = self.sources.get("storage.root", "")
        return Path(root) / "lakehouse.toml" if src in ("--home", "LAKEHOUSE_HOME") else default_config_file()

    def get(self, dotted: str) -> Any:
        section, key = dotted.split(".", 1)
        return self.values[section][key]

    @property
    def root(self) -> Path:
        return Path(self.values["storage"]["root"]).expanduser().resolve()

    def items(self):
        """(dotted key, value, source) for every key, in schema order: the value in use.
        An empty ollama.host means $OLLAMA_HOST, read when Ollama is called (as Ollama's
        own client does), so it is shown from the environment."""
        for section, keys in SCHEMA.items():
            for key in keys:
                dotted = f"{section}.{key}"
                value, source = self.values[section][key], self.sources.get(dotted, "default")
                if dotted == "ollama.host" and not value and os.environ.get("OLLAMA_HOST"):
                    value, source = os.environ["OLLAMA_HOST"], "OLLAMA_HOST"
                yield dotted, value, source


def _check_type(path: Path, dotted: str, value: Any, typ: type) -> Any:
    ok = isinstance(value, typ) and not (typ is int and isinstance(value, bool))
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        ok, value = True, float(value)
    if not ok:
        raise ConfigError(
            f"{path}: key '{dotted}' must be {_TYPE_NAMES[typ]}, got {type(value).__name__} {value!r}"
        )
    if typ is int and value < 0:
        raise ConfigError(f"{path}: key '{dotted}' must not be negative, got {value}")
    if dotted in _RULES and not _RULES[dotted][0](value):
        raise ConfigError(f"{path}: key '{dotted}' must be {_RULES[dotted][1]}, got {value!r}")
    return value


# keys whose type is not enough: checked when the file loads, not when a job first reads them
_RULES = {
    "trials.min_recall": (lambda v: 0 < v <= 1, "above 0 and at most 1"),
    "trials.objective": (lambda v: v in OBJECTIVES, f"one of {', '.join(OBJECTIVES)}"),
    "memory.top": (lambda v: 1 <= v <= 1000, "between 1 and 1000"),
    "memory.min_similarity": (lambda v: -1 <= v <= 1, "a cosine similarity between -1 and 1"),
    "memory.weight": (lambda v: 0 <= v <= 1, "between 0 and 1"),
    "memory.cap": (lambda v: 0 <= v <= 1, "between 0 and 1"),
    "memory.half_life_days": (lambda v: v >= 0, "0 or more"),
    "mcp.calls_per_minute": (lambda v: v >= 0, "0 or more"),
    "mcp.write_calls_per_minute": (lambda v: v >= 0, "0 or more"),
    "mcp.max_rows": (lambda v: v >= 1, "1 or more"),
}


def read_file(path: Path) -> dict[str, Any]:
    """Parse and validate one config file; return {section: {key: value}}."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist — check the --config path") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {path} cannot be read ({e})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML — {e}") from None
    out: dict[str, dict[str, Any]] = {}
    for section, keys in data.items():
        if section in NAMED:  # named tables ([profiles.NAME] ...), each validated by its own module
            import importlib

            out[section] = importlib.import_module(NAMED[section]).parse(keys, path)
            continue
        if section not in SCHEMA:
            raise ConfigError(
                f"{path}: unknown section [{section}] — known sections: {', '.join([*SCHEMA, *NAMED])}"
            )
        if not isinstance(keys, dict):
            raise ConfigError(f"{path}: '{section}' must be a table ([{section}]), got {keys!r}")
        for key, value in keys.items():
            if key not in SCHEMA[section]:
                raise ConfigError(
                    f"{path}: unknown key '{section}.{key}' — known keys in [{section}]: "
                    f"{', '.join(SCHEMA[section])}"
                )
            typ = SCHEMA[section][key][0]
            out.setdefault(section, {})[key] = _check_type(path, f"{section}.{key}", value, typ)
    return out


def load(home: str | Path | None = None, config_file: str | Path | None = None,
         env: dict[str, str] | None = None, profile: str | None = None) -> Config:
    """Build the effective config.

    home: the --home flag (relocates all state). config_file: the --config flag.
    With a home (flag or LAKEHOUSE_HOME) and no --config, the config file is
    HOME/lakehouse.toml, so a relocated root carries its own settings.
    """
    env = os.environ if env is None else env
    values = {s: {k: spec[1] for k, spec in keys.items()} for s, keys in SCHEMA.items()}
    sources: dict[str, str] = {}

    env_home = env.get("LAKEHOUSE_HOME") or None
    if config_file is not None:
        path: Path | None = Path(config_file).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist — check the --config path")
    elif home is not None or env_home is not None:
        path = Path(home if home is not None else env_home).expanduser() / "lakehouse.toml"
    else:
        path = default_config_file()
    if path is not None and path.is_file():
        parsed = read_file(path)
        named = {n: parsed.pop(n, {}) for n in NAMED}
        if named["policies"]:  # a policy binding a misspelt profile would leave the real one unmasked
            from core.governance.policies import check_bindings

            check_bindings(named["policies"], named["profiles"], path)
        for section, keys in parsed.items():
            for key, value in keys.items():
                values[section][key] = value
                sources[f"{section}.{key}"] = str(path)
    else:
        path, named = None, {}

    if home is not None:
        values["storage"]["root"] = str(Path(home).expanduser().resolve())
        sources["storage.root"] = "--home"
    elif env_home is not None:
        values["storage"]["root"] = str(Path(env_home).expanduser().resolve())
        sources["storage.root"] = "LAKEHOUSE_HOME"
    elif not values["storage"]["root"]:
        values["storage"]["root"] = str(default_root())
        sources["storage.root"] = "default (platform data dir)"
    return Config(values=values, sources=sources, file=path, profiles=named.get("profiles", {}),
                  policies=named.get("policies", {}), contracts=named.get("contracts", {}),
                  profile=(profile or env.get("LAKEHOUSE_PROFILE") or None))
