"""Each supported format lands as a Delta table with the schema a user expects."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from conftest import write


def ingest_one(lh, path, **kw):
    [r] = [r for r in lh.ingest([path], **kw) if r.status != "skipped"]
    assert r.status == "ingested", r.message
    return r


def cols(lh, name):
    return {c.name: c.type for c in lh.dataset(name).columns}


def test_csv_with_quotes_and_multiline(lh, data):
    p = write(data / "people.csv", 'id,name,note\n1,Ann,"likes ""SQL"", a lot"\n2,Bob,"two\nlines"\n')
    r = ingest_one(lh, p)
    assert (r.dataset, r.rows) == ("people", 2)
    t = lh.sql("SELECT id, name, note FROM people ORDER BY id")
    assert t.column("note").to_pylist() == ['likes "SQL", a lot', "two\nlines"]
    assert cols(lh, "people")["id"] == "BIGINT"


def test_tsv_and_semicolon_delimiters(lh, data):
    ingest_one(lh, write(data / "a.tsv", "x\ty\n1\thello, world\n2\tb\n"))
    ingest_one(lh, write(data / "b.csv", "x;y\n1;2,5\n3;4\n"))
    assert lh.sql("SELECT y FROM a ORDER BY x").column(0).to_pylist() == ["hello, world", "b"]
    assert lh.sql("SELECT y FROM b ORDER BY x").column(0).to_pylist() == ["2,5", "4"]


def test_csv_encodings_utf8_bom_and_latin1(lh, data):
    ingest_one(lh, write(data / "bom.csv", b"\xef\xbb\xbfcity,n\nM\xc3\xbcnchen,1\n"))
    ingest_one(lh, write(data / "latin.csv", b"city,n\nM\xfcnchen,1\nS\xe3o Paulo,2\n"))
    assert cols(lh, "bom") == {"city": "VARCHAR", "n": "BIGINT"}  # BOM not in the column name
    assert lh.sql("SELECT city FROM bom").column(0).to_pylist() == ["München"]
    assert lh.sql("SELECT city FROM latin ORDER BY n").column(0).to_pylist() == ["München", "São Paulo"]


def test_mixed_type_column_becomes_text(lh, data):
    # The odd value sits past DuckDB's type sample (and past our sniff sample).
    body = "".join(f"{i},{i}\n" for i in range(150000)) + "N/A,7\n"
    r = ingest_one(lh, write(data / "mixed.csv", "code,n\n" + body))
    assert cols(lh, "mixed") == {"code": "VARCHAR", "n": "BIGINT"}
    assert r.rows == 150001
    assert any("code" in n for n in r.notes)
    assert lh.sql("SELECT count(*) FROM mixed WHERE code = 'N/A'").column(0)[0].as_py() == 1


def test_leading_zeros_stay_text(lh, data):
    ingest_one(lh, write(data / "zips.csv", "zip,city\n02134,Boston\n60601,Chicago\n"))
    assert lh.sql("SELECT zip FROM zips ORDER BY city").column(0).to_pylist() == ["02134", "60601"]


def test_types_override_wins(lh, data):
    p = write(data / "prices.csv", "sku,price,qty\n001,9.5,3\n002,10.25,4\n")
    ingest_one(lh, p, types="price=DECIMAL(10,2),qty=DOUBLE,sku=VARCHAR")
    assert cols(lh, "prices") == {"sku": "VARCHAR", "price": "DECIMAL(10,2)", "qty": "DOUBLE"}


def test_ndjson_nested_objects_flattened_arrays_kept(lh, data):
    lines = [{"id": 1, "user": {"name": "ann", "geo": {"city": "Oslo"}}, "tags": ["a", "b"]},
             {"id": 2, "user": {"name": "bob", "geo": {"city": "Rome"}}, "tags": []}]
    ingest_one(lh, write(data / "events.ndjson", "\n".join(json.dumps(x) for x in lines) + "\n"))
    c = cols(lh, "events")
    assert set(c) == {"id", "user.name", "user.geo.city", "tags"}
    assert c["tags"] == "VARCHAR[]"
    t = lh.sql('SELECT "user.geo.city", tags FROM events ORDER BY id')
    assert t.column(0).to_pylist() == ["Oslo", "Rome"]
    assert t.column(1).to_pylist() == [["a", "b"], []]


def test_json_array_and_mixed_scalar_types(lh, data):
    ingest_one(lh, write(data / "arr.json", json.dumps([{"k": 1, "v": "x"}, {"k": "two", "v": None}])))
    assert cols(lh, "arr")["k"] == "VARCHAR"
    assert lh.sql("SELECT k FROM arr").column(0).to_pylist() == ["1", "two"]


def test_parquet_keeps_types(lh, data):
    t = pa.table({"id": pa.array([1, 2], pa.int32()), "when": pa.array([0, 1], pa.timestamp("us")),
                  "amount": pa.array([1.5, 2.5])})
    pq.write_table(t, data / "facts.parquet")
    ingest_one(lh, data / "facts.parquet")
    assert cols(lh, "facts") == {"id": "INTEGER", "when": "TIMESTAMP", "amount": "DOUBLE"}
    assert lh.sql("SELECT sum(amount) FROM facts").column(0)[0].as_py() == 4.0


def test_text_and_markdown_become_documents(lh, data):
    write(data / "a.md", "# Title\n\nSome text about Java.\n")
    write(data / "b.txt", "plain notes\n")
    res = lh.ingest([data])
    assert {r.status for r in res} == {"ingested"}
    d = lh.dataset("documents")
    assert d.kind == "documents" and [c.name for c in d.columns] == ["doc_id", "path", "page", "text"]
    t = lh.sql("SELECT path, page, text FROM documents ORDER BY path")
    assert [p.rsplit("/", 1)[1] for p in t.column(0).to_pylist()] == ["a.md", "b.txt"]
    assert t.column(1).to_pylist() == [1, 1]
    assert "Java" in t.column(2)[0].as_py()


def make_pdf(path, pages):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, text)
    pdf.output(str(path))
    return path


def test_pdf_text_per_page(lh, data):
    make_pdf(data / "guide.pdf", ["Onboarding guide page one", "Timesheets are due Friday"])
    [r] = lh.ingest([data / "guide.pdf"])
    assert r.status == "ingested" and r.rows == 2
    t = lh.sql("SELECT page, text FROM documents ORDER BY page")
    assert t.column(0).to_pylist() == [1, 2]
    assert "Timesheets are due Friday" in t.column(1)[1].as_py()


def test_directory_and_glob_ingest_each_file(lh, data):
    write(data / "one.csv", "a\n1\n")
    write(data / "two.csv", "a\n2\n")
    write(data / ".hidden.csv", "a\n3\n")
    res = lh.ingest([str(data / "*.csv")])
    assert sorted(r.dataset for r in res) == ["one", "two"]
    res = lh.ingest([data])
    assert {r.status for r in res} == {"unchanged"}


def test_many_files_into_one_named_dataset(lh, data):
    write(data / "jan.csv", "month,amount\njan,1\n")
    write(data / "feb.csv", "month,amount\nfeb,2\n")
    res = lh.ingest([data / "jan.csv", data / "feb.csv"], name="sales")
    assert [r.status for r in res] == ["ingested", "ingested"]
    assert lh.sql("SELECT count(*) FROM sales").column(0)[0].as_py() == 2
    assert len(lh.describe("sales").lineage) == 2


def test_append_merges_new_columns_and_replace_overwrites(lh, data):
    ingest_one(lh, write(data / "v1.csv", "id,name\n1,a\n"), name="items")
    ingest_one(lh, write(data / "v2.csv", "id,name,price\n2,b,3.5\n"), name="items", mode="append",
               schema_change="additive")
    t = lh.sql("SELECT id, price FROM items ORDER BY id")
    assert t.column(1).to_pylist() == [None, 3.5]
    assert len(lh.describe("items").schema_versions) == 2
    ingest_one(lh, write(data / "v3.csv", "id\n9\n"), name="items", mode="replace", schema_change="accept")
    assert lh.sql("SELECT id FROM items").column(0).to_pylist() == [9]
    assert lh.dataset("items").row_count == 1


def test_default_mode_refuses_to_overwrite(lh, data):
    ingest_one(lh, write(data / "t.csv", "a\n1\n"))
    [r] = lh.ingest([write(data / "t2.csv", "a\n2\n")], name="t")
    assert r.status == "failed"
    assert r.message == ("dataset t already exists (from %s) — use --mode append to add these rows "
                         "or --mode replace to overwrite it" % (data / "t.csv"))


def test_catalog_records_lineage_schema_and_counts(lh, data):
    p = write(data / "cands.csv", "id,city\n1,Chicago\n2,Austin\n3,Chicago\n")
    ingest_one(lh, p)
    d = lh.describe("cands")
    assert d.dataset.row_count == 3 and d.dataset.bytes > 0
    assert d.dataset.format == "csv" and d.dataset.source_uri == str(p)
    assert len(d.dataset.content_hash) == 64
    [lin] = d.lineage
    assert (lin.source_uri, lin.rows, lin.mode, lin.table_version) == (str(p), 3, "create", 0)
    assert lin.job_id in {j.id for j in lh.jobs()}
    assert d.sample.num_rows == 3


def test_latin1_byte_past_the_sample_is_read_as_latin1(lh, data):
    body = "".join(f"{i},plain\n" for i in range(120000)).encode()  # > 1 MiB of ASCII
    p = write(data / "late_latin.csv", b"id,city\n" + body + b"999999,Z\xfcrich\n")
    r = ingest_one(lh, p)
    assert r.rows == 120001
    assert lh.sql("SELECT city FROM late_latin WHERE id = 999999").column(0)[0].as_py() == "Zürich"


def test_big_files_hash_in_the_background_and_stay_idempotent(lh, data, monkeypatch):
    import core.ingest.run as run

    monkeypatch.setattr(run, "_HASH_INLINE", 0)  # treat every file as big
    p = write(data / "bg.csv", "a,b\n" + "".join(f"{i},x\n" for i in range(1000)))
    ingest_one(lh, p)
    [lin] = lh.describe("bg").lineage
    import hashlib

    assert lin.content_hash == hashlib.sha256(p.read_bytes()).hexdigest()
    [again] = lh.ingest([p])  # same size now known: hashed first, found identical
    assert again.status == "unchanged"
