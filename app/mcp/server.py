"""The MCP server: the tools of app/mcp/tools.py and one schema resource per dataset, over
stdio, with the official `mcp` SDK (its low-level Server: the tool list is generated, so
no decorator per tool).

Every call is audited (`_audit`, action "mcp") with the client's name and version from
the initialize handshake (actor "mcp:NAME"), the tool and its arguments (passwords
redacted), and writes carry that actor into the journal. A tool's failure is a tool
error result, one sentence; an unknown tool is a JSON-RPC error; nothing a client sends
stops the server. Facade calls run one at a time on a worker thread, so the protocol
keeps answering (and a slow query does not block a `ping`).

The client's identity is the one its first initialize gave: a second initialize is
refused, so an agent cannot change the name it journals under mid-session. A call the
SDK rejects before any handler runs (before initialize, malformed params) and a line
that is not a JSON-RPC message (app/mcp/transport.py) are audited too. SIGTERM, SIGINT
and the peer closing stdin (or stdout) stop the server within seconds: the call in
flight is told to stop (a query is interrupted), the audit is flushed, and the exit is
quiet. An agent's ingest may not read the storage root's own files (tools.outside_root);
a result over MAX_RESULT is refused rather than sent.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import threading
import time
from collections import deque

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

from app.mcp import tools as tool_mod
from app.mcp.transport import StdinLines, StdoutLines, reply_error
from core.errors import LakehouseError

log = logging.getLogger("lakehouse.mcp")

_URI = re.compile(r"^lakehouse://datasets/([^/]+)/schema$")


class RateLimits:
    """At most `per_minute` calls of each tool in any 60 seconds (0 = no limit)."""

    def __init__(self, reads: int, writes: int, clock=time.monotonic):
        self.reads, self.writes, self.clock = reads, writes, clock
        self._calls: dict[str, deque] = {}

    def wait(self, tool: str, write: bool) -> float:
        """0 when this call may run now (and count it), else the seconds until one may."""
        limit = self.writes if write else self.reads
        if limit <= 0:
            return 0.0
        now, calls = self.clock(), self._calls.setdefault(tool, deque())
        while calls and now - calls[0] >= 60:
            calls.popleft()
        if len(calls) >= limit:
            return max(0.1, 60 - (now - calls[0]))
        calls.append(now)
        return 0.0

    def key(self, write: bool) -> str:
        return "write_calls_per_minute" if write else "calls_per_minute"


GRACE = 5.0  # seconds a stopping server waits for the call in flight to notice
UNKNOWN = ("mcp:unknown", "before initialize")
AUDIT_ARGS = 4000  # characters of a call's arguments kept in its audit entry
MAX_RESULT = 8 * 2**20  # characters of one tool result's JSON


def client_actor(params) -> tuple[str, str]:
    """("mcp:NAME", "NAME VERSION") from the initialize request's params (the wire's dict):
    always prefixed mcp:, ASCII word characters only, so it never reads as another actor."""
    info = params.get("clientInfo") if isinstance(params, dict) else None
    info = info if isinstance(info, dict) else {}
    raw = info.get("name") if isinstance(info.get("name"), str) else ""
    name = re.sub(r"[^A-Za-z0-9_.@+-]", "-", raw)[:64] or "unknown"
    version = re.sub(r"[^A-Za-z0-9_.+-]", "", str(info.get("version") or ""))[:32]
    return f"mcp:{name}", f"{name} {version}".strip()


class LakehouseMCP:
    def __init__(self, lh, allow_writes: bool):
        self.lh, self.allow_writes = lh, allow_writes
        cfg = lh.config
        self.max_rows = cfg.get("mcp.max_rows")
        self.limits = RateLimits(cfg.get("mcp.calls_per_minute"), cfg.get("mcp.write_calls_per_minute"))
        self.tools = tool_mod.build(allow_writes)
        self._one: anyio.Lock | None = None  # the facade serves one call at a time (made in serve())
        self.identity: tuple[str, str] | None = None  # (actor, client), fixed by the first initialize
        self.stopping = threading.Event()  # passed as `cancel` to operations that take one
        self.idle = threading.Event()
        self.idle.set()
        self.exit_code = 0
        self._unaudited = 0  # refused messages past the audit's budget (see _audit_junk)
        self._write = None
        self._ready: anyio.Event | None = None
        self.server = Server(
            "lakehouse", version=_version(),
            instructions=(f"A local lakehouse, read as profile {lh.profile.id}: list datasets, read their schemas "
                          "(resources), query them with SQL (sql_rows), search indexed text by meaning (search)."
                          + (" Write tools change data only with confirm=true; every call is audited."
                             if allow_writes else " Read-only: every call is audited.")),
            on_list_tools=self.list_tools, on_call_tool=self.call_tool,
            on_list_resources=self.list_resources, on_read_resource=self.read_resource)
        self.server.middleware.append(self._guard)

    def who(self) -> tuple[str, str]:
        return self.identity or UNKNOWN

    async def _guard(self, ctx, call_next):
        """One identity per connection; calls the SDK rejects before a handler runs, audited."""
        if ctx.method == "initialize":
            if self.identity is not None:
                why = f"already initialized as {self.identity[1]} — one initialize per connection"
                self._audit_junk(*self.identity, "initialize", client_actor(ctx.params)[1], why)
                raise _Audited(types.INVALID_REQUEST, why)
            result = await call_next(ctx)
            self.identity = client_actor(ctx.params)
            return result
        if self.identity is None and ctx.method.startswith(("tools/", "resources/")):
            why = f"{ctx.method} before initialize — send initialize (and notifications/initialized) first"
            self._audit_junk(*UNKNOWN, *_called(ctx), why)
            raise _Audited(types.INVALID_REQUEST, why)
        try:
            return await call_next(ctx)
        except _Audited:
            raise
        except Exception as e:
            if ctx.method in ("tools/call", "resources/read"):
                why = f"malformed {ctx.method} params ({type(e).__name__})"
                self._audit_junk(*self.who(), *_called(ctx), why)
            raise

    # -- tools ----------------------------------------------------------------------------
    async def list_tools(self, ctx, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[types.Tool(name=t.name, description=t.description,
                                                       input_schema=t.schema) for t in self.tools.values()])

    async def call_tool(self, ctx, params) -> types.CallToolResult:
        name, args = params.name, params.arguments
        actor, client = self.who()
        tool = self.tools.get(name)
        if tool is None:
            why = (f"unknown tool {name[:80]!r}" + (" (write tools need the server started with --allow-writes)"
                                                     if name in tool_mod.WRITE_TOOLS else "")
                   + f" — tools: {', '.join(self.tools)}")
            self._audit_junk(actor, client, name[:80], args, why)
            raise _Audited(types.INVALID_PARAMS, why)
        t0 = time.perf_counter()
        try:
            if self.stopping.is_set():
                raise _Refused("the server is stopping — call again on a new connection")
            kwargs, confirm = tool_mod.check(tool, args, self.max_rows)
            tool_mod.allowed_source(tool, kwargs, self.lh.config.get("mcp.ingest_dirs"))
            tool_mod.outside_root(tool, kwargs, [self.lh.root, self.lh.config.file])
            wait = self.limits.wait(name, tool.write)
            if wait:
                raise _Refused(f"rate limit: {name} was called {self._limit(tool)} times in the last minute "
                               f"([mcp] {self.limits.key(tool.write)}) — retry in {wait:.0f} s")
            if tool.write and not confirm:
                raise _Refused(self._would(tool, kwargs, actor))
            if tool.write and tool.takes_actor:
                kwargs["actor"] = actor
            if tool.takes_cancel:
                kwargs["cancel"] = self.stopping
            result = await self._in_thread(lambda: self._run(tool, kwargs))
        except anyio.get_cancelled_exc_class():  # stopped or cancelled mid-call: audited too
            why = "stopped: the server is stopping" if self.stopping.is_set() else "cancelled by the client"
            self._audit(actor, client, name, args, "failed", why, t0)
            raise
        except (tool_mod.ArgError, _Refused) as e:
            return self._error(actor, client, name, args, "refused", str(e), t0)
        except LakehouseError as e:
            return self._error(actor, client, name, args, "refused" if e.refused else "failed", str(e), t0)
        except Exception as e:  # a bug: said in one sentence, the traceback in the log, the server stays up
            log.exception("tool %s failed", name)
            return self._error(actor, client, name, args, "failed",
                               f"unexpected {type(e).__name__}: {e} — this is a bug in lakehouse", t0)
        text = json.dumps(result, ensure_ascii=False, default=str)
        if len(text) > MAX_RESULT:  # an agent cannot read it, and the peer would hold it twice over
            return self._error(actor, client, name, args, "refused", f"the result is {len(text) / 2**20:.0f} MB, "
                               f"over the {MAX_RESULT // 2**20} MB a tool result may carry — ask for fewer rows or "
                               "columns, or shorten long values (left(col, 200))", t0)
        self._audit(actor, client, name, args, "ok", "", t0, _count(result))
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                    structured_content=result if isinstance(result, dict) else None)

    async def _in_thread(self, fn):
        """fn() on a worker thread, one at a time. A call the client cancels has its query
        interrupted and is waited for before the next runs (an abandoned thread would go on
        burning a core beside it); a stopping server does not wait here (stop() tells the
        call to end, drain() waits for it before the facade closes)."""
        ident, done = [None], threading.Event()

        def work():
            ident[0] = threading.get_ident()
            self.idle.clear()
            try:
                return fn()
            finally:
                done.set()
                self.idle.set()
        async with self._one:
            try:
                return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
            except anyio.get_cancelled_exc_class():
                with anyio.CancelScope(shield=True):
                    while not done.is_set() and not self.stopping.is_set():
                        if ident[0] is not None:
                            self.lh.interrupt_sql(ident[0])
                        await anyio.sleep(0.05)
                raise

    async def serve(self) -> None:
        """The protocol over stdio, stopped by the peer's EOF or by SIGTERM/SIGINT."""
        self._ready, self._one = anyio.Event(), anyio.Lock()
        stdin = StdinLines(self._bad_line, self.stop)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._signals, tg.cancel_scope)
                async with stdio_server(stdin=stdin, stdout=StdoutLines()) as (read, write):
                    self._write = write
                    self._ready.set()
                    await self.server.run(read, write, self.server.create_initialization_options())
                tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:  # the peer closed its end of stdout: it is gone, as at EOF
            if group.split(_GONE)[1] is not None:
                raise
            sys.stderr.write("lakehouse mcp: the client stopped reading (stdout closed)\n")
            self.stop()
        finally:
            stdin.restore()
            if self._unaudited:
                self._audit(*self.who(), "-", None, "refused",
                            f"{self._unaudited} refused messages, not audited singly")

    async def _signals(self, scope) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for sig in signals:
                self.exit_code = 130 if sig == signal.SIGINT else 0
                sys.stderr.write(f"lakehouse mcp: stopping ({signal.Signals(sig).name})\n")
                self.stop()
                scope.cancel()
                return

    async def _bad_line(self, rid, code: int, why: str) -> None:
        """A line that is not a JSON-RPC message: audited (never its text) and answered."""
        self._audit_junk(*self.who(), "-", {"id": rid} if rid is not None else None, why)
        await self._ready.wait()
        await reply_error(self._write, rid, code, why)

    def stop(self) -> None:
        """Tell the call in flight to end: its cancel event, and any query interrupted."""
        self.stopping.set()
        try:
            self.lh.interrupt_sql()
        except Exception:  # nothing running, or the engine already closed
            pass

    def drain(self, grace: float = GRACE) -> bool:
        """After the loop: wait for the call in flight to end (a second signal exits at once)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: os._exit(self.exit_code or 1))
        deadline = time.monotonic() + grace
        while not self.idle.wait(0.1):  # again and again: a query may have started after the first interrupt
            if time.monotonic() > deadline:
                return False
            self.stop()
        return True

    def _run(self, tool, kwargs):
        return tool_mod.to_json(getattr(self.lh, tool.name)(**kwargs), self.max_rows)

    def _limit(self, tool) -> int:
        return self.limits.writes if tool.write else self.limits.reads

    def _would(self, tool, kwargs: dict, actor: str) -> str:
        shown = json.dumps(tool_mod.redacted(kwargs), ensure_ascii=False, default=str)
        return (f"not done: {tool.name} would {tool.summary} with {shown} as {actor}, as "
                f"profile {self.lh.profile.id} — call {tool.name} again with the same arguments and confirm=true "
                "to do it")

    def _error(self, actor, client, name, args, outcome, message, t0) -> types.CallToolResult:
        self._audit(actor, client, name, args, outcome, message, t0)
        return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)

    def _audit_junk(self, actor, client, tool, args, why: str) -> None:
        """A refused message no tool ran for (not a message, an unknown tool, before or a
        second initialize, malformed params): audited up to [mcp] calls_per_minute a minute;
        past that counted, and the count said by the next such entry (or at exit), so a
        flood cannot fill the audit."""
        if self.limits.wait(" junk", False):
            self._unaudited += 1
            return
        if self._unaudited:
            why, self._unaudited = f"{why} (and {self._unaudited} earlier refused messages, not audited singly)", 0
        self._audit(actor, client, tool, args, "refused", why)

    def _audit(self, actor, client, tool, args, outcome, error, t0=None, rows=None) -> None:
        """One `_audit` entry per call: action "mcp", statement "ACTOR (CLIENT) TOOL ARGS"."""
        shown = json.dumps(tool_mod.redacted(args), ensure_ascii=False, default=str)
        if len(shown) > AUDIT_ARGS:  # an agent's megabytes of arguments do not become megabytes of audit
            shown = f"{shown[:AUDIT_ARGS]}… ({len(shown)} characters)"
        ms = None if t0 is None else (time.perf_counter() - t0) * 1000
        self.lh.audit_log.record("mcp", tool_mod.targets(args if isinstance(args, dict) else {}),
                                 f"{actor} ({client}) {tool} {shown}", rows, ms, outcome,
                                 tool_mod.redacted(error or "")[:AUDIT_ARGS])

    # -- resources: each dataset's schema ---------------------------------------------------
    async def list_resources(self, ctx, params) -> types.ListResourcesResult:
        datasets = await self._in_thread(self.lh.datasets)
        return types.ListResourcesResult(resources=[types.Resource(
            name=f"{d.name} schema", uri=f"lakehouse://datasets/{d.name}/schema", mime_type="application/json",
            description=d.description or f"columns and types of dataset {d.name}") for d in datasets])

    async def read_resource(self, ctx, params) -> types.ReadResourceResult:
        uri = str(params.uri)[:300]
        actor, client = self.who()
        m = _URI.match(uri)
        try:
            if m is None:
                raise _Refused(f"no resource {uri} — resources are lakehouse://datasets/NAME/schema")
            schema = await self._in_thread(lambda: self._schema(m.group(1)))
        except (LakehouseError, _Refused) as e:
            self._audit(actor, client, "read_resource", {"uri": uri}, "refused", str(e))
            raise _Audited(types.INVALID_PARAMS, str(e)) from None
        self._audit(actor, client, "read_resource", {"uri": uri, "name": schema["name"]}, "ok", "")
        body = json.dumps(schema, ensure_ascii=False)
        return types.ReadResourceResult(contents=[types.TextResourceContents(
            uri=uri, mime_type="application/json", text=body)])


    def _schema(self, name: str) -> dict:
        """A dataset's catalog entry (columns and types, key, description, owner, tags) and,
        where the facade keeps them, its columns' sensitivity tags."""
        out = tool_mod.to_json(self.lh.dataset(name), self.max_rows)
        if hasattr(self.lh, "tags"):
            out["column_tags"] = tool_mod.to_json(self.lh.tags(name), self.max_rows)
        return out


