"""One map of reach (app/reach.py, docs/reach.md): every operation a client can call, and how
a user reaches it from the CLI, the TUI and the daemon. Fails when an operation a user would
run interactively has no TUI route, when a command or route names an operation that does not
exist, when a CLI command is missing from the map, or when the doc is stale."""

from __future__ import annotations

import re
from pathlib import Path

import core.lakehouse  # noqa: F401 - declares the operations
from app import reach
from core.api import remote_operations
from panes.keys import ACTIONS

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = [*sorted((ROOT / "panes").glob("*.py")), *sorted((ROOT / "app" / "tui").glob("*.py"))]


def test_every_operation_a_user_runs_has_a_tui_route():
    tui = reach.tui_routes()
    missing = [n for n in remote_operations() if n not in tui and n not in reach.NOT_INTERACTIVE]
    assert not missing, f"operations with no key, palette entry or pane in the TUI: {missing}"
    both = [n for n in reach.NOT_INTERACTIVE if n in tui]
    assert not both, f"listed as not interactive but reached from the TUI: {both}"


def test_every_route_names_an_operation_the_daemon_serves():
    known = set(remote_operations()) | {"interrupt_sql"}  # a proxy's own call, in-process a method
    named = {("CLI", c, op) for c, ops in reach.CLI.items() for op in ops}
    named |= {("view", op, op) for op in reach.VIEWS} | {("not interactive", op, op) for op in reach.NOT_INTERACTIVE}
    named |= {("key", a.id, op) for a in ACTIONS for op in a.ops}
    assert not [n for n in named if n[2] not in known]


def test_the_tui_routes_call_what_they_name():
    """A view or an action naming an operation: some pane or screen calls it."""
    source = "\n".join(p.read_text() for p in FRONTEND)
    called = set(re.findall(r"\.(\w+)\(", source)) | set(re.findall(r"lh\.(\w+)\b", source))
    called |= set(re.findall(r'getattr\(\w+, "(\w+)"', source))  # an op an older daemon may lack
    named = set(reach.VIEWS) | {op for a in ACTIONS for op in a.ops}
    assert not sorted(named - called)


def test_every_cli_command_is_in_the_map():
    import typer.main

    from app.cli import app

    commands = set()

    def walk(group, prefix: str) -> None:
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                if cmd.invoke_without_command:
                    commands.add(prefix + name)
                walk(cmd, f"{prefix}{name} ")
            else:
                commands.add(prefix + name)
    walk(typer.main.get_command(app), "")
    assert commands == set(reach.CLI)


def test_docs_reach_is_generated_from_the_map():
    text = (ROOT / "docs" / "reach.md").read_text()
    table = text.split("<!-- reach:start -->\n", 1)[1].split("<!-- reach:end -->", 1)[0]
    assert table == reach.markdown(), "docs/reach.md is stale: run .venv/bin/python -m app.reach --markdown"
