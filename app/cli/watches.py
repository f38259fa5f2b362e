"""Watched folders (the `watch` group): add, list, pause, resume, remove, and `watch run`,
which runs this root's watches (and schedules) in the foreground for scripts."""

from __future__ import annotations

import os
import sys
from enum import Enum
from typing import Optional

import typer

from app.cli.options import LIST_FORMAT, ListFormat
from app.cli.session import state, with_lh
from app.output import say as print  # noqa: A001 — every message prints inert

group = typer.Typer(help="Watched folders: files that land in a folder are ingested once complete (the daemon, "
                         "a TUI or `watch run` runs them).", rich_markup_mode=None)
COLUMNS = ["id", "state", "folder", "pattern", "dataset", "mode", "files", "last_event", "last_outcome"]


class WatchMode(str, Enum):
    append = "append"
    upsert = "upsert"
    replace = "replace"


class Policy(str, Enum):
    refuse = "refuse"
    additive = "additive"


def _records(watches) -> list[dict]:
    return [dict(w.to_dict(), dataset=w.dataset or "(file stem)",
                 files=f"{w.files}" + (f" ({w.gone} gone)" if w.gone else ""),
                 last_event=(w.last_event_at or "")[:16].replace("T", " "),
                 last_outcome=w.last_outcome + (f" (error: {w.last_error})" if w.last_error and
                                                w.last_error != w.last_outcome else ""))
            for w in watches]


def _said(w, verb: str) -> None:
    into = f"dataset {w.dataset}" if w.dataset else "a dataset per file (its stem)"
    print(f"watch {w.id} {verb}: {w.folder} ({w.pattern}) -> {into}, {w.mode} · {w.state}")


@group.command("add")
def add(
    folder: str = typer.Argument(..., help="The folder files arrive in (watched with its subfolders)."),
    pattern: str = typer.Option("*", "--pattern", help="Glob on file names, e.g. '*.csv' (case-insensitive)."),
    name: Optional[str] = typer.Option(None, "--name", help="Dataset every file goes to (default: the folder's name)."),
    name_from_file: bool = typer.Option(False, "--name-from-file", help="Each file goes to the dataset named by its "
                                        "stem, as `ingest` names it."),
    mode: WatchMode = typer.Option(WatchMode.append, "--mode",
                                   help="append (default), upsert (needs --key) or replace."),
    key: Optional[str] = typer.Option(None, "--key", help="Primary key column(s), e.g. id or region,id."),
    on_schema_change: Policy = typer.Option(Policy.refuse, "--on-schema-change",
                                            help="refuse (default: the file fails with the diff, in errors) or "
                                                 "additive (added columns are taken)."),
    format: ListFormat = LIST_FORMAT,
):
    """Watch a folder: each file is ingested once complete (its size and mtime unchanged for [watch] settle_s),
    files already there too; identical bytes are a no-op; deleted and renamed files are reported. Hidden files
    and folders and partial downloads (*.part, *.tmp, *.crdownload) are left alone; symlinked folders are not
    followed."""
    from app.output import dumps

    w = with_lh(lambda lh: lh.watch_add(os.path.abspath(os.path.expanduser(folder)), pattern=pattern, name=name,
                                        name_from_file=name_from_file, mode=mode.value, key=key,
                                        schema_change=on_schema_change.value))
    if format == ListFormat.json:
        print(dumps(w.to_dict()))
    else:
        _said(w, "added")


@group.command("list")
def list_(format: ListFormat = LIST_FORMAT):
    """Watched folders with their state, files seen and last outcome; which process runs them."""
    from app.output import dumps, print_records

    watches, runner = with_lh(lambda lh: (ws := lh.watch_list(), lh.watch_runner() if ws else None))
    if format == ListFormat.json:
        print(dumps([w.to_dict() for w in watches]))
        return
    if not watches:
        print("no watches — `lakehouse watch add DIR` adds one", file=sys.stderr)
        return
    print_records(_records(watches), COLUMNS, "table")
    if runner and runner["pid"]:
        print(f"run by pid {runner['pid']} (since {(runner['started_at'] or '?')[:19].replace('T', ' ')})",
              file=sys.stderr)
    else:
        print("no process runs them now — `lakehouse serve`, the TUI or `lakehouse watch run` does",
              file=sys.stderr)


def _one(verb: str, fn_name: str, watch_id: int, format: ListFormat) -> None:
    from app.output import dumps

    w = with_lh(lambda lh: getattr(lh, fn_name)(watch_id))
    if format == ListFormat.json:
        print(dumps(w.to_dict()))
    else:
        _said(w, verb)


WATCH_ID = typer.Argument(..., help="Watch id (`lakehouse watch list`).")


@group.command("remove")
def remove(watch_id: int = WATCH_ID, format: ListFormat = LIST_FORMAT):
    """Stop watching a folder; the rows its files added stay."""
    _one("removed", "watch_remove", watch_id, format)


@group.command("pause")
def pause(watch_id: int = WATCH_ID, format: ListFormat = LIST_FORMAT):
    """Pause a watch: nothing is ingested until it is resumed."""
    _one("paused", "watch_pause", watch_id, format)


@group.command("resume")
def resume(watch_id: int = WATCH_ID, format: ListFormat = LIST_FORMAT):
    """Resume a paused watch (or look again at one in error); files that arrived meanwhile are ingested."""
    _one("resumed", "watch_resume", watch_id, format)


@group.command("run")
def run(once: bool = typer.Option(False, "--once", help="Handle the files there now, wait for them to settle, "
                                  "and exit (for scripts).")):
    """Run this root's watches (and due schedules) here, in the foreground, one line per event, until Ctrl-C or
    SIGTERM. Refused while another process (the daemon, a TUI) runs them."""
    import signal

    from core import config as config_mod
    from core.errors import LakehouseError
    from core.live.runner import LiveRunner, holder

    if state.remote is not None:
        raise LakehouseError("the daemon runs this root's watches itself — `lakehouse --remote watch list` shows "
                             "how they go")
    cfg = config_mod.load(home=state.home, config_file=state.config, profile=state.profile)

    def say(wid: int, kind: str, text: str) -> None:
        from datetime import datetime

        print(f"{datetime.now().strftime('%H:%M:%S')} watch {wid} {kind}: {text}", flush=True)
    runner = LiveRunner(cfg, say, once=once)
    if not runner.start():
        h = holder(cfg.root) or {}
        raise LakehouseError(f"pid {h.get('pid', '?')} runs the watches of {cfg.root} already — "
                             "`lakehouse watch list` shows how they go")
    previous = signal.signal(signal.SIGTERM, lambda *_: runner.stop_event.set())
    print("running watches" + (" until their files have settled" if once else " (Ctrl-C stops)") + "…",
          file=sys.stderr)
    try:
        while not runner.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        runner.stop()
        signal.signal(signal.SIGTERM, previous)
    if runner.error is not None:
        raise runner.error if isinstance(runner.error, LakehouseError) else LakehouseError(
            f"watches stopped: {type(runner.error).__name__}: {runner.error}")
    print("stopped", file=sys.stderr)
