"""The first thing a user does: the installed `lakehouse` entry point on a real terminal.

Each test runs the console script under a pseudo-terminal, reads the screen the way a
terminal renders it, and quits with ctrl+q: the workstation must show its panes and
exit 0 with no traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write
from terminal import Terminal

EXE = str(Path(sys.executable).parent / "lakehouse")
PANES = ("Ask", "Explore", "SQL", "System")
F2 = "\x1bOQ"  # what xterm-compatible terminals send for F2: the Explore pane


def _env(home: Path, **extra) -> dict:
    return {**os.environ, "LAKEHOUSE_HOME": str(home), "OLLAMA_HOST": "127.0.0.1:9", **extra}


def _shows_panes(text: str) -> bool:
    return all(p in text for p in PANES) and "Quit" in text


def _quit_cleanly(term: Terminal) -> None:
    term.wait_for(_shows_panes, what="the workstation's panes")
    term.send("\x11")  # ctrl+q
    assert term.wait_exit() == 0, term.output()[-2000:]
    out = term.output()
    assert "Traceback" not in out and "error:" not in out, out[-2000:]


@pytest.fixture
def small_demo(home):
    """The config of a user who asked for a small demo ([demo] scale)."""
    cfg = home / "lakehouse.toml"
    home.mkdir(parents=True, exist_ok=True)
    cfg.write_text("[demo]\nscale = 0.001\n")
    return cfg


def test_empty_root_declining_the_demo_opens_the_workstation(home, small_demo):
    with Terminal([EXE, "--config", str(small_demo)], _env(home)) as term:
        term.wait_for_text("Load the demo workload")
        term.send("n\r")
        _quit_cleanly(term)
    assert not (home / "tables").exists() or not any((home / "tables").iterdir())


def test_empty_root_accepting_the_demo_loads_it_then_opens_the_workstation(home, small_demo):
    with Terminal([EXE, "--config", str(small_demo)], _env(home)) as term:
        term.wait_for_text("scale 0.001")  # the offer says how big the demo it loads is
        term.send("\r")  # the default is yes
        term.wait_for(_shows_panes, timeout=300, what="the workstation after the demo")
        term.send(F2)
        term.wait_for_text("job_orders")  # the demo's datasets, in Explore
        _quit_cleanly(term)
    out = term.output()
    assert "documents: 40 files ingested" in out


def test_ctrl_c_at_the_demo_question_cancels_without_a_traceback(home, small_demo):
    with Terminal([EXE, "--config", str(small_demo)], _env(home)) as term:
        term.wait_for_text("Load the demo workload")
        term.send("\x03")
        assert term.wait_exit() == 130
    out = term.output()
    assert "cancelled" in out and "Traceback" not in out and "Aborted" not in out


def test_a_root_with_data_opens_straight_into_the_workstation(home, cli, data):
    assert cli("ingest", str(write(data / "pets.csv", "name,kind\nrex,dog\n")))[0] == 0
    with Terminal([EXE], _env(home)) as term:
        term.wait_for(_shows_panes, what="the workstation")
        term.send(F2)
        term.wait_for_text("pets")
        assert "Load the demo" not in term.output()
        _quit_cleanly(term)


def test_lakehouse_tui_opens_and_quits(home, cli, data):
    assert cli("ingest", str(write(data / "pets.csv", "name,kind\nrex,dog\n")))[0] == 0
    with Terminal([EXE, "tui", "--theme", "lakehouse-light"], _env(home), cols=80, rows=24) as term:
        _quit_cleanly(term)


def test_tui_connect_works_through_a_running_daemon(home, cli, data, tmp_path):
    assert cli("ingest", str(write(data / "pets.csv", "name,kind\nrex,dog\n")))[0] == 0
    sock = str(tmp_path / "d.sock")
    daemon = subprocess.Popen([EXE, "serve", "--socket", sock], env=_env(home),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):
            if cli("--remote", sock, "datasets")[0] == 0:
                break
            assert daemon.poll() is None, daemon.stderr.read()
        with Terminal([EXE, "tui", "--connect", sock], _env(home)) as term:
            term.wait_for(lambda t: "daemon pid" in t and _shows_panes(t), what="the workstation on the daemon")
            term.send(F2)
            term.wait_for_text("pets")
            _quit_cleanly(term)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
    assert daemon.returncode == 0


def test_workstation_without_a_terminal_refuses_in_one_sentence(cli, data):
    cli("ingest", str(write(data / "pets.csv", "name,kind\nrex,dog\n")))
    code, out, err = cli("tui", timeout=60)
    assert code == 2
    assert err.strip() == ("error: the workstation needs a terminal (stdin and stdout are not one) — run "
                           "`lakehouse tui` in a terminal, or use the `lakehouse` subcommands from scripts")
    assert "\x1b" not in out  # no escape codes written into a pipe or a file