class _Audited(MCPError):
    """A JSON-RPC error whose call the handler has audited already."""


class _Refused(Exception):
    """A call the MCP layer turns down (unconfirmed write, rate limit): a tool error result."""


_GONE = (BrokenPipeError, ConnectionResetError, anyio.BrokenResourceError, anyio.ClosedResourceError)


def _called(ctx) -> tuple[str, object]:
    """(the tool's name or the method, the arguments or URI) of a raw request, for the audit."""
    p = ctx.params if isinstance(ctx.params, dict) else {}
    name = p["name"][:80] if isinstance(p.get("name"), str) else ctx.method
    return name, p.get("arguments", p.get("uri"))


def _count(result) -> int | None:
    if isinstance(result, list):
        return len(result)
    if isinstance(result, dict) and isinstance(result.get("rows"), list):
        return len(result["rows"])
    return None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lakehouse")
    except PackageNotFoundError:
        return ""


def run(lh, allow_writes: bool) -> int:
    """Serve `lh` over this process's stdin/stdout until the client closes stdin or a
    SIGTERM/SIGINT arrives; the exit code (0, or 130 after SIGINT)."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="lakehouse mcp: %(levelname)s %(message)s")
    srv = LakehouseMCP(lh, allow_writes)
    sys.stderr.write(f"lakehouse mcp: serving profile {lh.profile.id} over stdio — {len(srv.tools)} tools, writes "
                     f"{'allowed (with confirm=true)' if allow_writes else 'off'}\n")
    anyio.run(srv.serve)
    if not srv.drain():
        # a call that ignores its cancel event: exit without closing the facade under it
        sys.stderr.write(f"lakehouse mcp: stopped while a call was still running (after {GRACE:.0f} s); "
                         "an unfinished write is cleaned up at the next start\n")
        sys.stderr.flush()
        os._exit(srv.exit_code or 1)
    return srv.exit_code
