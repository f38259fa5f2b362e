"""Split text into overlapping chunks with stable ids.

A chunk id is `<row key>#<chunk number>:<content hash>`: the same text in the same
row always gets the same id, so re-embedding can skip what it already has, and any
edit to a row's text yields new ids for the chunks that changed.
"""

from __future__ import annotations

import hashlib


def chunk_text(text: str, size: int, overlap: int) -> list[str]:
    """Chunks of at most `size` characters, consecutive ones sharing about `overlap`.

    Cuts fall on whitespace when there is some in the last fifth of the window, so
    words are not split; a single very long word is cut where it must be.
    """
    text = text.strip()
    if not text:
        return []
    if len(text) <= size:
        return [text]
    chunks: list[str] = []
    start = 0
    n = len(text)
    while start < n:
        end = min(start + size, n)
        if end < n:
            cut = text.rfind(" ", start + size * 4 // 5, end)
            if cut == -1:
                cut = max(text.rfind("\n", start + size * 4 // 5, end), -1)
            if cut > start:
                end = cut
        piece = text[start:end].strip()
        if piece:
            chunks.append(piece)
        if end >= n:
            break
        nxt = end - overlap
        if overlap:  # start the overlap on a word boundary too
            sp = text.find(" ", nxt, end)
            nxt = sp + 1 if sp != -1 else nxt
        start = max(nxt, start + 1)
    return chunks


def chunk_id(row_key: str, number: int, text: str) -> str:
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()
    return f"{row_key}#{number}:{digest}"


def check_chunking(size: int, overlap: int) -> None:
    from core.errors import VectorError

    if size < 16:
        raise VectorError(f"--chunk-size must be at least 16 characters, got {size}")
    if overlap < 0 or overlap >= size // 2:
        raise VectorError(f"--overlap must be between 0 and half the chunk size ({size // 2 - 1}), "
                             f"got {overlap}")
