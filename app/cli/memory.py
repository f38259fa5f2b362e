"""Playbook memory: remember what worked (`memory add`), revise and retire it, read its
versions and journal, and search it (`memory search`); `search --memory` uses it."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from app.cli.options import LIST_FORMAT, ListFormat, pairs
from app.cli.session import with_lh
from app.output import say as print  # noqa: A001 — every message prints inert

group = typer.Typer(help="Playbook memory: what worked before, boosting the rows it endorsed in similar searches.",
                    rich_markup_mode=None)
COLUMNS = ["id", "index", "version", "status", "operation", "keys", "scope", "valid_until", "actor", "created_at"]


def _scope(items: list[str] | None) -> dict | None:
    return {k.strip(): v.strip() for k, v in pairs(items, "--scope", "state=IL").items()} or None


def _minute(iso: str | None) -> str | None:
    """A time as a table shows it: to the minute, UTC (JSON keeps the full ISO text)."""
    return iso[:16].replace("T", " ") if iso else iso


def _records(entries) -> list[dict]:
    return [dict(e.to_dict(), keys=", ".join(e.keys), scope=", ".join(f"{k}={v}" for k, v in e.scope.items()),
                 created_at=_minute(e.created_at), valid_until=_minute(e.valid_until)) for e in entries]


def _show(entries, format: ListFormat, columns=COLUMNS) -> None:
    from app.output import dumps, print_records

    if format == ListFormat.json:
        print(dumps([e.to_dict() for e in entries]))
    else:
        print_records(_records(entries), columns, format.value)


@group.command("add")
def add(
    index: str = typer.Argument(..., help="The index whose searches it should inform."),
    operation: str = typer.Argument(..., help="What was done, e.g. \"filled 3 welders in Toledo\"."),
    key: List[str] = typer.Option(..., "--key", help="A row key it endorses (repeatable)."),
    approach: str = typer.Option("", "--approach", help="How, and its context."),
    scope: Optional[List[str]] = typer.Option(None, "--scope", help="COLUMN=VALUE it applies in (repeatable); "
                                              "a filtered search uses only memories whose scope passes its filter."),
    valid_from: Optional[str] = typer.Option(None, "--valid-from", help="When it starts to apply (default now)."),
    valid_until: Optional[str] = typer.Option(None, "--valid-until", help="When it stops (default never)."),
    actor: Optional[str] = typer.Option(None, "--actor", help="Who (default: your user name)."),
    format: ListFormat = LIST_FORMAT,
):
    """Remember an operation that worked: ADD, UPDATE (same operation, day and scope: the id stays) or NOOP."""
    from app.output import dumps

    e = with_lh(lambda lh: lh.memory_add(index, operation, key, approach=approach, scope=_scope(scope),
                                         valid_from=valid_from, valid_until=valid_until, actor=actor))
    if format == ListFormat.json:
        print(dumps(e.to_dict()))
        return
    said = {"ADD": "added", "UPDATE": "updated", "NOOP": "unchanged (the same entry exists)"}[e.action]
    print(f"memory #{e.id} {said}: {e.operation} — endorses {len(e.keys)} row{'s' if len(e.keys) != 1 else ''} "
          f"of {e.index}")


@group.command("revise")
def revise(
    entry_id: int = typer.Argument(..., help="The memory to revise (its newest version)."),
    operation: Optional[str] = typer.Option(None, "--operation", help="New operation text."),
    approach: Optional[str] = typer.Option(None, "--approach", help="New approach text."),
    key: Optional[List[str]] = typer.Option(None, "--key", help="New endorsed row keys (repeatable; replaces them)."),
    scope: Optional[List[str]] = typer.Option(None, "--scope", help="New scope, COLUMN=VALUE (repeatable)."),
    valid_until: Optional[str] = typer.Option(None, "--valid-until", help="New end of validity."),
    reason: str = typer.Option("", "--reason", help="Why (journaled)."),
    actor: Optional[str] = typer.Option(None, "--actor", help="Who (default: your user name)."),
    format: ListFormat = LIST_FORMAT,
):
    """Make a new version of a memory; the old one is superseded and no longer boosts."""
    from app.output import dumps

    e = with_lh(lambda lh: lh.memory_revise(entry_id, operation=operation, approach=approach, keys=key or None,
                                            scope=_scope(scope), valid_until=valid_until, reason=reason,
                                            actor=actor))
    if format == ListFormat.json:
        print(dumps(e.to_dict()))
        return
    print(f"memory #{e.id} is version {e.version} of #{e.parent_id}'s line — #{e.parent_id} is superseded")


@group.command("retire")
def retire(
    entry_id: Optional[int] = typer.Argument(None, help="The memory to retire (or use --where / --drifted)."),
    reason: str = typer.Option(..., "--reason", help="Why (journaled)."),
    index: Optional[str] = typer.Option(None, "--index", help="With --where or --drifted: whose memories."),
    where: Optional[str] = typer.Option(None, "--where", help="SQL condition over operation, approach, actor, "
                                        "created_at, valid_from, valid_until, version and the scope's columns."),
    drifted: bool = typer.Option(False, "--drifted", help="Those made when the index's dataset had another schema."),
    actor: Optional[str] = typer.Option(None, "--actor", help="Who (default: your user name)."),
    format: ListFormat = LIST_FORMAT,
):
    """Retire memories with a reason: they stop boosting at the next search."""
    done = with_lh(lambda lh: lh.memory_retire(entry_id, reason=reason, index=index, where=where, drifted=drifted,
                                               actor=actor))
    if format == ListFormat.json:
        _show(done, format)
        return
    ids = ", ".join(f"#{e.id}" for e in done)
    print(f"retired {len(done)} memor{'y' if len(done) == 1 else 'ies'}{': ' + ids if ids else ''} — {reason}")


@group.command("delete")
def delete(entry_id: int = typer.Argument(..., help="The memory to remove (its newest version)."),
           reason: str = typer.Option(..., "--reason", help="Why (journaled)."),
           actor: Optional[str] = typer.Option(None, "--actor", help="Who (default: your user name)."),
           format: ListFormat = LIST_FORMAT):
    """Remove a memory (a mistake, say); deleting a revision makes the version before it the tip again."""
    from app.output import dumps

    e = with_lh(lambda lh: lh.memory_delete(entry_id, reason=reason, actor=actor))
    if format == ListFormat.json:
        print(dumps(e.to_dict()))
        return
    back = f" — #{e.parent_id} is the newest version again" if e.parent_id is not None else ""
    print(f"memory #{e.id} deleted: {e.operation}{back}")


@group.command("history")
def history(entry_id: int = typer.Argument(..., help="Any version of the memory."), format: ListFormat = LIST_FORMAT):
    """A memory's versions, root to tip."""
    _show(with_lh(lambda lh: lh.memory_history(entry_id)), format,
          ["id", "version", "status", "operation", "approach", "keys", "actor", "created_at"])


