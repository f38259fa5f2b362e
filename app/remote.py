"""RemoteLakehouse: the facade's interface, served by a running daemon (app/daemon.py).

The CLI (`--remote`) and the TUI (`--connect`) use it exactly as they use an
in-process core.Lakehouse: same methods, same dataclasses back, the same errors
raised. Each concurrent call gets its own connection from a small pool (no head-of-line
blocking, no demultiplexing); progress, tokens and table frames arrive on it before its
response. Standard library only unless a table comes back.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
from pathlib import Path

from core.errors import LakehouseError

from . import rpc

_ids = itertools.count(1)


class Unreachable(LakehouseError):
    """No daemon answers at the address."""


def _core_error(err: dict) -> LakehouseError:
    """The server's error object as the exception the in-process facade would raise: the
    same class (any LakehouseError defined in core, looked up by name — never imported
    by it), message and exit code."""
    data = err.get("data") if isinstance(err.get("data"), dict) else {}
    name = data.get("type")
    cls = rpc.core_class(name) if isinstance(name, str) else None
    if not (isinstance(cls, type) and issubclass(cls, LakehouseError)):
        cls = LakehouseError
    e = cls.__new__(cls)  # no constructor runs: the message is the whole error
    Exception.__init__(e, str(err.get("message", "the daemon reported an error")))
    code = data.get("exit_code")
    if err.get("code") == rpc.INTERNAL_ERROR:
        code = 70  # a bug in the daemon: the exit code the CLI gives a bug in-process
    if isinstance(code, int) and not isinstance(code, bool) and code != cls.exit_code:
        e.exit_code = code
    return e


class NoAnswer(LakehouseError):
    """The daemon took the connection but sent nothing back in time: stuck, or starved."""


CONNECT_TIMEOUT_S = 5.0  # [daemon] client_connect_timeout_s
TIMEOUT_S = 30.0  # [daemon] client_timeout_s
_CONTROL = frozenset({"auth", "session", "status", "ping", "methods"})  # answered at once by a live daemon


class Channel:
    """One connection to the daemon, used by one call at a time.

    Who is at the other end is checked before a byte is sent: on a Unix socket its
    directory and the socket file (rpc.check_socket), then the peer's credentials
    (rpc.check_peer). Nothing waits forever: connecting has `connect_timeout`; a control
    call (session, auth, status, ping, methods) must answer within `timeout`; any other
    call may run as long as it needs, but after `timeout` seconds of silence the channel
    pings the daemon on the same connection and gives up only if that gets no answer
    within `timeout` either — so long queries and jobs are never cut off while the daemon
    lives. timeout 0 waits forever."""

    def __init__(self, address: str, token: str | None = None, timeout: float = TIMEOUT_S,
                 connect_timeout: float = CONNECT_TIMEOUT_S):
        self.address = address
        self.timeout = timeout if timeout and timeout > 0 else None
        self._buf = bytearray()
        self._probes: set[int] = set()  # ids of liveness pings whose answers are not ours to return
        self._send_lock = threading.Lock()
        tcp = is_tcp(address)
        if not tcp:
            rpc.check_socket(address)  # the directory and the socket file: ours, nobody else's
        try:
            if tcp:
                host, port = rpc.parse_tcp(address.removeprefix("tcp://"))
                self.sock = socket.create_connection((host, port), timeout=connect_timeout or None)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            else:
                self.sock = _connect_unix(address, connect_timeout)
        except (socket.timeout, TimeoutError):
            self._close_raw()
            raise NoAnswer(f"the daemon at {address} did not take the connection within {connect_timeout:g} s — "
                           "is it stuck? `lakehouse status` shows it; restart it if so") from None
        except (OSError, ValueError) as e:
            self._close_raw()
            raise Unreachable(f"no daemon answers at {address} ({getattr(e, 'strerror', None) or e}) — "
                              "start one with `lakehouse serve --detach`") from None
        if not tcp:
            try:
                rpc.check_peer(self.sock, address)  # before sending anything
            except BaseException:
                self.close()
                raise
        self.sock.settimeout(self.timeout)  # per recv: the silence allowed before acting on it
        if token is not None:
            try:
                self.call("auth", {"token": token})
            except BaseException:
                self.close()
                raise

    def idle_ok(self) -> bool:
        """A pooled connection is still usable: the daemon has not closed it, and nothing
        arrived on it that no request asked for."""
        import select

        if self._buf:
            return False
        try:
            poll = select.poll()
            poll.register(self.sock, select.POLLIN)
            return not poll.poll(0)  # readable while idle: end of file, or bytes out of step
        except (OSError, ValueError):
            return False

    def _close_raw(self) -> None:
        s = getattr(self, "sock", None)
        if s is not None:
            s.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, obj: dict) -> None:
        self._sendall(rpc.line(obj))

    def _sendall(self, data: bytes) -> None:
        with self._send_lock:  # the cancel watcher and probes write too: never interleaved
            try:
                self.sock.sendall(data)
            except (socket.timeout, TimeoutError):
                raise self._no_answer() from None

    def _no_answer(self) -> NoAnswer:
        return NoAnswer(f"the daemon at {self.address} did not answer within {self.timeout:g} s — is it stuck? "
                        "`lakehouse status` shows it; restart it if so")

    def _fill(self, probe: bool) -> None:
        """Read more bytes into the buffer, waiting as the call allows."""
        probed = False
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except (socket.timeout, TimeoutError):
                if not probe or probed:
                    raise self._no_answer() from None
                rid = next(_ids)
                self._probes.add(rid)
                self._sendall(rpc.line({"jsonrpc": "2.0", "id": rid, "method": "ping", "params": {}}))
                probed = True
                continue
            if not data:
                raise ConnectionError("the daemon closed the connection")
            self._buf += data
            return

    def read(self, probe: bool = True) -> dict:
        import json

        while True:
            while True:
                end = self._buf.find(b"\n")
                if end >= 0:
                    break
                self._fill(probe)
            raw = bytes(self._buf[:end + 1])
            del self._buf[:end + 1]
            msg = json.loads(raw)
            if isinstance(msg, dict) and "method" not in msg and msg.get("id") in self._probes:
                self._probes.discard(msg["id"])  # a liveness ping's answer: it said what it had to
                continue
            if not isinstance(msg, dict):
                raise ValueError("the daemon sent something that is not a JSON object")
            return msg

    def read_bytes(self, n: int) -> bytes:
        try:
            while len(self._buf) < n:
                self._fill(True)
        except ConnectionError:
            raise ConnectionError("the daemon closed the connection in the middle of a result") from None
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def start(self, method: str, params, cancelled: bool = False) -> int:
        rid = next(_ids)
        data = rpc.line({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        if cancelled:  # cancelled before it was sent: the cancel travels with it, so the daemon has it first
            data += rpc.line(rpc.notification("cancel", {"id": rid}))
        self._sendall(data)
        return rid

    def call(self, method: str, params, notes=None, cancel: threading.Event | None = None):
        """Send a request; hand its notifications to `notes`; return its result."""
        rid = self.start(method, params, cancelled=cancel is not None and cancel.is_set())
        done = threading.Event()
        if cancel is not None and not cancel.is_set():
            threading.Thread(target=self._watch, args=(rid, cancel, done), daemon=True).start()
        probe = method not in _CONTROL  # a control call answers at once, or the daemon is stuck
        try:
            while True:
                msg = self.read(probe)
                if msg.get("id") == rid and ("result" in msg or "error" in msg):
                    if "error" in msg:
                        raise _core_error(msg["error"])
                    return msg["result"]
                if notes is not None and "method" in msg:
                    notes(msg)
        finally:
            done.set()

    def _watch(self, rid: int, cancel: threading.Event, done: threading.Event) -> None:
        while not done.is_set():
            if cancel.wait(0.1):
                if not done.is_set():
                    try:
                        self.send(rpc.notification("cancel", {"id": rid}))
                    except (OSError, LakehouseError):
                        pass
                return


def _connect_unix(address: str, timeout: float) -> socket.socket:
    """Connect, waiting up to `timeout` seconds (0: forever) while the daemon's backlog is
    full — a connect with a timeout answers EAGAIN at once then, so it is tried again."""
    import time

    deadline = time.monotonic() + timeout if timeout and timeout > 0 else None
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout if deadline is not None else None)
        try:
            s.connect(address)
            return s
        except BlockingIOError:  # the backlog is full: the daemon takes no connections now
            s.close()
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError from None
            time.sleep(0.05)
        except BaseException:
            s.close()
            raise


def is_tcp(address: str) -> bool:
    return address.startswith("tcp://") or ("/" not in address and ":" in address)


class RemoteLakehouse:
    """core.Lakehouse's interface over a daemon's socket."""

    def __init__(self, address: str, token: str | None = None, profile: str | None = None,
                 timeout: float = TIMEOUT_S, connect_timeout: float = CONNECT_TIMEOUT_S):
        self.address, self._token, self._profile_id = address, token, profile
        self._timeouts = {"timeout": timeout, "connect_timeout": connect_timeout}
        self._idle: list[Channel] = []
        self._pool_lock = threading.Lock()
        self._streams: dict[int, Channel] = {}  # sql streams in flight, for interrupt_sql
        info: dict = {}
        self._session(self._channel(info), info)  # the new channel's own session answer: one round trip

    # -- connections --------------------------------------------------------------------
    def _channel(self, info: dict | None = None) -> Channel:
        """A pooled connection, else a new one, which starts its session; that answer is
        put in `info` when given (and left empty for a pooled one)."""
        while True:
            with self._pool_lock:
                ch = self._idle.pop() if self._idle else None
            if ch is None:
                break
            if ch.idle_ok():
                return ch
            ch.close()  # the daemon closed it while it waited here ([daemon] idle_timeout_s)
        ch = Channel(self.address, self._token, **self._timeouts)
        try:
            answer = ch.call("session", {"profile": self._profile_id})
        except BaseException:
            ch.close()
            raise
        if info is not None:
            info.update(answer)
        return ch

    def _release(self, ch: Channel) -> None:
        with self._pool_lock:
            if len(self._idle) < 8:
                self._idle.append(ch)
                return
        ch.close()

    def _session(self, ch: Channel, info: dict | None = None) -> None:
        from core.config import Config

        try:
            info = info or ch.call("session", {"profile": self._profile_id})
        except BaseException:
            ch.close()
            raise
        self._release(ch)
        self.root = Path(info["root"])
        self.profile = rpc.decode(info["profile"])
        self.config = Config(values=info["config"])
        self.recovery_notes, self.profile_problems = info["recovery_notes"], info["profile_problems"]
        self.server_pid = info["pid"]
        self._methods: dict[str, list[str]] = info["methods"]

    def close(self) -> None:
        with self._pool_lock:
            idle, self._idle = self._idle, []
        for ch in idle:
            ch.close()

    def __enter__(self) -> "RemoteLakehouse":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- calls --------------------------------------------------------------------------
    def __getattr__(self, name: str):
        methods = self.__dict__.get("_methods", {})
        if name not in methods:
            raise AttributeError(name)
        return lambda *args, **kwargs: self._call(name, *args, **kwargs)

    def _params(self, method: str, args: tuple, kwargs: dict) -> dict:
        names = self._methods[method]
        if len(args) > len(names):
            raise TypeError(f"{method}() takes {len(names)} arguments but {len(args)} were given")
        params = dict(zip(names, args))
        params.update(kwargs)
        return params

    def _call(self, method: str, /, *args, **kwargs):  # positional-only: a facade param may be called `method`
        params = self._params(method, args, kwargs)
        cancel = params.pop("cancel", None)
        progress, on_token = params.get("progress"), params.get("on_token")
        for key in ("progress", "on_token"):
            if key in params:
                params[key] = callable(params[key])

        def notes(msg: dict) -> None:
            p = msg.get("params") or {}
            if msg["method"] == "progress" and callable(progress):
                progress(rpc.decode(p["event"]))
            elif msg["method"] == "token" and callable(on_token):
                on_token(p["text"])

        ch = self._channel()
        try:
            result = ch.call(method, rpc.encode(params), notes, cancel)
        except NoAnswer:
            ch.close()  # a reply may still come: this connection is not reusable
            raise
        except (OSError, ConnectionError, ValueError) as e:
            ch.close()
            raise LakehouseError(f"lost the connection to the daemon at {self.address} ({e}) — "
                                 "`lakehouse status` says whether it still runs") from None
        except BaseException:
            self._release(ch)
            raise
        self._release(ch)
        return rpc.decode(result)

    # -- methods that need more than a forward ---------------------------------------------
    def ingest(self, paths, **kwargs):
        """Paths are the client's: made absolute here, since the daemon has its own cwd."""
        def absolute(p):
            p = str(p)
            return p if "://" in p else str(Path(p).expanduser().absolute())

        paths = [absolute(p) for p in paths] if isinstance(paths, (list, tuple)) else absolute(paths)
        return self._call("ingest", paths, **kwargs)

    def activate(self, pid: str, progress=None, cancel=None, job_id=None):
        r = self._call("activate", pid, progress=progress, cancel=cancel, job_id=job_id)
        self._session(self._channel())  # the daemon's active profile moved: follow it
        return r

    def sql(self, text: str, as_of=None):
        return self.sql_stream(text, as_of=as_of).read_all()

    def sql_stream(self, text: str, batch_rows: int = 65536, as_of=None):
        """Rows arrive as Arrow frames and are decoded one batch at a time; memory stays
        bounded however many there are."""
        import pyarrow as pa

        ch = self._channel()
        rid = None
        try:
            rid = ch.start("sql_stream", {"text": text, "batch_rows": batch_rows, "as_of": as_of})
            self._streams[rid] = ch
            first = self._next_frame(ch, rid)
        except BaseException as e:
            self._streams.pop(rid, None)
            if isinstance(e, LakehouseError) and not isinstance(e, NoAnswer):
                self._release(ch)
                raise
            ch.close()
            if isinstance(e, (OSError, ConnectionError)):
                raise LakehouseError(f"lost the connection to the daemon at {self.address} ({e})") from None
            raise

        def batches():
            finished = False
            try:
                yield from first.to_batches()
                while True:
                    frame = self._next_frame(ch, rid)
                    if frame is None:
                        finished = True
                        return
                    yield from frame.to_batches()
            except NoAnswer:
                raise
            except LakehouseError:
                finished = True  # the error was the response: the channel is clean
                raise
            finally:
                self._streams.pop(rid, None)
                self._release(ch) if finished else ch.close()  # abandoned mid-stream: hang up
        return pa.RecordBatchReader.from_batches(first.schema, batches())

    def _next_frame(self, ch: Channel, rid: int):
        """The next frame of request rid as a table; None once its response came."""
        while True:
            msg = ch.read()
            if msg.get("method") == "frame" and msg["params"].get("id") == rid:
                return rpc.read_arrow(ch.read_bytes(msg["params"]["bytes"]))
            if msg.get("id") == rid:
                if "error" in msg:
                    raise _core_error(msg["error"])
                return None

    def interrupt_sql(self, thread: int | None = None) -> bool:
        """Stop this client's queries in flight (not other clients')."""
        streams = list(self._streams.items())
        for rid, ch in streams:
            try:
                ch.send(rpc.notification("cancel", {"id": rid}))
            except OSError:
                pass
        return bool(streams)

    def status(self) -> dict:
        ch = self._channel()
        try:
            st = ch.call("status", {})
        except (LakehouseError, OSError, ValueError) as e:
            ch.close()
            if isinstance(e, LakehouseError):
                raise
            raise LakehouseError(f"lost the connection to the daemon at {self.address} ({e})") from None
        self._release(ch)
        return st


