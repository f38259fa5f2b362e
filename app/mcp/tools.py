"""Which facade operations an agent gets as MCP tools, and how they are described,
checked, called and answered. No MCP SDK here: server.py speaks the protocol.

Tools are generated from the operation registry (core.api.OPERATIONS): the name is the
operation's, the description its summary plus what each parameter means, the input
schema comes from the method's signature (annotations, defaults, required). What is
exposed is the small declared policy below, never the whole registry: read tools always,
write tools only when the server was started with --allow-writes (and then each needs
`confirm: true`). Lifecycle and in-process operations (remote=False), profile
administration, activation and jobs are never tools. The facade's own profile checks
still decide every call: a restricted profile writes only its own datasets.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The declared policy: operations (by registry name) an agent may call
READ_TOOLS = ("datasets", "dataset", "describe", "tags", "sql_rows", "search", "rows_query", "ask", "history",
              "versions", "audit", "indexes", "index", "trials", "evals", "memory_search", "memory_list",
              "memory_show", "memory_history", "column_profile", "policy", "contracts", "freshness",
              "check_contract")
# a name the registry does not have (yet) is skipped: the policy may name what others add
WRITE_TOOLS = ("ingest", "update", "delete", "restore", "memory_add", "memory_retire", "promote", "tag")

# never arguments: the server supplies them (actor: the client) or they are in-process plumbing
_HIDDEN = {"progress", "cancel", "on_token", "actor", "job_id"}
# integer arguments that size a result: at most [mcp] max_rows
_SIZE_PARAMS = {"limit", "k", "sample_rows"}
# a record's key as rows show it (a number too): the facade takes its text, as the CLI gives it
_KEY_PARAMS = {"update.key", "delete.key", "history.key"}

# wording the registry's summaries have for the daemon's clients, said for an agent
_SUMMARIES = {
    "ingest": "ingest files, directories or globs (absolute paths on the machine running this server), or a "
              "postgresql:// URL with query or table; per-source results",
    "sql_rows": "run one read-only SQL query (DuckDB dialect) over the datasets: columns, types, the first "
                "`limit` rows and the true row_count",
}

# what parameters mean: "tool.param" first, then "param"
PARAM_DOCS = {
    "name": "a dataset's name (the datasets tool lists them)",
    "dataset": "a dataset's name (the datasets tool lists them)",
    "index": "an index name (the indexes tool lists them)",
    "index.name": "an index name (the indexes tool lists them)",
    "sql_rows.text": "one read-only SQL statement over the datasets, which are tables by their names",
    "search.text": "what to look for, in words: hits are ranked by meaning",
    "memory_search.text": "what the memories should be about, in words",
    "limit": "the most rows or entries returned",
    "as_of": "read the data as it was: a version number (one dataset) or a timestamp",
    "k": "how many hits",
    "where": "a SQL condition over the source dataset's columns: only rows passing it are ranked",
    "search.memory": "re-rank with playbook memory (null: the profile's setting)",
    "ef": "HNSW search breadth (null: the index's setting)",
    "embedder": "embedder to use (null: the index's own)",
    "key": "the record's primary-key value (a list for a composite key)",
    "ingest.key": "the column(s) forming the dataset's primary key",
    "values": "column name -> new value (as text)",
    "reason": "why: kept with the change in the journal",
    "version": "the version to restore (the versions tool lists them)",
    "question": "a question about the data, in words",
    "mode": "auto (routes the question), sql (NL->SQL) or rag (answers from passages, cited)",
    "ingest.mode": "create, append, replace or upsert (null: create, or append to an existing dataset)",
    "model": "the chat model (null: the configured one)",
    "sample_rows": "rows of sample data included",
    "paths": "a path, directory or glob (or a list of them), absolute on the machine running this server",
    "format": "the files' format (null: detected)",
    "types": "column types to force, e.g. {\"zip\": \"VARCHAR\"}",
    "query": "for a postgresql:// source: the SELECT to ingest",
    "table": "for a postgresql:// source: the schema.table to ingest",
    "incremental_by": "for a postgresql:// source: a column; only rows past the last high-water mark are fetched",
    "schema_change": "refuse (default), additive (take added columns) or accept",
    "column_map": "incoming column -> dataset column, e.g. \"full_name=first_name\"",
    "profile": "whose audit entries (only an unrestricted profile may ask for another's)",
    "since": "only entries after this timestamp",
    "best": "only the best trial (top recall)",
    "pareto": "only the Pareto front",
    "entry_id": "a memory's id",
    "operation": "what the endorsed rows were good for, in words",
    "keys": "row keys of the dataset's rows (as search hits name them)",
    "row_keys": "row keys of the dataset's rows (as search hits name them)",
    "approach": "how the rows were found, in words",
    "scope": "the conditions the memory holds under, e.g. {\"city\": \"Chicago\"}",
    "valid_from": "the memory applies from this timestamp",
    "valid_until": "the memory applies until this timestamp",
    "status": "live, retired, superseded, expired, pending or all",
    "drifted": "retire the index's memories made under another schema",
    "gen": "an index generation number (the index tool lists them)",
    "column": "a column's name",
    "tag.tag": "pii, financial, health, or none to clear it",
    "tags.dataset": "a dataset's name (null: every dataset this profile sees)",
}

_JSON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "list": "array",
               "dict": "object", "None": "null"}
_PY = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,), "array": (list,),
       "object": (dict,), "null": (type(None),)}
_WORDS = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
          "array": "an array", "object": "an object", "null": "null"}


class ArgError(Exception):
    """Arguments a tool cannot take: one sentence naming the tool and the argument."""


@dataclass
class Tool:
    name: str
    op: Any  # core.api.Operation
    write: bool
    params: dict[str, inspect.Parameter]  # the ones an agent passes
    types: dict[str, list[str] | None]  # JSON types per param (None: any)
    description: str
    schema: dict
    summary: str = ""  # what it does, lower case (the unconfirmed write's sentence uses it)

    @property
    def takes_actor(self) -> bool:
        return "actor" in inspect.signature(self.op.func).parameters

    @property
    def takes_cancel(self) -> bool:
        """The operation stops early when its `cancel` event is set (a stopping server sets it)."""
        return "cancel" in inspect.signature(self.op.func).parameters


def build(allow_writes: bool) -> dict[str, Tool]:
    """The tools this server offers, by name: generated from the registry under the policy."""
    import core.lakehouse  # noqa: F401  (its decorators fill the registry)
    from core.api import OPERATIONS

    tools = {}
    for name in READ_TOOLS + (WRITE_TOOLS if allow_writes else ()):
        op = OPERATIONS.get(name)
        write = name in WRITE_TOOLS
        # never an in-process operation, and never a mutating one offered as a read
        if op is None or not op.remote or op.scope == "profile-admin" or (op.mutates and not write):
            continue
        tools[name] = _tool(op, write)
    return tools


def _tool(op, write: bool) -> Tool:
    sig = inspect.signature(op.func)
    params = {p.name: p for p in list(sig.parameters.values())[1:] if p.name not in _HIDDEN}
    types = {n: ["string", "integer", "array"] if f"{op.name}.{n}" in _KEY_PARAMS else _types(p.annotation)
             for n, p in params.items()}
    props, required = {}, []
    for n, p in params.items():
        prop: dict[str, Any] = {"description": _doc(op.name, n)}
        t = types[n]
        if t:
            prop["type"] = t[0] if len(t) == 1 else t
            if "array" in t and isinstance(p.annotation, str) and "list[str]" in p.annotation:
                prop["items"] = {"type": "string"}
        if p.default is p.empty:
            required.append(n)
        elif p.default is not None and isinstance(p.default, (str, int, float, bool)):
            prop["default"] = p.default
        props[n] = prop
    if write:
        props["confirm"] = {"type": "boolean", "default": False,
                            "description": "true to do it; without it the tool only says what it would do"}
    schema = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = required
    summary = _SUMMARIES.get(op.name, op.summary.replace("**", ""))
    text = summary[0].upper() + summary[1:] + "."
    if write:
        text += (" Changes data, journaled and audited with this client's name: call it with confirm=true "
                 "(without it, it only says what it would do).")
    if params:
        text += " Parameters: " + "; ".join(f"{n} — {_doc(op.name, n)}" for n in params) + "."
    return Tool(op.name, op, write, params, types, text, schema, summary)


def _doc(tool: str, param: str) -> str:
    return PARAM_DOCS.get(f"{tool}.{param}") or PARAM_DOCS.get(param) or param.replace("_", " ")


def _types(annotation) -> list[str] | None:
    """The JSON types a string annotation allows (None: not only plain JSON types, so any)."""
    if not isinstance(annotation, str):
        return None
    out = []
    for part in annotation.split("|"):
        base = part.strip().split("[", 1)[0]
        if base not in _JSON_TYPES:
            return None
        out.append(_JSON_TYPES[base])
    return out


def check(tool: Tool, args, max_rows: int) -> tuple[dict, bool]:
    """The call's keyword arguments and its confirm flag, or ArgError saying what is wrong."""
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ArgError(f"{tool.name}: arguments are a JSON object")
    args = dict(args)
    confirm = args.pop("confirm", False) if tool.write else False
    if not isinstance(confirm, bool):
        raise ArgError(f"{tool.name}: 'confirm' must be true or false, got {_show(confirm)}")
    unknown = sorted(set(args) - set(tool.params))
    if unknown:
        raise ArgError(f"{tool.name} takes no argument {unknown[0]!r} — its arguments: "
                       f"{', '.join([*tool.params, *(['confirm'] if tool.write else [])]) or 'none'}")
    missing = [n for n, p in tool.params.items() if p.default is p.empty and n not in args]
    if missing:
        raise ArgError(f"{tool.name} needs {', '.join(repr(m) for m in missing)} ({_doc(tool.name, missing[0])})")
    for n, v in args.items():
        allowed = tool.types[n]
        if allowed and not _fits(v, allowed):
            raise ArgError(f"{tool.name}: {n!r} must be {' or '.join(_WORDS[t] for t in allowed)}, got {_show(v)}")
        if n in _SIZE_PARAMS and isinstance(v, int) and not isinstance(v, bool) and not 0 <= v <= max_rows:
            raise ArgError(f"{tool.name}: {n!r} = {v} is outside 0..{max_rows}, the rows a tool result may hold "
                           "([mcp] max_rows) — narrow the query or page with LIMIT/OFFSET")
    for n in [n for n in args if f"{tool.name}.{n}" in _KEY_PARAMS]:
        v = args[n]
        args[n] = [_text(x) for x in v] if isinstance(v, list) else _text(v)
    return args, confirm


