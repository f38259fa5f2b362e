"""stdin and stdout for the SDK's stdio transport, hardened against a misbehaving peer.

The SDK reads stdin a line at a time with no bound (a never-ending line grows until the
machine runs out of memory), drops a line that is not a JSON-RPC message without an
answer (the peer waits forever for a reply to its broken request) and reads in a thread
that a cancelled server still waits for (a signal could not stop it while the peer kept
stdin open). This reader bounds a message's size (the rest of an oversized line is
read and thrown away in chunks), answers a line that is not a message with a JSON-RPC
error (-32700 not JSON, -32600 not a valid message; the request's id when it has one),
reports each such line to `on_bad` (the server audits it) and never holds up shutdown.
Its writer likewise blocks in a worker thread on a peer that stops reading; StdoutLines
writes from a daemon thread instead.
"""

from __future__ import annotations

import json
import os
import queue
import stat
import threading
from typing import Awaitable, Callable

import anyio
import mcp_types as types

MAX_MESSAGE = 4 * 1024 * 1024  # bytes in one message: ample for any tool's arguments
_CHUNK = 1024 * 1024


class StdinLines:
    """The process's stdin as an async iterator of valid JSON-RPC lines (the SDK's
    `stdin` argument); fd 0 itself points at the null device meanwhile, so a child
    process never reads the peer's bytes. A pipe is read in the event loop when it is
    readable (no thread that interpreter exit would wait for); a regular file, directly."""

    def __init__(self, on_bad: Callable[[object, int, str], Awaitable[None]], on_eof: Callable[[], None],
                 limit: int = MAX_MESSAGE):
        self.on_bad, self.on_eof, self.limit = on_bad, on_eof, limit
        self._fd = os.dup(0)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        self._pollable = not stat.S_ISREG(os.fstat(self._fd).st_mode)
        self._buf = bytearray()
        self._eof = False

    def restore(self) -> None:
        """Point fd 0 back at the peer's stream."""
        try:
            os.dup2(self._fd, 0)
            os.close(self._fd)
        except OSError:
            pass

    def __aiter__(self):
        return self

    async def __anext__(self) -> str:
        while True:
            got = await self._line()
            if got is None:
                self.on_eof()
                raise StopAsyncIteration
            if got is _OVERSIZED:
                await self.on_bad(None, types.INVALID_REQUEST,
                                  f"message over {self.limit // (1024 * 1024)} MB, not read — send smaller messages")
                continue
            line = got.decode("utf-8", errors="replace")
            if not line.strip():
                continue
            try:
                types.jsonrpc_message_adapter.validate_json(line, by_name=False)
            except Exception:
                await self.on_bad(*_why(line))
                continue
            return line

    async def _line(self):
        """The next line (bytes), _OVERSIZED for a line over the limit (its rest read and
        dropped, never held), or None at end of input."""
        oversized = False
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                line = bytes(self._buf[:nl + 1])
                del self._buf[:nl + 1]
                return _OVERSIZED if oversized or len(line) > self.limit + 1 else line
            if len(self._buf) > self.limit:
                oversized = True
                self._buf.clear()
            if self._eof:
                if not self._buf:
                    return _OVERSIZED if oversized else None
                line = bytes(self._buf)
                self._buf.clear()
                return _OVERSIZED if oversized else line
            chunk = await self._read()
            if not chunk:
                self._eof = True
            self._buf += chunk

    async def _read(self) -> bytes:
        # once readable, a pipe or terminal read returns what is there: no O_NONBLOCK, which
        # would outlive this process on a shared terminal
        if self._pollable:
            await anyio.wait_readable(self._fd)
        return os.read(self._fd, _CHUNK)


_OVERSIZED = object()


class StdoutLines:
    """stdout for the SDK's transport: each message written by a daemon thread while the
    caller waits without blocking the loop, so a peer that stops reading (a full pipe)
    cannot hold the server past a signal — the SDK's own writer blocks in a worker thread
    that shutdown waits for. fd 1 itself points at stderr meanwhile (stray prints never
    reach the wire), and stays so: the thread may still hold the wire."""

    def __init__(self):
        self._fd = os.dup(1)
        os.dup2(2, 1)
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, name="mcp-stdout", daemon=True).start()

    async def write(self, text: str) -> None:
        done, failed = threading.Event(), []
        self._queue.put((text.encode("utf-8"), done, failed))
        pause = 0.001
        while not done.is_set():  # a poll: cancellable, where waiting on the thread would not be
            await anyio.sleep(pause)
            pause = min(pause * 2, 0.02)
        if failed:
            raise failed[0]

    async def flush(self) -> None:
        pass

    def _pump(self) -> None:
        while True:
            data, done, failed = self._queue.get()
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view):]
            except OSError as e:  # BrokenPipeError: the peer closed its end
                failed.append(e)
            done.set()


def _why(line: str) -> tuple[object, int, str]:
    """(the request's id or None, JSON-RPC code, one sentence) for a line that is not a message."""
    try:
        msg = json.loads(line)
    except json.JSONDecodeError as e:
        return None, types.PARSE_ERROR, f"not JSON ({e.msg} at character {e.pos}) — send one JSON-RPC message a line"
    except (ValueError, RecursionError):  # nesting deeper than any parser here follows
        return None, types.INVALID_REQUEST, "JSON nested too deeply to read — send one JSON-RPC message a line"
    rid = msg.get("id") if isinstance(msg, dict) else None
    if isinstance(rid, bool) or not isinstance(rid, (int, str)):
        rid = None
    method = msg.get("method") if isinstance(msg, dict) else None
    what = f"a {method!r} message" if isinstance(method, str) else "this JSON"
    return rid, types.INVALID_REQUEST, (f"{what[:80]} is not a valid JSON-RPC 2.0 message (jsonrpc \"2.0\", a "
                                        "method, an id that is a string or integer, params an object)")


async def reply_error(write_stream, rid, code: int, message: str) -> None:
    """A JSON-RPC error answering a line the SDK never sees."""
    from mcp.shared.message import SessionMessage

    err = types.JSONRPCError(jsonrpc="2.0", id=rid, error=types.ErrorData(code=code, message=message))
    try:
        await write_stream.send(SessionMessage(err))
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        pass
