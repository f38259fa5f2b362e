"""How the CLI says an error's hint: the operation it names as a `lakehouse` command.

Core attaches a Hint (core/errors.py) — a neutral clause, the registry operation to run
and its arguments; here each operation has its command line. The clause's braced words
("run {the demo} again") become the command; without braces the command follows as
"… with `lakehouse …`". Used by app/cli and by app/fast.py, so it stays light (no Typer).
"""

from __future__ import annotations

import string

from core.errors import Cancelled, Hint, LakehouseError

# operation (core.api's registry) -> its command; the hint's arguments fill the fields, and
# any argument not in the line follows as `--name value`
USAGE: dict[str, str] = {
    "ingest": "ingest {paths}",
    "datasets": "datasets",
    "versions": "versions {name}",
    "resync": "resync {name}",
    "sql": 'sql "{text}"',
    "embed": "embed {dataset}",
    "indexes": "index list",
    "promote": "index promote {index} {gen}",
    "drop_index": "index drop {index}",
    "rebuild_index": "index rebuild {index} g{gen}",
    "jobs": "jobs",
    "cancel_job": "jobs cancel {job_id}",
    "demo": "demo",
    "eval_create": "eval create {index}",
    "trial": "trial {index} --m 16 --ef-construction 80 --ef-search 30,50,64,100",
    "trials": "trials {index}",
    "schedule_add": "schedule add SOURCE --every 15m",
    "watch_add": "watch add {folder}",
}


def command(hint: Hint) -> str | None:
    """The hint's `lakehouse …` command line, or None when it names no operation the CLI has."""
    args = dict(hint.args)
    if hint.action is None:  # the same request again, with these settings changed
        return "lakehouse " + "".join(f"--{k} {v} " for k, v in args.items()) + "..." if args else None
    if hint.action == "profile_save":
        line = f"profile {'create' if args.pop('create', False) else 'edit'} {args.pop('pid')}"
    elif hint.action in USAGE:
        template = USAGE[hint.action]
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
        line = template.format_map({f: args.pop(f, f.upper()) for f in fields})
    else:
        return None
    line += "".join(f" --{k.replace('_', '-')} {v}" for k, v in args.items())
    return f"lakehouse {line}"


def cli_hint(hint: Hint) -> str:
    """The hint's clause as the CLI says it (the command in backticks)."""
    line = command(hint)
    return hint.plain() if line is None else hint.naming(f"`{line}`")


def error_line(e: LakehouseError) -> str:
    """What the CLI prints for an error: `error: …` (a cancel is an outcome, said as is),
    its hint after the sentence — before any lines of context (DuckDB's `LINE 1: …` and
    caret)."""
    text = str(e) if isinstance(e, Cancelled) else f"error: {e}"
    hint = getattr(e, "hint", None)
    if not isinstance(hint, Hint):
        return text
    sentence, newline, context = text.partition("\n")
    return f"{sentence} — {cli_hint(hint)}{newline}{context}"
