"""Tests for core.demo.generate — the deterministic reference workload."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from core import demo

TABLES = ["candidates", "clients", "job_orders", "placements", "timesheets", "call_log", "email_log"]

# Expected row counts, written out independently of the implementation.
COUNTS_001 = {  # scale 0.01
    "candidates": 1_000,
    "clients": 20,
    "job_orders": 150,
    "placements": 500,
    "timesheets": 10_000,
    "call_log": 8_000,
    "email_log": 5_000,
}
COUNTS_0001 = {  # scale 0.001: clients floor at 20, candidates 100 (above the 50 floor)
    "candidates": 100,
    "clients": 20,
    "job_orders": 15,
    "placements": 50,
    "timesheets": 1_000,
    "call_log": 800,
    "email_log": 500,
}

SCHEMAS = {
    "candidates": [
        ("candidate_id", "VARCHAR"), ("first_name", "VARCHAR"), ("last_name", "VARCHAR"), ("email", "VARCHAR"),
        ("phone", "VARCHAR"), ("city", "VARCHAR"), ("state", "VARCHAR"), ("zip", "VARCHAR"), ("skills", "VARCHAR"),
        ("years_experience", "INTEGER"), ("status", "VARCHAR"), ("resume_text", "VARCHAR"), ("created_at", "TIMESTAMP"),
    ],
    "clients": [
        ("client_id", "VARCHAR"), ("name", "VARCHAR"), ("vertical", "VARCHAR"), ("contact_name", "VARCHAR"),
        ("contact_email", "VARCHAR"), ("city", "VARCHAR"), ("state", "VARCHAR"),
    ],
    "job_orders": [
        ("job_id", "VARCHAR"), ("client_id", "VARCHAR"), ("title", "VARCHAR"), ("description", "VARCHAR"),
        ("required_skills", "VARCHAR"), ("city", "VARCHAR"), ("state", "VARCHAR"), ("bill_rate", "DOUBLE"),
        ("pay_rate", "DOUBLE"), ("status", "VARCHAR"), ("opened_at", "DATE"),
    ],
    "placements": [
        ("placement_id", "VARCHAR"), ("candidate_id", "VARCHAR"), ("job_id", "VARCHAR"), ("client_id", "VARCHAR"),
        ("recruiter", "VARCHAR"), ("start_date", "DATE"), ("end_date", "DATE"), ("bill_rate", "DOUBLE"),
        ("pay_rate", "DOUBLE"), ("status", "VARCHAR"),
    ],
    "timesheets": [
        ("timesheet_id", "VARCHAR"), ("placement_id", "VARCHAR"), ("candidate_id", "VARCHAR"), ("week_ending", "DATE"),
        ("hours", "DOUBLE"), ("bill_total", "DOUBLE"), ("pay_total", "DOUBLE"), ("approved", "BOOLEAN"),
    ],
    "call_log": [
        ("call_id", "VARCHAR"), ("candidate_id", "VARCHAR"), ("recruiter", "VARCHAR"), ("called_at", "TIMESTAMP"),
        ("duration_s", "INTEGER"), ("direction", "VARCHAR"), ("disposition", "VARCHAR"),
    ],
    "email_log": [
        ("email_id", "VARCHAR"), ("candidate_id", "VARCHAR"), ("recruiter", "VARCHAR"), ("sent_at", "TIMESTAMP"),
        ("subject", "VARCHAR"), ("direction", "VARCHAR"), ("opened", "BOOLEAN"),
    ],
}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("demo") / "nested" / "out"  # does not exist yet
    return out, demo.generate(out, scale=0.01)


@pytest.fixture(scope="module")
def con(small):
    out, _ = small
    c = duckdb.connect()
    for t in TABLES:
        c.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{out / (t + '.parquet')}')")
    yield c
    c.close()


def scalar(con, sql: str):
    return con.execute(sql).fetchone()[0]


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --------------------------------------------------------------------------- files and counts


def test_returns_paths_in_order_and_creates_out_dir(small):
    out, paths = small
    assert paths == [out / f"{t}.parquet" for t in TABLES] + [out / "documents"]
    for p in paths[:7]:
        assert p.is_file() and p.stat().st_size > 0
    assert paths[7].is_dir()
    # Nothing but the tables and the documents folder is left behind (no temp files).
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{t}.parquet" for t in TABLES] + ["documents"])


def test_row_counts_scale_001(con):
    for t, n in COUNTS_001.items():
        assert scalar(con, f"SELECT count(*) FROM {t}") == n, t


def test_row_count_helpers():
    assert demo.row_counts(1.0) == {
        "candidates": 100_000, "clients": 2_000, "job_orders": 15_000, "placements": 50_000,
        "timesheets": 1_000_000, "call_log": 800_000, "email_log": 500_000,
    }
    assert sum(demo.row_counts(1.0).values()) == 2_467_000
    assert demo.row_counts(0.01) == COUNTS_001
    assert demo.row_counts(0.001) == COUNTS_0001
    tiny = demo.row_counts(0.00001)
    assert tiny["candidates"] == 50 and tiny["clients"] == 20 and tiny["job_orders"] == 1
    assert demo.doc_count(1.0) == 300 and demo.doc_count(2.0) == 300
    assert demo.doc_count(0.5) == 150 and demo.doc_count(0.01) == 40
    with pytest.raises(ValueError):
        demo.row_counts(0)


def test_tiny_scale_counts_and_foreign_keys(tmp_path):
    paths = demo.generate(tmp_path, scale=0.001)
    c = duckdb.connect()
    for t, p in zip(TABLES, paths):
        c.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{p}')")
    for t, n in COUNTS_0001.items():
        assert scalar(c, f"SELECT count(*) FROM {t}") == n, t
    assert scalar(c, "SELECT count(*) FROM placements p ANTI JOIN candidates USING (candidate_id)") == 0
    assert scalar(c, "SELECT count(*) FROM placements p ANTI JOIN job_orders USING (job_id)") == 0
    assert scalar(c, "SELECT count(*) FROM job_orders ANTI JOIN clients USING (client_id)") == 0
    assert scalar(c, "SELECT count(*) FROM timesheets ANTI JOIN placements USING (placement_id)") == 0
    assert len(list(paths[7].glob("*.md"))) == 40


def test_schemas(con):
    for t, cols in SCHEMAS.items():
        got = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {t}").fetchall()]
        assert got == cols, t


# --------------------------------------------------------------------------- determinism


def test_byte_identical_across_runs(small, tmp_path):
    out, _ = small
    again = tmp_path / "again"
    demo.generate(again, scale=0.01)
    first, second = tree_digest(out), tree_digest(again)
    assert len(first) == 7 + 40
    assert first == second


def test_rerun_into_same_dir_is_stable_and_drops_stale_docs(tmp_path):
    demo.generate(tmp_path, scale=0.14)  # 42 documents
    assert len(list((tmp_path / "documents").glob("*.md"))) == 42
    demo.generate(tmp_path, scale=0.01)  # 40 documents
    before = tree_digest(tmp_path)
    assert len([k for k in before if k.startswith("documents")]) == 40
    demo.generate(tmp_path, scale=0.01)
    assert tree_digest(tmp_path) == before


def test_different_scales_differ(small, tmp_path):
    out, _ = small
    other = demo.generate(tmp_path, scale=0.011)
    assert other[0].read_bytes() != (out / "candidates.parquet").read_bytes()


def test_output_sorted_by_id(con):
    for t, key in [("candidates", "candidate_id"), ("job_orders", "job_id"), ("placements", "placement_id"),
                   ("timesheets", "timesheet_id"), ("call_log", "call_id"), ("email_log", "email_id")]:
        ids = [r[0] for r in con.execute(f"SELECT {key} FROM {t}").fetchall()]
        assert ids == sorted(ids), t
        assert len(set(ids)) == len(ids), t


# --------------------------------------------------------------------------- foreign keys


@pytest.mark.parametrize(
    "child, col, parent",
    [
        ("job_orders", "client_id", "clients"),
        ("placements", "candidate_id", "candidates"),
        ("placements", "job_id", "job_orders"),
        ("placements", "client_id", "clients"),
        ("timesheets", "placement_id", "placements"),
        ("timesheets", "candidate_id", "candidates"),
        ("call_log", "candidate_id", "candidates"),
        ("email_log", "candidate_id", "candidates"),
    ],
)
def test_no_orphans(con, child, col, parent):
    assert scalar(con, f"SELECT count(*) FROM {child} WHERE {col} IS NULL") == 0
    assert scalar(con, f"SELECT count(*) FROM {child} c ANTI JOIN {parent} p USING ({col})") == 0


def test_placement_client_matches_job(con):
    assert scalar(con, """
        SELECT count(*) FROM placements p JOIN job_orders j USING (job_id)
        WHERE p.client_id <> j.client_id""") == 0


def test_timesheet_candidate_and_totals_match_placement(con):
    assert scalar(con, """
        SELECT count(*) FROM timesheets t JOIN placements p USING (placement_id)
        WHERE t.candidate_id <> p.candidate_id""") == 0
    assert scalar(con, """
        SELECT count(*) FROM timesheets t JOIN placements p USING (placement_id)
        WHERE abs(t.bill_total - t.hours * p.bill_rate) > 0.006
           OR abs(t.pay_total - t.hours * p.pay_rate) > 0.006""") == 0
    # Week endings are Sundays within the placement.
    assert scalar(con, """
        SELECT count(*) FROM timesheets t JOIN placements p USING (placement_id)
        WHERE dayofweek(t.week_ending) <> 0 OR t.week_ending < p.start_date
           OR (p.end_date IS NOT NULL AND t.week_ending > p.end_date + 7)""") == 0
    assert scalar(con, "SELECT count(*) - count(DISTINCT (placement_id, week_ending)) FROM timesheets") == 0


def test_placed_candidates_have_active_placements(con):
    assert scalar(con, "SELECT count(*) FROM candidates WHERE status = 'placed'") > 0
    assert scalar(con, """
        SELECT count(*) FROM candidates c WHERE status = 'placed' AND NOT EXISTS (
            SELECT 1 FROM placements p WHERE p.candidate_id = c.candidate_id AND p.status = 'active')""") == 0


# --------------------------------------------------------------------------- formats and value domains


def test_id_formats(con):
    patterns = {
        ("candidates", "candidate_id"): r"^CAND-\d{6}$",
        ("clients", "client_id"): r"^CLI-\d{4}$",
        ("job_orders", "job_id"): r"^JOB-\d{6}$",
        ("placements", "placement_id"): r"^PLC-\d{6}$",
        ("timesheets", "timesheet_id"): r"^TS-\d{7}$",
        ("call_log", "call_id"): r"^CALL-\d{7}$",
        ("email_log", "email_id"): r"^EM-\d{7}$",
    }
    for (t, col), pat in patterns.items():
        bad = scalar(con, f"SELECT count(*) FROM {t} WHERE NOT regexp_full_match({col}, '{pat[1:-1]}')")
        assert bad == 0, (t, col)
    ids = [r[0] for r in con.execute("SELECT candidate_id FROM candidates ORDER BY candidate_id").fetchall()]
    assert ids[0] == "CAND-000001" and ids[-1] == "CAND-001000"
    assert scalar(con, "SELECT min(client_id) FROM clients") == "CLI-0001"


def test_value_domains(con):
    def values(t, col):
        return {r[0] for r in con.execute(f"SELECT DISTINCT {col} FROM {t}").fetchall()}

    assert values("candidates", "status") <= {"active", "placed", "inactive", "do_not_contact"}
    assert values("job_orders", "status") <= {"open", "filled", "closed", "on_hold"}
    assert values("placements", "status") == {"active", "completed", "terminated"}
    assert values("call_log", "direction") == {"inbound", "outbound"}
    assert values("email_log", "direction") == {"inbound", "outbound"}
    assert values("call_log", "disposition") <= {
        "connected", "voicemail", "no_answer", "wrong_number", "interested", "not_interested"}
    assert scalar(con, "SELECT count(*) FROM candidates WHERE NOT regexp_full_match(zip, '[0-9]{5}')") == 0
    assert scalar(con, "SELECT min(len(string_split(skills, ', '))) FROM candidates") >= 3
    assert scalar(con, "SELECT max(len(string_split(skills, ', '))) FROM candidates") <= 6
    assert scalar(con, "SELECT count(*) FROM job_orders WHERE pay_rate >= bill_rate OR pay_rate <= 0") == 0
    assert scalar(con, "SELECT count(*) FROM placements WHERE pay_rate >= bill_rate") == 0
    assert scalar(con, "SELECT count(*) FROM placements WHERE end_date <= start_date") == 0
    assert scalar(con, "SELECT count(*) FROM placements WHERE (status = 'active') <> (end_date IS NULL)") == 0
    assert scalar(con, "SELECT count(DISTINCT recruiter) FROM call_log") > 40
    # A city always comes with the same state.
    assert scalar(con, """
        SELECT count(*) FROM (SELECT city FROM (SELECT city, state FROM candidates UNION SELECT city, state FROM clients
                                                UNION SELECT city, state FROM job_orders)
                              GROUP BY city HAVING count(DISTINCT state) > 1)""") == 0
    assert scalar(con, "SELECT count(DISTINCT city) FROM candidates") >= 20
    # Resumes are sentences that mention the candidate's city and first skill.
    assert scalar(con, """
        SELECT count(*) FROM candidates
        WHERE resume_text NOT LIKE '%' || split_part(skills, ', ', 1) || '%'""") == 0
    assert scalar(con, "SELECT count(DISTINCT resume_text) FROM candidates") > 990


def test_benchmark_distributions(con):
    n = scalar(con, "SELECT count(*) FROM candidates")
    chicago = scalar(con, "SELECT count(*) FROM candidates WHERE city = 'Chicago' AND state = 'IL'") / n
    java = scalar(con, "SELECT count(*) FROM candidates WHERE skills LIKE '%Java%'") / n
    dotnet = scalar(con, "SELECT count(*) FROM candidates WHERE skills LIKE '%.NET%'") / n
    assert 0.06 < chicago < 0.15
    assert 0.10 < java < 0.21
    assert 0.04 < dotnet < 0.13
    # Candidates called 5+ times and never placed exist; call counts are skewed.
    assert scalar(con, """
        SELECT count(*) FROM (SELECT candidate_id FROM call_log GROUP BY 1 HAVING count(*) >= 5) c
        ANTI JOIN placements USING (candidate_id)""") > 0
    top, median = con.execute("""
        SELECT max(n), median(n) FROM (SELECT count(*) AS n FROM call_log GROUP BY candidate_id)""").fetchone()
    assert top >= 4 * median
    assert scalar(con, "SELECT count(*) FROM job_orders WHERE status = 'open'") > 0


# --------------------------------------------------------------------------- documents


def test_documents(small):
    out, paths = small
    docs = sorted(paths[7].iterdir())
    assert len(docs) == 40
    for p in docs:
        assert re.fullmatch(r"doc-\d{4}-[a-z0-9]+(-[a-z0-9]+)*\.md", p.name), p.name
        text = p.read_text(encoding="utf-8")
        assert text.startswith("# "), p.name
        assert "\n## " in text, p.name
        assert 150 <= len(text.split()) <= 600, (p.name, len(text.split()))
    assert [p.name[:8] for p in docs] == [f"doc-{i:04d}" for i in range(1, 41)]
    assert len({p.read_bytes() for p in docs}) == 40
    kinds = {p.name.split("-")[2] for p in docs}
    assert {"onboarding", "timesheet", "benefits", "compliance", "skill"} <= kinds


# --------------------------------------------------------------------------- hygiene


def test_import_is_cheap_and_generate_is_silent(tmp_path):
    code = "import sys, core.demo; assert 'duckdb' not in sys.modules and 'pyarrow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
    code = f"import core.demo, pathlib; core.demo.generate(pathlib.Path({str(tmp_path)!r}), 0.001)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""