@group.command("show")
def show(entry_id: int = typer.Argument(...), format: ListFormat = LIST_FORMAT):
    """One memory: what it endorses, where it applies, its validity and version."""
    from app.output import dumps, print_rows

    e = with_lh(lambda lh: lh.memory_show(entry_id))
    if format == ListFormat.json:
        print(dumps(e.to_dict()))
        return
    rec = dict(_records([e])[0], created_at=e.created_at, valid_until=e.valid_until)  # the full times here
    print_rows(["field", "value"], [[k, rec[k]] for k in ("id", "index", "status", "operation", "approach", "keys",
                                                           "scope", "valid_from", "valid_until", "version",
                                                           "parent_id", "superseded_by", "retired_at",
                                                           "retired_reason", "fingerprint", "embedder", "actor",
                                                           "profile", "created_at", "updated_at")],
               full=("value",))


@group.command("list")
def list_(
    index: Optional[str] = typer.Argument(None, help="Only this index's memories."),
    status: str = typer.Option("live", "--status", help="live, retired, superseded, expired, pending or all."),
    limit: int = typer.Option(100, "--limit", help="The newest this many."),
    format: ListFormat = LIST_FORMAT,
):
    """Memories of the indexes this profile searches."""
    out = with_lh(lambda lh: lh.memory_list(index, status, limit))
    if not out and format != ListFormat.json:
        print(f"no {status} memories" + (f" of {index}" if index else ""), file=sys.stderr)
        return
    _show(out, format)


@group.command("search")
def search(index: str = typer.Argument(...), text: str = typer.Argument(...),
           k: int = typer.Option(10, "-k", "--k"), format: ListFormat = LIST_FORMAT):
    """Live memories of an index most like a text."""
    out = with_lh(lambda lh: lh.memory_search(index, text, k))
    _show(out, format, ["id", "similarity", "operation", "keys", "scope", "actor", "created_at"])


@group.command("journal")
def journal(entry_id: Optional[int] = typer.Argument(None, help="Only this memory's changes."),
            format: ListFormat = LIST_FORMAT):
    """Every add, update, revise, supersede and retire, oldest first."""
    from app.output import print_records

    print_records(with_lh(lambda lh: lh.memory_journal(entry_id)), ["id", "at", "op", "entry_id", "actor", "reason"],
                  format.value)
