"""Documents (PDF, text, markdown) become rows of a documents table:
doc_id, path, page, text — one row per PDF page, one row per text file."""

from __future__ import annotations

import logging
from pathlib import Path

from core.errors import IngestError

DOCUMENT_COLUMNS = ["doc_id", "path", "page", "text"]


def too_much_text(path: Path, max_text: int, limit: str) -> IngestError:
    return IngestError(f"{path}: its text runs past {max_text / 2**20:,.0f} MiB (e.g. a PDF of highly "
                       f"compressed pages), more than ingest.memory_limit ({limit}) allows — raise "
                       "ingest.memory_limit in lakehouse.toml, or split the document")


def read_document(path: Path, fmt: str, sha256: str, encoding: str | None, max_text: int = 0,
                  limit: str = "") -> tuple[list[dict], list[str]]:
    """Return (rows, notes) for one document file. With `max_text`, a document whose text
    would hold more characters than that is refused before it is all in memory (a PDF's
    pages expand from compressed streams; `limit` names the setting in the message)."""
    doc_id = sha256[:16]
    if fmt == "text":
        if max_text and path.stat().st_size > max_text:
            raise too_much_text(path, max_text, limit)
        text = path.read_bytes().decode(encoding or "utf-8")
        if text.startswith("\ufeff"):
            text = text[1:]
        if not text.strip():
            raise IngestError(f"{path} is empty — there is no text to ingest")
        return [{"doc_id": doc_id, "path": str(path), "page": 1, "text": text}], []
    return _read_pdf(path, doc_id, max_text, limit)


def _read_pdf(path: Path, doc_id: str, max_text: int = 0, limit: str = "") -> tuple[list[dict], list[str]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf warns on every odd byte
    if path.stat().st_size == 0:
        raise IngestError(f"{path} is empty — there is no PDF to ingest")
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            # Many PDFs are "encrypted" with an empty user password and open fine.
            try:
                ok = reader.decrypt("")
            except Exception:
                ok = 0
            if not ok:
                raise IngestError(f"{path} is encrypted with a password — remove the password "
                                  "(e.g. `qpdf --decrypt`) and ingest it again")
        pages, chars = [], 0
        for i, page in enumerate(reader.pages):  # pypdf caps one stream's output (75 MB); we cap the sum
            text = page.extract_text() or ""
            chars += len(text)
            if max_text and chars > max_text:
                raise too_much_text(path, max_text, limit)
            pages.append((i + 1, text))
    except IngestError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            AssertionError, RecursionError, OSError) as e:
        raise IngestError(f"{path} is not a readable PDF ({type(e).__name__}: {e}) — "
                          "check that the file is complete and not damaged") from None
    except Exception as e:  # pypdf raises many kinds on damaged files; none is a bug of ours
        if "crypt" in str(e).lower() or "AES" in str(e):
            raise IngestError(f"{path} is encrypted in a way that cannot be opened here "
                              f"({e}) — decrypt it first") from None
        raise IngestError(f"{path} is not a readable PDF ({type(e).__name__}: {e})") from None
    if not pages:
        raise IngestError(f"{path} has no pages — there is no text to ingest")
    notes = []
    if not any(t.strip() for _, t in pages):
        notes.append(f"{path.name}: no extractable text (a scanned PDF needs OCR first)")
    rows = [{"doc_id": doc_id, "path": str(path), "page": n, "text": t} for n, t in pages]
    return rows, notes
