"""The README as written: its Quick tour, command by command, on a small demo.

The commands are read from README.md, so the tour and this test cannot drift apart.
Each runs through bash exactly as printed (with the venv's `lakehouse` on PATH, as the
README tells the user to arrange), against the Ollama stand-in for the model lines. A
command whose comment says "refused" must fail with one sentence; every other one must
succeed. No command may print a traceback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def tour_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"## Quick tour\n.*?```sh\n(.*?)```", text, re.S)
    assert block, "README.md has no Quick tour code block"
    return [ln for ln in block.group(1).splitlines() if ln.strip().startswith("lakehouse")]


def _reply(request: dict):
    """What a helpful chat model says: SQL or a filter when asked for JSON, else an answer
    that cites the first passage."""
    required = ((request.get("format") or {}).get("required")) or []
    if "sql" in required:
        return json.dumps({"sql": "SELECT state, count(*) AS n FROM candidates GROUP BY state ORDER BY n DESC",
                           "reason": "count per state"})
    if "where" in required:
        return json.dumps({"where": ""})
    return "The first passage describes a match [1]."


@pytest.fixture
def tour_env(tmp_path, ollama):
    user_home = tmp_path / "user"
    (user_home / "exports").mkdir(parents=True)
    (user_home / "exports" / "orders.csv").write_text("order_id,amount\n1,9.5\n2,12\n")
    (user_home / "exports" / "regions.csv").write_text("region,manager\nwest,ann\neast,bo\n")
    work = tmp_path / "work"
    (work / "reports").mkdir(parents=True)
    (work / "reports" / "q3.md").write_text("# Q3 report\nKubernetes migration planning went well.\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / "lakehouse.toml").write_text("[demo]\nscale = 0.01\n")  # a small demo, as a user may set
    ollama.chat_replies = [_reply] * 50
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}
    env.update(HOME=str(user_home), LAKEHOUSE_HOME=str(root), OLLAMA_HOST=ollama.url, COLUMNS="200",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    return env, work


@pytest.mark.long
def test_the_quick_tour_runs_as_written(tour_env):
    env, work = tour_env
    commands = tour_commands()
    assert len(commands) >= 20 and commands[0].startswith("lakehouse demo")
    for cmd in commands:
        p = subprocess.run(["bash", "-c", cmd], cwd=work, env=env, capture_output=True, text=True, timeout=600)
        said = f"$ {cmd}\nexit {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"
        assert "Traceback" not in p.stderr and "this is a bug" not in p.stderr, said
        if "# refused" in cmd:
            assert p.returncode == 1, said
            errors = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
            assert len(errors) == 1, said
        else:
            assert p.returncode == 0, said
    assert (work / "ts.parquet").is_file()
