"""`lakehouse serve`: the core, headless, behind a local socket (docs/protocol.md).

One process keeps indexes loaded, tables cached and a model warm for every script,
CLI call and TUI that connects. asyncio owns the sockets; each request runs the facade
in a worker thread (each query gets its own DuckDB cursor, so the connection is never
used from two threads at once). Whatever a client sends, the server answers with a
JSON-RPC error or closes that one connection; it never goes down with it.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
import logging
import logging.handlers
import os
import secrets
import signal
import socket
import stat
import struct
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from core.errors import LakehouseError
from core.storage.locks import try_lock

from . import rpc

_CALLBACKS = {"progress", "on_token"}  # params a client sets to true to get notifications


def facade_methods() -> dict[str, inspect.Signature]:
    """Every facade method a client may call — the operations declared remote in
    core.api (lifecycle ones are not; clients send `cancel`) — with its signature."""
    import core.lakehouse  # noqa: F401  (declares the operations)
    from core.api import remote_operations

    out = {}
    for name, op in remote_operations().items():
        sig = inspect.signature(op.func)
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

    def __init__(self, daemon: "Daemon", writer: asyncio.StreamWriter, transport: str, peer):
        self.daemon, self.writer, self.transport = daemon, writer, transport
        self.peer = peer  # who is on the other end: ("tcp", ip) or ("pid", pid), for fair scheduling
        self.authed = transport == "unix"
        self.profile: str | None = None
        self.pending: dict = {}  # request id -> _Request: every request that runs work
        self.control = 0  # control calls (session, status, methods) in flight
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

    def hang_up(self) -> None:
        self.closed = True
        self.writer.close()

    def post(self, msg: dict) -> None:
        """Queue a message from a worker thread."""
        self.daemon.loop.call_soon_threadsafe(self.send, msg)

    def post_and_wait(self, data: bytes, cancel: threading.Event) -> None:
        """Write from a worker thread and wait until the socket took it, so a big
        result streams at the client's pace with bounded memory: a slow reader holds
        back its own query, nobody else's. A reader that takes nothing for
        [daemon] io_timeout_s is disconnected (and its request cancelled)."""
        fut = asyncio.run_coroutine_threadsafe(self._drain(data), self.daemon.loop)
        while True:
            try:
                fut.result(timeout=0.2)
                return
            except TimeoutError:
                if fut.done():  # the drain itself timed out: the client stopped reading
                    raise ConnectionError("the client stopped reading") from None
                if cancel.is_set():
                    fut.cancel()
                    raise rpc_cancelled() from None

    async def _drain(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionError("client went away")
        self.writer.write(data)
        try:
            await asyncio.wait_for(self.writer.drain(), self.daemon.io_timeout)
        except asyncio.TimeoutError:
            self.daemon.log_limited("stalled", "closed a connection that took no result bytes for "
                                    f"{self.daemon.io_timeout:g} s ([daemon] io_timeout_s)")
            self.hang_up()
            raise


def rpc_cancelled() -> LakehouseError:
    from core.errors import Cancelled

    return Cancelled("the request was cancelled by its client")


# answered on the event loop itself: never queued behind anything
_LOOP_METHODS = {"ping", "auth", "cancel"}
# answered by a small executor of their own: never queued behind queries
_CONTROL_METHODS = {"session", "status", "methods"}
# facade methods whose result is a table: sent as Arrow frames, streamed batch by batch
_STREAMED = {"sql", "sql_stream"}
# integer params that size a JSON result: capped at [daemon] max_json_rows
_SIZE_PARAMS = {"limit", "k", "sample_rows"}
BUSY = -32003  # this connection already runs [daemon] max_requests_per_client requests
_READ_CHUNK = 65536


class _LimitedLog:
    """One log line per kind of event per `every` seconds, with a count of the ones held
    back: a flood of failed accepts or refused connections cannot grow daemon.log."""

    def __init__(self, logger: logging.Logger, every: float = 10.0):
        self.logger, self.every = logger, every
        self.last: dict[str, float] = {}
        self.held: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, kind: str, message: str, exc_info=None) -> None:
        now = time.monotonic()
        with self.lock:
            if now - self.last.get(kind, -1e9) < self.every:
                self.held[kind] = self.held.get(kind, 0) + 1
                return
            self.last[kind] = now
            held = self.held.pop(kind, 0)
        if held:
            message += f" (and {held} more like it in the last {self.every:g} s)"
        self.logger.warning(message, exc_info=exc_info)


class Daemon:
    def __init__(self, home=None, config_file=None, socket_path: str | None = None,
                 tcp: str | None = None, profile: str | None = None):
        from core import config as config_mod

        self.cfg = config_mod.load(home=home, config_file=config_file, profile=profile)
        self.home, self.config_file, self.own_profile = home, config_file, profile
        self.root = self.cfg.root
        self.socket_path = Path(socket_path or self.cfg.get("daemon.socket") or rpc.default_socket(self.root))
        tcp = tcp if tcp is not None else self.cfg.get("daemon.tcp")
        try:
            self.tcp = rpc.parse_tcp(tcp) if tcp else None
        except ValueError as e:
            from core.errors import ConfigError

            raise ConfigError(str(e)) from None  # a bad argument: exit 2
        get = self.cfg.get
        self.max_line = get("daemon.max_line_mb") * 1024 * 1024
        self.max_auth_line = get("daemon.max_auth_line_bytes")
        self.per_client = max(1, get("daemon.max_requests_per_client"))
        self.grace = get("daemon.shutdown_grace_s")
        self.auth_timeout = get("daemon.auth_timeout_s")
        self.io_timeout = get("daemon.io_timeout_s")
        self.idle_timeout = get("daemon.idle_timeout_s") or None
        self.max_connections = get("daemon.max_connections")
        self.per_peer = get("daemon.max_connections_per_peer")
        self.max_json_rows = get("daemon.max_json_rows")
        self.workers = max(1, get("daemon.workers"))
        self.peer_workers = max(1, self.workers // 2)  # one peer never holds every worker
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="rpc")
        self.control_pool = ThreadPoolExecutor(4, thread_name_prefix="rpc-control")
        self.methods = facade_methods()
        self.facades: dict = {}  # profile id (None: the daemon's own) -> Lakehouse
        self._facade_lock = threading.Lock()
        self.conns: set[_Conn] = set()
        self.total = 0  # connections admitted (Unix and TCP)
        self.by_peer: dict = {}  # TCP peer ip -> its connections
        self.preauth = 0  # TCP connections not yet authenticated
        self._tcp_sock: socket.socket | None = None
        self._accept_paused = None  # the timer that resumes accepting TCP
        self._accept_backoff = 0.0
        self._flood_pause = 0.0
        self._refusal_window = [0.0, 0]  # start of the current second, refusals in it
        self.queues: dict = {}  # peer -> deque of (fn, future) waiting for a worker (round robin)
        self.running: dict = {}  # peer -> requests it has in workers
        self.busy = 0
        self.served = self.refused = 0
        self.started = time.time()
        self.token: str | None = None
        self.log = logging.getLogger("lakehouse.daemon")
        self.log_limited = _LimitedLog(self.log)
        self.hard_exit = False  # workers still stuck at the end of the grace period
        self._lock_fd: int | None = None
        self._servers: list = []
        self._tasks: set = set()  # each connection's task
        self._stopping: asyncio.Event | None = None
        self._hurry: asyncio.Event | None = None

    # -- lifecycle --------------------------------------------------------------------
    def claim(self) -> None:
        """Take the root's daemon lock and clear a crashed daemon's socket, or say
        which daemon already serves the root."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = try_lock(rpc.lock_file(self.root))
        if fd is None:
            info = read_state(self.root) or {}
            raise DaemonError(f"a daemon already serves {self.root} (pid {info.get('pid', '?')}, socket "
                              f"{info.get('socket', '?')}) — `lakehouse status` shows it; stop it first")
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

        self.facades[None] = Lakehouse.open(home=self.home, config_file=self.config_file, profile=self.own_profile)

    async def main(self, ready=None) -> None:
        self.loop = asyncio.get_running_loop()
        self.loop.set_exception_handler(self._loop_error)
        self._stopping, self._hurry = asyncio.Event(), asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self.loop.add_signal_handler(sig, self._signalled)
            except (ValueError, RuntimeError):  # not the main thread (tests run it in one)
                pass
        parent = self.socket_path.parent
        if not parent.exists():
            parent.mkdir(parents=True, mode=0o700)
            os.chmod(parent, 0o700)
        old = os.umask(0o177)  # the socket is born 0600
        try:
            self._servers.append(await asyncio.start_unix_server(
                lambda r, w: self._client(r, w, "unix"), path=str(self.socket_path), limit=_READ_CHUNK))
        finally:
            os.umask(old)
        os.chmod(self.socket_path, 0o600)
        if self.tcp:
            self.token = _token(self.root)
            self._listen_tcp()
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

    def _signalled(self) -> None:
        if self._stopping.is_set():  # a second signal: stop waiting for anything
            self._hurry.set()
        self._stopping.set()

    def _loop_error(self, loop, context: dict) -> None:
        """asyncio's errors (a failed accept: EMFILE, ENFILE, ENOBUFS; a callback that
        raised) are logged rate-limited: asyncio itself stops accepting for a second after
        a failed accept, and the log gets one line per kind per 10 s with a count."""
        message = context.get("message") or "event loop error"
        exc = context.get("exception")
        if isinstance(exc, asyncio.CancelledError):  # a connection's task ended by the shutdown
            return
        self.log_limited("loop:" + message, f"{message}: {exc!r}" if exc else message,
                         exc_info=exc if exc is not None and not isinstance(exc, OSError) else None)

    async def _shutdown(self) -> None:
        """Stop within the grace period, whatever runs: jobs are cancelled at once (they
        checkpoint), other requests get half the period to finish and are then
        interrupted; at its end the socket and daemon.json go and the process exits, even
        if a worker is still stuck (serve() then leaves with os._exit)."""
        t0 = time.monotonic()
        for s in self._servers:
            s.close()
        if self._tcp_sock is not None:
            if self._accept_paused is not None:
                self._accept_paused.cancel()
            else:
                self.loop.remove_reader(self._tcp_sock.fileno())
            self._tcp_sock.close()
            self._tcp_sock = None
        for c in list(self.conns):
            for r in list(c.pending.values()):
                if self._is_job(r.method):
                    self._cancel(c, r)
        await self._quiet(t0 + self.grace / 2)  # queries get the first half to finish
        for c in list(self.conns):  # what still runs is stopped
            for r in list(c.pending.values()):
                self._cancel(c, r)
        for q in self.queues.values():  # what still waits for a worker never starts
            for _fn, fut in q:
                if not fut.done():
                    fut.set_exception(RuntimeError("shutting down"))
        self.queues.clear()
        await self._quiet(t0 + self.grace)
        for c in list(self.conns):
            c.hang_up()
        if self._tasks:  # let each connection's task see its hang-up and end
            await asyncio.wait(list(self._tasks), timeout=1.0)
        self.hard_exit = self.busy > 0
        if self.hard_exit:
            self.log.warning(f"{self.busy} request(s) still running after the {self.grace:g} s grace period "
                             "([daemon] shutdown_grace_s) — exiting without waiting for them")
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.control_pool.shutdown(wait=False, cancel_futures=True)
        for lh in self.facades.values():
            try:
                if self.hard_exit:  # a worker may still hold the engine: only keep the audit log
                    lh.audit_log.close()
                else:
                    lh.close()  # flushes the audit log
            except Exception as e:  # noqa: BLE001 - exiting anyway; say what was lost
                self.log.warning(f"closing the {lh.profile.id} profile's state failed: {type(e).__name__}: {e}")
        for f in (self.socket_path, rpc.state_file(self.root)):
            try:
                f.unlink()
            except FileNotFoundError:
                pass
        if self._lock_fd is not None:
            os.close(self._lock_fd)

    async def _quiet(self, until: float) -> None:
        """Wait until no request is in flight, or the monotonic time `until`."""
        while ((self.busy or any(c.pending for c in self.conns)) and time.monotonic() < until
               and not self._hurry.is_set()):
            await asyncio.sleep(0.02)

    # -- connections ------------------------------------------------------------------
    def _refusal(self, transport: str, ip: str | None) -> str | None:
        """Why a new connection is refused, or None. Connections not yet authenticated
        may fill at most half of [daemon] max_connections, so a flood of them never locks
        out the Unix socket or clients that hold the token."""
        if self.total >= self.max_connections:
            return (f"connection refused: this daemon already serves {self.total} connections "
                    "([daemon] max_connections) — try again later")
        if transport == "tcp":
            if self.by_peer.get(ip, 0) >= self.per_peer:
                return (f"connection refused: {ip} already has {self.per_peer} connections open "
                        "([daemon] max_connections_per_peer) — close some and try again")
            if self.preauth >= max(1, self.max_connections // 2):
                return (f"connection refused: {self.preauth} connections are waiting to authenticate (half of "
                        "[daemon] max_connections) — try again in a few seconds")
        if self._stopping.is_set():
            return "the daemon is shutting down"
        return None

    # TCP is accepted by hand: a refusal costs an accept, one send and a close (no
    # transport, no task), and a flood of them pauses accepting for a while, leaving the
    # rest in the kernel's backlog. Failed accepts (EMFILE…) back off 0.1 s → 1 s.
    def _listen_tcp(self) -> None:
        family = socket.AF_INET6 if ":" in self.tcp[0] else socket.AF_INET
        lsock = socket.create_server(self.tcp, family=family, backlog=128)
        lsock.setblocking(False)
        self._tcp_sock = lsock
        self._resume_accept()

    def _resume_accept(self) -> None:
        self._accept_paused = None
        if self._tcp_sock is not None and not self._stopping.is_set():
            self.loop.add_reader(self._tcp_sock.fileno(), self._accept_tcp)

    def _pause_accept(self, seconds: float) -> None:
        if self._accept_paused is None and self._tcp_sock is not None:
            self.loop.remove_reader(self._tcp_sock.fileno())
            self._accept_paused = self.loop.call_later(seconds, self._resume_accept)

    def _accept_tcp(self) -> None:
        for _ in range(64):
            try:
                sock, addr = self._tcp_sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as e:  # EMFILE, ENFILE, ENOBUFS, ENOMEM: stop accepting for a while
                self._accept_backoff = min(1.0, self._accept_backoff * 2) if self._accept_backoff else 0.1
                self.log_limited("accept", f"accepting a TCP connection failed ({e.strerror or e}); pausing "
                                 f"{self._accept_backoff:g} s")
                self._pause_accept(self._accept_backoff)
                return
            self._accept_backoff = 0.0
            ip = addr[0] if isinstance(addr, tuple) else "?"
            refusal = self._refusal("tcp", ip)
            if refusal:
                self._refuse(sock, refusal)
                if self._pause_accept_if_flooded():
                    return
                continue
            self.total += 1
            self.by_peer[ip] = self.by_peer.get(ip, 0) + 1
            self.preauth += 1
            self.loop.create_task(self._tcp_client(sock, ip))

    def _refuse(self, sock: socket.socket, why: str) -> None:
        self.refused += 1
        self.log_limited("refused", why)
        try:
            sock.setblocking(False)
            sock.send(rpc.line(rpc.error(None, rpc.UNAUTHORIZED, why)))
        except OSError:
            pass
        sock.close()

    def _pause_accept_if_flooded(self) -> bool:
        """More than 100 refusals in a second: accept nothing for a while (0.1 s, doubling
        up to 1 s while it lasts), so the flood waits in the backlog and costs nothing."""
        now = time.monotonic()
        if now - self._refusal_window[0] >= 1.0:
            calm = self._refusal_window[1] <= 100
            self._refusal_window = [now, 0]
            if calm:
                self._flood_pause = 0.0
        self._refusal_window[1] += 1
        if self._refusal_window[1] <= 100:
            return False
        self._flood_pause = min(1.0, self._flood_pause * 2) if self._flood_pause else 0.1
        self._refusal_window = [now, 0]
        self._pause_accept(self._flood_pause)
        return True

    async def _tcp_client(self, sock: socket.socket, ip: str) -> None:
        try:
            reader, writer = await asyncio.open_connection(sock=sock, limit=_READ_CHUNK)
        except OSError:
            sock.close()
            self.total -= 1
            self.preauth -= 1
            self._peer_gone(ip)
            return
        await self._client(reader, writer, "tcp", ip)

    def _peer_gone(self, ip: str) -> None:
        n = self.by_peer.get(ip, 1) - 1
        if n:
            self.by_peer[ip] = n
        else:
            self.by_peer.pop(ip, None)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, transport: str,
                      ip: str | None = None) -> None:
        """Serve one connection. A TCP one was admitted (and counted) when accepted."""
        if transport == "unix":
            creds = _peer_creds(writer)
            if creds is not None and creds[1] != os.getuid():
                writer.write(rpc.line(rpc.error(None, rpc.UNAUTHORIZED,
                                                "connection refused: this daemon serves only its own user")))
                await _close(writer)
                return
            refusal = self._refusal("unix", None)
            if refusal:
                self.refused += 1
                self.log_limited("refused", refusal)
                writer.write(rpc.line(rpc.error(None, rpc.UNAUTHORIZED, refusal)))
                await _close(writer)
                return
            self.total += 1
            peer = ("pid", creds[0] if creds else 0)
        else:
            peer = ("tcp", ip)
        conn = _Conn(self, writer, transport, peer)
        self.conns.add(conn)
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            await self._read(conn, reader)
        except (ConnectionError, OSError):
            pass
        finally:
            self.total -= 1
            if transport == "tcp":
                if not conn.authed:
                    self.preauth -= 1
                self._peer_gone(ip)
            self.conns.discard(conn)
            self._tasks.discard(task)
            conn.closed = True
            for r in list(conn.pending.values()):  # the client left: stop its work
                self._cancel(conn, r)
            await _close(writer)

    async def _read(self, conn: _Conn, reader: asyncio.StreamReader) -> None:
        """Read request lines into a buffer bounded by [daemon] max_auth_line_bytes before
        authentication and max_line_mb after; with an auth deadline, a deadline for
        finishing a started line (io_timeout_s) and an idle timeout. A client that does
        not read its answers stops being read (its socket's send buffer is bounded)."""
        buf = bytearray()
        searched = 0  # bytes of buf known to hold no newline: a long line is scanned once
        line_started: float | None = None
        auth_deadline = None if conn.authed else time.monotonic() + self.auth_timeout
        transport = conn.writer.transport
        while not self._stopping.is_set() and not conn.closed:
            nl = buf.find(b"\n", searched)
            if nl < 0:
                searched = len(buf)
            else:
                raw = bytes(buf[:nl + 1])
                del buf[:nl + 1]
                searched = 0
                line_started = time.monotonic() if buf else None
                if raw.strip():
                    was_authed = conn.authed
                    self._handle(conn, raw)
                    if conn.authed and not was_authed:
                        self.preauth -= 1
                        auth_deadline = None
                if transport.get_write_buffer_size() > _READ_CHUNK:  # answers pile up unread
                    try:
                        await asyncio.wait_for(conn.writer.drain(), self.io_timeout)
                    except asyncio.TimeoutError:
                        self.log_limited("stalled", "closed a connection that read none of its answers for "
                                         f"{self.io_timeout:g} s ([daemon] io_timeout_s)")
                        return
                continue
            limit = self.max_line if conn.authed else self.max_auth_line
            if len(buf) > limit:
                if conn.authed:
                    msg = (f"request line over {self.max_line // 1048576} MiB — send large inputs as files "
                           "(e.g. ingest a path) or raise [daemon] max_line_mb")
                else:
                    msg = (f"request line over {self.max_auth_line} bytes before auth — the first line must be "
                           "the auth request; connection closed")
                conn.send(rpc.error(None, rpc.INVALID_REQUEST, msg))
                return
            now = time.monotonic()
            if auth_deadline is not None:
                timeout, why = auth_deadline - now, "auth"
            elif line_started is not None:
                timeout, why = line_started + self.io_timeout - now, "line"
            elif conn.pending or conn.control:
                timeout, why = None, ""
            else:
                timeout, why = self.idle_timeout, "idle"
            try:
                chunk = await asyncio.wait_for(reader.read(_READ_CHUNK), timeout)
            except asyncio.TimeoutError:
                if why == "auth":
                    conn.send(rpc.error(None, rpc.UNAUTHORIZED, f"no auth within {self.auth_timeout:g} s — "
                                        "connection closed"))
                elif why == "line":
                    conn.send(rpc.error(None, rpc.INVALID_REQUEST, f"a request line took over {self.io_timeout:g} s "
                                        "to arrive ([daemon] io_timeout_s) — connection closed"))
                elif conn.pending or conn.control:
                    continue  # it started something meanwhile: not idle
                return  # idle: closed without a word (a client reconnects)
            if not chunk:
                return
            if line_started is None:
                line_started = time.monotonic()
            buf += chunk

    def _handle(self, conn: _Conn, raw: bytes) -> None:
        try:
            msg = json.loads(raw)
        except ValueError as e:
            conn.send(rpc.error(None, rpc.PARSE_ERROR, f"not JSON: {e}"))
            return
        req_id = msg.get("id") if isinstance(msg, dict) else None
        problem = _invalid(msg)
        if problem:
            conn.send(rpc.error(req_id, rpc.INVALID_REQUEST, problem))
            return
        method, params = msg["method"], msg.get("params", {})
        is_request = "id" in msg
        if not conn.authed and method != "auth":
            conn.send(rpc.error(req_id, rpc.UNAUTHORIZED, "send {\"method\": \"auth\", \"params\": {\"token\": ...}} "
                                "first — the token is in " + str(rpc.token_file(self.root))))
            if conn.transport == "tcp":
                conn.hang_up()
            return
        if method == "cancel":  # stop request params.id (a notification, or a request answered at once)
            r = conn.pending.get(params.get("id")) if isinstance(params, dict) else None
            if r is not None:
                self._cancel(conn, r)
            if is_request:
                conn.send(rpc.response(req_id, {"cancelled": r is not None}))
            return
        if not is_request:  # nothing could answer it, nor could a cancel reach it: never run
            self.log_limited("notification", f"ignored a notification for {method!r} — only `cancel` may be sent "
                             "without an id (docs/protocol.md)")
            return
        if self._stopping.is_set():
            conn.send(rpc.error(req_id, rpc.SHUTTING_DOWN, "the daemon is shutting down"))
            return
        if method in ("ping", "auth"):
            self.served += 1
        if method == "ping":
            conn.send(rpc.response(req_id, "pong"))
            return
        if method == "auth":
            conn.send(self._auth(conn, req_id, params))
            if conn.close_after:
                conn.hang_up()
            return
        if method in _CONTROL_METHODS:
            if conn.control >= self.per_client:
                conn.send(self._busy(req_id))
                return
            conn.control += 1
            asyncio.ensure_future(self._control(conn, _Request(req_id, method), params))
            return
        if method not in self.methods:
            conn.send(rpc.error(req_id, rpc.METHOD_NOT_FOUND, f"no method {method!r} — `methods` lists them"))
            return
        if req_id in conn.pending:
            conn.send(rpc.error(req_id, rpc.INVALID_REQUEST, f"request id {req_id!r} is already in flight"))
            return
        if len(conn.pending) >= self.per_client:
            conn.send(self._busy(req_id))
            return
        request = _Request(req_id, method)
        conn.pending[req_id] = request
        asyncio.ensure_future(self._run(conn, request, params))

    def _busy(self, req_id) -> dict:
        return rpc.error(req_id, BUSY, f"this connection already has {self.per_client} requests running "
                         "([daemon] max_requests_per_client) — wait for one to answer, then send again",
                         {"type": "LakehouseError", "exit_code": 75})

    def _auth(self, conn: _Conn, req_id, params) -> dict:
        token = params.get("token") if isinstance(params, dict) else None
        if not isinstance(token, str) or self.token is None or not hmac.compare_digest(token.encode(),
                                                                                        self.token.encode()):
            conn.close_after = True
            return rpc.core_error(req_id, LakehouseError(f"wrong token — read it from {rpc.token_file(self.root)}"))
        conn.authed = True
        return rpc.response(req_id, {"ok": True})

    async def _control(self, conn: _Conn, request: _Request, params) -> None:
        try:
            reply = await self.loop.run_in_executor(self.control_pool, self._call, conn, request, params)
        except RuntimeError:  # the pool is shutting down
            reply = rpc.error(request.id, rpc.SHUTTING_DOWN, "the daemon is shutting down")
        finally:
            conn.control -= 1
        self.served += 1
        conn.send(reply)

    async def _run(self, conn: _Conn, request: _Request, params) -> None:
        try:
            reply = await self._schedule(conn.peer, lambda: self._call(conn, request, params))
        except RuntimeError:  # the pool is shutting down
            reply = rpc.error(request.id, rpc.SHUTTING_DOWN, "the daemon is shutting down")
        finally:
            request.finished = True
            conn.pending.pop(request.id, None)
        self.served += 1
        conn.send(reply)

    # -- the worker pool, shared fairly ------------------------------------------------
    def _schedule(self, peer, fn) -> asyncio.Future:
        """Run fn in a worker. Waiting requests are taken round robin, one peer (a TCP
        address or a local process) at a time, and one peer never has more than half the
        workers: a client with many long queries delays only itself."""
        fut = self.loop.create_future()
        self.queues.setdefault(peer, deque()).append((fn, fut))
        self._dispatch()
        return fut

    def _dispatch(self) -> None:
        while self.busy < self.workers:
            peer = next((p for p in self.queues if self.running.get(p, 0) < self.peer_workers), None)
            if peer is None:
                return
            q = self.queues.pop(peer)  # taken off, and put back last: round robin
            fn, fut = q.popleft()
            if q:
                self.queues[peer] = q
            if fut.done():
                continue
            try:
                cf = self.pool.submit(fn)
            except RuntimeError as e:  # shut down
                fut.set_exception(e)
                continue
            self.busy += 1
            self.running[peer] = self.running.get(peer, 0) + 1
            cf.add_done_callback(lambda cf, peer=peer, fut=fut: self.loop.call_soon_threadsafe(
                self._done, peer, fut, cf))

    def _done(self, peer, fut: asyncio.Future, cf) -> None:
        self.busy -= 1
        n = self.running.get(peer, 1) - 1
        if n:
            self.running[peer] = n
        else:
            self.running.pop(peer, None)
        if not fut.done():
            if cf.cancelled():
                fut.set_exception(RuntimeError("shutting down"))
            elif cf.exception() is not None:
                fut.set_exception(cf.exception())
            else:
                fut.set_result(cf.result())
        self._dispatch()

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
        if again and not self.loop.is_closed():
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
        except ConnectionError:  # the client went away (or stopped reading) in the middle of a result
            return rpc.error(rid, rpc.LAKEHOUSE_ERROR, "cancelled")
        except Exception as e:  # a bug: one sentence for the client, the traceback in the log
            self.log_limited("bug:" + method, f"{method} failed unexpectedly: {type(e).__name__}: {e}",
                             exc_info=e)
            return rpc.error(rid, rpc.INTERNAL_ERROR, f"{method} failed unexpectedly: {type(e).__name__}: {e} "
                             f"— this is a bug in lakehouse; the daemon's log has the traceback")
        finally:
            with request.lock:  # from here on this worker's queries are another request's
                request.thread = None
                request.finished = True

    def _own_profile(self) -> str:
        """The profile a new connection works as: the daemon's own — `serve --profile`'s,
        else the one active when it started. `activate` changes what the daemon's facade
        reads (as it does in-process), never who holds it."""
        return _principal(self.facades[None]).id

    def _facade_key(self, pid: str) -> str | None:
        """The facade that works as profile pid: the daemon's own (None) when it was opened
        as pid, else one opened for it (so what pid may do is decided as pid)."""
        return None if pid == _principal(self.facades[None]).id else pid

    def facade(self, profile: str | None):
        """The facade a connection works through: the daemon's own, or one opened for
        the profile it switched to."""
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
            if (name in _SIZE_PARAMS and isinstance(value, int) and not isinstance(value, bool)
                    and value > self.max_json_rows):
                raise _BadParams(f"{request.method}: {name} = {value:,} is over the {self.max_json_rows:,} rows a JSON "
                                 "result may hold ([daemon] max_json_rows) — use sql_stream for big results")
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
        if request.method == "sql":  # the same rows as sql(), streamed: never the whole table in memory
            return lh.sql_stream(args["text"], as_of=args.get("as_of"))
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
                "requests": self.served, "jobs": running, "profiles_open": sorted(p or "" for p in self.facades),
                "busy_workers": self.busy, "queued": sum(len(q) for q in list(self.queues.values())),
                "unauthenticated": self.preauth, "refused": self.refused}


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
    """Pick the profile this connection works as; return what a proxy needs up front.
    A connection starts as the daemon's own profile and may only narrow: a restricted
    profile (one without "*" for both datasets and indexes) can never switch away."""
    from core import config as config_mod
    from core.profiles import store as profiles
    restricted, may_switch, Refused = _access_rules()

    params = params if isinstance(params, dict) else {}
    wanted = params.get("profile") or None
    if wanted is not None and not isinstance(wanted, str):
        raise _BadParams("wrong params for session(profile): 'profile' must be a string")
    current = _principal(d.facade(conn.profile))
    target_id = wanted or d._own_profile()
    if target_id != current.id:
        if restricted(current):  # refused before the name is even looked up
            raise Refused(f"profile {current.id} is restricted to its own datasets, so this connection "
                                 f"cannot switch to profile {target_id} — connect to a daemon served as that "
                                 "profile instead")
        target = profiles.resolve(config_mod.load(home=d.home, config_file=d.config_file).profiles, target_id)
        if not may_switch(current, target):
            raise Refused(f"profile {current.id} cannot switch this connection to profile {target_id}")
    profile = d._facade_key(target_id)
    lh = d.facade(profile)
    conn.profile = profile
    return {"version": rpc.VERSION, "pid": os.getpid(), "root": str(lh.root), "profile": rpc.encode(lh.profile),
            "config": lh.config.values, "recovery_notes": lh.recovery_notes,
            "profile_problems": lh.profile_problems,
            "methods": {n: [p for p in s.parameters if p != "cancel"] for n, s in d.methods.items()}}


