"""The workstation and its surroundings: `lakehouse` with no command, demo, tui, serve,
status, config."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from app.cli.data import print_datasets, print_ingest
from app.cli.options import LIST_FORMAT, ListFormat
from app.cli.progress import run_job
from app.cli.session import open_lh, state
from app.output import say as print  # noqa: A001 — every message prints inert
from core.text import inert


def _demo_offer(lh) -> str:
    scale = lh.config.get("demo.scale")
    size = ("2.47M rows; ~20 s on an idle 2-core machine, longer on a busy one" if scale == 1
            else f"scale {scale:g} of 2.47M rows")
    return f"The storage root {lh.root} is empty. Load the demo workload (a staffing company, {size})?"


def start() -> None:
    """No subcommand: the workstation in a terminal; in a pipe or script, a summary."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        with open_lh() as lh:
            empty = not lh.datasets() and lh.config.get("demo.offer_on_first_run")
            try:
                load = empty and typer.confirm(inert(_demo_offer(lh)), default=True)
            except typer.Abort:  # Ctrl-C or end of input at the question
                print("\ncancelled", file=sys.stderr)
                raise typer.Exit(130) from None
            if load:
                print_ingest(run_job(lh.demo, lh.config.get("demo.scale")))
        open_tui(None, None)
        return
    lh = open_lh()
    try:
        if not lh.datasets() and lh.config.get("demo.offer_on_first_run"):
            print(f"The storage root {lh.root} is empty. Load the demo workload with "
                  "`lakehouse demo`, or your own files with `lakehouse ingest PATH`.")
            return
        print_datasets(lh.datasets(), ListFormat.table)
        names = {d.name for d in lh.datasets()}
        if "candidates" in names:
            q = ("SELECT city, count(*) AS candidates, round(avg(years_experience), 1) AS avg_years "
                 "FROM candidates GROUP BY city ORDER BY candidates DESC LIMIT 5")
        else:
            first = lh.datasets()[0].name
            q = f'SELECT * FROM "{first}" LIMIT 5'
        print(f"\nsample query: lakehouse sql '{q}'")
        from app.output import print_result

        print_result(lh.sql_rows(q, lh.config.get("sql.display_rows")))
    finally:
        lh.close()



def demo(scale: Optional[float] = typer.Option(None, "--scale", help="Size factor: 1 = 2.47M rows (default: [demo] scale).")):
    """Generate and ingest the reference staffing workload (deterministic)."""
    with open_lh() as lh:
        code = print_ingest(run_job(lh.demo, scale if scale is not None else lh.config.get("demo.scale")))
        info = lh.index("resumes")
    a = info.active
    print(f"index resumes g{a.gen}: {a.chunks:,} resume chunks of candidates, {a.embedder} — try "
          "`lakehouse search resumes \"someone who could handle our Kubernetes migration\" --where \"state='IL'\"`")
    raise typer.Exit(code)



def tui(theme: Optional[str] = typer.Option(None, "--theme", help="lakehouse-dark or lakehouse-light (default: [tui] theme)."),
        connect: Optional[str] = typer.Option(None, "--connect", metavar="[SOCKET]",
                                              help="Work through the daemon: this storage root's, or the one "
                                                   "at SOCKET or HOST:PORT (the same as --remote).")):
    """Open the workstation: Ask, Explore, SQL, Trials and System panes (F1–F5; ctrl+p lists every action)."""
    open_tui(theme, connect)


def open_tui(theme: Optional[str], connect: Optional[str]) -> None:
    """The workstation, for `lakehouse tui` and for `lakehouse` with no subcommand."""
    from themes import NAMES

    from core import config as cfg

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("error: the workstation needs a terminal (stdin and stdout are not one) — run `lakehouse tui` "
              "in a terminal, or use the `lakehouse` subcommands from scripts", file=sys.stderr)
        raise typer.Exit(2)
    c = cfg.load(home=state.home, config_file=state.config, profile=state.profile)
    chosen = theme or c.get("tui.theme")
    if chosen not in NAMES:
        print(f"error: unknown theme {chosen!r} — choose one of {', '.join(NAMES)}", file=sys.stderr)
        raise typer.Exit(2)
    connect = connect or state.remote
    opener = None
    if connect is not None:
        from app.daemon import proxy as remote

        address = remote.address_for(c, None if connect == "-" else connect)
        remote.connect(c, address).close()  # fail here, in one sentence, not inside the app

        def opener():
            return remote.connect(c, address)
    from app.tui import run

    run(state.home, state.config, state.profile, chosen, opener)


