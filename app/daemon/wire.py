"""The daemon's wire format, shared by the server and its clients: JSON-RPC 2.0, one JSON
object per line (docs/protocol.md is the spec) — messages, error codes and objects, and
the values they carry.

Values cross as plain JSON. A core dataclass carries its class name in "$type" so the
proxy can rebuild it, a table nested in a result is {"$table": {columns, types, rows,
arrow}}, scalars are as core.models.plain makes them. Anything else is refused
(Unencodable) rather than sent as a guess. The decoder rebuilds classes only from a table
of core's own, looked up by name: a peer's name never reaches an import or getattr.

Standard library only at import time, so a client moving small JSON results never loads
pyarrow or duckdb (app/fast.py).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import sys
import threading
from typing import Any

from core.errors import Hint, LakehouseError

VERSION = 1

# JSON-RPC 2.0 error codes; -32000..-32099 are ours.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
LAKEHOUSE_ERROR = -32000  # a core error: data = {"type", "exit_code"[, "hint", "hint_detail"]}
UNAUTHORIZED = -32001
SHUTTING_DOWN = -32002
BUSY = -32003  # this connection already runs [daemon] max_requests_per_client requests


# -- messages -----------------------------------------------------------------------------
def line(obj: dict) -> bytes:
    """One message: compact JSON and a newline. NaN and infinities are not JSON;
    encode() has already turned them into strings."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode() + b"\n"


def request(req_id, method: str, params) -> dict:
    return {"jsonrpc": "2.0", "id": req_id, "method": method, "params": params}


def response(req_id, result) -> dict:
    return {"jsonrpc": "2.0", "id": req_id, "result": result}


def error(req_id, code: int, message: str, data: dict | None = None) -> dict:
    err = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": req_id, "error": err}


def notification(method: str, params: dict) -> dict:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def request_problem(msg) -> str | None:
    """What makes a received line no valid request, or None."""
    if isinstance(msg, list):
        return "batches are not supported — send one request per line"
    if not isinstance(msg, dict):
        return "a request is a JSON object"
    if msg.get("jsonrpc") != "2.0":
        return 'a request needs "jsonrpc": "2.0"'
    if not isinstance(msg.get("method"), str):
        return 'a request needs a "method" string'
    if "params" in msg and not isinstance(msg["params"], (list, dict)):
        return '"params" must be an array or an object'
    if "id" in msg and not (msg["id"] is None or isinstance(msg["id"], (str, int))) or isinstance(msg.get("id"), bool):
        return '"id" must be a string or an integer'
    return None


# -- errors both ways -------------------------------------------------------------------------
def core_error(req_id, e: LakehouseError) -> dict:
    """A core error as the client rebuilds it (raised()): its class by name, its sentence,
    its exit code, and its hint (what to do next) when it has one — as plain text for any
    client, and as the Hint's fields for the proxy to rebuild it."""
    data = {"type": type(e).__name__, "exit_code": e.exit_code}
    hint = getattr(e, "hint", None)
    if isinstance(hint, Hint):
        data["hint"] = hint.plain()
        try:
            data["hint_detail"] = encode(hint.to_dict())
        except Unencodable:  # an argument with no JSON form: the plain text still says it
            pass
    return error(req_id, LAKEHOUSE_ERROR, str(e), data)


def raised(err: dict) -> LakehouseError:
    """The server's error object as the exception the in-process facade would raise: the
    same class (any LakehouseError defined in core, looked up by name — never imported
    by it), message, exit code and hint (core.errors.Hint)."""
    data = err.get("data") if isinstance(err.get("data"), dict) else {}
    name = data.get("type")
    cls = core_class(name) if isinstance(name, str) else None
    if not (isinstance(cls, type) and issubclass(cls, LakehouseError)):
        cls = LakehouseError
    e = cls.__new__(cls)  # no constructor runs: the message is the whole error
    Exception.__init__(e, str(err.get("message", "the daemon reported an error")))
    code = data.get("exit_code")
    if err.get("code") == INTERNAL_ERROR:
        code = 70  # a bug in the daemon: the exit code the CLI gives a bug in-process
    if isinstance(code, int) and not isinstance(code, bool) and code != cls.exit_code:
        e.exit_code = code
    hint = Hint.from_dict(data.get("hint_detail"))
    if hint is None and isinstance(data.get("hint"), str):
        hint = Hint(data["hint"])
    if hint is not None:
        e.hint = hint
    return e


# -- values -------------------------------------------------------------------------------
class Unencodable(TypeError):
    """A value the wire has no form for. The daemon answers it as a bug (-32603, the
    traceback in its log): the facade returned something none of its values are."""


_scalars: tuple | None = None  # the scalar types core.models.plain gives a JSON form (imported when first needed)


def _plain_scalars() -> tuple:
    global _scalars
    if _scalars is None:
        from datetime import date, time, timedelta
        from decimal import Decimal
        from pathlib import PurePath
        from uuid import UUID

        # date covers datetime; PurePath, UUID and timedelta travel as their text
        _scalars = (float, date, time, Decimal, bytes, PurePath, UUID, timedelta)
    return _scalars


