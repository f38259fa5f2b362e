"""Profiles: definitions in lakehouse.toml, scoping of every route to the data,
activation as a job, and the audit log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import Lakehouse
from core.errors import ConfigError, LakehouseError, NotFound

PROFILES = """
# the recruiters' assistant
[profiles.staffing-recruiter]
description = "Candidates, placements, hours"
datasets = ["candidates", "placements", "timesheets"]
indexes = ["resumes"]
chat_model = "qwen2.5:7b"
hnsw = { ef_search = 80 }

[profiles.docs-assistant]
description = "Answers from the product documentation"
datasets = ["documents", "docs_*"]
indexes = ["docs"]
embedder = "hashing"
keep_alive = "10m"
"""


@pytest.fixture
def root(home):
    """The demo (scale 0.01) with the resumes index and a docs index, and two profiles."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text(PROFILES)
    with Lakehouse.open(home=home) as lh:
        lh.demo(scale=0.01)
        lh.embed("documents", "text", index="docs", embedder="hashing")
    return home


def as_(home: Path, profile: str) -> Lakehouse:
    return Lakehouse.open(home=home, profile=profile)


# -- definitions -----------------------------------------------------------------------------
@pytest.mark.parametrize("toml,message", [
    ("[profiles.x]\ndatasets = \"documents\"\n", "key 'profiles.x.datasets' must be a list of names or patterns"),
    ("[profiles.x]\ncolour = \"red\"\n", "unknown key 'profiles.x.colour' — known keys: description, datasets"),
    ("[profiles.x]\nhnsw = { m = -1 }\n", "key 'profiles.x.hnsw' must be a table like"),
    ("[profiles.x]\nhnsw = { beam = 3 }\n", "key 'profiles.x.hnsw' must be a table like"),
    ("[profiles.x]\nembedder = \"bert\"\n", "must be auto, ollama or hashing, got 'bert'"),
    ("[profiles.x]\nautotune_min_recall = 1.5\n", "key 'profiles.x.autotune_min_recall' must be a recall above 0 "
                                                  "and at most 1, e.g. 0.95, got 1.5"),
    ("[profiles.x]\nautotune_min_recall = 0\n", "must be a recall above 0 and at most 1"),
    ("[profiles.x]\nautotune_objective = \"speed\"\n", "key 'profiles.x.autotune_objective' must be one of "
                                                         "p50, p95, build, memory, got 'speed'"),
    ("[profiles.\"Bad Name\"]\ndatasets = [\"a\"]\n", "profile name 'Bad Name' is invalid"),
    ("[profiles]\nx = 3\n", "[profiles.x] must be a table of keys"),
])
def test_malformed_profiles_are_refused_at_load_naming_file_and_key(home, toml, message):
    home.mkdir(parents=True)
    (home / "lakehouse.toml").write_text(toml)
    with pytest.raises(ConfigError, match=str(home / "lakehouse.toml")) as e:
        Lakehouse.open(home=home)
    assert message in str(e.value)


def test_unknown_profile_and_bindings_that_point_at_nothing(root):
    with pytest.raises(NotFound, match="no profile named 'nope' — known profiles: default, docs-assistant, "
                                       "staffing-recruiter"):
        as_(root, "nope")
    with as_(root, "docs-assistant") as lh:  # docs_* matches nothing: said at load, not at first use
        assert lh.profile_problems == ["profile docs-assistant: pattern 'docs_*' matches no dataset"]
    with as_(root, "staffing-recruiter") as lh:
        assert lh.profile_problems == []
    with as_(root, "default") as lh:
        lh.profile_save("ghost", {"datasets": ["nothere"], "indexes": ["nada"]}, create=True)
        assert [p["problems"] for p in lh.profiles() if p["id"] == "ghost"] == [[
            "profile ghost: dataset 'nothere' matches no dataset", "profile ghost: index 'nada' matches no index"]]


