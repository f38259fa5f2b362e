"""The workstation in tmux, keys only: the installed `lakehouse tui` in a real tmux session
(its own server socket), driven with `send-keys` and read with `capture-pane`, as a user in
a terminal multiplexer would. ctrl+f opens the ingest screen, a path is typed, enter
previews it, ctrl+r ingests it, escape closes, F3 shows SQL, a query is typed and ctrl+r runs
it; ctrl+q quits with exit 0 and no traceback.

tmux is installed by .ci/run (LAKEHOUSE_REQUIRE_TMUX=1 there makes its absence a failure);
elsewhere the test is skipped without it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import write

EXE = str(Path(sys.executable).parent / "lakehouse")

if not shutil.which("tmux"):
    pytestmark = pytest.mark.skipif(not os.environ.get("LAKEHOUSE_REQUIRE_TMUX"), reason="tmux is not installed")


class Tmux:
    """One tmux server (its own socket) running one command in a window of a fixed size."""

    def __init__(self, sock: Path, command: str, env: dict, cols: int, rows: int) -> None:
        self.sock = str(sock)
        self.env = env
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "lh", "-x", str(cols), "-y", str(rows), command)

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.sock, *args], env=self.env, check=True, capture_output=True,
                              text=True, timeout=30).stdout

    def keys(self, *keys: str) -> None:
        """Key names as tmux knows them (C-f, Enter, Escape, F3)."""
        self.tmux("send-keys", "-t", "lh", *keys)

    def type(self, text: str) -> None:
        """Literal text (-l: a ';' or a key name in it is just text)."""
        self.tmux("send-keys", "-t", "lh", "-l", text)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "lh")

    def wait_for(self, predicate, what: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                text = self.screen()
            except subprocess.CalledProcessError:  # the session ended: the app exited
                raise AssertionError(f"the app exited before {what!r} showed") from None
            if predicate(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"{what!r} did not show within {timeout} s; the screen:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], env=self.env, capture_output=True, timeout=30)


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
def test_ingest_a_file_and_query_it_using_only_keys(home, data, tmp_path, size):
    csv = write(data / "pets.csv", "name,kind\nrex,dog\ntom,cat\nkit,cat\n")
    exit_file = tmp_path / "exit"
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "OLLAMA_HOST": "127.0.0.1:9", "TERM": "xterm-256color"}
    env.pop("TMUX", None)  # not nested in a tmux this test may run under
    # Textual draws on stderr, so nothing is redirected; the pane stays a while after the app
    # exits, so its last screen (a traceback would be there) can be read
    command = f"{EXE} tui; echo $? > {exit_file}; sleep 60"
    t = Tmux(tmp_path / "t.sock", command, env, *size)
    try:
        t.wait_for(lambda s: "Explore (F2)" in s and "Quit" in s, "the workstation")
        t.keys("C-f")
        t.wait_for(lambda s: "escape cancels" in s, "the ingest screen")
        t.type(str(csv))
        t.keys("Enter")
        t.wait_for(lambda s: "columns: name VARCHAR, kind VARCHAR" in s, "the preview")
        t.keys("C-r")
        t.wait_for(lambda s: "ingested: pets.csv -> pets: 3 rows" in s, "the ingest's result")
        t.keys("Escape")
        t.wait_for(lambda s: "escape cancels" not in s, "the ingest screen closed")
        t.keys("F3")
        t.wait_for(lambda s: "datasets here: pets" in s, "the SQL editor naming the new dataset")
        # typed over the selected example (a trailing ';' would be tmux's command separator)
        t.type("SELECT kind, count(*) AS n FROM pets GROUP BY kind ORDER BY kind")
        t.keys("C-r")
        rows = lambda s: [line.split() for line in s.splitlines()]  # noqa: E731
        t.wait_for(lambda s: "2 rows in" in s and ["cat", "2"] in rows(s) and ["dog", "1"] in rows(s),
                   "the query's result")
        t.keys("C-q")
        deadline = time.monotonic() + 60
        while not exit_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert exit_file.read_text().strip() == "0"
        assert "Traceback" not in t.screen()
    finally:
        t.close()
