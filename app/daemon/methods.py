"""The methods a daemon client may call: the registry's remote operations (core.api) —
the facade's declared surface, never found by introspecting the class — and the server's
own (session, status, methods, ping)."""

from __future__ import annotations

import inspect
import os
from typing import TYPE_CHECKING

from core.errors import LakehouseError

from . import wire
from .params import BadParams

if TYPE_CHECKING:
    from .connections import Conn
    from .server import Daemon


def facade_methods() -> dict[str, inspect.Signature]:
    """Every facade method a client may call — the operations declared remote in
    core.api (lifecycle ones are not; clients send `cancel`) — with its signature."""
    import core.lakehouse  # noqa: F401  (declares the operations)
    from core.api import remote_operations

    out = {}
    for name, op in remote_operations().items():
        sig = inspect.signature(op.func)
        out[name] = sig.replace(parameters=list(sig.parameters.values())[1:])  # without self
    return out


def _m_session(d: Daemon, conn: Conn, params) -> dict:
    """Pick the profile this connection works as; return what a proxy needs up front.
    A connection starts as the daemon's own profile and may only narrow: a restricted
    profile (one without "*" for both datasets and indexes) can never switch away."""
    from core import config as config_mod
    from core.profiles import store as profiles
    restricted, may_switch, Refused = access_rules()

    params = params if isinstance(params, dict) else {}
    wanted = params.get("profile") or None
    if wanted is not None and not isinstance(wanted, str):
        raise BadParams("wrong params for session(profile): 'profile' must be a string")
    current = _principal(d.facade(conn.profile))
    target_id = wanted or _own_profile(d)
    if target_id != current.id:
        if restricted(current):  # refused before the name is even looked up
            raise Refused(f"profile {current.id} is restricted to its own datasets, so this connection "
                          f"cannot switch to profile {target_id} — connect to a daemon served as that "
                          "profile instead")
        target = profiles.resolve(config_mod.load(home=d.home, config_file=d.config_file).profiles, target_id)
        if not may_switch(current, target):
            raise Refused(f"profile {current.id} cannot switch this connection to profile {target_id}")
    profile = _facade_key(d, target_id)
    lh = d.facade(profile)
    conn.profile = profile
    return {"version": wire.VERSION, "pid": os.getpid(), "root": str(lh.root), "profile": wire.encode(lh.profile),
            "config": lh.config.values, "recovery_notes": lh.recovery_notes,
            "profile_problems": lh.profile_problems,
            "methods": {n: [p for p in s.parameters if p != "cancel"] for n, s in d.methods.items()}}


class Refused(LakehouseError):
    """A session switch this profile may not make (when core.access is not there)."""


def access_rules():
    """core.access's rule (restricted, may_switch, Refused), or the same rule inline: a
    profile is restricted unless both its datasets and its indexes include "*"; a
    restricted holder may only stay itself."""
    try:
        from core import access

        return access.restricted, access.may_switch, access.Refused
    except ImportError:
        def restricted(p) -> bool:
            return "*" not in p.datasets or "*" not in p.indexes

        return restricted, (lambda cur, target: not restricted(cur) or cur.id == target.id), Refused


def _principal(lh):
    """Who holds a facade: the profile it was opened as (activate may change its reader)."""
    return getattr(lh, "principal", None) or lh.profile


def _m_methods(d: Daemon, conn: Conn, params) -> dict:
    """Each facade method with its params and the first paragraph of its doc (the
    registry's function: core.api), else the registry's one-line summary."""
    from core.api import OPERATIONS

    return {n: {"params": [p for p in s.parameters if p != "cancel"],
                "doc": (inspect.getdoc(OPERATIONS[n].func) or OPERATIONS[n].summary).split("\n\n")[0]}
            for n, s in sorted(d.methods.items())}


def _own_profile(d: Daemon) -> str:
    """The profile a new connection works as: the daemon's own — `serve --profile`'s,
    else the one active when it started. `activate` changes what the daemon's facade
    reads (as it does in-process), never who holds it."""
    return _principal(d.facades[None]).id


def _facade_key(d: Daemon, pid: str) -> str | None:
    """The facade that works as profile pid: the daemon's own (None) when it was opened
    as pid, else one opened for it (so what pid may do is decided as pid)."""
    return None if pid == _principal(d.facades[None]).id else pid


# the server's own methods, run like a facade call: (daemon, connection, params) -> result
SERVER_METHODS = {
    "session": _m_session,
    "status": lambda d, conn, params: d.status(),
    "methods": _m_methods,
    "ping": lambda d, conn, params: "pong",
}
