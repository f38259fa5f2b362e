"""The demo workload through the normal ingest path, and the first start."""

from __future__ import annotations

from conftest import write


def test_demo_ingests_every_table_and_documents_and_is_idempotent(lh):
    res = lh.demo(scale=0.01)
    assert {r.status for r in res} == {"ingested"}
    names = {d.name: d for d in lh.datasets()}
    assert set(names) == {"candidates", "clients", "job_orders", "placements", "timesheets",
                          "call_log", "email_log", "documents"}
    assert names["timesheets"].row_count == 10_000 and names["documents"].kind == "documents"
    # foreign keys hold through the ingest path
    orphans = lh.sql("SELECT count(*) FROM placements p LEFT JOIN candidates c USING (candidate_id) "
                     "WHERE c.candidate_id IS NULL").column(0)[0].as_py()
    assert orphans == 0
    assert lh.describe("candidates").lineage[0].source_uri.endswith("candidates.parquet")
    again = lh.demo(scale=0.01)
    assert {r.status for r in again} == {"unchanged"}
    assert lh.dataset("timesheets").table_version == 0


def test_demo_makes_resumes_searchable_by_meaning_within_a_sql_filter(lh):
    lh.demo(scale=0.01)
    info = lh.index("resumes")
    assert (info.dataset, info.column, info.active_gen) == ("candidates", "resume_text", 1)
    assert info.active.chunks == 1000 and info.active.provider == "hashing"  # offline here
    res = lh.search("resumes", "someone who could handle our Kubernetes migration", k=5, where="state='IL'")
    assert res.hits and all(h.row["state"] == "IL" for h in res.hits)
    assert "Kubernetes" in res.hits[0].text
    assert lh.demo(scale=0.01) and len(lh.index("resumes").generations) == 1  # re-running is a no-op


def test_demo_remembers_its_successful_placements_and_a_search_shows_the_boost(lh):
    lh.demo(scale=0.01)
    seeded = lh.memory_list("resumes", limit=0)
    done = lh.sql("SELECT count(DISTINCT job_id) FROM placements WHERE status = 'completed'").column(0)[0].as_py()
    assert 0 < len(seeded) <= min(done, 300) and all(e.actor == "demo" and e.status == "live" for e in seeded)
    e = seeded[0]
    assert e.operation.startswith("placed ") and set(e.scope) == {"city", "state"} and e.keys
    res = lh.search("resumes", e.operation, k=10, where=f"state = '{e.scope['state']}'", memory=True)
    assert res.memory["considered"] > 0 and res.memory["matched"] > 0
    lh.demo(scale=0.01)  # re-running remembers nothing twice
    assert len(lh.memory_list("resumes", limit=0)) == len(seeded)
    assert [r["op"] for r in lh.memory_journal()].count("update") == 0


def test_start_on_empty_root_points_at_demo(cli, home):
    code, out, err = cli()
    assert code == 0
    assert "is empty. Load the demo workload with `lakehouse demo`" in out


def test_start_shows_datasets_and_a_sample_query(cli, data):
    cli("ingest", str(write(data / "pets.csv", "name,kind\nrex,dog\ntom,cat\n")))
    code, out, err = cli()
    assert code == 0
    assert "pets" in out and """sample query: lakehouse sql 'SELECT * FROM "pets" LIMIT 5'""" in out
    assert "rex" in out


def test_demo_cli_summarises_documents(cli):
    code, out, err = cli("demo", "--scale", "0.001")
    assert code == 0
    assert "documents: 40 files ingested, 40 rows (version 0)" in out
    assert "candidates: 1 file ingested, 100 rows (version 0)" in out
