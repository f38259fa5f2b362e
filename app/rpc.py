"""The daemon's wire protocol, shared by the server (app/daemon.py) and its clients
(app/remote.py): JSON-RPC 2.0, one JSON object per line; docs/protocol.md is the spec.

Standard library only at import time, so a client moving small JSON results never
loads pyarrow or duckdb. Values cross the wire as plain JSON; a facade dataclass
carries its class name in "$type" so the proxy can rebuild it, and a table nested in
a result is sent as {"$table": {columns, types, rows, arrow}}.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from core.errors import LakehouseError

VERSION = 1

# JSON-RPC 2.0 error codes; -32000..-32099 are ours.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
LAKEHOUSE_ERROR = -32000  # a core error: data = {"type": class name, "exit_code": n}
UNAUTHORIZED = -32001
SHUTTING_DOWN = -32002


# -- files of one storage root's daemon -------------------------------------------------
def runtime_dir() -> Path:
    """Where default sockets live: the user's runtime dir (XDG_RUNTIME_DIR, usually
    /run/user/UID), else a per-user directory in the temp dir."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg) and os.access(xdg, os.W_OK):
        return Path(xdg) / "lakehouse"
    return Path(tempfile.gettempdir()) / f"lakehouse-{os.getuid()}"


def default_socket(root: Path) -> Path:
    """One socket per storage root, named by a hash of its path (short enough for the
    108-byte limit on socket paths)."""
    return runtime_dir() / f"{hashlib.sha256(str(root).encode()).hexdigest()[:16]}.sock"


def state_file(root: Path) -> Path:
    return root / "daemon.json"  # pid, socket, tcp, start time: for `lakehouse status`


def lock_file(root: Path) -> Path:
    return root / "daemon.lock"  # held while a daemon serves the root: one per root


def token_file(root: Path) -> Path:
    return root / "daemon.token"  # the TCP token, 0600


def log_file(root: Path) -> Path:
    return root / "daemon.log"  # where a detached daemon writes


def parse_tcp(value: str) -> tuple[str, int]:
    """HOST:PORT (HOST defaults to 127.0.0.1)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--tcp {value!r} is not HOST:PORT — e.g. 127.0.0.1:7788")
    return host or "127.0.0.1", int(port)


# -- messages -----------------------------------------------------------------------------
def line(obj: dict) -> bytes:
    """One message: compact JSON and a newline. NaN and infinities are not JSON;
    encode() has already turned them into strings."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode() + b"\n"


def response(req_id, result) -> dict:
    return {"jsonrpc": "2.0", "id": req_id, "result": result}


def error(req_id, code: int, message: str, data: dict | None = None) -> dict:
    err = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": req_id, "error": err}


def core_error(req_id, e: LakehouseError) -> dict:
    """A core error as the client rebuilds it (app.remote): its class by name, its sentence,
    its exit code."""
    return error(req_id, LAKEHOUSE_ERROR, str(e), {"type": type(e).__name__, "exit_code": e.exit_code})


def notification(method: str, params: dict) -> dict:
    return {"jsonrpc": "2.0", "method": method, "params": params}


# -- values -------------------------------------------------------------------------------
def encode(v: Any) -> Any:
    """A facade value as JSON: dataclasses tagged with "$type", tables as "$table",
    everything else as core.models.plain makes it."""
    from core.models import plain

    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        out = {"$type": type(v).__name__}
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
    return plain(v)


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


# -- the classes a peer may name ------------------------------------------------------------
_CLASSES: dict[str, type] = {}
_walked = False
_classes_lock = threading.Lock()


def _collect(modules) -> None:
    """Add the facade's classes defined in these core modules: dataclasses (results) and
    LakehouseError subclasses (errors), by class name."""
    from core.errors import LakehouseError

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
            _collect([m for n, m in list(sys.modules.items()) if m is not None and (n == "core" or n.startswith("core."))])
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
    if "$table" in v and len(v) == 1:
        return read_arrow(base64.b64decode(v["$table"]["arrow"]))
    return {k: decode(x) for k, x in v.items()}