def serve(socket: Optional[str] = typer.Option(None, "--socket", help="Unix socket path (default: [daemon] socket, "
                                                 "else one per storage root in the user's runtime dir)."),
          tcp: Optional[str] = typer.Option(None, "--tcp", help="Also listen on HOST:PORT (e.g. 127.0.0.1:7788); "
                                              "clients need the token in STORAGE_ROOT/daemon.token."),
          detach: bool = typer.Option(False, "--detach", help="Run in the background; return once it answers.")):
    """Run the core headless behind a local socket: scripts, `--remote` commands and `tui --connect` share it."""
    import os

    from app.daemon import serve as daemon

    if detach:
        raise typer.Exit(_detach(socket, tcp))

    def announce(d) -> None:
        extra = f"; TCP {d.tcp[0]}:{d.tcp[1]} (token in {d.root / 'daemon.token'})" if d.tcp else ""
        print(f"serving {d.root} on {d.socket_path} (pid {os.getpid()}){extra} — Ctrl-C or SIGTERM stops it",
              file=sys.stderr, flush=True)

    daemon.serve(state.home, state.config, socket, tcp, announce, profile=state.profile)
    print("daemon stopped", file=sys.stderr)


def _detach(socket: Optional[str], tcp: Optional[str]) -> int:
    """Start `lakehouse serve` in a new session; return 0 once it answers."""
    import subprocess
    import time

    from app.daemon import places
    from core import config as cfg

    c = cfg.load(home=state.home, config_file=state.config)
    c.root.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "app"]
    for flag, value in (("--home", state.home), ("--config", state.config), ("--profile", state.profile)):
        if value:
            args += [flag, value]
    args += ["serve"] + (["--socket", socket] if socket else []) + (["--tcp", tcp] if tcp else [])
    log_path = places.log_file(c.root)
    with open(log_path, "ab") as log:
        child = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            print(f"{tail[0]}", file=sys.stderr)
            return child.returncode or 1
        info = places.read_state(c.root)
        if info and info.get("pid") == child.pid:
            print(f"serving {c.root} on {info['socket']} (pid {child.pid}; log {log_path}) — "
                  f"`lakehouse status` shows it, `kill {child.pid}` stops it")
            return 0
        time.sleep(0.05)
    print(f"error: the daemon did not answer within 60 s — see {log_path}", file=sys.stderr)
    return 1


def status(format: ListFormat = LIST_FORMAT):
    """Whether a daemon serves this storage root: pid, socket, uptime, clients, jobs (exit 1 if none)."""
    from app.daemon import places
    from app.daemon import proxy as remote
    from app.daemon.client import Unreachable
    from app.output import dumps
    from core import config as cfg

    c = cfg.load(home=state.home, config_file=state.config)
    address = remote.address_for(c, None if state.remote in (None, "-") else state.remote)
    info = places.read_state(c.root) or {}
    if state.remote in (None, "-") and info.get("socket"):
        address = info["socket"]  # the one it really listens on
    try:
        with remote.RemoteLakehouse(address, remote.token_for(c, address), **remote.timeouts(c)) as r:
            st = r.status()
    except Unreachable:
        if format == ListFormat.json:
            print(dumps({"running": False, "root": str(c.root), "socket": address}))
        else:
            print(f"no daemon serves {c.root} (socket {address}) — start one with `lakehouse serve --detach`")
        raise typer.Exit(1)
    if format == ListFormat.json:
        print(dumps({"running": True, **st}))
        return
    up = st["uptime_s"]
    print(f"daemon running: pid {st['pid']}, serving {st['root']}")
    print(f"  socket:   {st['socket']}" + (f"   tcp: {st['tcp']}" if st["tcp"] else ""))
    print(f"  uptime:   {int(up // 3600)}h {int(up % 3600 // 60)}m {up % 60:.0f}s")
    print(f"  clients:  {st['clients']} connected (this one included), {st['requests']:,} requests served")
    print("  jobs:     " + (", ".join(f"{j['kind']} {j['target']} ({j['id']})" for j in st["jobs"]) or "none running"))


def config(format: ListFormat = LIST_FORMAT):
    """Print the effective configuration and where each value came from."""
    from app.output import print_records

    from core import config as cfg

    c = cfg.load(home=state.home, config_file=state.config)
    records = [{"key": k, "value": v, "source": s} for k, v, s in c.items()]
    if format == ListFormat.table:
        print(f"config file: {c.file or '(none; defaults in use)'}", file=sys.stderr)
    print_records(records, ["key", "value", "source"], format.value)
