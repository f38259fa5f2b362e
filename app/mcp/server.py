"""The MCP server: the tools of app/mcp/tools.py and one schema resource per dataset, over
stdio, with the official `mcp` SDK (its low-level Server: the tool list is generated, so
no decorator per tool).

Every call is audited (`_audit`, action "mcp") with the client's name and version from
the initialize handshake (actor "mcp:NAME"), the tool and its arguments (passwords
redacted), and writes carry that actor into the journal. A tool's failure is a tool
error result, one sentence; an unknown tool is a JSON-RPC error; nothing a client sends
stops the server. Facade calls run one at a time on a worker thread, so the protocol
keeps answering (and a slow query does not block a `ping`).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections import deque

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

from app.mcp import tools as tool_mod
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


def client_actor(ctx) -> tuple[str, str]:
    """("mcp:NAME", "NAME VERSION") from the client's initialize handshake."""
    params = getattr(ctx.session, "client_params", None)
    info = getattr(params, "client_info", None)
    name = re.sub(r"[^\w.@+-]", "-", (getattr(info, "name", "") or "unknown"))[:64]
    version = re.sub(r"\s", "", str(getattr(info, "version", "") or ""))[:32]
    return f"mcp:{name}", f"{name} {version}".strip()


class LakehouseMCP:
    def __init__(self, lh, allow_writes: bool):
        self.lh, self.allow_writes = lh, allow_writes
        cfg = lh.config
        self.max_rows = cfg.get("mcp.max_rows")
        self.limits = RateLimits(cfg.get("mcp.calls_per_minute"), cfg.get("mcp.write_calls_per_minute"))
        self.tools = tool_mod.build(allow_writes)
        self._one = anyio.CapacityLimiter(1)  # the facade serves one call at a time
        self.server = Server(
            "lakehouse", version=_version(),
            instructions=(f"A local lakehouse, read as profile {lh.profile.id}: list datasets, read their schemas "
                          "(resources), query them with SQL (sql_rows), search indexed text by meaning (search)."
                          + (" Write tools change data only with confirm=true; every call is audited."
                             if allow_writes else " Read-only: every call is audited.")),
            on_list_tools=self.list_tools, on_call_tool=self.call_tool,
            on_list_resources=self.list_resources, on_read_resource=self.read_resource)

    # -- tools ----------------------------------------------------------------------------
    async def list_tools(self, ctx, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[types.Tool(name=t.name, description=t.description,
                                                       input_schema=t.schema) for t in self.tools.values()])

    async def call_tool(self, ctx, params) -> types.CallToolResult:
        name, args = params.name, params.arguments
        actor, client = client_actor(ctx)
        tool = self.tools.get(name)
        if tool is None:
            why = (f"unknown tool {name!r}" + (" (write tools need the server started with --allow-writes)"
                                                if name in tool_mod.WRITE_TOOLS else "")
                   + f" — tools: {', '.join(self.tools)}")
            self._audit(actor, client, name, args, "refused", why)
            raise MCPError(types.INVALID_PARAMS, why)
        t0 = time.perf_counter()
        try:
            kwargs, confirm = tool_mod.check(tool, args, self.max_rows)
            wait = self.limits.wait(name, tool.write)
            if wait:
                raise _Refused(f"rate limit: {name} was called {self._limit(tool)} times in the last minute "
                               f"([mcp] {self.limits.key(tool.write)}) — retry in {wait:.0f} s")
            if tool.write and not confirm:
                raise _Refused(self._would(tool, kwargs, actor))
            if tool.write and tool.takes_actor:
                kwargs["actor"] = actor
            result = await anyio.to_thread.run_sync(lambda: self._run(tool, kwargs), limiter=self._one)
        except (tool_mod.ArgError, _Refused) as e:
            return self._error(actor, client, name, args, "refused", str(e), t0)
        except LakehouseError as e:
            return self._error(actor, client, name, args, "refused" if e.refused else "failed", str(e), t0)
        except Exception as e:  # a bug: said in one sentence, the traceback in the log, the server stays up
            log.exception("tool %s failed", name)
            return self._error(actor, client, name, args, "failed",
                               f"unexpected {type(e).__name__}: {e} — this is a bug in lakehouse", t0)
        self._audit(actor, client, name, args, "ok", "", t0, _count(result))
        text = json.dumps(result, ensure_ascii=False, default=str)
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                    structured_content=result if isinstance(result, dict) else None)

    def _run(self, tool, kwargs):
        return tool_mod.to_json(getattr(self.lh, tool.name)(**kwargs), self.max_rows)

    def _limit(self, tool) -> int:
        return self.limits.writes if tool.write else self.limits.reads

    def _would(self, tool, kwargs: dict, actor: str) -> str:
        shown = json.dumps(tool_mod.redacted(kwargs), ensure_ascii=False, default=str)
        return (f"not done: {tool.name} would {tool.op.summary.replace('**', '')} with {shown} as {actor}, as "
                f"profile {self.lh.profile.id} — call {tool.name} again with the same arguments and confirm=true "
                "to do it")

    def _error(self, actor, client, name, args, outcome, message, t0) -> types.CallToolResult:
        self._audit(actor, client, name, args, outcome, message, t0)
        return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)

    def _audit(self, actor, client, tool, args, outcome, error, t0=None, rows=None) -> None:
        """One `_audit` entry per call: action "mcp", statement "ACTOR (CLIENT) TOOL ARGS"."""
        safe = tool_mod.redacted(args) if isinstance(args, dict) else args
        shown = json.dumps(safe, ensure_ascii=False, default=str)
        ms = None if t0 is None else (time.perf_counter() - t0) * 1000
        self.lh.audit_log.record("mcp", tool_mod.targets(args if isinstance(args, dict) else {}),
                                 f"{actor} ({client}) {tool} {shown}", rows, ms, outcome, error)

    # -- resources: each dataset's schema ---------------------------------------------------
    async def list_resources(self, ctx, params) -> types.ListResourcesResult:
        datasets = await anyio.to_thread.run_sync(self.lh.datasets, limiter=self._one)
        return types.ListResourcesResult(resources=[types.Resource(
            name=f"{d.name} schema", uri=f"lakehouse://datasets/{d.name}/schema", mime_type="application/json",
            description=d.description or f"columns and types of dataset {d.name}") for d in datasets])

    async def read_resource(self, ctx, params) -> types.ReadResourceResult:
        uri = str(params.uri)
        actor, client = client_actor(ctx)
        m = _URI.match(uri)
        try:
            if m is None:
                raise _Refused(f"no resource {uri} — resources are lakehouse://datasets/NAME/schema")
            schema = await anyio.to_thread.run_sync(lambda: self._schema(m.group(1)), limiter=self._one)
        except (LakehouseError, _Refused) as e:
            self._audit(actor, client, "read_resource", {"uri": uri}, "refused", str(e))
            raise MCPError(types.INVALID_PARAMS, str(e)) from None
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


class _Refused(Exception):
    """A call the MCP layer turns down (unconfirmed write, rate limit): a tool error result."""


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


def run(lh, allow_writes: bool) -> None:
    """Serve `lh` over this process's stdin/stdout until the client closes stdin."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="lakehouse mcp: %(levelname)s %(message)s")
    srv = LakehouseMCP(lh, allow_writes)
    sys.stderr.write(f"lakehouse mcp: serving profile {lh.profile.id} over stdio — {len(srv.tools)} tools, writes "
                     f"{'allowed (with confirm=true)' if allow_writes else 'off'}\n")

    async def main() -> None:
        async with stdio_server() as (read, write):
            await srv.server.run(read, write, srv.server.create_initialization_options())

    anyio.run(main)