def test_create_edit_delete_keep_the_rest_of_the_file_as_it_was(root):
    import tomllib

    path = root / "lakehouse.toml"
    path.write_text("# my settings\n[sql]\nthreads = 2  # two is enough\n" + PROFILES + "\n[cache]\nmemory_limit = \"2GB\"\n")
    before = path.read_text()
    with Lakehouse.open(home=root) as lh:
        lh.profile_save("analyst", {"description": "Numbers", "datasets": ["timesheets"],
                                    "hnsw": {"ef_search": 40}}, create=True)
        text = path.read_text()
        assert text.startswith(before.rstrip("\n"))  # appended; nothing above it touched
        assert tomllib.loads(text)["profiles"]["analyst"] == {"description": "Numbers", "datasets": ["timesheets"],
                                                              "hnsw": {"ef_search": 40}}
        lh.profile_save("staffing-recruiter", {"chat_model": "qwen3:8b"}, create=False)
        data = tomllib.loads(path.read_text())
        assert data["profiles"]["staffing-recruiter"]["chat_model"] == "qwen3:8b"
        assert data["profiles"]["staffing-recruiter"]["hnsw"] == {"ef_search": 80}  # untouched keys stay
        assert data["sql"] == {"threads": 2} and data["cache"] == {"memory_limit": "2GB"}
        assert "# my settings" in path.read_text() and "threads = 2  # two is enough" in path.read_text()
        assert data["profiles"]["docs-assistant"] == tomllib.loads(PROFILES)["profiles"]["docs-assistant"]
        lh.profile_delete("analyst")
        lh.profile_save("staffing-recruiter", {"chat_model": "qwen2.5:7b"}, create=False)
        assert tomllib.loads(path.read_text()) == tomllib.loads(before)
        with pytest.raises(LakehouseError, match="already exists"):
            lh.profile_save("docs-assistant", {"datasets": ["x"]}, create=True)
        with pytest.raises(LakehouseError, match="built-in default profile cannot be deleted"):
            lh.profile_delete("default")
        with pytest.raises(ConfigError, match="must be auto, ollama or hashing"):
            lh.profile_save("docs-assistant", {"embedder": "bert"}, create=False)
    assert Lakehouse.open(home=root).config.profiles["docs-assistant"].embedder == "hashing"


def test_an_edit_keeps_what_it_does_not_name_and_never_widens_a_profile(root):
    """`profile edit X --m 32` keeps X's ef_search; an empty dataset or index list is refused
    (written as no key, it would read back as '*': a narrow profile silently seeing all)."""
    import tomllib

    path = root / "lakehouse.toml"
    path.write_text(PROFILES)
    with Lakehouse.open(home=root) as lh:
        lh.profile_save("staffing-recruiter", {"hnsw": {"m": 32}}, create=False)
        assert tomllib.loads(path.read_text())["profiles"]["staffing-recruiter"]["hnsw"] == {"ef_search": 80, "m": 32}
        before = path.read_text()
        for key in ("datasets", "indexes"):
            with pytest.raises(LakehouseError, match=f"{key} cannot be empty"):
                lh.profile_save("staffing-recruiter", {key: []}, create=False)
            with pytest.raises(LakehouseError, match=f"{key} cannot be empty"):
                lh.profile_save("fresh", {"datasets": ["x"], key: []}, create=True)
        assert path.read_text() == before
        assert lh.profile_show("staffing-recruiter")["datasets"] != ["*"]


HAND_WRITTEN = """\
# Lakehouse settings, kept by hand

[sql]
threads   =    2   # two is enough
memory_limit = '4GB'

# the recruiters' assistant
[profiles.recruiter]   # trailing header comment
description = 'Candidates'  # why it exists
datasets = [ "candidates",
   "placements" ]  # one per line, almost
# a comment inside the table
hnsw = { ef_search = 80 }

# the cache's comment sits above its header
[cache]
memory_limit = "2GB"

[profiles."docs"]
datasets = ["documents"]
sql_timeout_s = 30
# the last line of the docs profile


[vectors]
chunk_size=500
"""


