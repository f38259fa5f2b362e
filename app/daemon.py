"""`lakehouse serve`: the core, headless, behind a local socket (docs/protocol.md).

One process keeps indexes loaded, tables cached and a model warm for every script,
CLI call and TUI that connects. asyncio owns the sockets; each request runs the facade
in a worker thread (each query gets its own DuckDB cursor, so the connection is never
used from two threads at once). Whatever a client sends, the server answers with a
JSON-RPC error or closes that one connection; it never goes down with it.
"""

from __future__ import annotations

import asyncio
import fcntl
import hmac
import inspect
import json
import os
import secrets
import signal
import socket
import stat
import struct
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from core.errors import LakehouseError

from . import rpc

# facade attributes that are not requests: lifecycle and internals
_NOT_METHODS = {"open", "close", "new_engine", "tables", "engine", "interrupt_sql"}  # clients send `cancel`
_CALLBACKS = {"progress", "on_token"}  # params a client sets to true to get notifications


def facade_methods() -> dict[str, inspect.Signature]:
    """Every public facade method a client may call, with its signature."""
    from core.lakehouse import Lakehouse

    out = {}
    for name, fn in inspect.getmembers(Lakehouse, inspect.isfunction):
        if not name.startswith("_") and name not in _NOT_METHODS:
            sig = inspect.signature(fn)
            out[name] = sig.replace(parameters=list(sig.parameters.values())[1:])  # without self
    return out


class DaemonError(LakehouseError):
    """The daemon cannot start: another serves the root, or its socket is in use."""


class _Request:
    def __init__(self, req_id, method: str):
        self.id, self.method = req_id, method
        self.cancel = threading.Event()  # set by a `cancel`: checked before the call starts
        self.thread: int | None = None  # the worker running it, to interrupt its query
        self.finished = False
        # held while interrupting self.thread, so the worker cannot move on to another
        # request (and have that one's query interrupted) in the middle of it
        self.lock = threading.Lock()


