"""Documents (PDF, text, markdown) become rows of a documents table:
doc_id, path, page, text — one row per PDF page, one row per text file."""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import IngestError

DOCUMENT_COLUMNS = ["doc_id", "path", "page", "text"]


def read_document(path: Path, fmt: str, sha256: str, encoding: str | None) -> tuple[list[dict], list[str]]:
    """Return (rows, notes) for one document file."""
    doc_id = sha256[:16]
    if fmt == "text":
        text = path.read_bytes().decode(encoding or "utf-8")
        if text.startswith("\ufeff"):
            text = text[1:]
        if not text.strip():
            raise IngestError(f"{path} is empty — there is no text to ingest")
        return [{"doc_id": doc_id, "path": str(path), "page": 1, "text": text}], []
    return _read_pdf(path, doc_id)


def _read_pdf(path: Path, doc_id: str) -> tuple[list[dict], list[str]]:
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
        pages = [(i + 1, page.extract_text() or "") for i, page in enumerate(reader.pages)]
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
