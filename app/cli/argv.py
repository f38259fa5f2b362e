"""The command line before Typer reads it: global options anywhere, queries never options."""

from __future__ import annotations

import sys

import typer

from app.globals import REMOTE, VALUED, looks_like_address
from app.output import say as print  # noqa: A001 — every message prints inert


def _flags(app: typer.Typer) -> set[str]:
    """Every option that takes no value (--json, --wait, …), from the commands themselves."""
    out: set[str] = set()

    def walk(cmd) -> None:  # duck-typed: Typer may bring its own copy of click
        for p in cmd.params:
            if getattr(p, "is_flag", False) or getattr(p, "count", False):
                out.update(list(p.opts) + list(p.secondary_opts))
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)
    walk(typer.main.get_command(app))
    return out


def normalise_argv(argv: list[str], app: typer.Typer) -> list[str]:
    """Accept the global options anywhere and never take a query for an option.

    - `--home`, `--config`, `--profile` and `--remote [SOCKET]` (or `tui --connect`) may
      come before or after the subcommand; they are moved before it. `--remote` takes
      the next word only when it looks like a socket or HOST:PORT ("-" means this root's
      daemon), so a command name is never taken for a socket.
    - A word that starts with "-" but holds whitespace (`lakehouse sql $'-- note\nSELECT 1'`)
      is a query or a name, not an option: it is passed after `--`.
    """
    front: list[str] = []
    out: list[str] = []
    loose: list[str] = []
    remote = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            out += argv[i:]
            break
        if a in (REMOTE, "--connect"):
            if i + 1 < len(argv) and looks_like_address(argv[i + 1]):
                remote, i = argv[i + 1], i + 1
            else:
                remote = "-"
        elif a.startswith(("--remote=", "--connect=")):
            remote = a.split("=", 1)[1] or "-"
        elif a in VALUED:
            if i + 1 >= len(argv):
                print(f"error: {a} needs a value — e.g. {a} {VALUED[a][1]}", file=sys.stderr)
                raise SystemExit(2)
            front += [a, argv[i + 1]]
            i += 1
        elif a.startswith(tuple(f + "=" for f in VALUED)):
            front.append(a)
        elif (a.startswith("-") and len(a) > 1 and any(c.isspace() for c in a)
              and not (i and argv[i - 1].startswith("-") and argv[i - 1] not in _flags(app))):
            loose.append(a)  # not the value of the option before it (`--reason "- typo fixed"`)
        else:
            out.append(a)
        i += 1
    if remote is not None:
        front += ["--remote", remote]
    if loose:
        out = out[:out.index("--") + 1] + loose + out[out.index("--") + 1:] if "--" in out else out + ["--", *loose]
    return front + out
