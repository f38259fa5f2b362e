"""A local HTTP server that speaks enough of Ollama's REST API for tests.

No Ollama can run here, so tests point the real ``ollama.Client`` at this stand-in::

    with OllamaStub() as stub:
        client = ollama.Client(host=stub.url, timeout=5)
        client.embed(model="nomic-embed-text", input=["a", "b"])

Stdlib only. Reply shapes follow ollama/ollama server/routes.go and the client's pydantic
types; error texts are real Ollama's wording (constants below).

Deterministic rules (part of the contract with the tests):

* tokens(text) = len(text.split()) -- whitespace-separated words. Truncation keeps the first
  N words, re-joined by single spaces. The context is the model's ``context_length``, or
  ``options.num_ctx`` when given and smaller.
* vector(text, dim): bag of lowercase words (regex [a-z0-9]+); each word is hashed with
  blake2b(digest_size=8, person=b"ollamastub"): low bits -> index (mod dim), top bit -> sign;
  summed, then L2-normalised. No words (or an exact cancellation) -> the unit vector e0.
  ``dimensions`` (0 < d < dim) keeps the first d values and renormalises; a larger value is
  ignored, as Ollama does.
* chat/generate: reply = next ``chat_replies`` item, else "You asked: <last user message>",
  streamed a word per chunk. An item is a str, a dict ``{"content": str, "done_reason": "stop" |
  "length" | ..., "prompt_eval_count": int, "eval_count": int}`` (all but content optional; the
  content is sent as is, e.g. an already cut-short text with done_reason "length"), or a
  callable(request_json) returning either. One item per request that gets as far as a reply
  (load/unload-only requests and 4xx answers take none; the faults below do take one).
  prompt_eval_count = tokens of all message contents (generate: system + prompt) capped at the
  context, like a server that cuts the prompt silently; ``truncate: false`` makes an overflow a
  400 instead. eval_count = chunks sent. Then ``done_reason_next`` ("length" keeps the first
  half), then ``options.num_predict`` apply on top.

Faults for /api/chat and /api/generate (one-shot counters, thread-safe, cleared by
reset_counters(); they hit the next n requests that get as far as a reply, streamed or not, and
take that request's ``chat_replies`` item; ``break_stream_next`` is taken before
``stream_error_next`` when both are pending). What ``ollama.Client`` 0.6.3 raises (checked):

* ``break_stream_next = n`` -- the connection is dropped (FIN, no terminating chunk) mid-reply.
  stream=True: HTTP 200, up to 2 content chunks arrive (and are yielded by the client), no
  ``done: true`` line, then iterating raises ``httpx.RemoteProtocolError("peer closed connection
  without sending complete message body (incomplete chunked read)")`` -- not a ResponseError:
  the client does not wrap it. stream=False: the connection is closed with no response at all;
  ``client.chat`` raises ``httpx.RemoteProtocolError("Server disconnected without sending a
  response.")``. (Both are ``httpx.TransportError``; the client does not retry.)
* ``stream_error_next = n`` (text ``stream_error_text``, default ERR_RUNNER_EOF: what Ollama says
  when the runner dies mid-reply) -- stream=True: HTTP 200, up to 2 content chunks, then the line
  ``{"error": text}`` and a clean end of the stream, as Ollama's streamResponse does; iterating
  raises ``ollama.ResponseError(text)`` with ``status_code == -1`` (str: "<text> (status code:
  -1)"). stream=False: HTTP 500 ``{"error": text}`` -> ``ollama.ResponseError`` with
  ``.error == text`` and ``status_code == 500``.
* ``fail_next(n, status, error)`` answers the next n embed/chat/generate requests with an error
  before anything else is looked at; ``done_reason_next`` forces the next reply's done_reason.

Inspection: ``calls`` = (path, request JSON or None) per POST, ``chat_requests`` = the request
JSON (or None) of every /api/chat POST, both in arrival order; ``embedded_inputs``,
``truncated_inputs`` (see reset_counters()).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar, Self

# Real Ollama wording (server/routes.go, runner/*/runner.go, server/sched.go).
ERR_MODEL_NOT_FOUND = "model '{}' not found"  # 404: /api/show, /api/chat, /api/generate
ERR_PULL_FIRST = 'model "{}" not found, try pulling it first'  # 404: /api/embed
ERR_NO_EMBEDDINGS = "this model does not support embeddings"  # 501: /api/embed, runner's text
ERR_TOO_LONG = "the input length exceeds the context length"  # 400: truncate=false overflow
ERR_NO_THINKING = '"{}" does not support thinking'  # 400
ERR_NO_CHAT = '"{}" does not support chat'  # 400: /api/chat on an embedding-only model
ERR_NO_GENERATE = '"{}" does not support generate'  # 400
ERR_NO_TOOLS = "registry.ollama.ai/library/{} does not support tools"  # 400
ERR_BUSY = "server busy, please try again.  maximum pending requests exceeded"  # 503 (2 spaces)
ERR_INVALID_INPUT = "invalid input type"  # 400
ERR_MISSING_BODY = "missing request body"  # 400
ERR_MODEL_REQUIRED = "model is required"  # 400
ERR_RUNNER_EOF = "an error was encountered while running the model: unexpected EOF"  # llm/server.go

_WORD = re.compile(r"[a-z0-9]+")
_PIECE = re.compile(r"\S+\s*|\s+")  # streaming pieces: a word with its trailing whitespace
_DURATION = re.compile(r"(-?\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_FOREVER = 292 * 365 * 86400.0  # what Go's "keep_alive < 0" amounts to


def _now(offset: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset)).isoformat().replace("+00:00", "Z")


def _keep_alive_seconds(value) -> float:
    """keep_alive as Ollama reads it: seconds or a Go duration ("5m", "1h30m"); < 0 = forever.
    Absent -> 5 minutes. (Real Ollama rejects garbage; the stub falls back to 5 minutes.)"""
    if value is None or value == "" or isinstance(value, bool):
        return 300.0
    try:
        secs = float(value)
    except ValueError:
        parts = _DURATION.findall(str(value))
        secs = sum(float(n) * _UNITS[u] for n, u in parts) if parts else 300.0
    return _FOREVER if secs < 0 else secs


def _canonical(name: str) -> str:
    """Ollama's short name: no registry prefix, lowercase, "x" means "x:latest"."""
    name = name.strip().lower().removeprefix("registry.ollama.ai/").removeprefix("library/")
    return name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"


