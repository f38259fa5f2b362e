"""The facade's ingest preview (a part of `core.Lakehouse`): what ingesting one file would
read — its format, encoding and dialect, the dataset it would become, its columns with
their types and its first rows — from a sample, never the whole file. A postgresql://
URL with a table or query is previewed by core/ingest/pgpreview.py.

The preview prepares the source exactly as core/ingest/run.py does (the same sniffing of
the first [ingest] sample_bytes, the same reader SQL from core/ingest/select.py) and puts
a LIMIT over DuckDB's reader, which then reads a few buffers from the start of the file
(bench/ingest_preview.py measures it on a 1 GB CSV). It reads a file, not a dataset, so
it writes no audit entry; the files it may read are those ingest may (core/ingest/paths.py
`fence`)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from core.api import operation
from core.errors import IngestError, LakehouseError
from core.ingest.detect import DOCUMENT_FORMATS, encoding_label, needs_transcoding, sample_encoding
from core.ingest.sources import TabularSource
from core.models import plain

MAX_ROWS = 1000  # a preview is a look, not an export
_CSV_BUFFER = 2 * 1024 * 1024  # > DuckDB's max_line_size (2,000,000), which a buffer must hold
_WIDENINGS = 64  # mixed-type columns widened to text before giving up (as ingest does)


class PreviewOps:
    """Mixed into Lakehouse: uses its root, config and profile."""

    @operation("what ingesting one file, or a PostgreSQL table or query (`table=`/`query=` with a "
               "postgresql:// URL), would read: format, dialect, dataset name, columns with types and "
               "first rows, from a sample (never the whole file); nothing written", remote=True,
               scope="datasets")
    def ingest_preview(self, path: str, *, name: str | None = None, format: str | None = None,
                       types: str | dict | None = None, rows: int = 20, query: str | None = None,
                       table: str | None = None) -> dict:
        from core import access
        from core.ingest.run import is_database_url

        if isinstance(path, str) and is_database_url(path):  # read-only, as ingest connects
            from core.ingest.pgpreview import preview_postgres

            out = preview_postgres(self.config, path, name=name, query=query, table=table, types=types,
                                   limit=_rows_arg(rows))
        else:
            for flag, value in (("--query", query), ("--table", table)):
                if value is not None:  # ingest's sentence
                    raise IngestError(f"{flag} is for a database source — give a "
                                      "postgresql://USER@HOST/DB URL, or drop the flag for files")
            allowed = () if access.restricted(self.profile) else ("demo",)  # as ingest reads (core/datasets/intake.py)
            out = preview(self.root, self.config, path, name=name, fmt=format, types=types, rows=rows,
                          readable_in_root=allowed)
        try:  # a profile ingests only into the datasets its patterns name: say so before it tries
            access.check_ingest(self.profile, out["dataset"])
            out["refusal"] = None
        except LakehouseError as e:
            out["refusal"] = str(e)
        return out


def _one_file(path: str, root: Path, readable_in_root: tuple[str, ...]) -> Path:
    """The regular file `path` names, or why it cannot be previewed (one sentence)."""
    from core.ingest.paths import expand, fence

    if not isinstance(path, (str, Path)) or not str(path).strip():
        raise IngestError("no file given — name one file to preview")
    p = Path(str(path)).expanduser()
    try:
        st = p.stat()
    except OSError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IngestError(f"{path}: a folder — a preview shows one file: pick a file in it")
    if st is None and not os.path.lexists(p):
        raise IngestError(f"{path}: no such file — check the path (a preview takes one file, not a pattern)")
    found = expand([p])  # symlinks, FIFOs and devices: refused as ingest refuses them
    fence(found, root, readable_in_root)
    return found.files[0][0]


def _rows_arg(rows) -> int:
    try:
        n = int(rows)
    except (TypeError, ValueError):
        n = -1
    if n < 0 or isinstance(rows, bool):
        raise IngestError(f"rows {rows!r} is not a count — give a whole number from 0 to {MAX_ROWS}")
    return min(n, MAX_ROWS)


def preview(root: Path, config, path: str, *, name: str | None = None, fmt: str | None = None,
            types: str | dict | None = None, rows: int = 20, readable_in_root: tuple[str, ...] = ()) -> dict:
    """The preview of one file as a JSON-ready dict (see `PreviewOps.ingest_preview`)."""
    from core.ingest.detect import detect_format
    from core.ingest.run import parse_types
    from core.names import check_dataset_name, dataset_name_from_stem

    limit = _rows_arg(rows)
    if name is not None:
        check_dataset_name(name)
    overrides = parse_types(types)
    file = _one_file(path, root, readable_in_root)
    fmt = detect_format(file, fmt)
    size = file.stat().st_size
    if size == 0:
        raise IngestError(f"{file} is empty — there are no rows to ingest")
    documents = fmt in DOCUMENT_FORMATS
    out = {"path": str(file), "format": fmt, "size": size,
           "dataset": name or ("documents" if documents else dataset_name_from_stem(file.stem)),
           "kind": "documents" if documents else "table", "encoding": None, "dialect": None,
           "columns": [], "rows": [], "est_rows": None, "sampled": True, "bytes_read": 0, "notes": []}
    if documents:
        if overrides:
            raise IngestError(f"{file}: --types is for table sources — a {fmt.upper()} file becomes "
                              "document rows (doc_id, path, page, text)")
        _documents(out, file, fmt, size, config.get("ingest.sample_bytes"), limit)
    else:
        _table(out, root, config, file, fmt, size, overrides, limit)
    return out


class PreviewSource(TabularSource):
    """A source whose CSV reader fills 2 MiB buffers, not DuckDB's 32 MiB: each bind and
    the LIMIT read a few buffers from the start (128 MB of a 1 GB file by default, about 12 MB
    so). The sniffer reads across buffers, so the types are those ingest gets."""

    def from_sql(self) -> str:
        sql = super().from_sql()
        return sql[:-1] + f", buffer_size={_CSV_BUFFER})" if self.fmt in ("csv", "tsv") else sql


def _table(out: dict, root: Path, config, file: Path, fmt: str, size: int, overrides: dict, limit: int) -> None:
    src = PreviewSource(file, fmt, None, size, types=dict(overrides))
    try:
        _prepare(src, root, size, config.get("ingest.sample_bytes"), out)
        cols, types, values = _read(src, config, limit, out["dataset"])
    finally:
        if src.read_path is not None:
            src.read_path.unlink(missing_ok=True)
    out["columns"] = [{"name": c, "type": str(t)} for c, t in zip(cols, types)]
    out["rows"] = [[plain(v) for v in row] for row in values]
    out["notes"] = list(src.notes)
    out["est_rows"] = src.est_rows
    if fmt in ("csv", "tsv"):
        out["dialect"] = {"delimiter": src.delim, "quote": "" if fmt == "tsv" else '"',
                          "header_line": src.skip + 1, "skipped_lines": src.skip}
    if src.text_columns:
        out["notes"].append("read as text (their values mix types): " + ", ".join(sorted(src.text_columns)))


def _prepare(src, root: Path, size: int, n: int, out: dict) -> None:
    """Run/_prepare's sniffing over the first `n` bytes, without the whole-file checks
    ingest makes later (JSON validation, full transcoding): a UTF-16/32 file's sample
    alone is transcoded for the reader."""
    from core.ingest.sources import prepare_csv

    head = b""
    if src.fmt in ("csv", "tsv", "json"):
        with open(src.path, "rb") as f:
            head = f.read(n)
        at_eof = len(head) >= size
        src.encoding = out["encoding"] = sample_encoding(src.path, head, at_eof=at_eof)
        if needs_transcoding(src.encoding):
            text = head.decode(src.encoding, errors="replace")
            if not at_eof:  # a sample cut mid-line would end in a broken record
                text = text[: text.rfind("\n") + 1] or text
            tmp = root / "tmp" / "ingest"
            tmp.mkdir(parents=True, exist_ok=True)
            src.read_path = tmp / f"preview-{os.getpid()}-{threading.get_ident()}-{src.path.name}"
            src.read_path.write_bytes(text.encode("utf-8"))
            src.notes.append(f"read as {encoding_label(src.encoding)}")
            src.encoding = "utf-8"
            head = src.read_path.read_bytes()
        out["bytes_read"] = len(head)
        out["sampled"] = not at_eof
        if src.fmt in ("csv", "tsv"):
            prepare_csv(src, head, at_eof=at_eof)
        else:
            if not head.strip():
                raise IngestError(f"{src.path} is empty — there are no records to ingest")
            if src.encoding != "utf-8":
                raise IngestError(f"{src.path}: JSON must be UTF-8 and this file is not — "
                                  "re-save it as UTF-8 and ingest it again")
            src.whole_file_sample = at_eof
            src.json_array = head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"["
    else:  # parquet: the footer says how many rows; the LIMIT reads the first row group
        try:
            import pyarrow.parquet as pq

            meta = pq.read_metadata(src.path)
            src.est_rows = meta.num_rows
            first = meta.row_group(0) if meta.num_row_groups else None
            group = sum(first.column(i).total_compressed_size for i in range(first.num_columns)) if first else 0
            out["bytes_read"] = min(size, meta.serialized_size + group)
        except Exception:
            src.est_rows = None  # the reader below names the problem
        out["sampled"] = True


def _read(src, config, limit: int, dataset: str):
    """(columns, types, first rows) through the reader SQL ingest writes with, widening a
    mixed-type column to text as ingest does when a later row does not fit the sample's type."""
    import duckdb

    from core.ingest.select import select_sql
    from core.storage.duck import connect

    try:
        con = connect(config.get("ingest.memory_limit"), threads=1)
    except ValueError:
        raise IngestError(f"ingest.memory_limit {config.get('ingest.memory_limit')!r} is not a size — "
                          "set it to e.g. '1GB' or '512MB' in lakehouse.toml") from None
    try:
        for _ in range(_WIDENINGS):
            try:
                rel = con.sql(f"SELECT * FROM ({select_sql(con, src, {}, dataset)}) LIMIT {int(limit)}")
                return rel.columns, rel.types, rel.fetchall()
            except duckdb.Error as e:
                why = src.explain(e)
                if isinstance(why, str):
                    src.text_columns.add(why)
                    continue
                raise why from None
        raise IngestError(f"{src.path}: too many columns mix types to preview — pass --types for them")
    finally:
        con.close()


