"""A command's session: the global options it was given, the facade it opens, Ctrl-C.

Commands raise LakehouseError freely: app.cli.main says it (`error: …` and its hint on
stderr, its exit code), in one place.
"""

from __future__ import annotations

import sys
from typing import Optional

from app.output import say as print  # noqa: A001 — every message prints inert


class _State:
    home: Optional[str] = None
    config: Optional[str] = None
    profile: Optional[str] = None
    remote: Optional[str] = None  # "-": this storage root's daemon; else a socket path or HOST:PORT


state = _State()


def open_lh():
    """The facade: in this process, or a running daemon's through the remote proxy
    (--remote, or [daemon] auto_connect when one serves this root)."""
    from core import config as config_mod

    cfg = config_mod.load(home=state.home, config_file=state.config, profile=state.profile)
    address = None
    if state.remote is not None:
        from app.daemon import proxy as remote

        address = remote.address_for(cfg, None if state.remote == "-" else state.remote)
    elif cfg.get("daemon.auto_connect"):
        from app.daemon import proxy as remote

        address = remote.running(cfg)
    if address is not None:
        lh = remote.RemoteLakehouse(address, remote.token_for(cfg, address), cfg.profile, **remote.timeouts(cfg))
    else:
        from core import Lakehouse

        lh = Lakehouse.open(config=cfg)
    if cfg.profile is None and lh.profile.id != "default":  # activated earlier (here or in the TUI): say so
        print(f"profile: {lh.profile.id} (the active profile; `lakehouse --profile default profile activate "
              "default` to leave it)", file=sys.stderr)
    for note in lh.recovery_notes:
        print(f"recovered: {note}", file=sys.stderr)
    for problem in lh.profile_problems:
        print(f"warning: {problem}", file=sys.stderr)
    return lh


class _CtrlC:
    """Ctrl-C outside a job (a long query, a search, an answer streaming): the command
    stops where it is and the CLI says "cancelled" once, exit 130, no traceback."""
    hit = said = False

    def handler(self, signum, frame):
        self.hit = True
        raise KeyboardInterrupt

    def say(self) -> None:
        if not self.said:
            self.said = True
            print("cancelled", file=sys.stderr)


ctrl_c = _CtrlC()


def with_lh(fn):
    """Open the lakehouse, return fn(lh) (a LakehouseError is said by app.cli.main)."""
    with open_lh() as lh:
        return fn(lh)

