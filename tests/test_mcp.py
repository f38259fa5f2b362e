"""`lakehouse mcp` with the official MCP SDK's client as a real peer over stdio: the tools
an agent gets (generated from the registry, writes only with --allow-writes), read tools
answering JSON, confirmation before any write, the seed's gate (search candidates, then
shortlist one with a reason: journaled with the client's name, audited, reversible), a
profile's boundary, malformed calls answered while the server stays up, rate limits,
and the policy masks the facade applies."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from conftest import REPO

mcp = pytest.importorskip("mcp")
from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402
import mcp_types  # noqa: E402

LAKEHOUSE = str(Path(sys.executable).parent / "lakehouse")
CLIENT = mcp_types.Implementation(name="test-agent", version="0.3")
PROFILES = """
[profiles.recruiter]
datasets = ["cand*"]
indexes = ["*"]
"""
CANDIDATES = """id,name,city,skills,available,status
1,Ann Lee,Chicago,python sql airflow,true,new
2,Bo Diaz,Denver,java spring,true,new
3,Cy Park,Chicago,python kubernetes terraform,true,new
4,Di Roy,Chicago,python pandas,false,new
5,Ed Kim,Austin,golang kubernetes,true,new
"""

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """One storage root: keyed candidates (indexed by skills), payroll (outside the
    recruiter profile), people with SSNs (for the masking policy)."""
    from core import Lakehouse

    tmp = tmp_path_factory.mktemp("mcp")
    home = tmp / "home"
    home.mkdir()
    (home / "lakehouse.toml").write_text(PROFILES)
    (tmp / "candidates.csv").write_text(CANDIDATES)
    (tmp / "payroll.csv").write_text("id,salary\n1,100\n2,200\n")
    (tmp / "people.csv").write_text("id,name,ssn\n1,Ann,123-45-6789\n2,Bo,987-65-4321\n")
    with Lakehouse.open(home=home) as lh:
        lh.ingest([str(tmp / "candidates.csv")], key="id")
        lh.ingest([str(tmp / "payroll.csv")])
        lh.ingest([str(tmp / "people.csv")], key="id")
        lh.embed("candidates", "skills", index="candidates", embedder="hashing")
    (tmp / "limits.toml").write_text(PROFILES + "[mcp]\ncalls_per_minute = 2\nwrite_calls_per_minute = 1\n")
    (tmp / "policy.toml").write_text(PROFILES + """
[profiles.agent]
datasets = ["people"]
indexes = ["*"]
[policies.hide_ssn]
profiles = ["agent"]
masks = { "people.ssn" = "redact" }
""")
    return tmp


@asynccontextmanager
async def connect(root: Path, *args: str):
    """A client session with `lakehouse mcp --home ROOT ARGS` (its stderr into server.log)."""
    params = StdioServerParameters(command=LAKEHOUSE, args=["mcp", "--home", str(root / "home"), *args],
                                   env={"OLLAMA_HOST": "127.0.0.1:9"})
    with open(root / "server.log", "a") as errlog:
        async with stdio_client(params, errlog=errlog) as (r, w):
            async with ClientSession(r, w, client_info=CLIENT) as s:
                await s.initialize()
                yield s


@pytest.fixture(scope="module")
async def reader(root):
    async with connect(root, "--profile", "recruiter") as s:
        yield s


@pytest.fixture(scope="module")
async def writer(root):
    async with connect(root, "--profile", "recruiter", "--allow-writes") as s:
        yield s


async def ok(session, tool: str, **args):
    """A tool's JSON result (the call must succeed)."""
    res = await session.call_tool(tool, args)
    assert not res.is_error, res.content[0].text
    return json.loads(res.content[0].text)


async def refused(session, tool: str, **args) -> str:
    """A tool error result's sentence (the call must fail as a tool error)."""
    res = await session.call_tool(tool, args)
    assert res.is_error, res.content[0].text
    return res.content[0].text


async def until(fn, timeout: float = 30.0):
    """fn()'s first truthy value, asked until `timeout` (the audit is written in batches)."""
    deadline = time.monotonic() + timeout
    while True:
        got = await fn()
        if got or time.monotonic() > deadline:
            return got
        await anyio.sleep(0.2)


# -- what an agent is offered --------------------------------------------------------------

async def test_read_only_server_offers_read_tools_generated_from_the_registry(reader):
    tools = {t.name: t for t in (await reader.list_tools()).tools}
    assert {"datasets", "dataset", "describe", "sql_rows", "search", "ask", "history", "versions", "audit",
            "trials", "memory_search"} <= set(tools)
    # no write, lifecycle, admin or Arrow tool without --allow-writes
    assert not set(tools) & {"update", "delete", "ingest", "restore", "memory_add", "promote", "open", "close",
                             "sql", "sql_stream", "activate", "profile_save", "cancel_job"}
    sql = tools["sql_rows"]
    assert "read-only SQL" in sql.description and "limit" in sql.description
    schema = sql.input_schema
    assert schema["required"] == ["text"] and schema["properties"]["text"]["type"] == "string"
    assert schema["properties"]["limit"] == {**schema["properties"]["limit"], "type": "integer", "default": 100}
    assert "actor" not in tools["history"].input_schema["properties"]