def _normalise(vec: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vec))
    if norm == 0.0:
        return [1.0] + [0.0] * (len(vec) - 1)
    return [x / norm for x in vec]


def _model(name: str, **fields) -> dict:
    return {"digest": hashlib.sha256(name.encode()).hexdigest(), "dim": 4096, "context_length": 4096,
            "family": "llama", "capabilities": ["completion"], "parameter_size": "7B",
            "quantization": "Q4_K_M", "size": 4_000_000_000, "modified_at": _now(), **fields}


def _default_models() -> dict:
    return {
        "nomic-embed-text:latest": _model("nomic-embed-text:latest", dim=768, context_length=2048,
                                          family="nomic-bert", capabilities=["embedding"],
                                          parameter_size="137M", quantization="F16", size=274_302_450),
        "qwen2.5:7b": _model("qwen2.5:7b", dim=3584, context_length=32768, family="qwen2",
                             capabilities=["completion", "tools"], parameter_size="7.6B",
                             size=4_683_087_332),
        "qwen3:8b": _model("qwen3:8b", dim=4096, context_length=40960, family="qwen3",
                           capabilities=["completion", "tools", "thinking"], parameter_size="8.2B",
                           size=5_225_388_164),
    }


class OllamaStub:
    """Ollama stand-in on 127.0.0.1 in a daemon thread. See the module docstring for the rules."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._addr = (host, port)
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.models: dict[str, dict] = _default_models()
        self.loaded: dict[str, dict] = {}  # name -> {"expires": epoch seconds, "ctx": int}
        self.chat_replies: list = []  # str, dict or callable(request_json) -> str | dict; FIFO
        self.delay = 0.0  # seconds to sleep before answering any request
        self.reset_counters()

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> Self:
        if self._server is None:
            handler = type("Handler", (_Handler,), {"stub": self})
            self._server = _Server(self._addr, handler)
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            kwargs={"poll_interval": 0.05}, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("OllamaStub is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- models -----------------------------------------------------------------------------
    def resolve(self, name) -> str | None:
        """Ollama-style lookup: case-insensitive, "x" means "x:latest", registry prefix optional."""
        if not isinstance(name, str) or not name.strip():
            return None
        with self._lock:
            return next((k for k in self.models if k.lower() == _canonical(name)), None)

    def add_model(self, name: str, **fields) -> dict:
        """Add (or replace) a model; unspecified fields get chat-model defaults (see _model)."""
        name = _canonical(name)
        with self._lock:
            self.models[name] = _model(name, **fields)
            return self.models[name]

    def remove_model(self, name: str) -> None:
        with self._lock:
            key = self.resolve(name)
            self.models.pop(key, None)
            self.loaded.pop(key, None)

    def set_digest(self, name: str, digest: str) -> None:
        """Simulate a re-pull: new digest and modified_at."""
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ValueError("digest must be 64 lowercase hex characters")
        with self._lock:
            key = self.resolve(name)
            if key is None:
                raise KeyError(name)
            self.models[key].update(digest=digest, modified_at=_now())

    # -- faults and inspection -------------------------------------------------------------
    def fail_next(self, n: int = 1, status: int = 503, error: str = ERR_BUSY) -> None:
        """The next n requests to /api/embed, /api/chat, /api/generate get `status` {"error"}."""
        with self._lock:
            self._fail_n, self._fail_reply = n, (status, error)

    def reset_counters(self) -> None:
        """Clear calls/chat_requests/embedded_inputs/truncated_inputs and every pending one-shot
        fault (stream_error_text back to its default too).
        Leaves models, loaded models, chat_replies and delay alone."""
        with self._lock:
            self.calls: list[tuple[str, object]] = []  # (path, request JSON or None) per POST
            self.chat_requests: list = []  # request JSON (or None) of every /api/chat POST
            self.embedded_inputs: list[str] = []  # inputs of every 200 /api/embed, in order
            self.truncated_inputs: list[str] = []  # inputs silently cut to the context
            self._fail_n, self._fail_reply = 0, (503, ERR_BUSY)
            self.nan_next = self.wrong_count_next = self.wrong_dim_next = 0
            self.done_reason_next: str | None = None
            self.break_stream_next = 0  # drop the connection mid-reply (see module docstring)
            self.stream_error_next = 0  # {"error": stream_error_text} mid-stream / 500
            self.stream_error_text = ERR_RUNNER_EOF

    def _take(self, attr: str) -> bool:
        """Consume one unit of a one-shot fault counter (thread-safe)."""
        with self._lock:
            if getattr(self, attr) > 0:
                setattr(self, attr, getattr(self, attr) - 1)
                return True
            return False

    # -- deterministic model behaviour ----------------------------------------------------
    @staticmethod
    def tokens(text: str) -> int:
        return len(text.split())

    @staticmethod
    def vector(text: str, dim: int = 768) -> list[float]:
        vec = [0.0] * dim
        for word in _WORD.findall(text.lower()):
            h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8,
                                               person=b"ollamastub").digest(), "little")
            vec[h % dim] += -1.0 if h >> 63 else 1.0
        return _normalise(vec)

    def _context(self, model: dict, options: dict) -> int:
        ctx, num_ctx = model["context_length"], options.get("num_ctx")
        if isinstance(num_ctx, int) and not isinstance(num_ctx, bool) and num_ctx > 0:
            ctx = min(ctx, num_ctx)
        return ctx

    def _touch(self, name: str, keep_alive, ctx: int) -> None:
        secs = _keep_alive_seconds(keep_alive)
        with self._lock:
            if secs == 0:
                self.loaded.pop(name, None)
            else:
                self.loaded[name] = {"expires": time.time() + secs, "ctx": ctx}

    _REPLY_KEYS = frozenset({"content", "done_reason", "prompt_eval_count", "eval_count"})

    def _next_reply(self, request: dict, default: str) -> dict:
        """The next scripted reply as a dict with at least "content" (see the module docstring)."""
        with self._lock:
            item = self.chat_replies.pop(0) if self.chat_replies else default
        if callable(item):
            item = item(request)
        if not isinstance(item, dict):
            return {"content": str(item)}
        if "content" not in item or not item.keys() <= self._REPLY_KEYS:
            raise ValueError(f"chat_replies dict needs 'content' and only {sorted(self._REPLY_KEYS)}: {item!r}")
        return {**item, "content": str(item["content"])}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # quiet: clients that time out hang up
        pass


class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True  # like Go's net/http (Ollama): small streamed writes go out at once
    protocol_version = "HTTP/1.1"
    server_version, sys_version = "OllamaStub", ""
    stub: OllamaStub  # set by OllamaStub.start()
    ROUTES: ClassVar[dict[str, tuple[str, ...]]] = {  # path -> allowed methods
        "/": ("GET", "HEAD"), "/api/version": ("GET", "HEAD"), "/api/tags": ("GET", "HEAD"),
        "/api/ps": ("GET",), "/api/show": ("POST",), "/api/embed": ("POST",),
        "/api/chat": ("POST",), "/api/generate": ("POST",)}

    def log_message(self, *args):  # no request logging
        pass

    def do_GET(self):
        self._dispatch()

    do_HEAD = do_POST = do_DELETE = do_PUT = do_GET

    # -- plumbing ---------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _stream(self, objs, complete: bool = True) -> None:
        """NDJSON over chunked transfer encoding, one JSON object per line, as Ollama does.
        complete=False: no terminating chunk, and the connection is closed (FIN) right after --
        a server that dies mid-reply."""
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for obj in objs:
            line = (json.dumps(obj) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.flush()
        if complete:
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._hang_up()

    def _hang_up(self) -> None:
        """Close the connection now, mid-exchange (socketserver then shuts it down and closes it)."""
        self.close_connection = True
        self.wfile.flush()

    def _dispatch(self) -> None:
        stub, path = self.stub, self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            if stub.delay:
                time.sleep(stub.delay)
            if path not in self.ROUTES:
                return self._send(404, b"404 page not found", "text/plain")
            if self.command not in self.ROUTES[path]:
                return self._send(405, b"405 method not allowed", "text/plain")
            if self.command != "POST":
                return self._get(path)
            try:
                req = json.loads(raw) if raw.strip() else None
            except ValueError as exc:
                req = exc
            with stub._lock:
                stub.calls.append((path, None if isinstance(req, Exception) else req))
                if path == "/api/chat":
                    stub.chat_requests.append(None if isinstance(req, Exception) else req)
            if not isinstance(req, dict):
                return self._error(400, ERR_MISSING_BODY if req is None else f"invalid JSON body: {req}")
            if path != "/api/show" and stub._take("_fail_n"):
                return self._error(*stub._fail_reply)
            {"/api/show": self._show, "/api/embed": self._embed,
             "/api/chat": self._complete, "/api/generate": self._complete}[path](req)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 -- a stub bug should surface as a loud 500, not a hang
            self._error(500, f"ollama stub crashed: {exc!r}")

    # -- GET endpoints ----------------------------------------------------------------------
    def _details(self, m: dict) -> dict:
        return {"parent_model": "", "format": "gguf", "family": m["family"], "families": [m["family"]],
                "parameter_size": m["parameter_size"], "quantization_level": m["quantization"]}

    def _get(self, path: str) -> None:
        stub = self.stub
        if path == "/":
            return self._send(200, b"Ollama is running", "text/plain; charset=utf-8")
        if path == "/api/version":
            return self._json(200, {"version": "0.12.0"})
        with stub._lock:
            if path == "/api/tags":
                models = [{"name": n, "model": n, "modified_at": m["modified_at"], "size": m["size"],
                           "digest": m["digest"], "details": self._details(m)}
                          for n, m in stub.models.items()]
                return self._json(200, {"models": models})
            now = time.time()  # /api/ps: forget expired or removed models, longest-lived first
            for name in [n for n, v in stub.loaded.items() if v["expires"] <= now or n not in stub.models]:
                del stub.loaded[name]
            running = sorted(stub.loaded.items(), key=lambda kv: -kv[1]["expires"])
            models = [{"name": n, "model": n, "size": stub.models[n]["size"],
                       "digest": stub.models[n]["digest"], "details": self._details(stub.models[n]),
                       "expires_at": _now(v["expires"] - now), "size_vram": stub.models[n]["size"],
                       "context_length": v["ctx"]} for n, v in running]
        self._json(200, {"models": models})

    # -- POST endpoints ---------------------------------------------------------------------
    def _lookup(self, req: dict, not_found: str) -> tuple[str, str] | None:
        """(model as asked, registry key), or None after answering 400/404."""
        asked = req.get("model") or req.get("name") or ""
        name = self.stub.resolve(asked)
        if name is None:
            self._error(404, not_found.format(asked)) if asked else self._error(400, ERR_MODEL_REQUIRED)
            return None
        return asked, name

    def _show(self, req: dict) -> None:
        if (found := self._lookup(req, ERR_MODEL_NOT_FOUND)) is None:
            return
        name = found[1]
        m, fam = self.stub.models[name], self.stub.models[name]["family"]
        modelfile = (f'# Modelfile generated by "ollama show"\nFROM /stub/blobs/sha256-{m["digest"]}\n'
                     f'TEMPLATE "{{{{ .Prompt }}}}"\nPARAMETER num_ctx {m["context_length"]}\n')
        self._json(200, {
            "license": "", "modelfile": modelfile, "template": "{{ .Prompt }}",
            "parameters": f"{'num_ctx':<30} {m['context_length']}",
            "details": self._details(m), "capabilities": list(m["capabilities"]),
            "modified_at": m["modified_at"],
            "model_info": {"general.architecture": fam, f"{fam}.context_length": m["context_length"],
                           f"{fam}.embedding_length": m["dim"]}})

    def _embed(self, req: dict) -> None:
        stub, inp = self.stub, req.get("input")
        if isinstance(inp, str):
            inputs = [inp] if inp else []  # Ollama: "" embeds nothing
        elif isinstance(inp, list) and all(isinstance(x, str) for x in inp):
            inputs = list(inp)
        elif inp is None:
            inputs = []
        else:
            return self._error(400, ERR_INVALID_INPUT)
        if (found := self._lookup(req, ERR_PULL_FIRST)) is None:
            return
        asked, name = found
        m, options = stub.models[name], req.get("options") or {}
        ctx = stub._context(m, options)
        stub._touch(name, req.get("keep_alive"), ctx)  # Ollama loads the model before anything else
        if not inputs:
            return self._json(200, {"model": asked, "embeddings": []})
        if "embedding" not in m["capabilities"]:
            return self._error(501, ERR_NO_EMBEDDINGS)
        truncate = req.get("truncate") is not False
        vectors, cut, count = [], [], 0
        for text in inputs:
            words = text.split()
            if len(words) > ctx:
                if not truncate:
                    return self._error(400, ERR_TOO_LONG)
                text, words = " ".join(words[:ctx]), words[:ctx]
                cut.append(inputs[len(vectors)])
            vectors.append(stub.vector(text, m["dim"]))
            count += len(words)
        dims = req.get("dimensions")
        if isinstance(dims, int) and 0 < dims < m["dim"]:
            vectors = [_normalise(v[:dims]) for v in vectors]
        if stub._take("nan_next"):
            vectors[0][0] = float("nan")  # json.dumps writes NaN, like a buggy provider
        if stub._take("wrong_dim_next"):
            vectors = [v[:-1] for v in vectors]
        if stub._take("wrong_count_next"):
            vectors = vectors[:-1]
        with stub._lock:
            stub.embedded_inputs.extend(inputs)
            stub.truncated_inputs.extend(cut)
        self._json(200, {"model": asked, "embeddings": vectors, "total_duration": 2_000_000 * len(inputs),
                         "load_duration": 100_000, "prompt_eval_count": count})

    def _complete(self, req: dict) -> None:
        """/api/chat and /api/generate: scripted replies, streamed or not."""
        stub, chat = self.stub, self.path.startswith("/api/chat")
        if (found := self._lookup(req, ERR_MODEL_NOT_FOUND)) is None:
            return
        asked, name = found
        m, options, keep_alive = stub.models[name], req.get("options") or {}, req.get("keep_alive")
        if chat:
            msgs = [x for x in req.get("messages") or [] if isinstance(x, dict)]
        else:
            msgs = [{"role": "system", "content": req.get("system") or ""},
                    {"role": "user", "content": req.get("prompt") or ""}] if req.get("prompt") else []

        def chunk(content: str, done: bool, thinking: str = "") -> dict:  # one reply object
            body = {"role": "assistant", "content": content} if chat else {"response": content}
            body.update({"thinking": thinking} if thinking else {})
            return {"model": asked, "created_at": _now(), **({"message": body} if chat else body), "done": done}

        if not msgs and keep_alive is not None and _keep_alive_seconds(keep_alive) == 0:
            stub._touch(name, 0, 0)
            return self._json(200, dict(chunk("", True), done_reason="unload"))
        thinks = req.get("think") not in (None, False, "", "false")  # bool or "low"/"medium"/"high"
        if thinks and "thinking" not in m["capabilities"]:
            return self._error(400, ERR_NO_THINKING.format(asked))
        if "completion" not in m["capabilities"]:
            return self._error(400, (ERR_NO_CHAT if chat else ERR_NO_GENERATE).format(asked))
        if req.get("tools") and "tools" not in m["capabilities"]:
            return self._error(400, ERR_NO_TOOLS.format(name))
        ctx = stub._context(m, options)
        stub._touch(name, keep_alive, ctx)
        if not msgs:
            return self._json(200, dict(chunk("", True), done_reason="load"))
        prompt_tokens = sum(stub.tokens(str(x.get("content") or "")) for x in msgs)
        if prompt_tokens > ctx and req.get("truncate") is False:
            return self._error(400, ERR_TOO_LONG)
        last_user = next((str(x.get("content") or "") for x in reversed(msgs) if x.get("role") == "user"), "")
        reply = stub._next_reply(req, f"You asked: {last_user}")
        pieces = _PIECE.findall(reply["content"])
        done_reason = reply.get("done_reason") or "stop"
        with stub._lock:
            forced, stub.done_reason_next = stub.done_reason_next, None
        if forced == "length":
            pieces, done_reason = pieces[:max(1, len(pieces) // 2)], "length"
        elif forced:
            done_reason = forced
        limit = options.get("num_predict")
        if isinstance(limit, int) and 0 < limit < len(pieces):
            pieces, done_reason = pieces[:limit], "length"
        thinking = "Thinking it over." if thinks else ""  # only when asked for explicitly
        final = {"done_reason": done_reason, "total_duration": 5_000_000, "load_duration": 100_000,
                 "prompt_eval_count": reply.get("prompt_eval_count", min(prompt_tokens, ctx)),
                 "prompt_eval_duration": 1_000_000, "eval_count": reply.get("eval_count", len(pieces)),
                 "eval_duration": 3_000_000}
        streaming = req.get("stream") is not False  # Ollama streams unless told otherwise
        head = [chunk("", False, thinking)] if thinking else []
        partial = head + [chunk(p, False) for p in pieces[:2]]  # what gets out before a fault
        if stub._take("break_stream_next"):
            return self._stream(partial, complete=False) if streaming else self._hang_up()
        if stub._take("stream_error_next"):
            with stub._lock:
                text = stub.stream_error_text
            if not streaming:
                return self._error(500, text)
            return self._stream(partial + [{"error": text}])
        if not streaming:
            return self._json(200, dict(chunk("".join(pieces), True, thinking), **final))
        self._stream(head + [chunk(p, False) for p in pieces] + [dict(chunk("", True), **final)])


if __name__ == "__main__":  # self-check against the real client: .venv/bin/python tests/ollama_stub.py
    import ollama

    with OllamaStub() as stub:
        client = ollama.Client(host=stub.url, timeout=5)
        vecs = client.embed(model="nomic-embed-text", input=["a cat", "a dog"]).embeddings
        assert len(vecs) == 2 and len(vecs[0]) == 768 and vecs[0] == OllamaStub.vector("a cat")
        assert "nomic-embed-text:latest" in {m.model for m in client.list().models}
        assert client.show("nomic-embed-text").modelinfo["nomic-bert.context_length"] == 2048
        parts = list(client.chat(model="qwen2.5:7b", messages=[{"role": "user", "content": "hi"}], stream=True))
        assert "".join(p.message.content for p in parts) == "You asked: hi" and parts[-1].done
        stub.fail_next(1)
        try:
            client.embed(model="nomic-embed-text", input="x")
        except ollama.ResponseError as exc:
            assert exc.status_code == 503
        import httpx  # the faults below surface as the client raises them (module docstring)

        hi = [{"role": "user", "content": "hi there"}]
        stub.break_stream_next = stub.stream_error_next = 1
        for fault, caught in ((1, httpx.RemoteProtocolError), (2, ollama.ResponseError)):
            got = []
            try:
                got.extend(p.message.content for p in client.chat(model="qwen2.5:7b", messages=hi, stream=True))
            except caught:
                assert got == ["You ", "asked: "], got  # two chunks, then the break or the error line
            else:
                raise AssertionError(f"fault {fault} not raised")
        stub.chat_replies = [{"content": "cut", "done_reason": "length"}]
        r = client.chat(model="qwen2.5:7b", messages=hi, stream=False)
        assert (r.message.content, r.done_reason) == ("cut", "length") and len(stub.chat_requests) == 4
        print("ollama stub OK:", stub.url)