class Refused(LakehouseError):
    """A session switch this profile may not make (when core.access is not there)."""


def _access_rules():
    """core.access's rule (restricted, may_switch, Refused), or the same rule inline: a
    profile is restricted unless both its datasets and its indexes include "*"; a
    restricted holder may only stay itself."""
    try:
        from core import access

        return access.restricted, access.may_switch, access.Refused
    except ImportError:
        def restricted(p) -> bool:
            return "*" not in p.datasets or "*" not in p.indexes

        return restricted, (lambda cur, target: not restricted(cur) or cur.id == target.id), Refused


def _principal(lh):
    """Who holds a facade: the profile it was opened as (activate may change its reader)."""
    return getattr(lh, "principal", None) or lh.profile


def _m_methods(d: Daemon, conn: _Conn, params) -> dict:
    return {n: {"params": [p for p in s.parameters if p != "cancel"],
                "doc": (inspect.getdoc(getattr(_facade_class(), n)) or "").split("\n\n")[0]}
            for n, s in sorted(d.methods.items())}


def _facade_class():
    from core.lakehouse import Lakehouse

    return Lakehouse


_SERVER_METHODS = {
    "session": _m_session,
    "status": lambda d, conn, params: d.status(),
    "methods": _m_methods,
    "ping": lambda d, conn, params: "pong",
}


