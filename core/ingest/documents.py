"""Documents (PDF, text, markdown) become rows of a documents table:
doc_id, path, page, text — one row per PDF page, one row per text file. One ingest job
reads a dataset's document files, then writes them all in one Delta commit."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from core.datasets.register import register
from core.errors import Cancelled, IngestError, LakehouseError
from core.ingest.detect import changed, changed_error, scan
from core.ingest.write import WRITER_COPIES, discard, first_line
from core.models import IngestResult
from core.ops.jobs import Job, Listener
from core.query.cache import parse_size
from core.storage import faults
from core.storage.locks import write_lock
from core.storage.recovery import recover_dataset

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


def ingest_documents(ing, dataset: str, plans: list, mode: str | None,
                     listener: Listener | None, cancel: threading.Event | None) -> list[IngestResult]:
    """One job: each document file of `plans` (each with .path and .fmt) read, then all of
    them written to `dataset` in one commit. `ing` is the Ingestor (root, config, catalog,
    tables, jobs, who). A file that fails is reported and the rest still go in."""
    results: list[IngestResult] = []
    try:
        with ing.jobs.run("ingest", dataset, listener, cancel) as job:
            existing = ing.catalog.datasets.get(dataset)
            if existing is not None and existing.kind != "documents":
                raise IngestError(f"dataset {dataset} holds table rows, not documents — "
                                  "ingest documents with another --name")
            if mode == "create" and existing is not None:
                raise IngestError(f"dataset {dataset} already exists — use --mode append "
                                  "or --mode replace")
            rows, sources, pending = _read_all(ing, dataset, plans, mode, job, results)
            if not rows:
                return results
            snap = _write(ing, dataset, rows, sources, mode, job)
            for res in pending:
                res.status, res.table_version = "ingested", snap.version
                res.message = f"{Path(res.source).name} -> {dataset}: {res.rows} page(s)"
            job.progress(len(plans), len(plans), "files",
                         f"{len(pending)} document(s) -> {dataset} (version {snap.version})",
                         force=True)
    except Cancelled:
        raise
    except LakehouseError as e:
        for res in results:
            if res.status != "unchanged" and (res.status == "ingested" or not res.message):
                res.status, res.message = "failed", str(e)
        if not results:
            results.append(IngestResult("", dataset, "failed", message=str(e)))
    return results


def _read_all(ing, dataset: str, plans: list, mode: str | None, job: Job,
              results: list[IngestResult]) -> tuple[list[dict], list[dict], list[IngestResult]]:
    """Read every document (a result each in `results`): (rows, sources, results read)."""
    rows: list[dict] = []
    sources: list[dict] = []
    pending: list[IngestResult] = []
    limit = ing.config.get("ingest.memory_limit")
    try:  # one document's text may take the share of memory a table's rows may
        max_text = parse_size(limit) // WRITER_COPIES if limit else 0
    except ValueError:
        raise IngestError(f"ingest.memory_limit {limit!r} is not a size — set it to e.g. "
                          "'1GB' or '512MB' in lakehouse.toml") from None
    job.progress(0, len(plans), "files", f"reading {len(plans)} document(s)", force=True)
    for i, plan in enumerate(plans):
        res = IngestResult(str(plan.path), dataset, "failed")
        results.append(res)
        try:
            try:
                before = plan.path.stat()
            except OSError as e:
                raise IngestError(f"{plan.path}: cannot be read ({e.strerror})") from None
            sc = scan(plan.path, plan.fmt)
            if mode != "replace" and ing.catalog.datasets.has_source(dataset, sc.sha256):
                res.status = "unchanged"
                res.message = (f"{plan.path} is already ingested in {dataset} "
                               "(identical bytes) — nothing written")
                continue
            doc_rows, notes = read_document(plan.path, plan.fmt, sc.sha256, sc.encoding,
                                            max_text, limit)
            faults.hook("ingest:document-read")
            if changed(plan.path, before):  # the text must be of the bytes hashed
                raise changed_error(plan.path)
        except IngestError as e:
            res.message = str(e)
            ing.catalog.errors.add("ingest", str(e), dataset=dataset, job_id=job.id)
            continue
        rows.extend(doc_rows)
        sources.append({"uri": str(plan.path), "sha256": sc.sha256, "bytes": sc.bytes,
                        "format": plan.fmt, "rows": len(doc_rows)})
        res.rows, res.notes = len(doc_rows), notes
        pending.append(res)
        job.progress(i + 1)
    return rows, sources, pending


def _write(ing, dataset: str, rows: list[dict], sources: list[dict], mode: str | None, job: Job):
    """The documents' rows as one Delta commit under the write lock, registered: its snapshot."""
    import pyarrow as pa

    schema = pa.schema([("doc_id", pa.string()), ("path", pa.string()),
                        ("page", pa.int32()), ("text", pa.string())])
    table = pa.Table.from_pylist(rows, schema=schema)
    m = "replace" if mode == "replace" else "append"
    meta = {"job": job.id, "mode": m, "kind": "documents", "format": "documents",
            "source": "ingest", **ing.who, "sources": sources}
    with write_lock(ing.root, on_wait=lambda: job.progress(message="waiting for another writer")):
        recover_dataset(ing.catalog, ing.tables, dataset)
        existed, before = ing.tables.exists(dataset), ing.tables.data_files(dataset)
        try:
            snap = ing.tables.write(dataset, table, replace=(m == "replace"), meta=meta)
        except Exception as e:
            discard(ing.tables, dataset, existed, before)
            raise IngestError(f"writing documents to {dataset} failed: {first_line(str(e))}") from None
        register(ing.catalog, dataset, snap, meta, sources=sources)
    return snap
