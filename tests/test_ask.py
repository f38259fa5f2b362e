"""Ask: NL->SQL, RAG with citations, hybrid, no silent truncation, and every Ollama
fault — through the real `ollama` client against the API stand-in (tests/ollama_stub.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core import Lakehouse
from core.errors import LakehouseError, OllamaError
from vector_data import write_profiles


def sql_reply(sql: str, reason: str = "") -> str:
    return json.dumps({"sql": sql, "reason": reason})


def open_lh(home: Path, toml: str = ""):
    home.mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text("[ollama]\nretries = 1\n" + toml)
    return Lakehouse.open(home=home)


@pytest.fixture
def demo(home, ollama):
    with open_lh(home) as lh:
        lh.demo(scale=0.01)
        yield lh


@pytest.fixture
def people(home, data, ollama):
    with open_lh(home) as lh:
        lh.ingest(write_profiles(data / "people.csv", 200), key="person_id")
        lh.embed("people", "profile", index="people", embedder="hashing")
        yield lh


# -- NL -> SQL ---------------------------------------------------------------------------------
def test_nl_to_sql_round_trip_on_the_demo_data(demo, ollama):
    sql = "SELECT state, count(*) AS n FROM candidates GROUP BY state ORDER BY n DESC, state LIMIT 3"
    ollama.chat_replies = [sql_reply(sql, "count per state"), "Texas has the most candidates."]
    tokens = []
    r = demo.ask("How many candidates are there per state?", on_token=tokens.append)
    assert (r.mode, r.outcome) == ("sql", "answered") and "asks for a computation ('How many')" in r.reason
    assert r.sql == sql and r.rows == demo.sql(sql).to_pylist() and r.row_count == 3
    assert r.answer == "Texas has the most candidates." == "".join(tokens).strip()
    system = ollama.chat_requests[0]["messages"][0]["content"]
    assert "TABLE candidates (1,000 rows)" in system and "state VARCHAR" in system and "e.g." in system
    assert ollama.chat_requests[0]["format"]["required"] == ["sql", "reason"]
    assert ollama.chat_requests[0]["options"]["num_ctx"] == 8192 and "think" not in ollama.chat_requests[0]
    summary = ollama.chat_requests[1]["messages"][1]["content"]
    assert "TX" in summary and sql in summary
    rec = demo.sql(f"SELECT mode, sql, outcome, row_count, model FROM _asks WHERE id = '{r.id}'").to_pylist()
    assert rec == [{"mode": "sql", "sql": sql, "outcome": "answered", "row_count": 3, "model": "qwen2.5:7b"}]


def test_big_results_are_limited_and_counted(demo, ollama):
    ollama.chat_replies = [sql_reply("SELECT * FROM timesheets"), "Lots of timesheets."]
    r = demo.ask("list all timesheets", mode="sql")
    assert len(r.rows) == 200 and r.row_count == 10_000


@pytest.mark.parametrize("sql,why", [
    ("DROP TABLE candidates", "a DROP statement"),
    ("SELECT 1; DROP TABLE candidates", "2 statements"),
    ("DELETE FROM candidates", "a DELETE statement"),
    ("UPDATE candidates SET city = 'x'", "an UPDATE statement"),
    ("CREATE TABLE x AS SELECT * FROM candidates", "a CREATE statement"),
    ("COPY candidates TO '/tmp/out.csv'", "a COPY statement"),
    ("ATTACH '/tmp/other.db'", "an ATTACH statement"),
    ("INSTALL httpfs", "an INSTALL statement"),
    ("PRAGMA database_list", "a PRAGMA statement"),
    ("SET memory_limit = '1GB'", "a SET statement"),
    ("SELECT * FROM read_csv('/etc/passwd')", "table function read_csv()"),
    ("SELECT * FROM candidates WHERE EXISTS (SELECT * FROM glob('/etc/*'))", "table function glob()"),
    ("SELECT getenv('HOME')", "getenv()"),
    ("SELECT * FROM main.sqlite_master", "outside the datasets"),
])
def test_unsafe_sql_from_the_model_is_refused_and_never_run(demo, ollama, sql, why):
    ollama.chat_replies = [sql_reply(sql)]
    with pytest.raises(LakehouseError, match="nothing was run") as e:
        demo.ask("how many candidates?", mode="sql")
    assert why in str(e.value)
    assert len(ollama.chat_requests) == 1  # refused outright, not sent back for another try
    assert demo.sql("SELECT count(*) AS n FROM candidates").to_pylist() == [{"n": 1000}]
    assert demo.sql("SELECT outcome FROM _asks").to_pylist() == [{"outcome": "failed"}]


def test_a_failing_query_goes_back_to_the_model_then_fails_plainly(demo, ollama):
    good = "SELECT count(*) AS n FROM candidates"
    ollama.chat_replies = [sql_reply("SELECT count(*) FROM candidatez"), sql_reply(good), "There are 1,000."]
    r = demo.ask("how many candidates?", mode="sql")
    assert r.attempts == 2 and r.rows == [{"n": 1000}]
    retry = ollama.chat_requests[1]["messages"][-1]["content"]
    assert "That SQL failed" in retry and "no dataset named 'candidatez'" in retry
    ollama.chat_replies = [sql_reply("SELECT nope FROM candidates")] * 3
    with pytest.raises(LakehouseError, match=r"the model's SQL failed 3 times; the last error: .*nope"):
        demo.ask("how many candidates?", mode="sql")


def test_accepted_pairs_become_examples_in_later_prompts(demo, ollama):
    sql = "SELECT count(*) AS n FROM placements"
    ollama.chat_replies = [sql_reply(sql), "There are 500 placements."]
    r = demo.ask("how many placements are there?", mode="sql")
    assert demo.accept(r.id)["accepted"] == 1
    ollama.chat_replies = [sql_reply(sql), "500."]
    demo.ask("how many placements were made?", mode="sql")
    system = ollama.chat_requests[-2]["messages"][0]["content"]
    assert "Examples of accepted answers" in system and f"SQL: {sql}" in system
    with pytest.raises(LakehouseError, match="no ask with id 'nope'"):
        demo.accept("nope")


# -- RAG ----------------------------------------------------------------------------------------
def test_rag_answers_cite_the_rows_they_came_from(people, ollama):
    question = "who could handle our Kubernetes Terraform migration?"
    top = people.search("people", question, k=6).hits  # what the ask retrieves
    ollama.chat_replies = [f"{top[0].row_key} migrated clusters [1]; another did Terraform [2]."]
    r = people.ask(question)
    assert (r.mode, r.outcome) == ("rag", "answered") and "('who could')" in r.reason
    assert [(c.n, c.row_key) for c in r.citations] == [(1, top[0].row_key), (2, top[1].row_key)]
    assert r.citations[0].dataset == "people" and r.citations[0].text == top[0].text
    prompt = ollama.chat_requests[0]["messages"][1]["content"]
    assert f"[1] (people {top[0].row_key}) {top[0].text}" in prompt
    rec = json.loads(people.sql(f"SELECT citations_json FROM _asks WHERE id = '{r.id}'").column(0)[0].as_py())
    assert rec[0]["row_key"] == top[0].row_key


def test_the_data_does_not_say_is_said_not_invented(people, ollama):
    r = people.ask("quantum chromodynamics lattice gauge", mode="rag")  # nothing similar in the data
    assert r.outcome == "not_in_data" and "does not contain an answer" in r.answer and r.citations == []
    assert ollama.chat_requests == []  # no model call on weak retrieval
    ollama.chat_replies = ["NOT IN DATA"]
    r = people.ask("which worker speaks the most languages about Kubernetes?", mode="rag")
    assert r.outcome == "not_in_data" and "found no answer" in r.answer
    ollama.chat_replies = ["Everyone speaks Klingon."]  # no citation: an unsupported answer
    r = people.ask("explain the Kubernetes work", mode="rag")
    assert r.outcome == "not_in_data" and "cited none of them" in r.answer


def test_hybrid_lets_sql_narrow_and_passages_explain(people, ollama):
    ollama.chat_replies = [json.dumps({"where": "state = 'IL'"}), "One IL worker did it [1]."]
    r = people.ask("which workers by state have experience with Kubernetes?")
    assert r.mode == "hybrid" and r.where == "state = 'IL'" and r.outcome == "answered"
    keys = {row["person_id"] for row in people.sql("SELECT person_id FROM people WHERE state = 'IL'").to_pylist()}
    assert r.citations and all(c.row_key in keys for c in r.citations)
    ollama.chat_replies = [json.dumps({"where": "salary > (SELECT 1 FROM other)"}), "Someone [1]."]
    r = people.ask("which workers by state have experience with Terraform?")
    assert "the model's filter was dropped" in r.reason and r.where == ""


# -- no silent truncation -------------------------------------------------------------------------
def test_a_cut_short_reply_is_continued_with_the_partial_as_scratchpad(demo, ollama):
    whole = sql_reply("SELECT count(*) AS n FROM clients")
    ollama.chat_replies = [{"content": whole[:20], "done_reason": "length"}, whole[20:], "There are 20."]
    r = demo.ask("how many clients?", mode="sql")
    assert r.continuations == 1 and r.rows == [{"n": 20}]
    cont = ollama.chat_requests[1]["messages"]
    assert cont[-2] == {"role": "assistant", "content": whole[:20]} and "Continue exactly" in cont[-1]["content"]
    assert "format" not in ollama.chat_requests[1]  # free text: the continuation completes the JSON
    ollama.chat_replies = [whole[:10], whole[10:]] + ["20 clients."]  # invalid JSON, done_reason stop
    assert demo.ask("how many clients?", mode="sql").continuations == 1
    ollama.chat_replies = [{"content": "{", "done_reason": "length"}] * 3
    with pytest.raises(OllamaError, match=r"reached num_predict after 2 continuation\(s\)"):
        demo.ask("how many clients?", mode="sql")


def test_a_prompt_the_server_cut_is_detected(demo, ollama):
    ollama.chat_replies = [{"content": sql_reply("SELECT 1"), "prompt_eval_count": 8192}]
    with pytest.raises(OllamaError, match="the server cut the prompt"):
        demo.ask("how many clients?", mode="sql")


def test_too_many_passages_are_split_mapped_and_reduced(home, data, ollama):
    with open_lh(home, "chat_num_ctx = 700\nnum_predict = 100\n[ask]\nrag_k = 12\n") as lh:
        lh.ingest(write_profiles(data / "people.csv", 200), key="person_id")
        lh.embed("people", "profile", index="people", embedder="hashing")
        def reply(req):  # map steps return notes; the reduce step answers from them
            if "You extract facts" in req["messages"][0]["content"]:
                return "notes: Kubernetes work [1]; Terraform [3]"
            return "Worker one did Kubernetes [1] and another Terraform [3]."
        ollama.chat_replies = [reply] * 20
        r = lh.ask("who could handle Kubernetes and Terraform and AWS migrations?", mode="rag")
        maps = [q for q in ollama.chat_requests if "You extract facts" in q["messages"][0]["content"]]
        assert len(maps) >= 2 and len(ollama.chat_requests) == len(maps) + 1
        assert "Notes so far:\nnotes:" in maps[1]["messages"][1]["content"]  # a running digest
        assert "Notes drawn from the passages" in ollama.chat_requests[-1]["messages"][1]["content"]
        budget = 700 - 100 - 64
        assert all(sum(len(m["content"]) // 3 + 8 for m in q["messages"]) <= budget for q in ollama.chat_requests)
        assert r.outcome == "answered" and [c.n for c in r.citations] == [1, 3]


def test_a_single_passage_too_big_for_the_context_fails_with_numbers(home, data, ollama):
    with open_lh(home, "chat_num_ctx = 600\nnum_predict = 100\n") as lh:
        long = " ".join(["Kubernetes migration experience"] * 200)
        (data / "d.csv").write_text(f"id,body\n1,{long}\n")
        lh.ingest(data / "d.csv", key="id")
        lh.embed("d", "body", index="d", embedder="hashing", chunk_size=6000, overlap=0)
        with pytest.raises(OllamaError, match=r"passage \[1\] alone is ~\d[\d,]* tokens, over the \d+ that fit"):
            lh.ask("who has Kubernetes migration experience?", mode="rag")
        assert ollama.chat_requests == []


# -- Ollama faults ----------------------------------------------------------------------------------
def test_each_fault_gets_one_clear_sentence(demo, ollama):
    q = "how many clients?"
    ollama.remove_model("qwen2.5:7b")
    with pytest.raises(OllamaError, match=r"has no model 'qwen2.5:7b' — run `ollama pull qwen2.5:7b`"):
        demo.ask(q, mode="sql")
    with pytest.raises(OllamaError, match="cannot chat"):
        demo.ask(q, mode="sql", model="nomic-embed-text")
    ollama.fail_next(5, status=500, error="llama runner process has terminated")
    with pytest.raises(OllamaError, match=r"refused the chat request .*HTTP 500.*llama runner"):
        demo.ask(q, mode="sql", model="qwen3:8b")
    ollama.reset_counters()
    ollama.chat_replies = [sql_reply("SELECT count(*) AS n FROM clients"), "There are twenty clients."]
    r = demo.ask(q, mode="sql", model="qwen3:8b")
    assert r.outcome == "answered" and r.model == "qwen3:8b"
    assert [req["think"] for req in ollama.chat_requests] == [False, False]  # thinking off for a thinker
    outcomes = demo.sql("SELECT outcome, error FROM _asks ORDER BY ts").to_pylist()
    assert [o["outcome"] for o in outcomes] == ["failed", "failed", "failed", "answered"]
    assert "ollama pull" in outcomes[0]["error"]


def test_an_answer_that_breaks_midway_is_reported_with_how_far_it_got(demo, ollama):
    def breaking(req):  # the SQL arrives whole; the streamed answer is cut after two pieces
        ollama.break_stream_next = 1
        return "There are twenty clients in all."
    ollama.chat_replies = [sql_reply("SELECT count(*) AS n FROM clients"), breaking]
    shown = []
    with pytest.raises(OllamaError, match=r"broke off after 10 characters of the reply from qwen2.5:7b"):
        demo.ask("how many clients?", mode="sql", on_token=shown.append)
    assert "".join(shown) == "There are "  # what had arrived was shown, and the error says so
    assert demo.sql("SELECT outcome FROM _asks").to_pylist() == [{"outcome": "failed"}]


def test_stream_faults_and_timeouts(home, ollama):
    from core.ollama import Ollama

    o = Ollama(ollama.url, timeout=0.5, retries=1, backoff=0.01)
    msgs = [{"role": "user", "content": "hello there"}]
    ollama.chat_replies = ["one two three four"]
    ollama.break_stream_next = 1
    with pytest.raises(OllamaError, match=r"broke off after \d+ characters of the reply from qwen2.5:7b"):
        o.chat("qwen2.5:7b", msgs)
    ollama.chat_replies = ["one two three four"]
    ollama.stream_error_next = 1
    with pytest.raises(OllamaError, match=r"Ollama stopped the reply from qwen2.5:7b after \d+ characters: "
                                          "an error was encountered while running the model"):
        o.chat("qwen2.5:7b", msgs)
    ollama.delay = 1.5
    with pytest.raises(OllamaError, match=r"did not answer the chat request within 0.5 s"):
        o.chat("qwen2.5:7b", msgs)
    ollama.delay = 0
    ollama.fail_next(1)  # busy once: retried, then fine
    assert o.chat("qwen2.5:7b", msgs)["done_reason"] == "stop"
    down = Ollama("127.0.0.1:9", timeout=1, retries=0)
    with pytest.raises(OllamaError, match=r"^Ollama is not reachable at http://127.0.0.1:9 — start it with `ollama serve`"):
        down.chat("qwen2.5:7b", msgs)


def test_models_lists_installed_and_loaded(demo, ollama):
    info = demo.models()
    names = {m["name"] for m in info["installed"]}
    assert {"nomic-embed-text:latest", "qwen2.5:7b"} <= names
    assert all(len(m["digest"]) == 64 for m in info["installed"])
    ollama.chat_replies = [sql_reply("SELECT 1 AS one"), "One."]
    demo.ask("how many ones?", mode="sql")
    loaded = {m["name"]: m for m in demo.models()["loaded"]}
    assert "qwen2.5:7b" in loaded and loaded["qwen2.5:7b"]["expires_at"]
    from core.ollama import Ollama

    Ollama(ollama.url).unload("qwen2.5:7b")
    assert "qwen2.5:7b" not in {m["name"] for m in demo.models()["loaded"]}


def test_auto_routing_says_why(people):
    assert people._asker is None
    from core.ask.asker import Asker
    from core.ask.chat import Chat

    a = Asker(people, people.config, Chat.from_config(people.config))
    assert a.route("what is the average years per state?", "auto", None)[0] == "sql"
    assert a.route("who could lead a Kubernetes migration?", "auto", None)[0] == "rag"
    assert a.route("which workers by state have experience with AWS?", "auto", None)[0] == "hybrid"
    assert a.route("anything", "sql", None) == ("sql", "sql: asked for")
    with pytest.raises(LakehouseError, match="--mode must be one of auto, sql, rag"):
        a.route("x", "magic", None)
    with pytest.raises(LakehouseError, match="the question is empty"):
        people.ask("  ")


# -- the command line ---------------------------------------------------------------------------------
def test_ask_from_the_shell_streams_and_shows_its_work(cli, ollama, data):
    cli("ingest", str(write_profiles(data / "people.csv", 50)), "--key", "person_id")
    ollama.chat_replies = [sql_reply("SELECT state, count(*) AS n FROM people GROUP BY state ORDER BY state"),
                           "Every state has ten workers."]
    code, out, err = cli("ask", "how many workers per state?", env={"OLLAMA_HOST": ollama.url})
    assert code == 0, err
    assert out.startswith("Every state has ten workers.") and "SQL: SELECT state, count(*)" in out
    assert "CA" in out and "5 row(s)" in out
    assert "auto -> sql" in err and "lakehouse ask --accept" in err
    ask_id = err.split("lakehouse ask --accept ")[1].split()[0]
    code, out, err = cli("ask", "--accept", ask_id, env={"OLLAMA_HOST": ollama.url})
    assert code == 0 and f"accepted ask {ask_id}" in out
    ollama.chat_replies = [sql_reply("SELECT count(*) AS n FROM people"), "Fifty."]
    code, out, err = cli("ask", "how many workers?", "--format", "json", env={"OLLAMA_HOST": ollama.url})
    doc = json.loads(out)
    assert doc["rows"] == [{"n": 50}] and doc["answer"] == "Fifty." and doc["mode"] == "sql"
    code, out, err = cli("models", env={"OLLAMA_HOST": ollama.url})
    assert code == 0 and "nomic-embed-text:latest" in out and "qwen2.5:7b" in out
    code, out, err = cli("ask", "how many workers?", env={"OLLAMA_HOST": "127.0.0.1:9"})  # nothing there
    assert code == 1 and err.strip().startswith("error: Ollama is not reachable at http://127.0.0.1:9")
    code, out, err = cli("ask")
    assert code == 2 and "give a question" in err
