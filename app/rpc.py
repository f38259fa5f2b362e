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
import json
import os
import stat
import sys
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
    /run/user/UID), else a per-user directory in the temp dir. Only the path: the server
    makes it with socket_dir(), and both sides check it (check_dir) before they trust it."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg) and os.access(xdg, os.W_OK):
        return Path(xdg) / "lakehouse"
    import tempfile  # here, not at the top: a client given its socket never needs it (app/fast.py)

    return Path(tempfile.gettempdir()) / f"lakehouse-{os.getuid()}"


# -- whom a socket belongs to (docs/protocol.md, "Who the client trusts") ---------------------
class Untrusted(LakehouseError):
    """The runtime directory, a socket or the process behind it belongs to someone else:
    refused before anything is sent or served."""

    exit_code = 1
    refused = True


def _who(st: os.stat_result) -> str:
    try:
        import pwd

        name = pwd.getpwuid(st.st_uid).pw_name
        return f"uid {st.st_uid} ({name})"
    except (ImportError, KeyError):
        return f"uid {st.st_uid}"


def check_dir(path: Path) -> None:
    """A socket's directory must be one that no other user can change. The default
    runtime directory (runtime_dir()) must be a real directory (not a symlink), ours, and
    private (mode & 0o077 == 0). A directory you configured ([daemon] socket, --socket) may
    be a symlink and may also belong to root, but no other user may write in it unless it
    is sticky like /tmp (then only the socket's owner can replace the socket, and that
    owner is checked). A directory that does not exist passes: nothing is there to trust."""
    path = Path(path)
    # runtime_dir()'s names only: the temp dir is looked up (tempfile imported) only when it could match
    private = path.name in ("lakehouse", f"lakehouse-{os.getuid()}") and path == runtime_dir()
    try:
        st = os.lstat(path) if private else os.stat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise Untrusted(f"cannot check the daemon's directory {path} ({e.strerror}) — set [daemon] socket to a "
                        "directory of your own") from None
    me = os.getuid()
    mode = stat.S_IMODE(st.st_mode)
    if private:
        fix = "remove it, or set XDG_RUNTIME_DIR to a private directory of yours"
        if stat.S_ISLNK(st.st_mode):
            raise Untrusted(f"refusing the daemon's runtime directory {path}: it is a symlink (to "
                            f"{os.readlink(path)}), not a directory, so whoever made it chooses where sockets go "
                            f"— {fix}")
        if not stat.S_ISDIR(st.st_mode):
            raise Untrusted(f"refusing the daemon's runtime directory {path}: it is not a directory — {fix}")
        if st.st_uid != me or mode & 0o077:
            raise Untrusted(f"refusing the daemon's runtime directory {path}: it belongs to {_who(st)} with mode "
                            f"{mode:04o}, and it must be yours (uid {me}) with no access for others (0700), or "
                            f"another user could swap in their own socket — {fix}")
        _check_ancestors(path, fix)
        return
    if not stat.S_ISDIR(st.st_mode):
        raise Untrusted(f"refusing the daemon's socket directory {path}: it is not a directory — choose "
                        "another [daemon] socket / --socket")
    if st.st_uid not in (me, 0) or (mode & 0o022 and not mode & stat.S_ISVTX):
        raise Untrusted(f"refusing the daemon's socket directory {path}: it belongs to {_who(st)} with mode "
                        f"{mode:04o}, so another user could swap in their own socket — use a directory of yours "
                        "that only you can write (chmod go-w), or choose another [daemon] socket / --socket")
    _check_ancestors(path, "use a directory of yours that only you can write, or choose another [daemon] "
                           "socket / --socket")


