"""The Ollama adapter: one place that talks to a local Ollama server.

It uses the official `ollama` client and adds what a tool needs around it: the
host resolved the way Ollama itself resolves OLLAMA_HOST, finite timeouts (the
client's default is none), retries with backoff for transient failures, and every
failure mapped to one sentence that says what to do.

Host rule (same as the `ollama` CLI and client): `host` alone gets port 11434;
`http://host` without a port means port 80 and `https://host` port 443.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, TypeVar

from core.errors import OllamaError

DEFAULT_HOST = "http://127.0.0.1:11434"
_TRANSIENT_STATUS = {429, 500, 502, 503, 504}
T = TypeVar("T")


def parse_host(raw: str | None) -> str:
    """'host' -> http://host:11434, 'http://host' -> :80, 'https://host' -> :443."""
    raw = (raw or "").strip().rstrip("/")
    if not raw:
        return DEFAULT_HOST
    scheme, sep, rest = raw.partition("://")
    if not sep:
        scheme, rest, port = "http", raw, 11434
    else:
        port = 443 if scheme == "https" else 80 if scheme == "http" else 11434
    hostport, slash, path = rest.partition("/")
    if hostport.startswith("["):  # IPv6 literal
        end = hostport.find("]")
        host, tail = hostport[:end + 1], hostport[end + 1:]
    else:
        host, _, tail = hostport.partition(":")
        tail = ":" + tail if tail else ""
    if tail.startswith(":") and tail[1:].isdigit():
        port = int(tail[1:])
    host = host or "127.0.0.1"
    return f"{scheme}://{host}:{port}" + (f"/{path}" if path else "")


def _client_module():
    """The `ollama` package: it parses OLLAMA_HOST when imported, so a malformed one is
    said here as one sentence rather than surfacing as a ValueError from the import."""
    try:
        import ollama
    except ValueError as e:
        raise OllamaError(f"OLLAMA_HOST={os.environ.get('OLLAMA_HOST', '')!r} is not a host[:port] ({e}) — "
                          "set it to e.g. 127.0.0.1:11434, or unset it") from None
    return ollama