class _Conn:
    """One client connection. Everything written to it goes through the event loop, in
    the order it was posted, so a request's notifications precede its response."""

    def __init__(self, daemon: "Daemon", writer: asyncio.StreamWriter, transport: str):
        self.daemon, self.writer, self.transport = daemon, writer, transport
        self.authed = transport == "unix"
        self.profile: str | None = None
        self.pending: dict = {}  # request id -> _Request
        self.slots = asyncio.Semaphore(daemon.max_inflight)
        self.closed = False
        self.close_after = False

    def send(self, msg: dict | bytes) -> None:
        """Queue a message (loop thread only)."""
        if self.closed:
            return
        try:
            self.writer.write(msg if isinstance(msg, bytes) else rpc.line(msg))
        except (ConnectionError, RuntimeError):
            self.closed = True

    def post(self, msg: dict) -> None:
        """Queue a message from a worker thread."""
        self.daemon.loop.call_soon_threadsafe(self.send, msg)

    def post_and_wait(self, data: bytes, cancel: threading.Event) -> None:
        """Write from a worker thread and wait until the socket took it, so a big
        result streams at the client's pace with bounded memory."""
        fut = asyncio.run_coroutine_threadsafe(self._drain(data), self.daemon.loop)
        while True:
            try:
                fut.result(timeout=0.2)
                return
            except TimeoutError:
                if cancel.is_set():
                    fut.cancel()
                    raise rpc_cancelled()

    async def _drain(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionError("client went away")
        self.writer.write(data)
        await self.writer.drain()


def rpc_cancelled() -> LakehouseError:
    from core.errors import Cancelled

    return Cancelled("the request was cancelled by its client")


class Daemon:
    def __init__(self, home=None, config_file=None, socket_path: str | None = None,
                 tcp: str | None = None):
        from core import config as config_mod

        self.cfg = config_mod.load(home=home, config_file=config_file)
        self.home, self.config_file = home, config_file
        self.root = self.cfg.root
        self.socket_path = Path(socket_path or self.cfg.get("daemon.socket") or rpc.default_socket(self.root))
        tcp = tcp if tcp is not None else self.cfg.get("daemon.tcp")
        try:
            self.tcp = rpc.parse_tcp(tcp) if tcp else None
        except ValueError as e:
            from core.errors import ConfigError

            raise ConfigError(str(e)) from None  # a bad argument: exit 2
        self.max_line = self.cfg.get("daemon.max_line_mb") * 1024 * 1024
        self.max_inflight = self.cfg.get("daemon.max_inflight")
        self.grace = self.cfg.get("daemon.shutdown_grace_s")
        self.auth_timeout = self.cfg.get("daemon.auth_timeout_s")
        self.max_connections = self.cfg.get("daemon.max_connections")
        self.pool = ThreadPoolExecutor(self.cfg.get("daemon.workers"), thread_name_prefix="rpc")
        self.methods = facade_methods()
        self.facades: dict = {}  # profile id (None: the active one) -> Lakehouse
        self._facade_lock = threading.Lock()
        self.conns: set[_Conn] = set()
        self.served = 0
        self.started = time.time()
        self.token: str | None = None
        self._lock_fd: int | None = None
        self._servers: list = []
        self._stopping: asyncio.Event | None = None

    # -- lifecycle --------------------------------------------------------------------
    def claim(self) -> None:
        """Take the root's daemon lock and clear a crashed daemon's socket, or say
        which daemon already serves the root."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(rpc.lock_file(self.root), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            info = read_state(self.root) or {}
            raise DaemonError(f"a daemon already serves {self.root} (pid {info.get('pid', '?')}, socket "
                              f"{info.get('socket', '?')}) — `lakehouse status` shows it; stop it first") from None
        self._lock_fd = fd
        path = self.socket_path
        rpc.socket_dir(path)  # made 0700, or refused if another user made it or can write in it (app/rpc.py)
        if path.exists() or path.is_symlink():
            if not stat.S_ISSOCK(path.lstat().st_mode):
                raise DaemonError(f"{path} exists and is not a socket — remove it or choose another --socket")
            if _answers(path):  # a live server that is not ours (we hold the lock)
                raise DaemonError(f"socket {path} is in use by another process — choose another --socket")
            path.unlink()  # left behind by a daemon that crashed

    def open_facade(self) -> None:
        from core import Lakehouse

        self.facades[None] = Lakehouse.open(home=self.home, config_file=self.config_file)

    async def main(self, ready=None) -> None:
        self.loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self.loop.add_signal_handler(sig, self._stopping.set)
            except (ValueError, RuntimeError):  # not the main thread (tests run it in one)
                pass
        parent = self.socket_path.parent
        if not parent.exists():
            parent.mkdir(parents=True, mode=0o700)
            os.chmod(parent, 0o700)
        old = os.umask(0o177)  # the socket is born 0600
        try:
            self._servers.append(await asyncio.start_unix_server(
                lambda r, w: self._client(r, w, "unix"), path=str(self.socket_path), limit=self.max_line))
        finally:
            os.umask(old)
        os.chmod(self.socket_path, 0o600)
        if self.tcp:
            self.token = _token(self.root)
            self._servers.append(await asyncio.start_server(
                lambda r, w: self._client(r, w, "tcp"), host=self.tcp[0], port=self.tcp[1], limit=self.max_line))
        write_state(self.root, {"pid": os.getpid(), "socket": str(self.socket_path),
                                "tcp": f"{self.tcp[0]}:{self.tcp[1]}" if self.tcp else None,
                                "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                "version": rpc.VERSION})
        if ready is not None:
            ready()
        try:
            await self._stopping.wait()
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        for s in self._servers:
            s.close()
        await self._quiet(self.grace)  # running requests get the grace period to finish
        for c in self.conns:  # what is still running is cancelled: jobs checkpoint
            for r in c.pending.values():
                self._cancel(c, r)
        await self._quiet(self.grace)
        for c in list(self.conns):
            c.closed = True
            c.writer.close()
        self.pool.shutdown(wait=False, cancel_futures=True)
        for lh in self.facades.values():
            lh.close()  # flushes the audit log
        for f in (self.socket_path, rpc.state_file(self.root)):
            try:
                f.unlink()
            except FileNotFoundError:
                pass
        if self._lock_fd is not None:
            os.close(self._lock_fd)

    async def _quiet(self, seconds: float) -> None:
        """Wait until no request is in flight, or `seconds` pass."""
        deadline = time.monotonic() + seconds
        while any(c.pending for c in self.conns) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    # -- connections ------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, transport: str) -> None:
        conn = _Conn(self, writer, transport)
        if transport == "unix" and not _same_user(writer):
            conn.send(rpc.error(None, rpc.UNAUTHORIZED, "connection refused: this daemon serves only its own user"))
            await _close(writer)
            return
        if len(self.conns) >= self.max_connections:
            conn.send(rpc.error(None, rpc.UNAUTHORIZED, f"connection refused: this daemon already serves "
                                f"{len(self.conns)} connections ([daemon] max_connections) — try again later"))
            await _close(writer)
            return
        self.conns.add(conn)
        try:
            while not self._stopping.is_set():
                try:
                    if conn.authed:
                        raw = await reader.readline()
                    else:  # TCP before auth: a deadline, so silent connections cannot pile up
                        raw = await asyncio.wait_for(reader.readline(), self.auth_timeout)
                except asyncio.TimeoutError:
                    conn.send(rpc.error(None, rpc.UNAUTHORIZED, f"no auth within {self.auth_timeout:g} s — "
                                        "connection closed"))
                    break
                except (asyncio.LimitOverrunError, ValueError):
                    conn.send(rpc.error(None, rpc.INVALID_REQUEST,
                                        f"request line over {self.max_line // 1048576} MiB — send large inputs "
                                        "as files (e.g. ingest a path) or raise [daemon] max_line_mb"))
                    break
                except ConnectionError:
                    break
                if not raw:
                    break
                if raw.strip():
                    await conn.slots.acquire()  # backpressure: stop reading a flooding client
                    self._handle(conn, raw)
        finally:
            self.conns.discard(conn)
            conn.closed = True
            for r in list(conn.pending.values()):  # the client left: stop its work
                self._cancel(conn, r)
            await _close(writer)

    def _handle(self, conn: _Conn, raw: bytes) -> None:
        try:
            msg = json.loads(raw)
        except ValueError as e:
            conn.send(rpc.error(None, rpc.PARSE_ERROR, f"not JSON: {e}"))
            conn.slots.release()
            return
        req_id = msg.get("id") if isinstance(msg, dict) else None
        problem = _invalid(msg)
        if problem:
            conn.send(rpc.error(req_id, rpc.INVALID_REQUEST, problem))
            conn.slots.release()
            return
        method, params = msg["method"], msg.get("params", {})
        if method == "cancel":  # a notification: stop request params.id
            r = conn.pending.get(params.get("id")) if isinstance(params, dict) else None
            if r is not None:
                self._cancel(conn, r)
            conn.slots.release()
            return
        if not conn.authed and method != "auth":
            conn.send(rpc.error(req_id, rpc.UNAUTHORIZED, "send {\"method\": \"auth\", \"params\": {\"token\": ...}} "
                                "first — the token is in " + str(rpc.token_file(self.root))))
            conn.slots.release()
            if conn.transport == "tcp":
                conn.closed = True
                conn.writer.close()
            return
        if "id" in msg and req_id in conn.pending:
            conn.send(rpc.error(req_id, rpc.INVALID_REQUEST, f"request id {req_id!r} is already in flight"))
            conn.slots.release()
            return
        request = _Request(req_id, method)
        if "id" in msg:
            conn.pending[req_id] = request
        asyncio.ensure_future(self._run(conn, request, params, "id" in msg))

    async def _run(self, conn: _Conn, request: _Request, params, wants_reply: bool) -> None:
        try:
            reply = await self.loop.run_in_executor(self.pool, self._call, conn, request, params)
        except RuntimeError:  # the pool is shutting down
            reply = rpc.error(request.id, rpc.SHUTTING_DOWN, "the daemon is shutting down")
        finally:
            request.finished = True
            conn.pending.pop(request.id, None)
            conn.slots.release()
        self.served += 1
        if wants_reply:
            conn.send(reply)
        if conn.close_after:  # a wrong token: answer, then hang up
            conn.closed = True
            conn.writer.close()

    def _cancel(self, conn: _Conn, r: _Request) -> None:
        if r.cancel.is_set():
            return  # already cancelled (and being interrupted)
        r.cancel.set()
        self._interrupt(r, again=not self._is_job(r.method))

    def _is_job(self, method: str) -> bool:
        """A method that takes `cancel` gets the request's event and stops itself (recording
        its job as cancelled, as in-process); others are stopped by the daemon."""
        return method in self.methods and "cancel" in self.methods[method].parameters

    def _interrupt(self, r: _Request, again: bool) -> None:
        """Interrupt the queries of a cancelled request's worker. A request that has no query
        in DuckDB yet (queued for a worker, opening or warming the engine) has nothing to
        interrupt, and DuckDB forgets an interrupt that comes before a query starts: so it
        fires again every 50 ms until the request ends. A job (a method that takes `cancel`)
        gets one: it stops itself at its next checkpoint, cleanly."""
        with r.lock:
            if r.finished:
                return
            if r.thread is not None:
                for lh in list(self.facades.values()):
                    lh.interrupt_sql(thread=r.thread)
        if again:
            self.loop.call_later(0.05, self._interrupt, r, again)

    # -- requests ---------------------------------------------------------------------
    def _call(self, conn: _Conn, request: _Request, params) -> dict:
        """Run one request in a worker thread; return its response (or error) object."""
        with request.lock:
            request.thread = threading.get_ident()
        method, rid = request.method, request.id
        try:
            if request.cancel.is_set() and not self._is_job(method):  # cancelled while it waited for a worker
                raise rpc_cancelled()
            if method in _SERVER_METHODS:
                result = _SERVER_METHODS[method](self, conn, params)
            elif method in self.methods:
                result = self._facade_call(conn, request, params)
            else:
                return rpc.error(rid, rpc.METHOD_NOT_FOUND, f"no method {method!r} — `methods` lists them")
            if request.cancel.is_set() and conn.closed:
                return rpc.error(rid, rpc.LAKEHOUSE_ERROR, "cancelled")
            if rpc.is_arrow_table(result) or rpc.is_arrow_reader(result):
                return rpc.response(rid, self._stream(conn, request, result))
            return rpc.response(rid, rpc.encode(result))
        except _BadParams as e:
            return rpc.error(rid, rpc.INVALID_PARAMS, str(e))
        except LakehouseError as e:
            from core.errors import Cancelled

            if request.cancel.is_set() and not isinstance(e, Cancelled) and not self._is_job(method):
                e = rpc_cancelled()  # its query was interrupted: say why it stopped
            return rpc.core_error(rid, e)
        except Exception as e:  # a bug: one sentence for the client, the traceback in the log
            import traceback

            traceback.print_exc(file=sys.stderr)
            return rpc.error(rid, rpc.INTERNAL_ERROR, f"{method} failed unexpectedly: {type(e).__name__}: {e} "
                             f"— this is a bug in lakehouse; the daemon's log has the traceback")
        finally:
            with request.lock:  # from here on this worker's queries are another request's
                request.thread = None
                request.finished = True

    def facade(self, profile: str | None):
        """The facade a connection works through: the active profile's, or one opened
        for the profile it asked for."""
        with self._facade_lock:
            if profile not in self.facades:
                from core import Lakehouse

                self.facades[profile] = Lakehouse.open(home=self.home, config_file=self.config_file, profile=profile)
            return self.facades[profile]

    def _facade_call(self, conn: _Conn, request: _Request, params):
        sig = self.methods[request.method]
        try:
            bound = sig.bind(*params) if isinstance(params, list) else sig.bind(**params)
        except TypeError as e:
            raise _BadParams(f"wrong params for {request.method}{_show(sig)}: {e}") from None
        for name, value in bound.arguments.items():
            problem = _type_problem(sig.parameters[name].annotation, value)
            if problem:
                raise _BadParams(f"wrong params for {request.method}{_show(sig)}: {name!r} must be {problem}, "
                                 f"got {json.dumps(value)[:60]}")
        args = bound.arguments
        rid = request.id
        if args.get("progress") is True:
            args["progress"] = lambda ev: conn.post(rpc.notification("progress", {"id": rid, "event": rpc.encode(ev)}))
        if args.get("on_token") is True:
            args["on_token"] = lambda text: conn.post(rpc.notification("token", {"id": rid, "text": text}))
        for name in _CALLBACKS:
            if name in args and not callable(args[name]):
                args[name] = None
        if "cancel" in sig.parameters:
            args["cancel"] = request.cancel
        lh = self.facade(conn.profile)  # opening a profile's facade takes a while: check again
        if request.cancel.is_set() and not self._is_job(request.method):
            raise rpc_cancelled()
        return getattr(lh, request.method)(*bound.args, **bound.kwargs)

    def _stream(self, conn: _Conn, request: _Request, result) -> dict:
        """A table result as Arrow frames: each a notification line announcing N bytes,
        then N bytes holding one complete Arrow IPC stream (schema and one batch)."""
        reader = result.to_reader() if rpc.is_arrow_table(result) else result
        rows = frames = 0
        sent_schema = False
        try:
            for batch in reader:
                if request.cancel.is_set():
                    raise rpc_cancelled()
                self._frame(conn, request, rpc.arrow_bytes(batch))
                rows += batch.num_rows
                frames += 1
                sent_schema = True
            if not sent_schema:  # an empty result still says which columns it has
                self._frame(conn, request, rpc.arrow_bytes(reader.schema.empty_table()))
                frames += 1
        finally:
            reader.close()
        return {"$frames": {"rows": rows, "frames": frames}}

    def _frame(self, conn: _Conn, request: _Request, data: bytes) -> None:
        head = rpc.line(rpc.notification("frame", {"id": request.id, "bytes": len(data)}))
        conn.post_and_wait(head + data, request.cancel)

    def status(self) -> dict:
        running = [j.to_dict() for j in self.facades[None].jobs(20) if j.status == "running"]
        return {"pid": os.getpid(), "root": str(self.root), "socket": str(self.socket_path),
                "tcp": f"{self.tcp[0]}:{self.tcp[1]}" if self.tcp else None,
                "uptime_s": round(time.time() - self.started, 1), "clients": len(self.conns),
                "requests": self.served, "jobs": running, "profiles_open": sorted(p or "" for p in self.facades)}


class _BadParams(Exception):
    pass


# JSON value types each plain annotation accepts (the facade's annotations are strings)
_JSON_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "None": (type(None),),
               "list": (list,), "dict": (dict,)}
_TYPE_WORDS = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
               "None": "null", "list": "an array", "dict": "an object"}


def _type_problem(annotation, value) -> str:
    """What a parameter must be when `value` does not fit its annotation ("" when it fits,
    or when the annotation is not a plain JSON type and the method checks it itself)."""
    if not isinstance(annotation, str):
        return ""
    parts = [p.strip().split("[", 1)[0] for p in annotation.split("|")]
    if not parts or any(p not in _JSON_TYPES for p in parts):
        return ""
    if isinstance(value, bool) and "bool" not in parts:
        ok = False
    else:
        ok = any(isinstance(value, _JSON_TYPES[p]) for p in parts)
    return "" if ok else " or ".join(_TYPE_WORDS[p] for p in parts)


def _show(sig: inspect.Signature) -> str:
    return "(" + ", ".join(p.name for p in sig.parameters.values() if p.name not in ("cancel",)) + ")"


def _invalid(msg) -> str | None:
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


# -- methods of the server itself (not of the facade) ----------------------------------
def _m_session(d: Daemon, conn: _Conn, params) -> dict:
    """Pick the profile this connection works as; return what a proxy needs up front."""
    params = params if isinstance(params, dict) else {}
    profile = params.get("profile") or None
    lh = d.facade(profile)
    conn.profile = profile
    return {"version": rpc.VERSION, "pid": os.getpid(), "root": str(lh.root), "profile": rpc.encode(lh.profile),
            "config": lh.config.values, "recovery_notes": lh.recovery_notes,
            "profile_problems": lh.profile_problems,
            "methods": {n: [p for p in s.parameters if p != "cancel"] for n, s in d.methods.items()}}


def _m_auth(d: Daemon, conn: _Conn, params) -> dict:
    token = params.get("token") if isinstance(params, dict) else None
    if not isinstance(token, str) or d.token is None or not hmac.compare_digest(token.encode(), d.token.encode()):
        conn.close_after = True
        raise LakehouseError(f"wrong token — read it from {rpc.token_file(d.root)}")
    conn.authed = True
    return {"ok": True}


def _m_methods(d: Daemon, conn: _Conn, params) -> dict:
    return {n: {"params": [p for p in s.parameters if p != "cancel"],
                "doc": (inspect.getdoc(getattr(_facade_class(), n)) or "").split("\n\n")[0]}
            for n, s in sorted(d.methods.items())}


def _facade_class():
    from core.lakehouse import Lakehouse

    return Lakehouse


_SERVER_METHODS = {
    "session": _m_session,
    "auth": _m_auth,
    "status": lambda d, conn, params: d.status(),
    "methods": _m_methods,
    "ping": lambda d, conn, params: "pong",
}


# -- helpers ------------------------------------------------------------------------------
def _same_user(writer: asyncio.StreamWriter) -> bool:
    sock = writer.get_extra_info("socket")
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (OSError, AttributeError):  # no peer credentials on this platform: the 0600 socket guards it
        return True
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid == os.getuid()


async def _close(writer: asyncio.StreamWriter) -> None:
    try:
        writer.close()
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass


def _answers(path: Path) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _token(root: Path) -> str:
    """The TCP token: made once per root, readable only by its owner."""
    path = rpc.token_file(root)
    if path.exists():
        os.chmod(path, 0o600)
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def write_state(root: Path, info: dict) -> None:
    tmp = rpc.state_file(root).with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2))
    tmp.replace(rpc.state_file(root))


def read_state(root: Path) -> dict | None:
    try:
        return json.loads(rpc.state_file(root).read_text())
    except (OSError, ValueError):
        return None


def serve(home=None, config_file=None, socket_path=None, tcp=None, announce=None) -> None:
    """Run a daemon in this process until SIGTERM or SIGINT."""
    d = Daemon(home, config_file, socket_path, tcp)
    d.claim()
    d.open_facade()
    asyncio.run(d.main(ready=(lambda: announce(d)) if announce else None))