def _check_ancestors(path: Path, fix: str) -> None:
    """Every directory above a socket's directory, as written and as resolved, must belong
    to this user or root and be writable by no one else unless sticky (like /tmp): else
    another user could rename the socket's directory away and put their own in its place.
    A symlink on the way must belong to this user or root too."""
    me = os.getuid()
    seen = set()
    for chain in (Path(os.path.abspath(path)).parents, Path(os.path.realpath(path)).parents):
        for p in chain:
            if p in seen:
                continue
            seen.add(p)
            try:
                st = os.lstat(p)
            except OSError:
                continue  # gone or unreadable: the directory below it was checked itself
            mode = stat.S_IMODE(st.st_mode)
            if st.st_uid not in (me, 0) or (not stat.S_ISLNK(st.st_mode) and mode & 0o022
                                            and not mode & stat.S_ISVTX):
                raise Untrusted(f"refusing the daemon's socket directory {path}: {p} above it belongs to "
                                f"{_who(st)} with mode {mode:04o}, so another user could replace what is below "
                                f"it — {fix}")


def socket_dir(socket_path: Path) -> None:
    """The server's side: make the socket's directory (0700, never over something that is
    already there) and check it, so `serve` never listens in a directory another user made
    or can write."""
    parent = Path(socket_path).parent
    try:
        if parent == runtime_dir():
            os.mkdir(parent, 0o700)  # fails if anything (a squatter's directory, a symlink) is there
        else:
            parent.mkdir(parents=True, mode=0o700)
    except FileExistsError:
        pass
    except OSError as e:
        raise Untrusted(f"cannot make the daemon's socket directory {parent} ({e.strerror}) — set "
                        "[daemon] socket or --socket to a directory of yours") from None
    check_dir(parent)


def check_socket(address: str) -> None:
    """The client's side, before connecting: the socket's directory (check_dir) and the
    socket itself — a socket, owned by this user. A path where nothing is passes (the
    connect then says no daemon answers)."""
    path = Path(address)
    check_dir(path.parent)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise Untrusted(f"cannot check the daemon's socket {path} ({e.strerror})") from None
    if not stat.S_ISSOCK(st.st_mode):
        kind = "a symlink" if stat.S_ISLNK(st.st_mode) else "not a socket"
        raise Untrusted(f"refusing {path}: it is {kind}, not the daemon's socket — remove it and start the daemon "
                        "again with `lakehouse serve --detach`")
    if st.st_uid != os.getuid():
        raise Untrusted(f"refusing the socket {path}: it belongs to {_who(st)}, not to you (uid {os.getuid()}), so "
                        "the process behind it is not your daemon — remove it, or set XDG_RUNTIME_DIR to a "
                        "private directory of yours")


def peer_uid(sock) -> int | None:
    """The uid of the process at the other end of a connected Unix socket (SO_PEERCRED
    on Linux, getpeereid's LOCAL_PEERCRED on BSD and macOS); None where neither exists."""
    import socket as _socket
    import struct

    if hasattr(_socket, "SO_PEERCRED"):
        try:
            creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, struct.calcsize("3i"))
        except OSError:
            return None
        return struct.unpack("3i", creds)[1]
    if hasattr(_socket, "LOCAL_PEERCRED"):  # struct xucred: u_int version; uid_t uid; ...
        try:
            creds = sock.getsockopt(0, _socket.LOCAL_PEERCRED, struct.calcsize("2Ih16I"))  # 0: SOL_LOCAL
        except OSError:
            return None
        return struct.unpack("2I", creds[:8])[1]
    return None


def same_user(sock) -> bool:
    """True unless the peer's credentials say another user is at the other end (where a
    platform has none, the 0600 socket in a 0700 directory is the guard)."""
    uid = peer_uid(sock)
    return uid is None or uid == os.getuid()


def check_peer(sock, address: str) -> None:
    """The client's side, after connecting and before sending a byte: the process behind
    the socket must run as this user."""
    uid = peer_uid(sock)
    if uid is not None and uid != os.getuid():
        raise Untrusted(f"refusing the daemon at {address}: the process behind it runs as uid {uid}, not as you "
                        f"(uid {os.getuid()}), so it is not your daemon — nothing was sent; remove the socket and "
                        "start yours with `lakehouse serve --detach`")


def default_socket(root: Path) -> Path:
    """One socket per storage root, named by a hash of its path (short enough for the
    108-byte limit on socket paths)."""
    import hashlib

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
    if v is None or isinstance(v, (bool, int, str)):
        return v  # as plain() leaves it, without importing core.models (app/fast.py's budget)
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
    from core.models import plain

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
