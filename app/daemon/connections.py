"""The daemon's connections: accepting them (the Unix socket through asyncio, TCP by hand
so a refusal costs next to nothing), the caps on them, who is at the other end, and
reading request lines with their size limits and deadlines. Each complete line goes to
the dispatcher (dispatch.py); everything written to a connection goes through the event
loop (Conn).

Listener is a part of server.Daemon: it uses the attributes Daemon.__init__ sets (caps,
counters, the loop, the log).
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from typing import TYPE_CHECKING

from core.errors import LakehouseError

from . import trust, wire

if TYPE_CHECKING:
    from .server import Daemon

READ_CHUNK = 65536


class Request:
    """One request that runs work: what a `cancel` or a disconnect needs to stop it."""

    def __init__(self, req_id, method: str):
        self.id, self.method = req_id, method
        self.cancel = threading.Event()  # set by a `cancel`: checked before the call starts
        self.thread: int | None = None  # the worker running it, to interrupt its query
        self.finished = False
        # held while interrupting self.thread, so the worker cannot move on to another
        # request (and have that one's query interrupted) in the middle of it
        self.lock = threading.Lock()


class Conn:
    """One client connection. Everything written to it goes through the event loop, in
    the order it was posted, so a request's notifications precede its response."""

    def __init__(self, daemon: Daemon, writer: asyncio.StreamWriter, transport: str, peer):
        self.daemon, self.writer, self.transport = daemon, writer, transport
        self.peer = peer  # who is on the other end: ("tcp", ip) or ("pid", pid), for fair scheduling
        self.authed = transport == "unix"
        self.profile: str | None = None
        self.pending: dict = {}  # request id -> Request: every request that runs work
        self.control = 0  # control calls (session, status, methods) in flight
        self.closed = False
        self.close_after = False

    def send(self, msg: dict | bytes) -> None:
        """Queue a message (loop thread only)."""
        if self.closed:
            return
        try:
            self.writer.write(msg if isinstance(msg, bytes) else wire.line(msg))
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
                    raise cancelled() from None

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


def cancelled() -> LakehouseError:
    """What a request stopped by its client answers."""
    from core.errors import Cancelled

    return Cancelled("the request was cancelled by its client")


class Listener:
    """Accepting, admitting and reading connections (a part of server.Daemon)."""

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
            sock.send(wire.line(wire.error(None, wire.UNAUTHORIZED, why)))
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
            reader, writer = await asyncio.open_connection(sock=sock, limit=READ_CHUNK)
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
            creds = trust.peer_creds(writer.get_extra_info("socket"))  # None: the 0600 socket guards it
            if creds is not None and creds[1] != os.getuid():
                writer.write(wire.line(wire.error(None, wire.UNAUTHORIZED,
                                                  "connection refused: this daemon serves only its own user")))
                await _close(writer)
                return
            refusal = self._refusal("unix", None)
            if refusal:
                self.refused += 1
                self.log_limited("refused", refusal)
                writer.write(wire.line(wire.error(None, wire.UNAUTHORIZED, refusal)))
                await _close(writer)
                return
            self.total += 1
            peer = ("pid", creds[0] if creds else 0)
        else:
            peer = ("tcp", ip)
        conn = Conn(self, writer, transport, peer)
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

    async def _read(self, conn: Conn, reader: asyncio.StreamReader) -> None:
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
                if transport.get_write_buffer_size() > READ_CHUNK:  # answers pile up unread
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
                conn.send(wire.error(None, wire.INVALID_REQUEST, msg))
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
                chunk = await asyncio.wait_for(reader.read(READ_CHUNK), timeout)
            except asyncio.TimeoutError:
                if why == "auth":
                    conn.send(wire.error(None, wire.UNAUTHORIZED, f"no auth within {self.auth_timeout:g} s — "
                                         "connection closed"))
                elif why == "line":
                    conn.send(wire.error(None, wire.INVALID_REQUEST, f"a request line took over {self.io_timeout:g} s "
                                         "to arrive ([daemon] io_timeout_s) — connection closed"))
                elif conn.pending or conn.control:
                    continue  # it started something meanwhile: not idle
                return  # idle: closed without a word (a client reconnects)
            if not chunk:
                return
            if line_started is None:
                line_started = time.monotonic()
            buf += chunk


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
