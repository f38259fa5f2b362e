"""`lakehouse serve`'s server: the core, headless, behind a local socket (docs/protocol.md).

One process keeps indexes loaded, tables cached and a model warm for every script,
CLI call and TUI that connects. asyncio owns the sockets; each request runs the facade
in a worker thread (each query gets its own DuckDB cursor, so the connection is never
used from two threads at once). Whatever a client sends, the server answers with a
JSON-RPC error or closes that one connection; it never goes down with it.

Daemon holds the state and the lifecycle (claim the root, listen, stop within the grace
period); its parts are Listener (connections.py), Dispatcher (dispatch.py) and Scheduler
(workers.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import socket
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from core.errors import LakehouseError
from core.storage.locks import try_lock

from . import places, trust, wire
from .client import answers
from .connections import READ_CHUNK, Conn, Listener
from .dispatch import Dispatcher
from .log import LimitedLog
from .methods import facade_methods
from .workers import Scheduler


class DaemonError(LakehouseError):
    """The daemon cannot start: another serves the root, or its socket is in use."""


class Daemon(Listener, Dispatcher, Scheduler):
    """One storage root's daemon: its settings, counters and facades, and its lifecycle."""

    def __init__(self, home=None, config_file=None, socket_path: str | None = None,
                 tcp: str | None = None, profile: str | None = None):
        from core import config as config_mod

        self.cfg = config_mod.load(home=home, config_file=config_file, profile=profile)
        self.home, self.config_file, self.own_profile = home, config_file, profile
        self.root = self.cfg.root
        self.socket_path = Path(socket_path or self.cfg.get("daemon.socket") or trust.default_socket(self.root))
        tcp = tcp if tcp is not None else self.cfg.get("daemon.tcp")
        try:
            self.tcp = places.parse_tcp(tcp) if tcp else None
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
        self.conns: set[Conn] = set()
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
        self.log_limited = LimitedLog(self.log)
        self.hard_exit = False  # workers still stuck at the end of the grace period
        self._lock_fd: int | None = None
        self._servers: list = []
        self._tasks: set = set()  # each connection's task
        self._stopping: asyncio.Event | None = None
        self._hurry: asyncio.Event | None = None
        self.live = None  # the LiveRunner: this root's watches and schedules (core/live/runner.py)

    # -- lifecycle --------------------------------------------------------------------
    def claim(self) -> None:
        """Take the root's daemon lock and clear a crashed daemon's socket, or say
        which daemon already serves the root."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = try_lock(places.lock_file(self.root))
        if fd is None:
            info = places.read_state(self.root) or {}
            raise DaemonError(f"a daemon already serves {self.root} (pid {info.get('pid', '?')}, socket "
                              f"{info.get('socket', '?')}) — `lakehouse status` shows it; stop it first")
        self._lock_fd = fd
        path = self.socket_path
        trust.socket_dir(path)  # made 0700, or refused if another user made it or can write in it (trust.py)
        if path.exists() or path.is_symlink():
            if not stat.S_ISSOCK(path.lstat().st_mode):
                raise DaemonError(f"{path} exists and is not a socket — remove it or choose another --socket")
            if answers(str(path), 1.0):  # a live server that is not ours (we hold the lock)
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
                lambda r, w: self._client(r, w, "unix"), path=str(self.socket_path), limit=READ_CHUNK))
        finally:
            os.umask(old)
        os.chmod(self.socket_path, 0o600)
        if self.tcp:
            self.token = _token(self.root)
            self._listen_tcp()
        places.write_state(self.root, {"pid": os.getpid(), "socket": str(self.socket_path),
                                       "tcp": f"{self.tcp[0]}:{self.tcp[1]}" if self.tcp else None,
                                       "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                       "version": wire.VERSION})
        self._start_live()
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
        if self.live is not None:  # an ingest in flight is cancelled now, like a job
            self.live.stop_event.set()
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
        if self.live is not None:
            await asyncio.to_thread(self.live.stop, max(0.5, t0 + self.grace - time.monotonic()))
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
        for f in (self.socket_path, places.state_file(self.root)):
            try:
                f.unlink()
            except FileNotFoundError:
                pass
        if self._lock_fd is not None:
            os.close(self._lock_fd)

    def _start_live(self) -> None:
        """Run this root's watches and schedules here, unless another process (a TUI, `watch
        run`) already does; a failure to start is logged, never fatal to serving."""
        from core.access import restricted
        from core.live.runner import LiveRunner, holder

        try:
            if restricted(self.facade(None).profile):  # it would ingest only into its own datasets
                self.log.info("watches and schedules do not run in a daemon serving a restricted profile")
                return
            self.live = LiveRunner(self.cfg)
            if not self.live.start():
                self.live = None
                self.log.info(f"watches and schedules run in pid {(holder(self.root) or {}).get('pid', '?')}")
        except Exception as e:  # noqa: BLE001 - serving goes on without them
            self.live = None
            self.log.warning(f"watches and schedules cannot run here: {type(e).__name__}: {e}")

    async def _quiet(self, until: float) -> None:
        """Wait until no request is in flight, or the monotonic time `until`."""
        while ((self.busy or any(c.pending for c in self.conns)) and time.monotonic() < until
               and not self._hurry.is_set()):
            await asyncio.sleep(0.02)

    def facade(self, profile: str | None):
        """The facade a connection works through: the daemon's own, or one opened for
        the profile it switched to."""
        with self._facade_lock:
            if profile not in self.facades:
                from core import Lakehouse

                self.facades[profile] = Lakehouse.open(home=self.home, config_file=self.config_file, profile=profile)
            return self.facades[profile]

    def status(self) -> dict:
        running = [j.to_dict() for j in self.facades[None].jobs(20) if j.status == "running"]
        return {"pid": os.getpid(), "root": str(self.root), "socket": str(self.socket_path),
                "tcp": f"{self.tcp[0]}:{self.tcp[1]}" if self.tcp else None,
                "uptime_s": round(time.time() - self.started, 1), "clients": len(self.conns),
                "requests": self.served, "jobs": running, "profiles_open": sorted(p or "" for p in self.facades),
                "busy_workers": self.busy, "queued": sum(len(q) for q in list(self.queues.values())),
                "unauthenticated": self.preauth, "refused": self.refused}


def _token(root: Path) -> str:
    """The TCP token: made once per root, readable only by its owner."""
    path = places.token_file(root)
    if path.exists():
        os.chmod(path, 0o600)
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token
