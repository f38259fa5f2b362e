"""RemoteLakehouse: the facade's interface, served by a running daemon (app/daemon/server.py).

The CLI (`--remote`) and the TUI (`--connect`) use it exactly as they use an
in-process core.Lakehouse: same methods, same dataclasses back, the same errors
raised. What it can call is the registry's remote operations (core.api) as the daemon
serves them: its session answer lists them with their parameters, so the client never
imports the facade to know them (app/fast.py's budget). Each concurrent call gets its own
connection from a small pool (no head-of-line blocking, no demultiplexing); progress,
tokens and table frames arrive on it before its response. Below it, the functions that
find a root's daemon from its config (address, token, timeouts, whether one runs).
Standard library only unless a table comes back.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from core.errors import LakehouseError

from . import places, trust, wire
from .client import CONNECT_TIMEOUT_S, TIMEOUT_S, Channel, NoAnswer, answers

# What core raises for a query interrupt_sql stopped (DuckDB's message, as an SqlError:
# core/query/messages.clean_error); a remote call it stopped raises the same.
INTERRUPTED = "INTERRUPT Error: Interrupted!"


class _Flight:
    """One call in flight: the thread that made it, its connection and request id."""

    def __init__(self, ch: Channel):
        self.thread, self.ch = threading.get_ident(), ch
        self.rid: int | None = None  # known once the request is sent
        self.interrupted = False


class _Flights:
    """This client's calls in flight, so interrupt_sql can send each the protocol's
    `cancel` — also one interrupted before its request went out (it follows at once)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._flights: set[_Flight] = set()

    def begin(self, ch: Channel) -> _Flight:
        f = _Flight(ch)
        with self._lock:
            self._flights.add(f)
        return f

    def sent(self, f: _Flight, rid: int) -> None:
        with self._lock:
            f.rid = rid
            late = f.interrupted
        if late:
            _cancel(f.ch, rid)

    def end(self, f: _Flight | None) -> None:
        with self._lock:
            self._flights.discard(f)

    def interrupt(self, thread: int | None) -> bool:
        with self._lock:
            hit = [f for f in self._flights if thread is None or f.thread == thread]
            for f in hit:
                f.interrupted = True
            sends = [(f.ch, f.rid) for f in hit if f.rid is not None]
        for ch, rid in sends:
            _cancel(ch, rid)
        return bool(hit)


def _cancel(ch: Channel, rid: int) -> None:
    try:
        ch.send(wire.notification("cancel", {"id": rid}))
    except (OSError, LakehouseError):
        pass  # gone or stuck: the call itself reports that


def _interrupted(e: BaseException, f: _Flight) -> None:
    """The daemon answers a cancelled query `Cancelled`; one interrupt_sql stopped raises
    what in-process would (the SQL pane tells an interrupt from a failure by it)."""
    from core.errors import Cancelled, SqlError

    if f.interrupted and isinstance(e, Cancelled):
        raise SqlError(INTERRUPTED) from None