def test_create_edit_delete_leave_every_other_byte_of_a_hand_written_file(home):
    """Comments, odd spacing, quoting, inline tables and other sections survive a round trip
    byte for byte; an edit rewrites only the keys it changes."""
    home.mkdir(parents=True)
    path = home / "lakehouse.toml"
    path.write_text(HAND_WRITTEN)
    with Lakehouse.open(home=home) as lh:
        lh.profile_save("analyst", {"datasets": ["timesheets"], "hnsw": {"ef_search": 40}}, create=True)
        assert path.read_text() == HAND_WRITTEN + ('\n[profiles.analyst]\ndatasets = ["timesheets"]\n'
                                                   'hnsw = {ef_search = 40}\n')
        lh.profile_save("recruiter", {"chat_model": "qwen3:8b"}, create=False)
        lh.profile_save("docs", {"keep_alive": "10m"}, create=False)
        assert path.read_text().startswith(HAND_WRITTEN.replace(
            "hnsw = { ef_search = 80 }\n", 'hnsw = { ef_search = 80 }\nchat_model = "qwen3:8b"\n').replace(
            "sql_timeout_s = 30\n", 'sql_timeout_s = 30\nkeep_alive = "10m"\n'))
        lh.profile_delete("analyst")
        lh.profile_save("recruiter", {"chat_model": ""}, create=False)
        lh.profile_save("docs", {"keep_alive": ""}, create=False)
        assert path.read_text() == HAND_WRITTEN
        lh.profile_save("recruiter", {"hnsw": {"ef_search": 64}}, create=False)  # a changed value: its line only
        assert path.read_text() == HAND_WRITTEN.replace("{ ef_search = 80 }", "{ef_search = 64}")
        lh.profile_delete("docs")
        assert path.read_text() == HAND_WRITTEN.replace("{ ef_search = 80 }", "{ef_search = 64}").replace(
            '[profiles."docs"]\ndatasets = ["documents"]\nsql_timeout_s = 30\n# the last line of the docs profile\n\n\n',
            "")


def test_a_profile_written_by_the_old_tomli_w_splicer_is_edited_in_place(tmp_path):
    from core.profiles.store import write

    path = tmp_path / "lakehouse.toml"
    path.write_text('[sql]\nthreads = 2\n\n[profiles.analyst]\ndescription = "Numbers"\ndatasets = [\n'
                    '    "timesheets",\n]\n\n[profiles.analyst.hnsw]\nef_search = 40\n')
    write(path, "analyst", {"description": "Numbers", "datasets": ["timesheets"], "hnsw": {"ef_search": 40, "m": 8}})
    assert path.read_text().endswith('[profiles.analyst.hnsw]\nef_search = 40\nm = 8\n')  # the sub-table stays one
    write(path, "analyst", {"description": "Numbers", "datasets": ["timesheets", "x"]})
    assert path.read_text() == ('[sql]\nthreads = 2\n\n[profiles.analyst]\ndescription = "Numbers"\n'
                                'datasets = ["timesheets", "x"]\n')


def test_profiles_written_inline_are_left_for_the_user_to_edit(home):
    home.mkdir(parents=True)
    path = home / "lakehouse.toml"
    for text in ('[profiles]\nx = { datasets = ["a"] }\n', 'profiles.x.datasets = ["a"]\n'):
        path.write_text(text)
        with Lakehouse.open(home=home) as lh:
            with pytest.raises(LakehouseError, match="profile 'x' is written inline"):
                lh.profile_save("x", {"description": "y"}, create=False)
            lh.profile_save("y", {"datasets": ["b"]}, create=True)  # a new one is appended as a table
        assert path.read_text() == text + '\n[profiles.y]\ndatasets = ["b"]\n'