# -- finding a daemon ---------------------------------------------------------------------
def address_for(cfg, remote: str | None) -> str:
    """The address --remote means: the one given, else [daemon] socket, else the root's
    default socket."""
    return remote or cfg.get("daemon.socket") or str(rpc.default_socket(cfg.root))


def token_for(cfg, address: str) -> str | None:
    """TCP needs the token: LAKEHOUSE_TOKEN, else the storage root's token file."""
    if not is_tcp(address):
        return None
    token = os.environ.get("LAKEHOUSE_TOKEN")
    if token:
        return token.strip()
    try:
        return rpc.token_file(cfg.root).read_text().strip()
    except OSError:
        raise LakehouseError(f"connecting over TCP needs the daemon's token — set LAKEHOUSE_TOKEN or make "
                             f"{rpc.token_file(cfg.root)} readable") from None


def timeouts(cfg) -> dict:
    """RemoteLakehouse's timeout arguments from [daemon] client_timeout_s and
    client_connect_timeout_s."""
    return {"timeout": cfg.get("daemon.client_timeout_s"),
            "connect_timeout": cfg.get("daemon.client_connect_timeout_s")}


def connect(cfg, remote: str | None = None, profile: str | None = None) -> RemoteLakehouse:
    address = address_for(cfg, remote)
    return RemoteLakehouse(address, token_for(cfg, address), profile or cfg.profile, **timeouts(cfg))


def running(cfg) -> str | None:
    """The socket of a daemon serving cfg's root, if one answers (for auto_connect). A
    socket there that is not this user's daemon is refused (rpc.Untrusted), not ignored."""
    address = cfg.get("daemon.socket") or str(rpc.default_socket(cfg.root))
    if not os.path.lexists(address):
        return None
    rpc.check_socket(address)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(address)
        return address
    except OSError:
        return None
    finally:
        s.close()