class RemoteLakehouse:
    """core.Lakehouse's interface over a daemon's socket."""

    def __init__(self, address: str, token: str | None = None, profile: str | None = None,
                 timeout: float = TIMEOUT_S, connect_timeout: float = CONNECT_TIMEOUT_S):
        self.address, self._token, self._profile_id = address, token, profile
        self._timeouts = {"timeout": timeout, "connect_timeout": connect_timeout}
        self._idle: list[Channel] = []
        self._pool_lock = threading.Lock()
        self._flights = _Flights()  # calls in flight, by thread, for interrupt_sql
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
        self.profile = wire.decode(info["profile"])
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
                progress(wire.decode(p["event"]))
            elif msg["method"] == "token" and callable(on_token):
                on_token(p["text"])

        ch = self._channel()
        f = self._flights.begin(ch)
        try:
            result = ch.call(method, wire.encode(params), notes, cancel, lambda rid: self._flights.sent(f, rid))
        except NoAnswer:
            ch.close()  # a reply may still come: this connection is not reusable
            raise
        except (OSError, ConnectionError, ValueError) as e:
            ch.close()
            raise LakehouseError(f"lost the connection to the daemon at {self.address} ({e}) — "
                                 "`lakehouse status` says whether it still runs") from None
        except BaseException as e:
            self._release(ch)
            if cancel is not None and cancel.is_set():
                raise  # the caller's own cancel: Cancelled, as in-process
            _interrupted(e, f)
            raise
        finally:
            self._flights.end(f)
        self._release(ch)
        return wire.decode(result)

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
        f = self._flights.begin(ch)  # the thread that starts the stream owns it, as in-process
        try:
            rid = ch.start("sql_stream", {"text": text, "batch_rows": batch_rows, "as_of": as_of})
            self._flights.sent(f, rid)
            first = self._next_frame(ch, rid)
        except BaseException as e:
            self._flights.end(f)
            if isinstance(e, LakehouseError) and not isinstance(e, NoAnswer):
                self._release(ch)
                _interrupted(e, f)
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
            except LakehouseError as e:
                finished = True  # the error was the response: the channel is clean
                _interrupted(e, f)
                raise
            finally:
                self._flights.end(f)
                self._release(ch) if finished else ch.close()  # abandoned mid-stream: hang up
        return pa.RecordBatchReader.from_batches(first.schema, batches())

    def _next_frame(self, ch: Channel, rid: int):
        """The next frame of request rid as a table; None once its response came."""
        while True:
            msg = ch.read()
            if msg.get("method") == "frame" and msg["params"].get("id") == rid:
                return wire.read_arrow(ch.read_bytes(msg["params"]["bytes"]))
            if msg.get("id") == rid:
                if "error" in msg:
                    raise wire.raised(msg["error"])
                return None

    def interrupt_sql(self, thread: int | None = None) -> bool:
        """Stop this client's calls in flight (not other clients') — all, or those one
        thread made — each with a `cancel`; each raises the interrupted SqlError (a job,
        a method with a `cancel` parameter, is cancelled and recorded so). False if none ran."""
        return self._flights.interrupt(thread)

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
    return remote or cfg.get("daemon.socket") or str(trust.default_socket(cfg.root))


def token_for(cfg, address: str) -> str | None:
    """TCP needs the token: LAKEHOUSE_TOKEN, else the storage root's token file."""
    if not places.is_tcp(address):
        return None
    token = os.environ.get("LAKEHOUSE_TOKEN")
    if token:
        return token.strip()
    try:
        return places.token_file(cfg.root).read_text().strip()
    except OSError:
        raise LakehouseError(f"connecting over TCP needs the daemon's token — set LAKEHOUSE_TOKEN or make "
                             f"{places.token_file(cfg.root)} readable") from None


def timeouts(cfg) -> dict:
    """RemoteLakehouse's timeout arguments from [daemon] client_timeout_s and
    client_connect_timeout_s."""
    return {"timeout": cfg.get("daemon.client_timeout_s"),
            "connect_timeout": cfg.get("daemon.client_connect_timeout_s")}


def connect(cfg, remote: str | None = None, profile: str | None = None) -> RemoteLakehouse:
    """The proxy for the daemon --remote means, as cfg's profile (or `profile`)."""
    address = address_for(cfg, remote)
    return RemoteLakehouse(address, token_for(cfg, address), profile or cfg.profile, **timeouts(cfg))


def running(cfg) -> str | None:
    """The socket of a daemon serving cfg's root, if one answers (for auto_connect). A
    socket there that is not this user's daemon is refused (trust.Untrusted), not ignored."""
    address = cfg.get("daemon.socket") or str(trust.default_socket(cfg.root))
    if not os.path.lexists(address):
        return None
    trust.check_socket(address)
    return address if answers(address, 0.5) else None