# -- scoping: every route -----------------------------------------------------------------------
def test_a_profile_sees_only_its_datasets_through_sql(root):
    with as_(root, "docs-assistant") as lh:
        assert [d.name for d in lh.datasets()] == ["documents"]
        assert lh.sql("SELECT count(*) AS n FROM documents").to_pylist() == [{"n": 40}]
        refused = {
            "SELECT count(*) FROM candidates": "no such dataset in profile docs-assistant: candidates",
            'SELECT * FROM "candidates@v0"': "no such dataset in profile docs-assistant: candidates",
            f"SELECT * FROM read_parquet('{root}/tables/candidates/*.parquet')": "file access is disabled",
            f"SELECT * FROM read_parquet('{root}/tables/**/*.parquet')": "file access is disabled",
        }
        for sql, message in refused.items():
            with pytest.raises(LakehouseError, match=message):
                lh.sql(sql)
        assert lh.sql("SELECT DISTINCT name FROM _datasets").to_pylist() == [{"name": "documents"}]
        assert {r["dataset"] for r in lh.sql("SELECT dataset FROM _journal").to_pylist()} == {"documents"}
        assert {r["index_name"] for r in lh.sql("SELECT index_name FROM _indexes").to_pylist()} == {"docs"}
        assert {r["target"] for r in lh.sql("SELECT target FROM _jobs").to_pylist()} <= {"documents", "docs"}
        for name in ("candidates", "timesheets"):
            with pytest.raises(NotFound, match=f"no such dataset in profile docs-assistant: {name}"):
                lh.describe(name)
        with pytest.raises(NotFound, match="no such dataset in profile docs-assistant"):
            lh.update("candidates", "CAND-000001", {"city": "Boston"})
        with pytest.raises(LakehouseError, match="may only ingest into its datasets"):
            lh.ingest([str(root / "demo" / "scale-0.01" / "clients.parquet")])
    with as_(root, "staffing-recruiter") as lh:
        assert sorted(d.name for d in lh.datasets()) == ["candidates", "placements", "timesheets"]
        with pytest.raises(LakehouseError, match="no such dataset in profile staffing-recruiter: documents"):
            lh.sql("SELECT * FROM documents")
        assert lh.sql("SELECT count(*) AS n FROM candidates c JOIN placements p USING (candidate_id)")[0][0].as_py() > 0


def test_the_same_search_under_each_profile_returns_only_its_own_data(root):
    q = "Kubernetes certification"
    with as_(root, "docs-assistant") as lh:
        res = lh.search("docs", q, k=5)
        assert res.hits and {h.dataset for h in res.hits} == {"documents"}
        with pytest.raises(NotFound, match="no such index in profile docs-assistant: resumes"):
            lh.search("resumes", q)
        assert [i.name for i in lh.indexes()] == ["docs"]
        with pytest.raises(LakehouseError, match="no such dataset in profile docs-assistant"):
            lh.embed("candidates", "resume_text", index="docs2")
    with as_(root, "staffing-recruiter") as lh:
        res = lh.search("resumes", q, k=5)
        assert res.hits and {h.dataset for h in res.hits} == {"candidates"}
        with pytest.raises(NotFound, match="no such index in profile staffing-recruiter: docs"):
            lh.search("docs", q)


def test_ask_sees_only_the_profiles_schemas_and_passages(root, ollama):
    with as_(root, "docs-assistant") as lh:
        ollama.chat_replies = [json.dumps({"sql": "SELECT count(*) AS n FROM documents", "reason": "count"}),
                               "There are 3 documents."]
        r = lh.ask("how many documents are there?", mode="sql")
        assert r.rows == [{"n": 40}]
        system = ollama.chat_requests[0]["messages"][0]["content"]
        assert "TABLE documents" in system and "candidates" not in system and "timesheets" not in system
        ollama.chat_replies = [json.dumps({"sql": "SELECT count(*) FROM candidates", "reason": "x"})] * 3
        with pytest.raises(LakehouseError, match="no dataset named 'candidates'"):
            lh.ask("how many candidates are there?", mode="sql")
        ollama.chat_replies = ["The policy says so [1]."]
        r = lh.ask("explain the timesheet policy", mode="rag")
        assert r.citations and {c.dataset for c in r.citations} == {"documents"}
        mine = lh.sql("SELECT DISTINCT profile FROM _asks").to_pylist()
    assert mine == [{"profile": "docs-assistant"}]
    with as_(root, "staffing-recruiter") as lh:
        assert lh.sql("SELECT count(*) AS n FROM _asks").to_pylist() == [{"n": 0}]  # not its asks


