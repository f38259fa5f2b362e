"""`lakehouse mcp`: the workstation as an MCP server for agent clients (app/mcp)."""

from __future__ import annotations

import sys

import typer

from app.cli.session import state
from app.output import say as print  # noqa: A001 — every message prints inert
from core.errors import LakehouseError


def mcp(allow_writes: bool = typer.Option(
        False, "--allow-writes", help="Also offer the write tools (ingest, update, delete, restore, memory add/"
                                      "retire, promote); each still needs confirm=true, and the profile's own "
                                      "rules decide what it may change.")):
    """Serve the lakehouse to an agent client (MCP over stdio) as --profile: read tools, dataset schemas,
    every call audited with the client's name (docs/mcp.md)."""
    if state.remote is not None:
        raise LakehouseError("lakehouse mcp opens the storage root itself and cannot run through a daemon — "
                             "drop --remote")
    from core import Lakehouse
    from core import config as config_mod

    cfg = config_mod.load(home=state.home, config_file=state.config, profile=state.profile)
    if not cfg.root.is_dir():  # a client's typo would otherwise serve a new, empty lakehouse
        raise LakehouseError(f"no storage root at {cfg.root} — pass --home (or set LAKEHOUSE_HOME) to an existing "
                             "one; a new root is made by any other command, e.g. `lakehouse --home DIR datasets`")
    with Lakehouse.open(config=cfg) as lh:
        for note in lh.recovery_notes:
            print(f"recovered: {note}", file=sys.stderr)
        for problem in lh.profile_problems:
            print(f"warning: {problem}", file=sys.stderr)
        from app.mcp.server import run

        code = run(lh, allow_writes)
    if code:
        raise typer.Exit(code)