def encode(v: Any) -> Any:
    """A facade value as JSON: core dataclasses tagged with "$type", tables as "$table",
    containers element by element, scalars as core.models.plain makes them; any other
    value raises Unencodable."""
    if v is None or isinstance(v, (bool, int, str)):
        return v  # as plain() leaves it, without importing core.models (app/fast.py's budget)
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        name = type(v).__name__
        if core_class(name) is not type(v):
            raise Unencodable(f"cannot send a {type(v).__module__}.{name} over the daemon's wire: only dataclasses "
                              "defined in core travel (by class name)")
        out = {"$type": name}
        for f in dataclasses.fields(v):
            out[f.name] = encode(getattr(v, f.name))
        return out
    if isinstance(v, dict):
        return {str(k): encode(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [encode(x) for x in v]
    if is_arrow_table(v):
        return {"$table": table_json(v)}
    if type(v).__module__ == "numpy":  # numpy scalars and arrays
        return encode(v.tolist())
    if isinstance(v, _plain_scalars()):
        from core.models import plain

        return plain(v)
    raise Unencodable(f"cannot send a {type(v).__module__}.{type(v).__qualname__} over the daemon's wire: it is "
                      "none of the facade's values (a core dataclass, a table, a container or a plain scalar)")


def is_arrow_table(v: Any) -> bool:
    return type(v).__module__.startswith("pyarrow") and type(v).__name__ == "Table"


def is_arrow_reader(v: Any) -> bool:
    return type(v).__module__.startswith("pyarrow") and type(v).__name__ == "RecordBatchReader"


def table_json(t) -> dict:
    """A small table both ways: JSON rows any client can read, and the exact Arrow IPC
    bytes (base64) the proxy rebuilds it from, types intact."""
    return {"columns": t.column_names, "types": [str(x) for x in t.schema.types],
            "rows": [[encode(x) for x in r] for r in zip(*(c.to_pylist() for c in t.columns))]
            if t.num_columns else [],
            "arrow": base64.b64encode(arrow_bytes(t)).decode()}


def arrow_bytes(t) -> bytes:
    """A table (or one batch) as a complete Arrow IPC stream: schema, batches, end."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, t.schema) as w:
        if isinstance(t, pa.RecordBatch):
            w.write_batch(t)
        else:
            w.write_table(t)
    return sink.getvalue().to_pybytes()


def read_arrow(data: bytes):
    import pyarrow as pa

    return pa.ipc.open_stream(data).read_all()


class UnknownType(LakehouseError):
    """The peer sent a value this side cannot rebuild (a different lakehouse version)."""


def decode(v: Any) -> Any:
    """encode()'s inverse, for the proxy: "$type" objects become the facade's
    dataclasses again and "$table" objects pyarrow Tables."""
    if isinstance(v, list):
        return [decode(x) for x in v]
    if not isinstance(v, dict):
        return v
    if "$type" in v:
        return _rebuild(v)
    if "$table" in v and len(v) == 1:
        return read_arrow(base64.b64decode(v["$table"]["arrow"]))
    return {k: decode(x) for k, x in v.items()}


def _rebuild(v: dict):
    name = v["$type"]
    cls = core_class(name) if isinstance(name, str) else None
    if cls is None or not dataclasses.is_dataclass(cls):
        raise UnknownType(f"the daemon sent a {name!r}, which this lakehouse does not know — run the same "
                          "lakehouse version as the daemon")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {k: decode(x) for k, x in v.items() if k in fields}
    try:
        obj = cls(**{k: x for k, x in values.items() if fields[k].init})
    except TypeError:  # a required field missing
        raise UnknownType(f"the daemon sent a {name} without {', '.join(sorted(set(fields) - set(values)))} "
                          "— run the same lakehouse version as the daemon") from None
    for k, x in values.items():  # fields the constructor does not take
        if not fields[k].init:
            object.__setattr__(obj, k, x)
    return obj


# -- the classes a peer may name ------------------------------------------------------------
_CLASSES: dict[str, type] = {}
_walked = False
_classes_lock = threading.Lock()


def _collect(modules) -> None:
    """Add the facade's classes defined in these core modules: dataclasses (results) and
    LakehouseError subclasses (errors), by class name."""
    for mod in modules:
        for name, obj in list(vars(mod).items()):
            if (isinstance(obj, type) and obj.__module__ == mod.__name__ and not name.startswith("_")
                    and (dataclasses.is_dataclass(obj) or issubclass(obj, LakehouseError))):
                other = _CLASSES.setdefault(name, obj)
                if other is not obj:  # one name, one class: the wire carries bare names
                    raise RuntimeError(f"{other.__module__}.{name} and {mod.__name__}.{name} share a "
                                       "name — rename one; the daemon's protocol names classes by name alone")


def core_class(name: str) -> type | None:
    """The core class called `name`, or None. The lookup is a dictionary built from the
    core package's own modules — a peer's name never reaches an import or getattr, so a
    hostile daemon can only ever get our own dataclasses and errors built. Modules already
    imported are looked at first; the whole package is walked once on a miss."""
    global _walked
    with _classes_lock:
        if name not in _CLASSES:
            # a copy in one C call: another thread importing cannot change it under us
            _collect([m for n, m in sys.modules.copy().items() if m is not None and (n == "core" or n.startswith("core."))])
        if name not in _CLASSES and not _walked:
            import importlib
            import pkgutil

            import core

            found = []
            for info in pkgutil.walk_packages(core.__path__, "core."):
                try:
                    found.append(importlib.import_module(info.name))
                except ImportError:  # an optional dependency missing here: its classes cannot arrive
                    continue
            _collect(found)
            _walked = True
        return _CLASSES.get(name)


def all_core_classes() -> dict[str, type]:
    """Every class core_class() knows (the whole package walked): for tests and docs."""
    core_class("\0")  # a name no class has: forces the walk
    return dict(_CLASSES)