# -- activation --------------------------------------------------------------------------------
def test_activation_warms_the_profiles_indexes_so_the_first_search_needs_no_load(root):
    with Lakehouse.open(home=root) as lh:
        steps = []
        r = lh.activate("staffing-recruiter", progress=lambda ev: steps.append(ev.message.split(":")[0]))
        assert r["previous"] == "default" and r["profile"] == "staffing-recruiter"
        assert list(r["steps"]) == ["check", "indexes", "embedders", "chat model", "unload", "switch"]
        assert r["steps"]["indexes"].startswith("resumes g1")
        assert "skipped: Ollama is not reachable" in r["steps"]["chat model"]
        assert {"check", "indexes", "embedders", "chat model", "unload", "switch"} <= set(steps)
        res = lh.search("resumes", "Kubernetes", k=3)
        assert "load_ms" not in res.timings_ms  # loaded by the activation, not by this search
        assert lh.profile.id == "staffing-recruiter"
        assert [j.status for j in lh.jobs() if j.kind == "activate"] == ["succeeded"]
    with Lakehouse.open(home=root) as lh:  # the active profile is the default reader now
        assert lh.profile.id == "staffing-recruiter" and "documents" not in [d.name for d in lh.datasets()]
    with Lakehouse.open(home=root, profile="default") as lh:
        assert "documents" in [d.name for d in lh.datasets()]


def test_activation_loads_the_chat_model_and_unloads_the_previous_ones(root, ollama):
    (root / "lakehouse.toml").write_text(PROFILES.replace('embedder = "hashing"', 'embedder = "hashing"\n'
                                                          'chat_model = "qwen3:8b"'))
    with Lakehouse.open(home=root) as lh:
        lh.activate("staffing-recruiter")
        assert "qwen2.5:7b" in ollama.loaded
        r = lh.activate("docs-assistant")
        assert r["steps"]["chat model"] == "qwen3:8b loaded (keep_alive 10m)"
        assert r["steps"]["unload"] == "qwen2.5:7b"
        assert "qwen3:8b" in ollama.loaded and "qwen2.5:7b" not in ollama.loaded


def test_a_failed_step_names_itself_and_leaves_the_previous_profile_active(root):
    with Lakehouse.open(home=root) as lh:
        lh.activate("docs-assistant")
        lh.profile_save("broken", {"datasets": ["candidates", "nothere"]}, create=True)
        with pytest.raises(LakehouseError, match=r"activating broken failed at step 'check': profile broken: "
                                                 r"dataset 'nothere' matches no dataset — docs-assistant is still "
                                                 "the active profile"):
            lh.activate("broken")
        assert lh.catalog.meta.get("active_profile") == "docs-assistant"
        hnsw = root / "vectors" / "resumes" / "g1" / "hnsw.bin"
        hnsw.write_bytes(hnsw.read_bytes()[:100])
    with Lakehouse.open(home=root, profile="default") as lh:
        with pytest.raises(LakehouseError, match=r"failed at step 'indexes': resumes g1: hnsw.bin is truncated"):
            lh.activate("staffing-recruiter")
        assert lh.catalog.meta.get("active_profile") == "docs-assistant"


