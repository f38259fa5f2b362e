"""Ingest against public conformance files (tests/conformance, see SOURCES.md) and the
real-world shapes that used to load wrongly: truncated or non-record JSON, bad keys,
quote errors with the wrong line, title lines above a CSV header, TSV with quotes,
UTF-16/32 and non-UTF-8 text."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from conftest import write

CORPUS = Path(__file__).parent / "conformance"
SHAPE = "a JSON file must hold an object, an array of objects, or one object per line"


def one_sentence(msg: str, path: Path) -> bool:
    return (msg.startswith(str(path)) and "\n" not in msg and "Traceback" not in msg
            and "Error:" not in msg and " — " in msg)


def flat(rec: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in rec.items():
        if isinstance(v, dict) and v:
            out.update(flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def same(got, want) -> bool:
    """A stored value equals the JSON value (arrays may be stored as JSON text)."""
    if isinstance(want, (list, dict)) and isinstance(got, str):
        got = json.loads(got)
    if isinstance(want, list) and isinstance(got, list):
        return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want))
    if isinstance(want, dict) and isinstance(got, dict):
        return got.keys() == want.keys() and all(same(got[k], want[k]) for k in want)
    return got == want


def loadable(value) -> bool:
    """Records whose keys make distinct, non-empty column names."""
    recs = value if isinstance(value, list) else [value]
    if not recs or not all(isinstance(r, dict) for r in recs) or not any(recs):
        return False
    return all(k and "\x00" not in k for r in recs for k in r)


def test_json_test_suite(lh):
    """Every n_ file is refused in one sentence; every y_ file holding records loads with
    its values, the other y_ files are refused in one sentence; i_ files do one or the
    other — never a traceback, never silent loss."""
    problems = []
    files = sorted(p for p in (CORPUS / "json").iterdir() if p.suffix == ".json")
    assert len(files) > 300
    for i, p in enumerate(files):
        [r] = lh.ingest([p], name=f"j{i}")
        kind = p.name[0]
        if r.status == "failed":
            if not one_sentence(r.message, p):
                problems.append(f"{p.name}: not one sentence: {r.message!r}")
            if kind == "y":
                raw = json.loads(p.read_bytes())
                if loadable(raw) and not ("a" in r.message and "twice" in r.message):
                    problems.append(f"{p.name}: valid records refused: {r.message}")
            continue
        if kind == "n":
            problems.append(f"{p.name}: invalid JSON was ingested ({r.rows} rows)")
            continue
        want = json.loads(p.read_bytes().decode("utf-8-sig"))
        want = [flat(x) for x in (want if isinstance(want, list) else [want])]
        got = lh.sql(f"SELECT * FROM j{i}").to_pylist()
        if len(got) != len(want) or not all(same(g, w) for g, w in zip(got, want)):
            problems.append(f"{p.name}: stored {got!r}, expected {want!r}")
    assert problems == []


@pytest.mark.parametrize("name", ["n_structure_close_unopened_array.json",
                                  "n_array_comma_after_close.json", "y_string_space.json"])
def test_cli_refuses_invalid_json(cli, name):
    p = CORPUS / "json" / name
    code, out, err = cli("ingest", str(p))
    assert code != 0
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(p) in lines[0] and "Traceback" not in err, err


def test_cli_loads_valid_records(cli):
    code, out, err = cli("ingest", str(CORPUS / "json" / "y_object_string_unicode.json"), "--name", "u")
    assert code == 0, err
    code, out, err = cli("sql", "SELECT title FROM u", "--format", "json")
    assert code == 0 and json.loads(out) == [{"title": "Полтора Землекопа"}]


@pytest.mark.parametrize("content,message", [
    (b'[{"a":1},{"a":2},', "line 1, column 18: the file ends after a comma, inside the array — "
                           "it looks cut short; check that it is complete"),
    (b'[{"a":1},{"a":2}', "line 1, column 17: the array is never closed (no ']' before the end "
                          "of the file) — it looks cut short; check that it is complete"),
    (b'[1,', f"line 1, column 2: element 1 of the array is a number, not an object — {SHAPE}"),
    (b'[][]', f"line 1, column 3: unexpected data after the closing ']' — {SHAPE}"),
    (b'{"a":true} "x"', f"line 1, column 12: record 2 is a string, not an object — {SHAPE}"),
    (b'\xef\xbb\xbf', None),
    (b'42', f"line 1, column 1: the file holds a number, not records — {SHAPE}"),
    (b'true', f"line 1, column 1: the file holds true/false, not records — {SHAPE}"),
    (b'"x"', f"line 1, column 1: the file holds a string, not records — {SHAPE}"),
    (b'[]', None),
    (b'{}', None),
    (b'{"foo\\u0000bar":1}', "line 1, column 1: an object's key 'foo\\x00bar' holds a NUL character "
                             "(\\u0000), which cannot be in a column name — remove it from the key"),
    (b'{"":0}', 'line 1, column 1: an object has an empty key "", which cannot name a column — '
                "give the key a name"),
    (b'{"a":1,"a":2}', "line 1, column 1: an object has the key 'a' twice — keep one of them"),
    (b'[{"a":NaN}]', "line 1, column 2: malformed JSON (NaN is not valid JSON — write null or a number)"),
    (b'[{"a":1},]', "line 1, column 10: malformed JSON (expecting value) — fix the file"),
    (b'{"a":1}\n{"a":2}\n{"a":3,}\n{"a":4}\n', "line 3, column 8: malformed JSON (expecting property "
                                              "name enclosed in double quotes) — fix the file"),
    (b'{"a":1}\n{"a":2}\n[3]\n', f"line 3, column 1: record 3 is an array, not an object — {SHAPE}"),
    (b'[{"a":' + b"[" * 5000 + b"]" * 5000 + b"}]",
     "line 1, column 2: the JSON is nested too deeply to read — flatten it (at most 128 levels)"),
    (b'[{"a":' + b"[" * 200 + b"]" * 200 + b"}]",
     "the JSON is nested too deeply to read (at most 128 levels) — flatten it"),
    (b'[{"a.b":1,"a":{"b":2}}]', "the keys 'a.b' and 'a.b' both become column 'a.b' (nested keys are "
                                  "joined with '.', case is ignored) — rename one of them"),
])
def test_json_that_is_not_records_is_refused(lh, home, data, content, message):
    p = write(data / "bad.json", content)
    [r] = lh.ingest([p])
    assert r.status == "failed"
    if message is None:
        assert r.message.startswith(str(p)) and "no records" in r.message or "no columns" in r.message
    else:
        assert r.message == f"{p}: {message}"
    assert lh.datasets() == [] and not (home / "tables" / "bad").exists()


def test_json_values_survive(lh, data):
    p = write(data / "mixed.json", json.dumps([
        {"id": 1, "v": [None, 1, "1", {}], "big": 12345678901234567, "s": "é\u2028"},
        {"id": 2, "v": [], "big": -1, "s": ""}]))
    [r] = lh.ingest([p])
    assert r.status == "ingested", r.message
    rows = lh.sql("SELECT * FROM mixed ORDER BY id").to_pylist()
    assert [json.loads(x["v"]) for x in rows] == [[None, 1, "1", {}], []]  # valid JSON text
    assert [x["big"] for x in rows] == [12345678901234567, -1]
    assert rows[0]["s"] == "é\u2028"


def test_big_json_is_checked_while_it_streams(lh, home, data, monkeypatch):
    import core.ingest.run as run

    monkeypatch.setattr(run, "_HASH_INLINE", 0)  # every file takes the big-file path
    body = ",\n".join(json.dumps({"id": i, "name": f"n{i}"}) for i in range(5000))
    [r] = lh.ingest([write(data / "cut.json", "[" + body + ",")])
    assert r.status == "failed"
    assert r.message == (f"{data / 'cut.json'}: line 5000, column 31: the file ends after a comma, "
                         "inside the array — it looks cut short; check that it is complete")
    assert lh.datasets() == [] and not (home / "tables" / "cut").exists()
    [r] = lh.ingest([write(data / "whole.json", "[" + body + "]")])
    assert r.status == "ingested" and r.rows == 5000


# -- CSV ---------------------------------------------------------------------

def test_csv_spectrum(lh):
    """Each file loads with the values its published JSON says (an empty field,
    quoted or not, is read as NULL)."""
    problems = []
    for i, p in enumerate(sorted((CORPUS / "csv-spectrum" / "csvs").glob("*.csv"))):
        want = json.loads((CORPUS / "csv-spectrum" / "json" / f"{p.stem}.json").read_text())
        [r] = lh.ingest([p], name=f"c{i}")
        if r.status != "ingested":
            problems.append(f"{p.name}: {r.message}")
            continue
        got = [{k: "" if v is None else str(v) for k, v in row.items()}
               for row in lh.sql(f"SELECT * FROM c{i}").to_pylist()]
        if got != want:
            problems.append(f"{p.name}: stored {got!r}, expected {want!r}")
    assert problems == []


def test_unclosed_quote_names_the_line_where_the_field_opens(lh, data):
    p = write(data / "q.csv", 'a,b,c\n1,2,3\n4,5,6\n7,8,9\n1,"x,2\n5,6,7\n8,9,10\n')
    [r] = lh.ingest([p])
    assert r.message == (f'{p}: line 5: a quoted field is never closed — add the closing " or '
                         'escape quotes inside values as ""')


def test_closed_quote_followed_by_text_is_not_called_unclosed(lh, data):
    p = write(data / "t.csv", 'a,b\n1,"x"y\n2,3\n')
    [r] = lh.ingest([p])
    assert r.message == (f'{p}: line 2: a quoted field is followed by text after its closing quote '
                         '— put the whole value in quotes and write each " inside it as ""')
    # the file: a quote opened on line 5 runs on until a quote on line 7
    p = write(data / "run.csv", 'a,b,c\n1,2,3\n4,5,6\n7,8,9\n1,"x\n5,6,7\n"ok",2,3\n8,9,"z"\n')
    [r] = lh.ingest([p])
    assert r.message == (f'{p}: line 5: a quoted field opens here and its closing quote (on line 7) '
                         'is followed by text — add the missing closing " on line 5, or write each " '
                         'inside a value as ""')


@pytest.mark.parametrize("preamble", ["# A few comments\n", "Sales report 2024\n",
                                      "# exported by a tool, v2\n# columns below\n\n"])
def test_title_or_comment_lines_above_the_header_are_skipped(lh, data, preamble):
    p = write(data / "report.csv", preamble + "region,amount,n\neu,1,2\nus,3,4\n")
    [r] = lh.ingest([p])
    assert r.status == "ingested", r.message
    assert any("before the header" in n for n in r.notes)
    assert lh.sql("SELECT * FROM report ORDER BY n").to_pylist() == [
        {"region": "eu", "amount": 1, "n": 2}, {"region": "us", "amount": 3, "n": 4}]


def test_multi_column_file_never_loads_as_one_column(lh, data):
    p = write(data / "odd.csv", "Report, page 1 of 2\nregion,amount,n\neu,1,2\n")
    [r] = lh.ingest([p])
    assert r.status == "failed"
    assert r.message.startswith(f"{p}: line 2: row has 3 fields but the header has 2")


def test_tsv_has_no_quoting(lh, data):
    p = write(data / "films.tsv", 'id\ttitle\n1\t"Swing it" magistern\n2\tHe said "hi\n3\tplain\n')
    [r] = lh.ingest([p])
    assert r.status == "ingested" and r.rows == 3, r.message
    assert lh.sql("SELECT title FROM films ORDER BY id").column(0).to_pylist() == [
        '"Swing it" magistern', 'He said "hi', "plain"]


@pytest.mark.parametrize("codec,bom", [("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE),
                                       ("utf-32-le", codecs.BOM_UTF32_LE), ("utf-32-be", codecs.BOM_UTF32_BE)])
def test_utf16_and_utf32_with_bom(lh, home, data, codec, bom):
    text = "bäume,n\nÅrhus,1\n東京,2\n"
    p = write(data / "wide.csv", bom + text.encode(codec))
    [r] = lh.ingest([p])
    assert r.status == "ingested", r.message
    assert [c.name for c in lh.dataset("wide").columns] == ["bäume", "n"]
    assert lh.sql("SELECT bäume FROM wide ORDER BY n").column(0).to_pylist() == ["Århus", "東京"]
    assert list((home / "tmp" / "ingest").iterdir()) == []  # the UTF-8 copy is gone
    pj = write(data / "wide_j.json", bom + '[{"city": "東京"}]'.encode(codec))
    [r] = lh.ingest([pj])
    assert r.status == "ingested", r.message


@pytest.mark.parametrize("codec,label", [("utf-16-le", "UTF-16LE"), ("utf-16-be", "UTF-16BE")])
def test_utf16_without_a_bom_is_recognised_by_its_nul_bytes(lh, data, codec, label):
    """Some Windows exports write UTF-16 with no byte-order mark: every other byte is NUL."""
    p = write(data / "nobom.csv", "city,n\nÅrhus,1\nOslo,2\n".encode(codec))
    [r] = lh.ingest([p])
    assert r.status == "ingested", r.message
    assert r.notes == [f"read as {label} (no byte-order mark, but a NUL in every other byte)"]
    assert lh.sql("SELECT city FROM nobom ORDER BY n").column(0).to_pylist() == ["Århus", "Oslo"]


def test_shift_jis_is_refused_naming_the_byte(lh, data):
    p = write(data / "sjis.csv", "name,n\n".encode() + "東京,1\n".encode("shift_jis"))
    [r] = lh.ingest([p])
    assert r.message == (f"{p}: line 2: byte 0x93 at offset 7 is not UTF-8, and the file is not "
                         "Latin-1 either — convert it to UTF-8 from its real encoding (e.g. `iconv -f "
                         "SHIFT_JIS -t UTF-8` or `iconv -f WINDOWS-1252 -t UTF-8`) and ingest the "
                         "converted file")
