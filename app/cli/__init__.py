"""`lakehouse` — the scripted frontend. Thin: parse, call core.Lakehouse, render.

One module per group of commands (data, changes, query, vectors, memory, jobs, profiles,
system); this one builds the Typer app from them and runs it (`main`), and is the one
place a LakehouseError becomes `error: …` (with its hint, app/hints.py) on stderr and its
exit code. Heavy libraries (duckdb, pyarrow, deltalake) are imported only by the commands
that need them, so `lakehouse --help` stays fast.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer

from app import globals as global_options
from app.cli import (agents, changes, columns, contracts, data, governance, jobs, memory, policy, profiles, query,
                     schedules, system, trials, vectors, watches)
from app.cli.argv import normalise_argv
from app.cli.session import ctrl_c, state
from app.hints import error_line
from app.output import say as print  # noqa: A001 — every message prints inert
from core.errors import LakehouseError

app = typer.Typer(
    name="lakehouse",
    help="Local knowledge workstation: ingest messy files into versioned Delta tables, query them "
         "with DuckDB SQL, search their text by meaning and ask questions answered from them by a "
         "local model — all on this machine.",
    no_args_is_help=False,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
app.add_typer(jobs.group, name="jobs")
app.add_typer(profiles.group, name="profile")
app.add_typer(vectors.group, name="index")
app.add_typer(trials.group, name="eval")
app.add_typer(memory.group, name="memory")
app.add_typer(schedules.group, name="schedule")
app.add_typer(watches.group, name="watch")
app.add_typer(contracts.group, name="contract")
app.add_typer(contracts.retention, name="retention")
for command in (data.ingest, data.datasets, data.describe, columns.column_profile, query.sql, data.annotate,
                governance.tag, governance.tags, policy.policy, changes.update,
                changes.delete, changes.restore, changes.versions, changes.history, data.compact, data.pin,
                data.unpin, data.cache, data.resync, jobs.errors, system.demo, vectors.embed, vectors.search,
                trials.trial, trials.trials, trials.autotune, query.ask, query.models, profiles.audit, system.tui,
                system.serve, system.status, system.config, agents.mcp):  # in the order `lakehouse --help` lists them
    app.command()(command)

_HELP = global_options.VALUED


@app.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    home: Optional[str] = typer.Option(None, "--home", help=_HELP["--home"][0]),
    config: Optional[str] = typer.Option(None, "--config", help=_HELP["--config"][0]),
    profile: Optional[str] = typer.Option(None, "--profile", help=_HELP["--profile"][0]),
    remote: Optional[str] = typer.Option(None, global_options.REMOTE, metavar="[SOCKET]",
                                         help=global_options.REMOTE_HELP),
    version: bool = typer.Option(False, "--version", help=global_options.VERSION_HELP),
):
    state.home, state.config, state.profile, state.remote = home, config, profile, remote
    if version:
        from importlib.metadata import version as v

        print(f"lakehouse {v('lakehouse')}")
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        system.start()


def main() -> None:
    import os
    import signal

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when started ignoring it
        signal.signal(signal.SIGINT, ctrl_c.handler)
    try:
        app(args=normalise_argv(sys.argv[1:], app), prog_name="lakehouse")
    except LakehouseError as e:  # every command's: one sentence (and its hint), the error's exit code
        if ctrl_c.hit:  # the error is how Ctrl-C surfaced (DuckDB: "Query interrupted")
            ctrl_c.say()
            sys.exit(130)
        print(error_line(e), file=sys.stderr)
        sys.exit(e.exit_code)
    except SystemExit as e:  # typer turns a KeyboardInterrupt into a silent exit 130
        if ctrl_c.hit and e.code == 130:
            ctrl_c.say()
        raise
    except KeyboardInterrupt:
        ctrl_c.say()
        sys.exit(130)
    except Exception as e:  # a bug: still one sentence, the traceback on request
        if ctrl_c.hit:  # a library that wrapped the KeyboardInterrupt
            ctrl_c.say()
            sys.exit(130)
        if os.environ.get("LAKEHOUSE_DEBUG"):
            raise
        print(f"error: unexpected {type(e).__name__}: {e} — this is a bug in lakehouse; "
              "run again with LAKEHOUSE_DEBUG=1 to see the traceback and report it", file=sys.stderr)
        sys.exit(70)