def _text(v) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def _fits(v, allowed: list[str]) -> bool:
    if isinstance(v, bool):
        return "boolean" in allowed
    return any(isinstance(v, _PY[t]) for t in allowed)


def _show(v) -> str:
    return json.dumps(v, default=str)[:60]


def to_json(v: Any, max_rows: int) -> Any:
    """A facade result as plain JSON: dataclasses as objects, an Arrow table as
    {columns, types, rows, row_count} with at most max_rows rows, scalars as the daemon
    and sql_rows carry them (dates ISO, decimals strings, bytes hex, NaN/inf strings)."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: to_json(getattr(v, f.name), max_rows) for f in dataclasses.fields(v)}
    if isinstance(v, dict):
        return {str(k): to_json(x, max_rows) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [to_json(x, max_rows) for x in v]
    if type(v).__module__.startswith("pyarrow") and type(v).__name__ == "Table":
        head = v.slice(0, max_rows)
        return {"columns": v.column_names, "types": [str(t) for t in v.schema.types],
                "rows": [[to_json(x, max_rows) for x in r] for r in zip(*(c.to_pylist() for c in head.columns))]
                if v.num_columns else [], "row_count": v.num_rows}
    if type(v).__module__ == "numpy":
        return to_json(v.tolist(), max_rows)
    from core.models import plain

    return plain(v)


# a libpq-style `password=...` (or secret, token) anywhere in a string: an agent may put one in any argument
_KV_SECRET = re.compile(r"(?i)\b(password|passwd|pwd|secret|token|api_key)(\s*[=:]\s*)('[^']*'|\"[^\"]*\"|[^\s&;,]+)")
_SECRET_KEYS = ("password", "passwd", "secret", "token", "api_key")


def redacted(v: Any) -> Any:
    """Arguments as the audit keeps them: a URL's password, a `password=...` in any text
    and the value of any password-, secret- or token-named key replaced by ***."""
    from core.ingest.secrets import redact

    if isinstance(v, str):
        v = redact(v, safe=True) if "://" in v else v
        return _KV_SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}***", v)
    if isinstance(v, dict):
        return {k: "***" if any(w in str(k).lower() for w in _SECRET_KEYS) else redacted(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [redacted(x) for x in v]
    return v


def targets(args: dict) -> list[str]:
    """The datasets or indexes a call names (the audit's `datasets` column)."""
    return sorted({v for n in ("name", "dataset", "index") if isinstance(v := args.get(n), str)})


def allowed_source(tool: Tool, kwargs: dict, dirs: str) -> None:
    """ArgError unless every path an agent's ingest names lies in one of `dirs` ([mcp]
    ingest_dirs, comma-separated): `confirm` comes from the agent itself, so without a
    list of folders a person chose it could read any file this process can (keys, other
    projects) or reach any database with this user's credentials."""
    if tool.name != "ingest":
        return
    folders = [Path(os.path.realpath(os.path.expanduser(d.strip()))) for d in dirs.split(",") if d.strip()]
    if not folders:
        raise ArgError("ingest: no folder is open to agents — a person lists the folders an agent may ingest "
                       "from in [mcp] ingest_dirs (lakehouse.toml)")
    paths = kwargs.get("paths")
    for raw in paths if isinstance(paths, list) else [paths]:
        if not isinstance(raw, str) or "://" in raw or "=" in raw:  # never echoed: it may hold a password
            raise ArgError("ingest: a database URL or connection string is not a file path — an agent ingests "
                           "files from [mcp] ingest_dirs only")
        parts = Path(os.path.expanduser(raw)).parts
        fixed = parts[:next((i for i, p in enumerate(parts) if any(c in p for c in "*?[")), len(parts))]
        where = Path(os.path.realpath(Path(*fixed) if fixed else "."))
        if not any(where == d or d in where.parents for d in folders):
            raise ArgError(f"ingest: {raw[:200]!r} is outside the folders open to agents ([mcp] ingest_dirs: "
                           f"{', '.join(map(str, folders))})")


def outside_root(tool: Tool, kwargs: dict, protected: list) -> None:
    """ArgError when an ingest path reaches into the storage root (or the config file):
    its Delta files are every profile's data and policy.key unmasks hashed columns, so
    an agent reading them as a new dataset would step over its profile and its policy."""
    if tool.name != "ingest":
        return
    paths = kwargs.get("paths")
    fenced = [Path(os.path.realpath(p)) for p in protected if p]
    for raw in paths if isinstance(paths, list) else [paths]:
        if not isinstance(raw, str) or "://" in raw:
            continue
        parts = Path(os.path.expanduser(raw)).parts
        fixed = parts[:next((i for i, p in enumerate(parts) if any(c in p for c in "*?[")), len(parts))]
        where = Path(os.path.realpath(Path(*fixed) if fixed else "."))
        wild = len(fixed) < len(parts) or where.is_dir()  # a glob or a directory reaches below `where`
        for f in fenced:
            if where == f or f in where.parents or (wild and where in f.parents):
                raise ArgError(f"ingest: {raw[:200]!r} reaches into the lakehouse's own files ({f}) — an agent "
                               "ingests only files outside the storage root")