def model_key(name: str) -> str:
    """Ollama's short form: 'nomic-embed-text' means 'nomic-embed-text:latest'."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


class Ollama:
    """A configured connection to one Ollama server."""

    def __init__(self, host: str | None = None, timeout: float = 60.0, retries: int = 3,
                 backoff: float = 0.5, connect_timeout: float = 3.0):
        import httpx
        ollama = _client_module()

        self.url = parse_host(host if host else os.environ.get("OLLAMA_HOST"))
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.client = ollama.Client(host=self.url, timeout=httpx.Timeout(timeout, connect=min(connect_timeout, timeout)))

    @classmethod
    def from_config(cls, cfg, retries: int | None = None) -> "Ollama":
        return cls(cfg.get("ollama.host"), float(cfg.get("ollama.timeout_s")),
                   cfg.get("ollama.retries") if retries is None else retries)

    # -- calls ---------------------------------------------------------------------
    def call(self, fn: Callable[[], T], model: str = "", what: str = "request") -> T:
        """Run one client call with retries for transient failures; map errors."""
        import httpx
        ollama = _client_module()

        attempt = 0
        while True:
            try:
                return fn()
            except ollama.ResponseError as e:
                if e.status_code in _TRANSIENT_STATUS and attempt < self.retries:
                    attempt += 1
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                    continue
                raise self.error(e, model, what) from None
            except (ConnectionError, httpx.ConnectError) as e:  # refused: no server; retrying won't help
                raise self.error(e, model, what) from None
            except httpx.TransportError as e:
                # a dropped connection or a slow answer: a busy or restarting server recovers
                if attempt < self.retries and not isinstance(e, httpx.TimeoutException):
                    attempt += 1
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                    continue
                raise self.error(e, model, what) from None

    def error(self, e: BaseException, model: str = "", what: str = "request") -> OllamaError:
        import httpx
        ollama = _client_module()

        if isinstance(e, httpx.TimeoutException):
            return OllamaError(f"Ollama at {self.url} did not answer the {what} within {self.timeout:g} s — "
                               "it may be loading a large model; try again or raise [ollama] timeout_s")
        if isinstance(e, (ConnectionError, httpx.TransportError)):
            return OllamaError(f"Ollama is not reachable at {self.url} — start it with `ollama serve` "
                               "(or point OLLAMA_HOST at a running server)")
        if isinstance(e, ollama.ResponseError):
            msg = (e.error or "").strip()
            low = msg.lower()
            if e.status_code == 404 or ("not found" in low and "model" in low):
                return OllamaError(f"Ollama at {self.url} has no model {model!r} — run `ollama pull {model}`")
            if "does not support" in low:
                return OllamaError(f"model {model!r} cannot do this: {msg} — choose a model that can "
                                   f"(`ollama show {model}` lists its capabilities)")
            if e.status_code in (429, 503):
                return OllamaError(f"Ollama at {self.url} is busy ({msg or 'queue full'}) after "
                                   f"{self.retries + 1} attempts — try again later, or raise "
                                   "OLLAMA_NUM_PARALLEL / OLLAMA_MAX_QUEUE on the server")
            return OllamaError(f"Ollama at {self.url} refused the {what} for {model or 'the server'} "
                               f"(HTTP {e.status_code}): {msg}")
        return OllamaError(f"Ollama {what} failed: {type(e).__name__}: {e}")

    # -- model facts -----------------------------------------------------------------
    def models(self) -> list[dict[str, Any]]:
        """Installed models (/api/tags): name, digest, size, family, parameters, quantization."""
        resp = self.call(lambda: self.client.list(), what="model list")
        out = []
        for m in resp.models:
            d = m.details
            out.append({"name": m.model, "digest": m.digest or "", "size": m.size or 0,
                        "modified_at": str(m.modified_at or ""),
                        "family": getattr(d, "family", "") or "",
                        "parameter_size": getattr(d, "parameter_size", "") or "",
                        "quantization": getattr(d, "quantization_level", "") or ""})
        return out

    def model(self, name: str) -> dict[str, Any]:
        """The installed model called `name` (short names mean :latest), or a clear error."""
        key = model_key(name)
        for m in self.models():
            if m["name"] == key or m["name"] == name:
                return m
        raise OllamaError(f"Ollama at {self.url} has no model {name!r} — run `ollama pull {name}`")

    def show(self, name: str) -> dict[str, Any]:
        """/api/show: capabilities and model_info (context length, embedding length)."""
        resp = self.call(lambda: self.client.show(name), model=name, what="model details")
        info = dict(resp.modelinfo or {})
        ctx = next((int(v) for k, v in info.items() if k.endswith(".context_length")), 0)
        dim = next((int(v) for k, v in info.items() if k.endswith(".embedding_length")), 0)
        return {"capabilities": list(resp.capabilities or []), "context_length": ctx,
                "embedding_length": dim, "model_info": info}

    # -- chat ------------------------------------------------------------------------
    def capabilities(self, name: str) -> list[str]:
        if not hasattr(self, "_caps"):
            self._caps: dict[str, list[str]] = {}
        if name not in self._caps:
            self._caps[name] = self.show(name)["capabilities"]
        return self._caps[name]

    def chat(self, model: str, messages: list[dict], *, format=None, think: bool | None = None,
             options: dict | None = None, keep_alive=None, on_token=None) -> dict:
        """Stream one reply from /api/chat; return its content and the server's counts.

        `on_token` receives each piece as it arrives. A failure before the first piece
        is retried like any transient error; one after it is reported, with how much
        had arrived, since the pieces were already shown."""
        import httpx
        ollama = _client_module()

        attempt = 0
        while True:
            parts: list[str] = []
            try:
                final = None
                for chunk in self.client.chat(model=model, messages=messages, format=format, think=think,
                                              options=options, keep_alive=keep_alive, stream=True):
                    piece = chunk.message.content or ""
                    if piece:
                        parts.append(piece)
                        if on_token:
                            on_token(piece)
                    if chunk.done:
                        final = chunk
                if final is None:
                    raise httpx.RemoteProtocolError("the stream ended without its final message")
                return {"content": "".join(parts), "done_reason": final.done_reason or "stop",
                        "prompt_eval_count": final.prompt_eval_count or 0, "eval_count": final.eval_count or 0,
                        "total_ms": (final.total_duration or 0) / 1e6,
                        "load_ms": (final.load_duration or 0) / 1e6}
            except ollama.ResponseError as e:
                if parts:
                    raise OllamaError(f"Ollama stopped the reply from {model} after {len(''.join(parts)):,} "
                                      f"characters: {e.error} — try again") from None
                if e.status_code in _TRANSIENT_STATUS and attempt < self.retries:
                    attempt += 1
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                    continue
                raise self.error(e, model, "chat request") from None
            except ConnectionError as e:
                raise self.error(e, model, "chat request") from None
            except httpx.TransportError as e:
                if parts:
                    raise OllamaError(f"the connection to Ollama at {self.url} broke off after "
                                      f"{len(''.join(parts)):,} characters of the reply from {model} — "
                                      "try again") from None
                if attempt < self.retries and not isinstance(e, httpx.TimeoutException):
                    attempt += 1
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                    continue
                raise self.error(e, model, "chat request") from None

    def ping(self) -> bool:
        """Whether a server answers at all (one quick request, no retries)."""
        try:
            self.client._client.get("/api/version")
            return True
        except Exception:
            return False

    def version(self) -> str:
        """The server's version (/api/version)."""
        resp = self.call(lambda: self.client._client.get("/api/version"), what="version request")
        return resp.json().get("version", "") if resp.status_code == 200 else ""

    def loaded(self) -> list[dict[str, Any]]:
        """Models in memory (/api/ps): name, size, VRAM, context, expiry."""
        resp = self.call(lambda: self.client.ps(), what="loaded-model list")
        return [{"name": m.model, "size": m.size or 0, "size_vram": m.size_vram or 0,
                 "context_length": getattr(m, "context_length", None) or 0,
                 "expires_at": str(m.expires_at or ""), "digest": m.digest or ""} for m in resp.models]

    def unload(self, name: str) -> None:
        """Free a model's memory now (keep_alive 0), e.g. when switching profiles."""
        self.call(lambda: self.client.generate(model=name, keep_alive=0), model=name, what="unload request")
