"""Embedders: Ollama (a local model) and the built-in hashing embedder.

Both turn a list of texts into an (n, dim) float32 array and describe themselves by
an identity {provider, model, digest, dim} that every index generation records, so
a search can refuse an embedder that did not build the index.
"""

from __future__ import annotations

import math

import numpy as np

from core.errors import Hint, OllamaError, VectorError
from core.vectors.chunking import chunk_text
from core.vectors.hashing import HashingEmbedder

# an index whose embedder cannot be had again (or changed) is built anew, not patched
_REEMBED = Hint("re-embed it to build a new generation", "embed", {"dataset": "DATASET", "column": "COL"})

PROVIDERS = ("auto", "ollama", "hashing")


def check_vectors(vectors: np.ndarray, n: int, dim: int | None, who: str) -> np.ndarray:
    """One finite vector per input, all of the expected dimension — or a refusal."""
    if vectors.ndim != 2 or vectors.shape[0] != n:
        got = vectors.shape[0] if vectors.ndim == 2 else 0
        raise VectorError(f"{who} returned {got} vectors for {n} inputs — the batch was refused; "
                          "lower [ollama] embed_batch or try again")
    if dim is not None and vectors.shape[1] != dim:
        raise VectorError(f"{who} returned {vectors.shape[1]}-dim vectors, expected {dim} — "
                          "the dimension mismatch was refused; nothing was stored")
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        raise VectorError(f"{who} returned NaN or infinite values for {int(bad.sum())} of {n} inputs — "
                          "the vectors were refused; nothing was stored")
    return vectors


