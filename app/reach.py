"""One map of reach: every operation of the facade a client can call, and how a user reaches
it from the CLI, the TUI and the daemon. docs/reach.md is generated from it
(`python -m app.reach --markdown`); tests/test_reach.py fails when an operation a user would
run interactively has no TUI route, when a CLI command is missing here, or when the doc is
stale.

The TUI's routes come from the key table (panes/keys.py: each action names the operations it
reaches) and from VIEWS, what a pane shows without a key. The CLI's come from CLI below,
which names the operations each command calls. The daemon serves every operation listed
(core/api.py `remote_operations`).
"""

from __future__ import annotations

import sys

# each `lakehouse` command: the facade operations it calls (tests/test_reach.py checks every
# command of the Typer app is here)
CLI: dict[str, tuple[str, ...]] = {
    "annotate": ("annotate", "draft_description"), "ask": ("ask", "accept"), "audit": ("audit",),
    "autotune": ("autotune",), "cache": ("cache",), "column-profile": ("column_profile",),
    "compact": ("compact",), "config": (), "contract check": ("check_contract",),
    "contract list": ("contracts", "freshness"), "datasets": ("datasets", "freshness"), "delete": ("delete",),
    "demo": ("demo", "embed"), "describe": ("describe", "versions"), "embed": ("embed",), "errors": ("errors",),
    "eval create": ("eval_create",), "eval list": ("evals",), "history": ("history",),
    "index auto-refresh": ("set_auto_refresh",), "index drop": ("drop_index",), "index generations": ("index",),
    "index list": ("indexes",), "index promote": ("promote",), "index rebuild": ("rebuild_index",),
    "index refresh": ("refresh",), "index rollback": ("rollback",), "index verify": ("verify_index",),
    "ingest": ("ingest", "ingest_preview", "refresh"), "jobs": ("jobs",), "jobs cancel": ("cancel_job",),
    "jobs retry": ("retry_job",), "mcp": (), "memory add": ("memory_add",), "memory delete": ("memory_delete",),
    "memory history": ("memory_history",), "memory journal": ("memory_journal",), "memory list": ("memory_list",),
    "memory retire": ("memory_retire",), "memory revise": ("memory_revise",), "memory search": ("memory_search",),
    "memory show": ("memory_show",), "models": ("models", "ollama_status"), "pin": ("pin",), "policy": ("policy",),
    "profile activate": ("activate", "check_activate"), "profile create": ("profile_save",),
    "profile delete": ("profile_delete",), "profile edit": ("profile_save",), "profile list": ("profiles",),
    "profile show": ("profile_show",), "restore": ("restore", "restore_preview"), "resync": ("resync",),
    "retention run": ("run_retention",), "schedule add": ("schedule_add",), "schedule list": ("schedule_list",),
    "schedule pause": ("schedule_pause",), "schedule remove": ("schedule_remove",),
    "schedule resume": ("schedule_resume",), "schedule run": ("schedule_run",),
    "search": ("search", "compare", "rows_query"), "serve": ("vector_cache",), "sql": ("sql", "sql_stream"),
    "status": ("ollama_status", "disk_usage", "watch_runner", "vector_cache"), "tag": ("tag",), "tags": ("tags",),
    "trial": ("trial", "eval_create"), "trials": ("trials",), "tui": (), "unpin": ("unpin",),
    "update": ("update",), "versions": ("versions",), "watch add": ("watch_add",), "watch list": ("watch_list",),
    "watch pause": ("watch_pause",), "watch remove": ("watch_remove",), "watch resume": ("watch_resume",),
    "watch run": ("watch_list",),
}

# what a pane shows without a key: (operation, where)
VIEWS: dict[str, str] = {
    "datasets": "Explore (F2): the catalog tree",
    "dataset": "Explore (F2): a dataset's columns as the node expands",
    "describe": "Explore (F2): the highlighted dataset's detail",
    "sql": "Explore (F2): the highlighted dataset's sample rows",
    "versions": "Explore (F2): the highlighted dataset's detail lists its versions",
    "column_profile": "Explore (F2): the highlighted column's profile and chart",
    "tags": "Explore (F2): a column's tag in the tree and the detail",
    "freshness": "Explore (F2): stale datasets flagged in the tree",
    "policy": "Explore (F2): a dataset's detail says what the profile's policy does to it",
    "indexes": "Explore (F2) and the Trials (F4) and Memory (F5) panes' index lists",
    "index": "Explore (F2): an index's detail with its generations",
    "trials": "Trials (F4): the table and the recall/latency plot",
    "evals": "Trials (F4): the eval sets under the table",
    "memory_list": "Memory (F5): the table, filtered by index and status",
    "memory_show": "Memory (F5): the highlighted memory's detail",
    "memory_history": "Memory (F5): the highlighted memory's version chain",
    "jobs": "System (F6): the jobs list, refreshed every 3 s",
    "job": "System (F6): a job's progress while it runs",
    "errors": "System (F6): the errors journal",
    "audit": "System (F6): the audit log with its filter box",
    "disk_usage": "System (F6): bytes per component",
    "models": "System (F6): Ollama's installed and loaded models",
    "ollama_status": "the status bar: Ollama reachable or not",
    "vector_cache": "System (F6): the index generations loaded",
    "cache": "System (F6): the pinned datasets and the memory they hold",
    "watch_runner": "System (F6): which process runs the watches and schedules",
    "watch_list": "System (F6): the watches and schedules section",
    "schedule_list": "System (F6): the watches and schedules section",
    "contracts": "System (F6): contracts and freshness",
    "profiles": "the profile picker (ctrl+o)",
}

# operations no one runs by hand in a terminal session, and why (each also has no TUI route)
NOT_INTERACTIVE: dict[str, str] = {
    "check_activate": "the CLI's check before it starts a background activation; the TUI's activation "
                      "refuses in the same sentence",
    "sql_rows": "the JSON form of a query, for scripts and agents; the SQL pane streams Arrow batches "
                "(sql_stream) into its grid",
}


def tui_routes() -> dict[str, list[str]]:
    """Each operation: the TUI routes to it — an action's keys (or palette title) and scope,
    or a pane that shows it."""
    from panes.keys import ACTIONS, SCOPES, shown

    out: dict[str, list[str]] = {}
    for a in ACTIONS:
        where = SCOPES[a.scope] if a.scope != "app" else "everywhere"
        how = f"`{shown(a)}` ({where})" if a.keys else f"palette: {a.command}"
        for op in a.ops:
            out.setdefault(op, []).append(how)
    for op, where in VIEWS.items():
        out.setdefault(op, []).append(where)
    return out


def cli_routes() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for command, ops in CLI.items():
        for op in ops:
            out.setdefault(op, []).append(f"`lakehouse {command}`")
    return out


def markdown() -> str:
    """docs/reach.md's table: every remote operation, its CLI commands, TUI routes and daemon method."""
    import core.lakehouse  # noqa: F401 - declares the operations
    from core.api import remote_operations

    cli, tui = cli_routes(), tui_routes()
    lines = ["| operation | what it does | CLI | TUI | daemon |", "|---|---|---|---|---|"]
    for name, op in remote_operations().items():
        t = "; ".join(tui.get(name, [])) or (f"— ({NOT_INTERACTIVE[name]})" if name in NOT_INTERACTIVE else "—")
        lines.append(f"| `{name}` | {op.summary} | {', '.join(cli.get(name, [])) or '—'} | {t} | `{name}` |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["--markdown"]:
        print("usage: python -m app.reach --markdown", file=sys.stderr)
        return 2
    sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
