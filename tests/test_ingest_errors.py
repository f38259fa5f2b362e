"""Bad input: one clear sentence naming the file and line/record; nothing registered
or half-written."""

from __future__ import annotations

import os

import pytest

from conftest import write
from core.errors import LakehouseError


def refused(lh, path, **kw):
    res = lh.ingest([path], **kw)
    assert [r.status for r in res] == ["failed"], res
    return res[0].message


def assert_nothing_written(lh, home, name):
    assert lh.catalog.datasets.get(name) is None
    assert not (home / "tables" / name).exists()


def test_malformed_quoting(lh, home, data):
    p = write(data / "q.csv", 'a,b,c\n1,2,3\n4,"5,6\n7,8,9\n')
    assert refused(lh, p) == (f'{p}: line 3: a quoted field is never closed — add the closing " '
                              'or escape quotes inside values as ""')
    assert_nothing_written(lh, home, "q")


def test_ragged_rows(lh, home, data):
    p = write(data / "r.csv", "a,b,c\n1,2,3\n4,5,6,7\n7,8,9\n")
    assert refused(lh, p) == (f"{p}: line 3: row has 4 fields but the header has 3 — fix that row "
                              "(quote values that contain ',')")
    assert_nothing_written(lh, home, "r")


def test_ragged_row_beyond_the_sample_is_caught_by_the_reader(lh, home, data):
    body = "".join(f"{i},x,y\n" for i in range(100000))
    p = write(data / "late.csv", "a,b,c\n" + body + "1,2,3,4\n")
    msg = refused(lh, p)
    assert msg.startswith(f"{p}: line 100002: row has 4 fields but the header has 3")
    assert_nothing_written(lh, home, "late")


def test_undecodable_bytes_in_utf8_file(lh, home, data):
    p = write(data / "u.csv", "name\nJosé\n".encode() + b"bad \xff byte\n")
    assert refused(lh, p) == (f"{p}: line 3: bytes that are not valid UTF-8 in a file that is "
                              "otherwise UTF-8 — re-save the file in one encoding (UTF-8 or "
                              "Latin-1) and ingest it again")
    assert_nothing_written(lh, home, "u")


def test_truncated_json(lh, home, data):
    p = write(data / "t.json", '[{"a": 1}, {"a": 2}, {"a": ')
    msg = refused(lh, p)
    assert msg == (f"{p}: line 1, column 28: the JSON ends too early — the file looks cut short; "
                   "check that it is complete")
    assert_nothing_written(lh, home, "t")


def test_truncated_ndjson_names_the_record(lh, home, data):
    p = write(data / "t.ndjson", '{"a": 1}\n{"a" 2}\n{"a": 3}\n')
    msg = refused(lh, p)
    assert msg == f"{p}: line 2, column 6: malformed JSON (expecting ':' delimiter) — fix the file"


@pytest.mark.parametrize("name,content", [("e.csv", b""), ("e.json", b""), ("e.csv", b"\n\n"),
                                          ("e.md", b"")])
def test_empty_files(lh, home, data, name, content):
    p = write(data / name, content)
    assert refused(lh, p).startswith(f"{p} is empty — ")
    assert lh.datasets() == []


def test_corrupt_pdf(lh, home, data):
    p = write(data / "c.pdf", b"%PDF-1.4\n1 0 obj<<>>garbage" + os.urandom(200))
    msg = refused(lh, p)
    assert msg.startswith(f"{p} is not a readable PDF")
    assert_nothing_written(lh, home, "documents")


def test_encrypted_pdf(lh, home, data):
    from pypdf import PdfWriter

    from test_ingest_formats import make_pdf

    src = make_pdf(data / "plain.pdf", ["secret text"])
    w = PdfWriter(clone_from=str(src))
    w.encrypt(user_password="hunter2", algorithm="AES-128")
    p = data / "locked.pdf"
    with open(p, "wb") as f:
        w.write(f)
    assert refused(lh, p) == (f"{p} is encrypted with a password — remove the password "
                              "(e.g. `qpdf --decrypt`) and ingest it again")
    assert_nothing_written(lh, home, "documents")


def test_corrupt_parquet(lh, home, data):
    p = write(data / "bad.parquet", b"PAR1 this is not parquet")
    assert refused(lh, p).startswith(f"{p}: not a readable Parquet file — ")
    assert_nothing_written(lh, home, "bad")


