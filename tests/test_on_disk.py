"""The README's "On disk" section is the truth about the storage root: a session that
touches every area (ingest, a keyed edit, SQL, an index, search, an eval set and a trial,
a memory and a boosted search, a profile activated in the background, a detached daemon with a TCP port, the demo)
writes nothing the section does not name, and everything it names as always present is
there."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from test_daemon import _free_port

README = Path(__file__).resolve().parent.parent / "README.md"


def _patterns() -> list[tuple[str, re.Pattern]]:
    """(pattern, regex) for each line of the README's On disk block: the first word is a
    path under the root, `<x>` stands for one name, and a path ending in `/` covers
    everything beneath it."""
    text = README.read_text()
    block = text.split("## On disk", 1)[1].split("```", 2)[1]
    out = []
    for line in block.strip("\n").splitlines():
        pat = line.split()[0]
        rx = re.escape(pat).replace(re.escape("<"), "<").replace(re.escape(">"), ">")
        rx = re.sub(r"<[^>]+>", r"[^/]+", rx)
        rx = rx + ".*" if pat.endswith("/") else rx
        out.append((pat, re.compile(rx + r"\Z")))
    return out


def _listing(home: Path) -> list[str]:
    return [str(p.relative_to(home)) + ("/" if p.is_dir() else "") for p in home.rglob("*")]


def _wait(cond, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.mark.long
def test_every_file_a_session_writes_is_in_the_readme(cli, home, data):
    (data / "people.csv").write_text("id,name,bio\n1,Ada,writes engines\n2,Bo,paints walls\n")
    (data / "questions.txt").write_text("who builds engines?\n")
    for args in (("ingest", str(data / "people.csv"), "--key", "id"),
                 ("update", "people", "--key", "1", "--set", "name=Ada L", "--reason", "typo"),
                 ("sql", "SELECT * FROM people"),
                 ("embed", "people", "--column", "bio", "--index", "bios", "--model", "hashing"),
                 ("search", "bios", "engines"),
                 ("memory", "add", "bios", "an engine expert was placed", "--key", "1"),
                 ("search", "bios", "engines", "--memory"),
                 ("eval", "create", "bios", "--from", str(data / "questions.txt"), "--k", "1"), ("trial", "bios"), ("autotune", "bios", "--budget", "1s"),
                 ("demo", "--scale", "0.001"), ("watch", "run", "--once"),
                 ("profile", "create", "small", "--datasets", "people", "--indexes", "bios"),
                 ("profile", "activate", "small")):  # in the background: its log goes to logs/
        code, out, err = cli(*args)
        assert code == 0, (args, err)
    _wait(lambda: all(j["status"] != "running" for j in json.loads(cli("jobs", "--format", "json")[1])),
          "the background activation finished")
    code, out, err = cli("serve", "--detach", "--tcp", f"127.0.0.1:{_free_port()}")
    assert code == 0, err
    pid = json.loads((home / "daemon.json").read_text())["pid"]
    assert cli("--remote", "sql", "SELECT count(*) FROM people")[0] == 0
    assert cli("--remote", "memory", "list")[0] == 0  # the daemon holds memory.sqlite open: its -wal, -shm
    while_serving = _listing(home)
    os.kill(pid, signal.SIGTERM)
    _wait(lambda: not (home / "daemon.json").exists(), "the daemon stopped")

    patterns = _patterns()
    written = sorted(set(while_serving) | set(_listing(home)))
    unnamed = [w for w in written if not w.endswith("/") and not any(rx.match(w) for _, rx in patterns)]
    assert unnamed == [], f"written but not in README's On disk section: {unnamed}"
    # and the section names nothing that is not made: this session touched every area, and
    # what it cannot make (the TUI's history, a rotated log, a policy's key) is made by the tests of
    # those areas
    made_elsewhere = {"history/sql.jsonl", "daemon.log.<N>", "policy.key"}  # policy.key: tests/test_policies.py
    never = {pat for pat, rx in patterns if not any(rx.match(w) or rx.match(w.rstrip("/")) for w in written)}
    assert never <= made_elsewhere, never - made_elsewhere


def test_every_entry_the_section_names_is_fenced_from_ingest():
    """core/ingest/paths.py keeps the root's own files out of an ingest: its list is this section's."""
    from core.ingest.paths import _own

    names = {pat for pat, _ in _patterns()}
    assert all(_own(Path(n.rstrip("/"))) for n in names), [n for n in names if not _own(Path(n.rstrip("/")))]