def test_a_second_activation_while_one_runs_is_refused(root):
    import fcntl

    fd = os.open(root / ".activate.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with Lakehouse.open(home=root) as lh:
            with pytest.raises(LakehouseError, match="another profile activation is running"):
                lh.activate("docs-assistant")
            assert lh.catalog.meta.get("active_profile") is None
    finally:
        os.close(fd)


def test_cli_activation_returns_at_once_and_runs_as_a_job(root, cli):
    code, out, err = cli("profile", "activate", "docs-assistant")
    assert code == 0 and "activating docs-assistant as job" in out
    job_id = out.split("as job ")[1].split()[0]
    deadline = time.time() + 60
    status = None
    while time.time() < deadline:
        code, out, err = cli("jobs", "--format", "json")
        jobs = {j["id"]: j for j in json.loads(out)}
        status = jobs.get(job_id, {}).get("status")
        if status in ("succeeded", "failed"):
            break
        time.sleep(0.2)
    assert status == "succeeded"
    code, out, err = cli("profile", "list")
    assert "* docs-assistant" in out
    code, out, err = cli("sql", "SELECT count(*) FROM candidates")  # the active profile applies
    assert code == 1 and "no such dataset in profile docs-assistant: candidates" in err
    code, out, err = cli("--profile", "default", "sql", "SELECT count(*) AS n FROM candidates", "--format", "csv")
    assert out.splitlines() == ["n", "1000"]
    code, out, err = cli("sql", "SELECT 1", env={"LAKEHOUSE_PROFILE": "nope"})
    assert code == 1 and "no profile named 'nope'" in err


# -- audit -------------------------------------------------------------------------------------------
def test_every_data_access_is_audited(root):
    with as_(root, "staffing-recruiter") as lh:
        lh.sql("SELECT count(*) FROM candidates")
        with pytest.raises(LakehouseError):
            lh.sql("SELECT * FROM documents")
        lh.search("resumes", "Kubernetes", k=2, where="state = 'IL'")
        lh.update("candidates", "CAND-000001", {"city": "Boston"}, reason="moved")
        rows = list(lh.sql_stream("SELECT * FROM timesheets LIMIT 7"))
        assert sum(b.num_rows for b in rows) == 7
    with Lakehouse.open(home=root, profile="default") as lh:
        entries = lh.audit(profile="staffing-recruiter")
    got = [(e["action"], e["datasets"], e["row_count"], e["outcome"]) for e in reversed(entries)]
    assert got[:5] == [("sql", "candidates", 1, "ok"), ("sql", "", None, "refused"),
                       ("search", "resumes", 2, "ok"), ("update", "candidates", None, "ok"),
                       ("sql", "timesheets", 7, "ok")]
    e = entries[-1]
    assert e["profile"] == "staffing-recruiter" and e["statement"] == "SELECT count(*) FROM candidates"
    assert e["duration_ms"] is not None and e["ts"]
    refused = entries[-2]
    assert "no such dataset in profile staffing-recruiter: documents" in refused["error"]
    with as_(root, "docs-assistant") as lh:
        assert lh.audit(profile="staffing-recruiter") == []  # another profile's audit is not its to read
        assert lh.sql("SELECT count(*) AS n FROM _audit WHERE profile = 'staffing-recruiter'").to_pylist() == [{"n": 0}]


def test_audit_writes_are_batched_and_survive_a_crash_after_the_interval(root):
    code = ("import os, signal, time\nfrom core import Lakehouse\n"
            f"lh = Lakehouse.open(home={str(root)!r}, profile='docs-assistant')\n"
            "lh.sql('SELECT 1')\n"
            "assert lh.catalog.audit.recent('docs-assistant') == []  # not written on the hot path\n"
            "time.sleep(1.5)\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent)
    assert p.returncode == -9
    with Lakehouse.open(home=root, profile="default") as lh:
        assert [e["statement"] for e in lh.audit(profile="docs-assistant")] == ["SELECT 1"]


def test_audit_from_the_shell(root, cli):
    cli("--profile", "docs-assistant", "sql", "SELECT count(*) FROM documents")
    code, out, err = cli("audit", "--of", "docs-assistant", "--format", "json")
    assert code == 0
    entries = json.loads(out)
    assert entries[0]["action"] == "sql" and entries[0]["datasets"] == "documents"


def test_a_cancelled_activation_leaves_the_previous_profile_active(root):
    import threading

    from core.errors import Cancelled

    cancel = threading.Event()
    with Lakehouse.open(home=root) as lh:
        lh.activate("docs-assistant")
        with pytest.raises(Cancelled):
            lh.activate("staffing-recruiter", cancel=cancel,
                        progress=lambda ev: ev.message.startswith("indexes") and cancel.set())
        assert lh.catalog.meta.get("active_profile") == "docs-assistant" and lh.profile.id == "docs-assistant"
        assert [j.status for j in lh.jobs() if j.kind == "activate"][:1] == ["succeeded"]


def test_profile_commands_from_the_shell(root, cli):
    code, out, err = cli("profile", "create", "analyst", "--datasets", "timesheets,placements",
                         "--description", "Hours and placements", "--ef-search", "40")
    assert code == 0 and "profile analyst: Hours and placements" in out and "ef_search 40" in out
    code, out, err = cli("profile", "show", "analyst", "--format", "json")
    assert json.loads(out)["datasets"] == ["timesheets", "placements"]
    code, out, err = cli("profile", "edit", "analyst", "--indexes", "none_yet")
    assert code == 0 and "problem: profile analyst: index 'none_yet' matches no index" in err
    code, out, err = cli("--profile", "analyst", "datasets", "--format", "json")
    assert sorted(d["name"] for d in json.loads(out)) == ["placements", "timesheets"]
    assert "warning: profile analyst: index 'none_yet' matches no index" in err
    code, out, err = cli("profile", "delete", "analyst")
    assert code == 0 and "deleted profile analyst" in out
    for args, want_code, want in [
        (("profile", "create", "x"), 2, "a profile needs --datasets"),
        (("profile", "show", "ghost"), 1, "no profile named 'ghost'"),
        (("profile", "create", "Bad Name", "--datasets", "a"), 2, "profile name 'Bad Name' is invalid"),
        (("profile", "edit", "default", "--datasets", "a"), 1, "is the built-in one"),
        (("profile", "activate", "ghost"), 1, "no profile named 'ghost'"),
    ]:
        code, out, err = cli(*args)
        assert code == want_code and want in err and "Traceback" not in err, (args, err)


def test_a_profile_with_its_own_graph_settings_gets_that_graph_built_and_searched(root):
    (root / "lakehouse.toml").write_text(PROFILES + "\n[profiles.tuned]\ndatasets = [\"candidates\"]\n"
                                         "indexes = [\"resumes\"]\nhnsw = { m = 8, ef_construction = 40 }\n")
    with Lakehouse.open(home=root) as lh:
        before = lh.index("resumes")
        r = lh.activate("tuned")
        assert "resumes g2" in r["steps"]["indexes"] and "built with M" in r["steps"]["indexes"]
        info = lh.index("resumes")
        assert info.active_gen == before.active_gen == 1  # the shared active generation is untouched
        g2 = next(g for g in info.generations if g.gen == 2)
        assert (g2.m, g2.ef_construction, g2.embedded, g2.reused) == (8, 40, 0, 1000)
        res = lh.search("resumes", "Kubernetes", k=3)
        assert res.gen == 2 and "load_ms" not in res.timings_ms
    with Lakehouse.open(home=root, profile="staffing-recruiter") as lh:
        assert lh.search("resumes", "Kubernetes", k=3).gen == 1  # other profiles keep the active one
    with Lakehouse.open(home=root) as lh:
        assert lh.activate("tuned")["steps"]["indexes"].startswith("resumes g2")  # built once
        assert len(lh.index("resumes").generations) == 2


def test_a_profile_keeps_its_own_autotune_goals_from_the_shell(home, cli):
    home.mkdir(parents=True, exist_ok=True)
    code, out, err = cli("profile", "create", "tuner", "--datasets", "*", "--autotune-min-recall", "0.9",
                         "--autotune-objective", "memory")
    assert code == 0 and "autotune:    min recall 0.9, objective memory" in out, err
    assert 'autotune_min_recall = 0.9\nautotune_objective = "memory"\n' in (home / "lakehouse.toml").read_text()
    code, out, err = cli("profile", "edit", "tuner", "--autotune-objective", "p95")
    assert code == 0 and "objective p95" in out, err
    code, out, err = cli("profile", "show", "tuner", "--format", "json")
    got = json.loads(out)
    assert (got["autotune_min_recall"], got["autotune_objective"]) == (0.9, "p95")
    code, out, err = cli("profile", "edit", "tuner", "--autotune-min-recall", "2")
    assert code == 2 and "must be a recall above 0 and at most 1" in err and "Traceback" not in err