# -- helpers ------------------------------------------------------------------------------
def _peer_creds(writer: asyncio.StreamWriter) -> tuple[int, int, int] | None:
    """(pid, uid, gid) of a Unix socket's peer; None where the platform has no
    SO_PEERCRED (the 0600 socket guards it there)."""
    sock = writer.get_extra_info("socket")
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (OSError, AttributeError):
        return None
    return struct.unpack("3i", creds)


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close a connection, flushing what is queued for it — unless its peer takes nothing
    for a second: then it is dropped (a client that never reads cannot hold it open)."""
    try:
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 1.0)
    except asyncio.TimeoutError:
        writer.transport.abort()
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


class _RotatingLog(logging.handlers.RotatingFileHandler):
    """daemon.log, capped and rotated. A detached daemon's stdout and stderr are that
    file too (`serve --detach` starts it so): after each rotation they are pointed at the
    new file, so nothing keeps writing to a rotated one."""

    def __init__(self, path: Path, max_bytes: int, backups: int, fds: tuple[int, ...] = ()):
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self.fds = fds

    def doRollover(self) -> None:
        super().doRollover()
        if self.stream is not None:
            self.stream.flush()
            for fd in self.fds:
                os.dup2(self.stream.fileno(), fd)


def setup_logging(cfg, stream=None, fds: tuple[int, ...] | None = None) -> logging.Handler:
    """Where the daemon logs: <root>/daemon.log (capped at [daemon] log_max_mb, with
    log_backups rotated files) when its stderr is that file (a detached daemon), else
    its stderr."""
    stream = sys.stderr if stream is None else stream
    path = rpc.log_file(cfg.root)
    handler: logging.Handler
    try:
        st, mine = os.fstat(stream.fileno()), os.stat(path)
        detached = (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)
    except (OSError, ValueError, AttributeError):
        detached = False
    if detached:
        handler = _RotatingLog(path, int(cfg.get("daemon.log_max_mb") * 1024 * 1024), cfg.get("daemon.log_backups"),
                               (1, 2) if fds is None else fds)
    else:
        handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    return handler


def _raise_fd_limit() -> None:
    """Take the hard limit of open files (up to 65,536): connections are capped by
    [daemon] max_connections, not by a low soft limit."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ImportError, ValueError, OSError):
        pass


def serve(home=None, config_file=None, socket_path=None, tcp=None, announce=None, profile=None) -> None:
    """Run a daemon in this process until SIGTERM or SIGINT. If a worker is still stuck
    (a query DuckDB would not interrupt, a call blocked outside it) when the grace period
    ends, the process leaves with os._exit(0) once the socket and daemon.json are gone."""
    d = Daemon(home, config_file, socket_path, tcp, profile)
    setup_logging(d.cfg)
    _raise_fd_limit()
    d.claim()
    d.open_facade()
    asyncio.run(d.main(ready=(lambda: announce(d)) if announce else None))
    if d.hard_exit:
        print("daemon stopped", file=sys.stderr)
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
