"""The `lakehouse` command as a user runs it: exit codes, stdout/stderr, formats."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from conftest import write


def test_help_lists_commands(cli):
    code, out, err = cli("--help")
    assert code == 0
    for cmd in ("ingest", "datasets", "describe", "sql", "resync", "jobs", "errors", "demo", "config"):
        assert cmd in out


def test_ingest_then_query_in_every_format(cli, data, tmp_path):
    p = write(data / "staff.csv", "id,name,city\n1,Ann,Chicago\n2,Bob,Austin\n")
    code, out, err = cli("ingest", str(p))
    assert code == 0 and "staff.csv -> staff: 2 rows (version 0)" in out
    code, out, err = cli("sql", "SELECT id, name FROM staff ORDER BY id", "--format", "json")
    assert code == 0 and json.loads(out) == [{"id": 1, "name": "Ann"}, {"id": 2, "name": "Bob"}]
    code, out, err = cli("sql", "SELECT id, name FROM staff ORDER BY id", "--format", "csv")
    assert list(csv.reader(io.StringIO(out))) == [["id", "name"], ["1", "Ann"], ["2", "Bob"]]
    target = tmp_path / "out.parquet"
    code, out, err = cli("sql", "SELECT * FROM staff", "--format", "parquet", "--output", str(target))
    assert code == 0 and pq.read_table(target).num_rows == 2 and "wrote 2 rows" in err
    code, out, err = cli("sql", "SELECT * FROM staff")
    assert code == 0 and "Chicago" in out and "2 rows" in out
    code, out, err = cli("sql", "-", input="SELECT count(*) AS n FROM staff")
    assert code == 0 and " 2 " in out


def test_table_output_says_how_many_rows_it_did_not_show(cli):
    code, out, err = cli("sql", "SELECT * FROM range(250)")
    assert code == 0 and "showing 100 of 250 rows" in out


def test_bad_input_is_one_sentence_and_nonzero(cli, data):
    p = write(data / "ragged.csv", "a,b\n1,2\n3,4,5\n")
    code, out, err = cli("ingest", str(p))
    assert code == 1
    assert err.strip() == (f"error: {p}: line 3: row has 3 fields but the header has 2 — fix that row "
                           "(quote values that contain ',')")
    code, out, err = cli("sql", "SELECT * FROM read_csv('/etc/passwd')")
    assert code == 1 and err.startswith("error: file access is disabled") and "Traceback" not in err
    code, out, err = cli("describe", "nope")
    assert code == 1 and err.strip() == "error: no dataset named 'nope' — datasets: none yet"
    code, out, err = cli("ingest", str(p), "--name", "../x")
    assert code == 2 and "dataset name '../x' is invalid" in err
    code, out, err = cli("ingest", str(data / "missing.csv"))
    assert code == 1 and err.strip() == f"error: {data / 'missing.csv'}: no such file or directory"
    code, out, err = cli("errors", "--format", "json")
    msgs = [e["message"] for e in json.loads(out)]
    assert any("line 3: row has 3 fields" in m for m in msgs)
    assert any("no such file or directory" in m for m in msgs)


def test_idempotent_reingest_reports_unchanged(cli, data):
    p = write(data / "a.csv", "x\n1\n")
    assert cli("ingest", str(p))[0] == 0
    code, out, err = cli("ingest", str(p), "--json")
    assert code == 0
    [r] = json.loads(out)
    assert r["status"] == "unchanged" and "already ingested" in r["message"]
    code, out, err = cli("sql", "SELECT count(*) AS n FROM a", "--format", "json")
    assert json.loads(out) == [{"n": 1}]
    code, out, err = cli("describe", "a", "--format", "json")
    d = json.loads(out)
    assert len(d["lineage"]) == 1 and d["dataset"]["table_version"] == 0


def test_datasets_describe_jobs_json(cli, data):
    cli("ingest", str(write(data / "t.csv", "k,v\na,1\n")))
    code, out, err = cli("datasets", "--format", "json")
    [d] = json.loads(out)
    assert d["name"] == "t" and d["row_count"] == 1 and d["columns"][0] == {"name": "k", "type": "VARCHAR", "nullable": True}
    code, out, err = cli("jobs", "--format", "json")
    [j] = json.loads(out)
    assert j["kind"] == "ingest" and j["status"] == "succeeded"
    code, out, err = cli("jobs", "cancel", "nope")
    assert code == 1 and "no job with id 'nope'" in err


def test_sql_csv_streams_with_bounded_memory(home, tmp_path):
    """20M rows to CSV must not be held in memory: held, they are ~750 MB of Arrow (~970 MB
    peak); streamed, the process stays around 150 MB (allocator pools can keep it higher
    for a while, so the bar sits well between the two)."""
    from conftest import REPO

    out = tmp_path / "big.csv"
    code = (
        "import sys; from app.cli import main; sys.argv = ['lakehouse', 'sql', "
        "\"SELECT range AS id, 'row ' || range AS label, range * 0.5 AS half FROM range(20000000)\", "
        f"'--format', 'csv', '--output', '{out}']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        # VmHWM, not ru_maxrss: that counts the pages shared with the (big) pytest worker it forked from
        "print(int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) // 1024)")
    p = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                       env={"LAKEHOUSE_HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert p.returncode == 0, p.stderr
    peak_mb = int(p.stdout.strip().splitlines()[-1])
    size_mb = out.stat().st_size / 2**20
    assert size_mb > 500  # the output really holds 20M rows...
    assert peak_mb < 640  # ...but the process never held them all (seen up to ~560 MB on a loaded machine)
    with open(out) as f:
        assert f.readline().strip() == "id,label,half"


def test_annotate_sets_description_owner_and_tags(cli, data):
    cli("ingest", str(write(data / "crm.csv", "id\n1\n")))
    code, out, err = cli("annotate", "crm", "--description", "CRM export", "--tag", "sales", "--tag", "pii")
    assert code == 0
    code, out, err = cli("describe", "crm", "--format", "json")
    d = json.loads(out)["dataset"]
    assert (d["description"], d["tags"]) == ("CRM export", ["pii", "sales"])
    assert d["owner"]  # the creating user by default
    code, out, err = cli("annotate", "nope", "--owner", "x")
    assert code == 1 and "no dataset named 'nope'" in err


def test_output_problems_are_one_sentence(cli, tmp_path):
    code, out, err = cli("sql", "SELECT 1", "--format", "csv", "--output", str(tmp_path / "no" / "x.csv"))
    assert code == 2
    assert err.strip() == (f"error: cannot write {tmp_path / 'no' / 'x.csv'} (No such file or directory) "
                           "— check the --output path")


def test_piping_into_head_is_quiet(home, tmp_path):
    exe = Path(sys.executable).parent / "lakehouse"  # the installed entry point beside this interpreter
    p = subprocess.run(f"'{exe}' sql 'SELECT * FROM range(1000000)' --format csv | head -2",
                       shell=True, capture_output=True, text=True, env={"LAKEHOUSE_HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert p.stdout.splitlines() == ["range", "0"]
    assert p.stderr == ""