async def test_allow_writes_adds_write_tools_that_take_confirm(writer):
    tools = {t.name: t for t in (await writer.list_tools()).tools}
    assert {"update", "delete", "restore", "ingest", "memory_add", "memory_retire", "promote"} <= set(tools)
    for name in ("update", "restore", "ingest"):
        props = tools[name].input_schema["properties"]
        assert props["confirm"]["type"] == "boolean" and "actor" not in props
        assert "confirm=true" in tools[name].description
    assert "activate" not in tools and "profile_delete" not in tools


# -- reading -------------------------------------------------------------------------------

async def test_read_tools_answer_json(reader):
    assert [d["name"] for d in await ok(reader, "datasets")] == ["candidates"]
    got = await ok(reader, "sql_rows", text="SELECT name FROM candidates WHERE city = 'Chicago' ORDER BY id",
                   limit=2)
    assert got["columns"] == ["name"] and got["rows"] == [["Ann Lee"], ["Cy Park"]] and got["row_count"] == 3
    desc = await ok(reader, "describe", name="candidates", sample_rows=2)
    assert [c["name"] for c in desc["dataset"]["columns"]][:3] == ["id", "name", "city"]
    assert desc["sample"]["row_count"] == 2 and desc["sample"]["columns"][0] == "id"
    assert desc["dataset"]["primary_key"] == ["id"]


async def test_dataset_schemas_are_resources(reader):
    uris = [str(r.uri) for r in (await reader.list_resources()).resources]
    assert uris == ["lakehouse://datasets/candidates/schema"]
    body = json.loads((await reader.read_resource(uris[0])).contents[0].text)
    assert {c["name"]: c["type"] for c in body["columns"]}["city"] == "VARCHAR"


async def test_a_profiles_unbound_dataset_is_invisible(reader):
    assert "payroll" not in [d["name"] for d in await ok(reader, "datasets")]
    assert "payroll" in await refused(reader, "sql_rows", text="SELECT * FROM payroll")
    await refused(reader, "describe", name="payroll")
    await refused(reader, "history", name="payroll")
    with pytest.raises(MCPError):
        await reader.read_resource("lakehouse://datasets/payroll/schema")
    leaked = await reader.call_tool("sql_rows", {"text": "SELECT name FROM _datasets"})
    assert "payroll" not in leaked.content[0].text


async def test_malformed_calls_are_errors_and_the_server_stays_up(reader):
    with pytest.raises(MCPError, match="unknown tool 'no_such_tool'"):
        await reader.call_tool("no_such_tool", {})
    with pytest.raises(MCPError, match="--allow-writes"):
        await reader.call_tool("update", {"name": "candidates", "key": 1, "values": {}})
    assert "'text' must be a string" in await refused(reader, "sql_rows", text=42)
    assert "needs 'text'" in await refused(reader, "sql_rows")
    assert "takes no argument 'actor'" in await refused(reader, "history", name="candidates", actor="someone")
    assert "max_rows" in await refused(reader, "sql_rows", text="SELECT 1", limit=10**9)
    assert "must be true or false" in await refused(reader, "search", index="candidates", text="x",
                                                    memory="yes")
    # a core error is what the facade says (DuckDB's caret included), never a traceback
    text = await refused(reader, "sql_rows", text="SELEC nonsense")
    assert "SELEC" in text and "Traceback" not in text
    assert [d["name"] for d in await ok(reader, "datasets")] == ["candidates"]  # still answering


# -- the seed's gate: search candidates, shortlist one with a reason -------------------------

async def test_unconfirmed_write_says_what_it_would_do_and_changes_nothing(writer):
    text = await refused(writer, "update", name="candidates", key=3, values={"status": "shortlisted"},
                         reason="python and kubernetes")
    assert "not done" in text and "confirm=true" in text and "mcp:test-agent" in text
    got = await ok(writer, "sql_rows", text="SELECT status FROM candidates WHERE id = 3")
    assert got["rows"] == [["new"]]


