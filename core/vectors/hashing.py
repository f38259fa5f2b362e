"""The built-in embedder: deterministic feature hashing, no model, no network.

Each word (lower-cased, common English stop words dropped) adds a signed unit at a
hashed position, and its character trigrams add smaller ones, so "kubernetes" and
"Kubernetes," meet and "migrate" sits near "migration". Term counts are dampened
(1 + log tf) and every vector is L2-normalised. The same text gives the same vector
on every machine, forever: the model name carries the algorithm version.

It is fast because each distinct word is hashed once (cached) and a whole batch is
summed with one NumPy bincount.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

VERSION = "hashing-v1"
_WORD = re.compile(r"[^\W_]+(?:[.+#'][^\W_]+)*[+#]*")
_TRIGRAM_WEIGHT = 0.6
_MAX_GRAMS = 23  # a word contributes itself and at most this many trigrams
_STOP = frozenset("""
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not now of off on once only or other our ours ourselves out
over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves someone something
""".split())


def _hash(feature: str) -> int:
    return int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")


class HashingEmbedder:
    provider = "hashing"

    def __init__(self, dim: int = 384):
        if not 16 <= dim <= 8192:
            from core.errors import VectorError

            raise VectorError(f"the hashing embedder's dimension must be between 16 and 8192, got {dim}")
        self.dim = dim
        self.model = VERSION
        self.digest = hashlib.sha256(f"{VERSION}/{dim}".encode()).hexdigest()
        self.split_inputs = 0  # never needed: there is no context window
        self._vocab: dict[str, int] = {}
        cap = 4096
        self._buckets = np.zeros((cap, _MAX_GRAMS + 1), np.int64)
        self._weights = np.zeros((cap, _MAX_GRAMS + 1), np.float32)

    def describe(self) -> str:
        return f"hashing ({VERSION}, built-in and offline, {self.dim}-dim)"

    def identity(self) -> dict:
        return {"provider": self.provider, "model": self.model, "digest": self.digest, "dim": self.dim}

    def _word_id(self, word: str) -> int:
        wid = self._vocab.get(word)
        if wid is not None:
            return wid
        wid = len(self._vocab)
        if wid >= len(self._buckets):
            if wid >= 2_000_000:  # a pathological vocabulary: start over rather than grow forever
                self._vocab.clear()
                self._weights[:] = 0
                return self._word_id(word)
            self._buckets = np.concatenate([self._buckets, np.zeros_like(self._buckets)])
            self._weights = np.concatenate([self._weights, np.zeros_like(self._weights)])
        self._vocab[word] = wid
        padded = f"<{word}>"
        grams = [padded[i:i + 3] for i in range(len(padded) - 2)][:_MAX_GRAMS]
        feats = [(f"w:{word}", 1.0)] + [(f"c:{g}", _TRIGRAM_WEIGHT / np.sqrt(len(grams))) for g in grams]
        for j, (f, w) in enumerate(feats):
            h = _hash(f)
            self._buckets[wid, j] = h % self.dim
            self._weights[wid, j] = w if (h >> 63) & 1 else -w
        return wid

    def _tokens(self, text: str) -> list[int]:
        words = _WORD.findall(text.lower())
        kept = [w for w in words if w not in _STOP] or words or [text.strip().lower() or " "]
        wid = self._word_id
        return [wid(w) for w in kept]

    def embed(self, texts: list[str]) -> np.ndarray:
        n = len(texts)
        if n == 0:
            return np.zeros((0, self.dim), np.float32)
        ids = [self._tokens(t) for t in texts]
        lens = np.fromiter((len(x) for x in ids), np.int64, n)
        flat = np.fromiter((w for x in ids for w in x), np.int64, int(lens.sum()))
        rows = np.repeat(np.arange(n, dtype=np.int64), lens)
        vocab = max(len(self._vocab), 1)
        pairs, counts = np.unique(rows * vocab + flat, return_counts=True)
        r, w = pairs // vocab, pairs % vocab
        tf = (1.0 + np.log(counts)).astype(np.float32)
        cells = (r[:, None] * self.dim + self._buckets[w]).ravel()
        weights = (self._weights[w] * tf[:, None]).ravel()
        out = np.bincount(cells, weights=weights, minlength=n * self.dim).astype(np.float32)
        out = out.reshape(n, self.dim)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        zero = norms[:, 0] == 0
        if zero.any():  # only if every feature cancelled out: fall back to a fixed direction
            out[zero, 0], norms[zero] = 1.0, 1.0
        return out / norms
