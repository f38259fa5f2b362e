"""The daemon's client side: Channel, one checked connection to a daemon that sends
requests and reads their notifications, frames and responses, with its timeouts.

Who is at the other end is checked before a byte is sent (app/daemon/trust.py). Standard
library only at import time: app/fast.py's thin client is made of this and the proxy.
"""

from __future__ import annotations

import itertools
import socket
import threading

from core.errors import LakehouseError

from . import places, trust, wire

_ids = itertools.count(1)


class Unreachable(LakehouseError):
    """No daemon answers at the address."""


class NoAnswer(LakehouseError):
    """The daemon took the connection but sent nothing back in time: stuck, or starved."""


CONNECT_TIMEOUT_S = 5.0  # [daemon] client_connect_timeout_s
TIMEOUT_S = 30.0  # [daemon] client_timeout_s
_CONTROL = frozenset({"auth", "session", "status", "ping", "methods"})  # answered at once by a live daemon


class Channel:
    """One connection to the daemon, used by one call at a time.

    Who is at the other end is checked before a byte is sent: on a Unix socket its
    directory and the socket file (trust.check_socket), then the peer's credentials
    (trust.check_peer). Nothing waits forever: connecting has `connect_timeout`; a control
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
        tcp = places.is_tcp(address)
        if not tcp:
            trust.check_socket(address)  # the directory and the socket file: ours, nobody else's
        try:
            if tcp:
                host, port = places.parse_tcp(address.removeprefix("tcp://"))
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
                trust.check_peer(self.sock, address)  # before sending anything
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
        self._sendall(wire.line(obj))

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
                self._sendall(wire.line(wire.request(rid, "ping", {})))
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
        data = wire.line(wire.request(rid, method, params))
        if cancelled:  # cancelled before it was sent: the cancel travels with it, so the daemon has it first
            data += wire.line(wire.notification("cancel", {"id": rid}))
        self._sendall(data)
        return rid

    def call(self, method: str, params, notes=None, cancel: threading.Event | None = None, sent=None):
        """Send a request; hand its notifications to `notes`; return its result. `sent` is
        told the request's id once it is on its way (a later `cancel` names it)."""
        rid = self.start(method, params, cancelled=cancel is not None and cancel.is_set())
        if sent is not None:
            sent(rid)
        done = threading.Event()
        if cancel is not None and not cancel.is_set():
            threading.Thread(target=self._watch, args=(rid, cancel, done), daemon=True).start()
        probe = method not in _CONTROL  # a control call answers at once, or the daemon is stuck
        try:
            while True:
                msg = self.read(probe)
                if msg.get("id") == rid and ("result" in msg or "error" in msg):
                    if "error" in msg:
                        raise wire.raised(msg["error"])
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
                        self.send(wire.notification("cancel", {"id": rid}))
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


def answers(address: str, timeout: float) -> bool:
    """Whether a server takes connections on the Unix socket at `address` (nothing is sent)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(address)
        return True
    except OSError:
        return False
    finally:
        s.close()
