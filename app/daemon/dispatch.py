"""What the daemon does with a request line: validate it, answer the loop's own methods
(ping, auth, cancel) at once, run the server's control methods (methods.py) on their
pool and the registry's remote operations (core.api) in a worker, check a facade call's
params against the operation's signature, stream table results as Arrow frames, cancel
and interrupt. Every outcome is one response or error object (wire.py).

Dispatcher is a part of server.Daemon: it uses the attributes Daemon.__init__ sets.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import threading

from core.errors import LakehouseError

from . import places, wire
from .connections import Conn, Request, cancelled
from .methods import SERVER_METHODS
from .params import BadParams, bind

_CALLBACKS = {"progress", "on_token"}  # params a client sets to true to get notifications
# answered by a small executor of their own: never queued behind queries
_CONTROL_METHODS = {"session", "status", "methods"}


class Dispatcher:
    """Handling, running and cancelling requests (a part of server.Daemon)."""

    def _handle(self, conn: Conn, raw: bytes) -> None:
        try:
            msg = json.loads(raw)
        except ValueError as e:
            conn.send(wire.error(None, wire.PARSE_ERROR, f"not JSON: {e}"))
            return
        req_id = msg.get("id") if isinstance(msg, dict) else None
        problem = wire.request_problem(msg)
        if problem:
            conn.send(wire.error(req_id, wire.INVALID_REQUEST, problem))
            return
        method, params = msg["method"], msg.get("params", {})
        is_request = "id" in msg
        if not conn.authed and method != "auth":
            conn.send(wire.error(req_id, wire.UNAUTHORIZED, "send {\"method\": \"auth\", \"params\": {\"token\": ...}} "
                                 "first — the token is in " + str(places.token_file(self.root))))
            if conn.transport == "tcp":
                conn.hang_up()
            return
        if method == "cancel":  # stop request params.id (a notification, or a request answered at once)
            r = conn.pending.get(params.get("id")) if isinstance(params, dict) else None
            if r is not None:
                self._cancel(conn, r)
            if is_request:
                conn.send(wire.response(req_id, {"cancelled": r is not None}))
            return
        if not is_request:  # nothing could answer it, nor could a cancel reach it: never run
            self.log_limited("notification", f"ignored a notification for {method!r} — only `cancel` may be sent "
                             "without an id (docs/protocol.md)")
            return
        if self._stopping.is_set():
            conn.send(wire.error(req_id, wire.SHUTTING_DOWN, "the daemon is shutting down"))
            return
        if method in ("ping", "auth"):
            self.served += 1
        if method == "ping":
            conn.send(wire.response(req_id, "pong"))
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
            asyncio.ensure_future(self._control(conn, Request(req_id, method), params))
            return
        if method not in self.methods:
            conn.send(wire.error(req_id, wire.METHOD_NOT_FOUND, f"no method {method!r} — `methods` lists them"))
            return
        if req_id in conn.pending:
            conn.send(wire.error(req_id, wire.INVALID_REQUEST, f"request id {req_id!r} is already in flight"))
            return
        if len(conn.pending) >= self.per_client:
            conn.send(self._busy(req_id))
            return
        request = Request(req_id, method)
        conn.pending[req_id] = request
        asyncio.ensure_future(self._run(conn, request, params))

    def _busy(self, req_id) -> dict:
        return wire.error(req_id, wire.BUSY, f"this connection already has {self.per_client} requests running "
                          "([daemon] max_requests_per_client) — wait for one to answer, then send again",
                          {"type": "LakehouseError", "exit_code": 75})

    def _auth(self, conn: Conn, req_id, params) -> dict:
        token = params.get("token") if isinstance(params, dict) else None
        if not isinstance(token, str) or self.token is None or not hmac.compare_digest(token.encode(),
                                                                                        self.token.encode()):
            conn.close_after = True
            return wire.core_error(req_id, LakehouseError(f"wrong token — read it from {places.token_file(self.root)}"))
        conn.authed = True
        return wire.response(req_id, {"ok": True})

    async def _control(self, conn: Conn, request: Request, params) -> None:
        try:
            reply = await self.loop.run_in_executor(self.control_pool, self._call, conn, request, params)
        except RuntimeError:  # the pool is shutting down
            reply = wire.error(request.id, wire.SHUTTING_DOWN, "the daemon is shutting down")
        finally:
            conn.control -= 1
        self.served += 1
        conn.send(reply)

    async def _run(self, conn: Conn, request: Request, params) -> None:
        try:
            reply = await self._schedule(conn.peer, lambda: self._call(conn, request, params))
        except RuntimeError:  # the pool is shutting down
            reply = wire.error(request.id, wire.SHUTTING_DOWN, "the daemon is shutting down")
        finally:
            request.finished = True
            conn.pending.pop(request.id, None)
        self.served += 1
        conn.send(reply)

    def _cancel(self, conn: Conn, r: Request) -> None:
        if r.cancel.is_set():
            return  # already cancelled (and being interrupted)
        r.cancel.set()
        self._interrupt(r, again=not self._is_job(r.method))

    def _is_job(self, method: str) -> bool:
        """A method that takes `cancel` gets the request's event and stops itself (recording
        its job as cancelled, as in-process); others are stopped by the daemon."""
        return method in self.methods and "cancel" in self.methods[method].parameters

    def _interrupt(self, r: Request, again: bool) -> None:
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
    def _call(self, conn: Conn, request: Request, params) -> dict:
        """Run one request in a worker thread; return its response (or error) object."""
        with request.lock:
            request.thread = threading.get_ident()
        method, rid = request.method, request.id
        try:
            if request.cancel.is_set() and not self._is_job(method):  # cancelled while it waited for a worker
                raise cancelled()
            if method in SERVER_METHODS:
                result = SERVER_METHODS[method](self, conn, params)
            elif method in self.methods:
                result = self._facade_call(conn, request, params)
            else:
                return wire.error(rid, wire.METHOD_NOT_FOUND, f"no method {method!r} — `methods` lists them")
            if request.cancel.is_set() and conn.closed:
                return wire.error(rid, wire.LAKEHOUSE_ERROR, "cancelled")
            if wire.is_arrow_table(result) or wire.is_arrow_reader(result):
                return wire.response(rid, self._stream(conn, request, result))
            return wire.response(rid, wire.encode(result))
        except BadParams as e:
            return wire.error(rid, wire.INVALID_PARAMS, str(e))
        except LakehouseError as e:
            from core.errors import Cancelled

            if request.cancel.is_set() and not isinstance(e, Cancelled) and not self._is_job(method):
                e = cancelled()  # its query was interrupted: say why it stopped
            return wire.core_error(rid, e)
        except ConnectionError:  # the client went away (or stopped reading) in the middle of a result
            return wire.error(rid, wire.LAKEHOUSE_ERROR, "cancelled")
        except Exception as e:  # a bug: one sentence for the client, the traceback in the log
            self.log_limited("bug:" + method, f"{method} failed unexpectedly: {type(e).__name__}: {e}",
                             exc_info=e)
            return wire.error(rid, wire.INTERNAL_ERROR, f"{method} failed unexpectedly: {type(e).__name__}: {e} "
                              f"— this is a bug in lakehouse; the daemon's log has the traceback")
        finally:
            with request.lock:  # from here on this worker's queries are another request's
                request.thread = None
                request.finished = True

    def _facade_call(self, conn: Conn, request: Request, params):
        sig = self.methods[request.method]
        bound = bind(request.method, sig, params, self.max_json_rows)
        args = bound.arguments
        rid = request.id
        if args.get("progress") is True:
            args["progress"] = lambda ev: conn.post(wire.notification("progress", {"id": rid, "event": wire.encode(ev)}))
        if args.get("on_token") is True:
            args["on_token"] = lambda text: conn.post(wire.notification("token", {"id": rid, "text": text}))
        for name in _CALLBACKS:
            if name in args and not callable(args[name]):
                args[name] = None
        if "cancel" in sig.parameters:
            args["cancel"] = request.cancel
        lh = self.facade(conn.profile)  # opening a profile's facade takes a while: check again
        if request.cancel.is_set() and not self._is_job(request.method):
            raise cancelled()
        if request.method == "sql":  # the same rows as sql(), streamed: never the whole table in memory
            return lh.sql_stream(args["text"], as_of=args.get("as_of"))
        return getattr(lh, request.method)(*bound.args, **bound.kwargs)

    def _stream(self, conn: Conn, request: Request, result) -> dict:
        """A table result as Arrow frames: each a notification line announcing N bytes,
        then N bytes holding one complete Arrow IPC stream (schema and one batch)."""
        reader = result.to_reader() if wire.is_arrow_table(result) else result
        rows = frames = 0
        sent_schema = False
        try:
            for batch in reader:
                if request.cancel.is_set():
                    raise cancelled()
                self._frame(conn, request, wire.arrow_bytes(batch))
                rows += batch.num_rows
                frames += 1
                sent_schema = True
            if not sent_schema:  # an empty result still says which columns it has
                self._frame(conn, request, wire.arrow_bytes(reader.schema.empty_table()))
                frames += 1
        finally:
            reader.close()
        return {"$frames": {"rows": rows, "frames": frames}}

    def _frame(self, conn: Conn, request: Request, data: bytes) -> None:
        head = wire.line(wire.notification("frame", {"id": request.id, "bytes": len(data)}))
        conn.post_and_wait(head + data, request.cancel)