def test_unknown_extension(lh, data):
    p = write(data / "x.xlsx", b"PK..")
    assert refused(lh, p) == (f"{p}: unknown file type '.xlsx' — pass --format "
                              "csv|tsv|json|parquet|pdf|text to say what it is")


@pytest.mark.parametrize("bad", ["../evil", "a/b", "..", "Sales", "1abc", "x" * 64, "_errors", "a b"])
def test_dataset_names_with_path_characters(lh, home, data, bad):
    p = write(data / "ok.csv", "a\n1\n")
    with pytest.raises(LakehouseError) as e:
        lh.ingest([p], name=bad)
    assert str(e.value) == (f"dataset name {bad!r} is invalid: use lowercase letters, digits and _ "
                            "(starting with a letter, at most 63 characters; no path characters or '..')")
    assert lh.datasets() == [] and list((home / "tables").iterdir()) == []


def test_missing_path(lh, data):
    with pytest.raises(LakehouseError, match=r"nope.csv: no such file or directory"):
        lh.ingest([data / "nope.csv"])


def test_bad_types_spec(lh, data):
    p = write(data / "a.csv", "a,b\n1,2\n")
    with pytest.raises(LakehouseError, match=r"--types: 'a' is not col=TYPE"):
        lh.ingest([p], types="a")
    [r] = lh.ingest([p], types="zz=BIGINT")
    assert r.status == "failed"
    assert r.message == "--types names column(s) 'zz' that a.csv does not have — its columns are: a, b"


def test_types_override_that_does_not_fit(lh, data):
    p = write(data / "a.csv", "a,b\n1,x\n")
    msg = refused(lh, p, types="b=BIGINT")
    assert msg.startswith(f"{p}: line 2: column 'b': value 'x' is not") and "--types" in msg


def test_append_with_incompatible_values(lh, data):
    lh.ingest([write(data / "n1.csv", "id,qty\n1,5\n")], name="stock")
    msg = refused(lh, write(data / "n2.csv", "id,qty\n2,many\n"), name="stock", mode="append")
    assert "type changed qty BIGINT → VARCHAR" in msg and "nothing was written" in msg
    msg = refused(lh, data / "n2.csv", name="stock", mode="append", schema_change="accept")
    assert "does not fit the type the column already has in dataset stock" in msg
    assert lh.dataset("stock").row_count == 1
    assert lh.sql("SELECT count(*) FROM stock").column(0)[0].as_py() == 1


def test_failures_land_in_errors_table(lh, data):
    p = write(data / "r.csv", "a,b\n1,2,3\n")
    refused(lh, p)
    [e] = lh.errors()
    assert e.operation == "ingest" and e.dataset == "r" and e.message.startswith(f"{p}: line 2")
    t = lh.sql("SELECT operation, dataset, message FROM _errors")
    assert t.to_pylist() == [{"operation": "ingest", "dataset": "r", "message": e.message}]
    [job] = lh.jobs()
    assert job.status == "failed" and job.message == e.message
    assert lh.errors(since="1h") and not lh.errors(since="2999-01-01")


def test_append_of_unrelated_data_is_refused(lh, data):
    lh.ingest([write(data / "people.csv", "id,name\n1,ann\n")])
    p = write(data / "weather.csv", "day,temp\nmon,20\n")
    assert refused(lh, p, name="people", mode="append") == (
        f"{p}: none of its columns (day, temp) are in dataset people (id, name) — it looks like "
        "different data; ingest it under another --name")
    assert lh.dataset("people").row_count == 1


def test_bad_utf8_byte_past_the_sample_names_its_line(lh, home, data):
    head = "name\nJosé\n".encode() + "".join(f"row {i}\n" for i in range(150000)).encode()
    p = write(data / "late_bad.csv", head + b"bad \xff byte\n")
    assert refused(lh, p) == (f"{p}: line 150003: bytes that are not valid UTF-8 in a file that is "
                              "otherwise UTF-8 — re-save the file in one encoding (UTF-8 or "
                              "Latin-1) and ingest it again")
    assert_nothing_written(lh, home, "late_bad")


def test_latin1_json_is_refused(lh, data):
    p = write(data / "l.json", b'[{"city": "Z\xfcrich"}]')
    assert refused(lh, p) == (f"{p}: JSON must be UTF-8 and this file is not — re-save it as UTF-8 "
                              "and ingest it again")