class OllamaEmbedder:
    """Embeddings from a local Ollama model through /api/embed, in modest batches."""

    provider = "ollama"

    def __init__(self, client, model: str, batch: int = 16, num_ctx: int = 0):
        self.ollama, self.model_name = client, model
        self.batch = max(1, batch)
        self._num_ctx = num_ctx
        self.digest = ""
        self.dim: int | None = None
        self.context = 0
        self.split_inputs = 0  # inputs too long for the context, embedded in parts

    @property
    def model(self) -> str:
        from core.ollama import model_key

        return model_key(self.model_name)

    def connect(self, expect_dim: int | None = None) -> "OllamaEmbedder":
        """Check the server and the model; learn digest, context and dimension."""
        info = self.ollama.model(self.model_name)
        self.digest = info["digest"]
        show = self.ollama.show(self.model_name)
        caps = show["capabilities"]
        if caps and "embedding" not in caps:
            raise OllamaError(f"model {self.model_name!r} cannot make embeddings (its capabilities: "
                              f"{', '.join(caps)}) — use an embedding model such as nomic-embed-text")
        model_ctx = show["context_length"] or 2048
        self.context = min(model_ctx, self._num_ctx) if self._num_ctx else model_ctx
        self.dim = expect_dim
        if self.dim is None:
            self.dim = int(self._call(["dimension probe"]).shape[1])
        return self

    def describe(self) -> str:
        short = self.digest.removeprefix("sha256:")[:12]
        return f"ollama {self.model} ({short}, {self.dim}-dim) at {self.ollama.url}"

    def identity(self) -> dict:
        return {"provider": self.provider, "model": self.model, "digest": self.digest, "dim": self.dim}

    # Conservative token estimate: real tokenizers give ~4 characters per token for
    # English prose and ~2 for code or numbers; assume the worse.
    @staticmethod
    def estimate_tokens(text: str) -> int:
        return len(text) // 2 + 8

    def _call(self, texts: list[str]) -> np.ndarray:
        resp = self.ollama.call(
            lambda: self.ollama.client.embed(model=self.model_name, input=texts, truncate=False,
                                             options={"num_ctx": self.context} if self.context else None),
            model=self.model_name, what="embedding request")
        vectors = np.asarray(resp.embeddings, dtype=np.float32)
        if vectors.size == 0:
            vectors = vectors.reshape(0, self.dim or 0)
        return check_vectors(vectors, len(texts), self.dim, f"Ollama model {self.model}")

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for `texts`. An input longer than the context is split and its
        parts' vectors averaged (weighted by length) — never silently truncated."""
        out = np.zeros((len(texts), self.dim or 0), np.float32)
        fits = [i for i, t in enumerate(texts) if self.estimate_tokens(t) <= self.context]
        fits_set = set(fits)
        for start in range(0, len(fits), self.batch):
            idx = fits[start:start + self.batch]
            try:
                vecs = self._call([texts[i] for i in idx])
            except OllamaError as e:
                if "context" not in str(e).lower():
                    raise
                vecs = np.vstack([self._split_embed(texts[i]) for i in idx])  # the server counted more tokens
            out[idx] = vecs
        for i in range(len(texts)):
            if i not in fits_set:
                out[i] = self._split_embed(texts[i])
        return out

    def _split_embed(self, text: str, depth: int = 0) -> np.ndarray:
        self.split_inputs += 1 if depth == 0 else 0
        max_chars = max(64, (self.context - 8) * 2 // (2 ** depth) if self.context else 2048)
        parts = chunk_text(text, max_chars if len(text) > max_chars else max(32, len(text) // 2), 0)
        if len(parts) < 2:
            parts = [text[: len(text) // 2], text[len(text) // 2:]]
        try:
            vecs = self._call(parts)
        except OllamaError as e:
            if "context" not in str(e).lower() or depth >= 6:
                raise
            vecs = np.vstack([self._split_embed(p, depth + 1) for p in parts])
        weights = np.array([len(p) for p in parts], np.float32)[:, None]
        v = (vecs * weights).sum(axis=0)
        norm = float(np.linalg.norm(v))
        return v / norm if norm and math.isfinite(norm) else v


def make_embedder(provider: str, cfg, model: str | None = None, dim: int | None = None):
    """Build and check an embedder. provider: auto | ollama | hashing.

    Returns (embedder, note). With 'auto', an unreachable server or a missing model
    falls back to the hashing embedder, and the note says so.
    """
    from core.ollama import Ollama

    if provider not in PROVIDERS:
        raise VectorError(f"unknown embedder {provider!r} — use one of: {', '.join(PROVIDERS)}")
    if provider == "hashing":
        return HashingEmbedder(dim or cfg.get("vectors.hashing_dim")), ""
    name = model or cfg.get("ollama.embed_model")
    if provider == "ollama":
        client = Ollama.from_config(cfg)
        return OllamaEmbedder(client, name, cfg.get("ollama.embed_batch"),
                              cfg.get("ollama.num_ctx")).connect(dim), ""
    try:  # auto: a quick look, no retries
        client = Ollama.from_config(cfg, retries=0)
        emb = OllamaEmbedder(client, name, cfg.get("ollama.embed_batch"), cfg.get("ollama.num_ctx")).connect(dim)
        emb.ollama.retries = cfg.get("ollama.retries")
        return emb, ""
    except OllamaError as e:
        fallback = HashingEmbedder(cfg.get("vectors.hashing_dim"))
        return fallback, f"{e}; using the built-in hashing embedder (offline) instead"


def embedder_for(identity: dict, cfg):
    """The embedder that built a generation (identity from its meta), checked: a
    changed Ollama model (different digest) is refused rather than mixed."""
    if identity["provider"] == "hashing":
        emb = HashingEmbedder(int(identity["dim"]))
        if emb.digest != identity["digest"]:
            raise VectorError(f"this index was built by {identity['model']}, which this version of "
                              "Lakehouse does not have", hint=_REEMBED)
        return emb
    from core.ollama import Ollama

    emb = OllamaEmbedder(Ollama.from_config(cfg), identity["model"], cfg.get("ollama.embed_batch"),
                         cfg.get("ollama.num_ctx")).connect(int(identity["dim"]))
    if identity.get("digest") and emb.digest != identity["digest"]:
        raise VectorError(
            f"the Ollama model {identity['model']} changed since this index was built (digest "
            f"{identity['digest'].removeprefix('sha256:')[:12]} -> {emb.digest.removeprefix('sha256:')[:12]}); "
            "its vectors would not be comparable", hint=_REEMBED)
    return emb