async def test_search_then_shortlist_is_journaled_audited_and_reversible(writer):
    found = await ok(writer, "search", index="candidates", text="python kubernetes", k=3,
                     where="city = 'Chicago' AND available")
    hits = found["hits"]
    assert hits and {h["row"]["city"] for h in hits} == {"Chicago"} and all(h["row"]["available"] for h in hits)
    best = hits[0]["row"]
    assert best["id"] == 3  # python + kubernetes, in Chicago, available
    before = (await ok(writer, "versions", name="candidates"))[-1]["version"]

    await ok(writer, "update", name="candidates", key=best["id"], values={"status": "shortlisted"},
             reason="python and kubernetes in Chicago", confirm=True)
    rows = await ok(writer, "sql_rows", text="SELECT status FROM candidates WHERE id = 3")
    assert rows["rows"] == [["shortlisted"]]

    history = await ok(writer, "history", name="candidates", key="3")
    change = [h for h in history if h.get("new_value") == "shortlisted" or "shortlisted" in json.dumps(h)]
    assert change and change[-1]["actor"] == "mcp:test-agent"
    assert change[-1]["reason"] == "python and kubernetes in Chicago"

    async def audited():
        entries = await ok(writer, "audit", limit=200)
        return [e for e in entries if e["action"] == "mcp" and "update" in e["statement"]
                and e["outcome"] == "ok"]
    entry = (await until(audited))[0]
    assert entry["statement"].startswith("mcp:test-agent (test-agent 0.3) update")
    assert entry["profile"] == "recruiter" and "candidates" in entry["datasets"]

    await ok(writer, "restore", name="candidates", version=before, reason="undo the shortlist", confirm=True)
    rows = await ok(writer, "sql_rows", text="SELECT status FROM candidates WHERE id = 3")
    assert rows["rows"] == [["new"]]
    assert any(h["actor"] == "mcp:test-agent" for h in await ok(writer, "history", name="candidates"))


async def test_a_restricted_profile_writes_only_its_own_datasets(writer):
    text = await refused(writer, "update", name="payroll", key=1, values={"salary": "1"}, confirm=True)
    assert "payroll" in text


async def test_audit_redacts_passwords_in_arguments(writer):
    await refused(writer, "ingest", paths="postgresql://u:hunter2@127.0.0.1:9/db", table="public.t",
                  name="candidates_pg")

    async def audited():
        entries = await ok(writer, "audit", limit=200)
        return [e for e in entries if e["action"] == "mcp" and "ingest" in e["statement"]]
    entry = (await until(audited))[0]
    assert "hunter2" not in entry["statement"] and "***" in entry["statement"]


# -- limits and policies ---------------------------------------------------------------------

async def test_rate_limit_per_tool_says_when_to_retry(root):
    async with connect(root, "--config", str(root / "limits.toml"), "--profile", "recruiter",
                       "--allow-writes") as s:
        await ok(s, "datasets")
        await ok(s, "datasets")
        text = await refused(s, "datasets")
        assert "rate limit" in text and "calls_per_minute" in text and "retry in" in text
        await ok(s, "versions", name="candidates")  # another tool has its own budget
        await refused(s, "delete", name="candidates", key=5)  # unconfirmed: counts as the one write call
        assert "write_calls_per_minute" in await refused(s, "delete", name="candidates", key=5, confirm=True)
        assert (await ok(s, "sql_rows", text="SELECT count(*) FROM candidates"))["rows"] == [[5]]


@pytest.mark.skipif(importlib.util.find_spec("core.governance.policies") is None,
                    reason="masking policies (core/governance/policies.py) are not built yet")
async def test_a_policy_masked_column_stays_masked_over_mcp(root):
    async with connect(root, "--config", str(root / "policy.toml"), "--profile", "agent") as s:
        got = await ok(s, "sql_rows", text="SELECT ssn FROM people ORDER BY id")
        assert got["rows"] == [["[redacted]"], ["[redacted]"]]
        assert "6789" not in json.dumps(await ok(s, "describe", name="people"))


# -- the cost of the SDK stays with `lakehouse mcp` --------------------------------------------

def test_other_commands_never_import_the_mcp_sdk():
    code = ("import sys; from app import cli; print(','.join(m for m in sys.modules if m.split('.')[0] in "
            "('mcp', 'mcp_types') or m.startswith('app.mcp')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_docs_list_every_tool_and_setting():
    from app.mcp.tools import build
    from core.config import SCHEMA

    doc = (REPO / "docs" / "mcp.md").read_text()
    assert [t for t in build(allow_writes=True) if f"| `{t}` |" not in doc] == []
    assert [k for k in SCHEMA["mcp"] if f"{k} = " not in doc] == []


def test_a_rate_limit_frees_as_the_minute_moves():
    from app.mcp.server import RateLimits

    now = [0.0]
    limits = RateLimits(reads=2, writes=1, clock=lambda: now[0])
    assert limits.wait("sql_rows", False) == 0 and limits.wait("sql_rows", False) == 0
    now[0] = 15.0
    assert limits.wait("sql_rows", False) == pytest.approx(45.0)  # the first call leaves the window at 60 s
    assert limits.wait("search", False) == 0  # each tool has its own budget
    assert limits.wait("update", True) == 0 and limits.wait("update", True) > 0
    now[0] = 60.0
    assert limits.wait("sql_rows", False) == 0
    assert RateLimits(0, 0).wait("sql_rows", False) == 0  # 0 = no limit