def _documents(out: dict, file: Path, fmt: str, size: int, n: int, limit: int) -> None:
    """A document's rows as ingest makes them (doc_id, path, page, text): a text file's
    first `n` bytes, a PDF's first `limit` pages. doc_id is the file's hash, which a
    preview does not read the whole file for."""
    out["columns"] = [{"name": "doc_id", "type": "VARCHAR"}, {"name": "path", "type": "VARCHAR"},
                      {"name": "page", "type": "INTEGER"}, {"name": "text", "type": "VARCHAR"}]
    out["notes"].append("doc_id is the file's content hash, set when it is ingested")
    if fmt == "text":
        with open(file, "rb") as f:
            head = f.read(n)
        at_eof = len(head) >= size
        enc = out["encoding"] = sample_encoding(file, head, at_eof=at_eof)
        text = head.decode(enc, errors="replace").removeprefix("\ufeff")
        if not text.strip():
            raise IngestError(f"{file} is empty — there is no text to ingest")
        out.update(bytes_read=len(head), sampled=not at_eof, est_rows=1)
        if not at_eof:
            out["notes"].append(f"text cut at {len(head):,} bytes of {size:,}")
        out["rows"] = [[None, str(file), 1, text]] if limit else []
        return
    out["bytes_read"], out["sampled"] = size, False  # a PDF's page tree is read whole (pypdf)
    out["rows"], out["est_rows"] = _pdf_pages(file, limit)
    out["sampled"] = len(out["rows"]) < out["est_rows"]


def _pdf_pages(file: Path, limit: int) -> tuple[list[list], int]:
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(file, strict=False)
        if reader.is_encrypted and not _decrypts(reader):
            raise IngestError(f"{file} is encrypted with a password — remove the password "
                              "(e.g. `qpdf --decrypt`) and ingest it again")
        total = len(reader.pages)
        rows = [[None, str(file), i + 1, reader.pages[i].extract_text() or ""] for i in range(min(limit, total))]
    except IngestError:
        raise
    except Exception as e:  # pypdf raises many kinds on damaged files; none is a bug of ours
        raise IngestError(f"{file} is not a readable PDF ({type(e).__name__}: {e}) — "
                          "check that the file is complete and not damaged") from None
    return rows, total


def _decrypts(reader) -> bool:
    try:  # many PDFs are "encrypted" with an empty user password and open fine
        return bool(reader.decrypt(""))
    except Exception:
        return False
