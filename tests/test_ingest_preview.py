"""The ingest preview: what ingesting one file would read (format, dialect, dataset name,
columns with types, first rows), from a sample, never written anywhere."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import write
from core.errors import IngestError
from test_ingest_formats import make_pdf


def test_csv_with_a_title_line_shows_what_ingest_writes(lh, data):
    p = write(data / "Sales Q1.csv", "Quarterly sales export\nid,city,price,day\n1,Oslo,9.5,2024-01-02\n"
                                     "2,Bergen,12.25,2024-01-03\n3,Tromsø,7,2024-01-04\n")
    pv = lh.ingest_preview(str(p), rows=2)
    assert (pv["format"], pv["dataset"], pv["kind"], pv["encoding"]) == ("csv", "sales_q1", "table", "utf-8")
    assert pv["dialect"] == {"delimiter": ",", "quote": '"', "header_line": 2, "skipped_lines": 1}
    assert [(c["name"], c["type"]) for c in pv["columns"]] == [
        ("id", "BIGINT"), ("city", "VARCHAR"), ("price", "DOUBLE"), ("day", "DATE")]
    assert pv["rows"] == [[1, "Oslo", 9.5, "2024-01-02"], [2, "Bergen", 12.25, "2024-01-03"]]
    assert any("skipped 1 line" in n for n in pv["notes"])
    assert pv["sampled"] is False and pv["bytes_read"] == p.stat().st_size  # a small file is read whole
    assert pv["refusal"] is None
    json.dumps(pv)  # JSON-ready as returned
    assert lh.datasets() == []  # nothing was ingested

    # what ingest then writes has the same columns and types
    [r] = lh.ingest([p])
    assert r.status == "ingested", r.message
    assert [(c.name, c.type) for c in lh.dataset("sales_q1").columns] == [
        (c["name"], c["type"]) for c in pv["columns"]]


def test_tsv_keeps_quotes_as_characters(lh, data):
    p = write(data / "notes.tsv", 'k\tnote\n1\tsay "hi", then go\n2\tplain\n')
    pv = lh.ingest_preview(str(p))
    assert pv["format"] == "tsv" and pv["dialect"]["delimiter"] == "\t" and pv["dialect"]["quote"] == ""
    assert pv["rows"] == [[1, 'say "hi", then go'], [2, "plain"]]


def test_json_array_and_ndjson_flatten_as_ingest_does(lh, data):
    arr = write(data / "events.json", json.dumps([{"id": 1, "who": {"name": "Ann"}}, {"id": 2, "who": {"name": "Bo"}}]))
    pv = lh.ingest_preview(str(arr))
    assert pv["format"] == "json" and [c["name"] for c in pv["columns"]] == ["id", "who.name"]
    assert pv["rows"] == [[1, "Ann"], [2, "Bo"]]
    nd = write(data / "log.ndjson", '{"t": "2024-01-02T03:04:05", "n": 1}\n{"t": "2024-01-03T00:00:00", "n": 2}\n')
    pv = lh.ingest_preview(str(nd), rows=1)
    assert pv["dataset"] == "log" and [c["name"] for c in pv["columns"]] == ["t", "n"]
    assert pv["rows"] == [["2024-01-02T03:04:05", 1]]


def test_parquet_reports_its_row_count_and_first_rows(lh, data):
    p = data / "m.parquet"
    pq.write_table(pa.table({"x": list(range(1000)), "s": [f"v{i}" for i in range(1000)]}), p, row_group_size=100)
    pv = lh.ingest_preview(str(p), rows=3)
    assert pv["format"] == "parquet" and pv["est_rows"] == 1000
    assert pv["rows"] == [[0, "v0"], [1, "v1"], [2, "v2"]]
    assert 0 < pv["bytes_read"] < p.stat().st_size and pv["sampled"] is True


def test_pdf_pages_become_document_rows(lh, data):
    p = make_pdf(data / "guide.pdf", ["Onboarding guide page one", "Timesheets are due Friday", "Page three"])
    pv = lh.ingest_preview(str(p), rows=2)
    assert (pv["kind"], pv["dataset"], pv["est_rows"], pv["sampled"]) == ("documents", "documents", 3, True)
    assert [c["name"] for c in pv["columns"]] == ["doc_id", "path", "page", "text"]
    assert [r[2] for r in pv["rows"]] == [1, 2] and "Timesheets are due Friday" in pv["rows"][1][3]


def test_types_override_and_name(lh, data):
    p = write(data / "zips.csv", "zip,n\n2134,1\n60601,2\n")
    pv = lh.ingest_preview(str(p), types="zip=VARCHAR,n=DOUBLE", name="codes")
    assert pv["dataset"] == "codes"
    assert [(c["name"], c["type"]) for c in pv["columns"]] == [("zip", "VARCHAR"), ("n", "DOUBLE")]
    assert pv["rows"] == [["2134", 1.0], ["60601", 2.0]]
    with pytest.raises(IngestError, match="does not have"):
        lh.ingest_preview(str(p), types="nope=INT")


def test_a_big_file_is_sampled_not_read_whole(lh, data):
    lines = "".join(f"{i},name{i}\n" for i in range(200_000))  # ~3 MB, past the 1 MiB sample
    p = write(data / "big.csv", "id,name\n" + lines)
    pv = lh.ingest_preview(str(p), rows=5)
    assert pv["sampled"] is True and pv["bytes_read"] == 1048576 < p.stat().st_size
    assert [r[0] for r in pv["rows"]] == [0, 1, 2, 3, 4] and pv["est_rows"] > 100_000


def test_two_row_file_and_zero_rows(lh, data):
    p = write(data / "two.csv", "a,b\nx,1\ny,2\n")
    assert lh.ingest_preview(str(p), rows=50)["rows"] == [["x", 1], ["y", 2]]
    pv = lh.ingest_preview(str(p), rows=0)
    assert pv["rows"] == [] and [c["name"] for c in pv["columns"]] == ["a", "b"]


def test_bad_inputs_are_one_sentence(lh, data, home):
    write(data / "notes.xyz", "hello")
    write(data / "empty.csv", "")
    cases = [(str(data / "missing.csv"), "no such file"), (str(data), "pick a file"),
             (str(data / "notes.xyz"), "unknown file type"), (str(data / "empty.csv"), "is empty"),
             ("", "no file given"), (str(home / "catalog.sqlite"), "lakehouse's own files")]
    for path, says in cases:
        with pytest.raises(IngestError, match=says) as e:
            lh.ingest_preview(path, format="csv" if path.endswith("sqlite") else None)
        assert "\n" not in str(e.value) and "Traceback" not in str(e.value)
    write(data / "ok.csv", "a\n1\n")
    with pytest.raises(IngestError, match="whole number"):
        lh.ingest_preview(str(data / "ok.csv"), rows=-1)
    with pytest.raises(IngestError, match="unknown format"):
        lh.ingest_preview(str(data / "ok.csv"), format="xlsx")
    bad = write(data / "bad.csv", 'a,b\n1,"open\n')
    with pytest.raises(IngestError, match="line 2"):
        lh.ingest_preview(str(bad))


def test_cli_preview_prints_schema_and_rows_and_ingests_nothing(cli, data):
    p = write(data / "Sales Q1.csv", "Quarterly sales export\nid,city\n1,Oslo\n2,Bergen\n")
    code, out, err = cli("ingest", str(p), "--preview", "--name", "sales", "--types", "id=VARCHAR")
    assert code == 0, err
    assert "csv, utf-8, delimiter ',', header on line 2 -> dataset sales" in out
    assert "VARCHAR" in out and "Bergen" in out and "skipped 1 line" in out
    code, out, err = cli("ingest", str(p), "--preview", "--json")
    assert code == 0 and json.loads(out)["rows"] == [[1, "Oslo"], [2, "Bergen"]]
    code, out, _ = cli("datasets", "--format", "json")
    assert json.loads(out) == []  # nothing was ingested
    code, _, err = cli("ingest", str(p), "--preview", "--mode", "append")
    assert code != 0 and "--mode: not for --preview" in err and "Traceback" not in err
    code, _, err = cli("ingest", str(p), str(p), "--preview")
    assert code != 0 and "one file" in err
    code, _, err = cli("ingest", str(data), "--preview")
    assert code != 0 and "pick a file" in err


def test_a_restricted_profile_is_told_before_it_ingests(home, data):
    from core import Lakehouse

    home.mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text('[profiles.narrow]\ndatasets = ["mine"]\nindexes = ["*"]\n')
    p = write(data / "other.csv", "a\n1\n")
    with Lakehouse.open(home=home, profile="narrow") as lh:
        assert "may only ingest into its datasets" in lh.ingest_preview(str(p))["refusal"]
        assert lh.ingest_preview(str(p), name="mine")["refusal"] is None


def test_utf16_csv_is_previewed_from_a_transcoded_sample(lh, data, home):
    p = write(data / "wide.csv", "city,n\nMünchen,1\nSão Paulo,2\n".encode("utf-16"))
    pv = lh.ingest_preview(str(p))
    assert pv["encoding"].startswith("utf-16") and pv["rows"] == [["München", 1], ["São Paulo", 2]]
    tmp = lh.root / "tmp" / "ingest"
    assert tmp.is_dir() and not list(tmp.glob("preview-*"))  # its sample copy is gone
