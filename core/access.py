"""Access: what a profile may do beyond reading its own data.

A profile is a boundary for whoever holds it. A *restricted* profile — one whose
dataset or index patterns do not include "*" — can neither widen itself nor reach
past itself: it may not create, edit, delete or activate profiles, switch a daemon
session to another profile, or cancel or retry jobs that are not about its own data.
An unrestricted profile (the built-in default, or any with `*` for both) administers.

What a holder may do is decided by the *principal*: the profile a facade was opened as
(`--profile`, else the activated one) or, over the daemon, the profile the server gave
the connection. Activating another profile changes what is read, never the principal,
so a person who opened the TUI as default can switch to a narrow profile and back.

The rule is deliberately simple: comparing glob patterns to prove one profile is
"narrower" than another is undecidable in practice, so a restricted holder may only
stay where it is.
"""

from __future__ import annotations

from core.errors import Hint, LakehouseError


class Refused(LakehouseError):
    """An operation this profile may not perform."""

    refused = True


def restricted(profile) -> bool:
    return "*" not in profile.datasets or "*" not in profile.indexes


def may_switch(current, target) -> bool:
    """Whether a holder of `current` may work as `target` (a daemon session)."""
    return not restricted(current) or current.id == target.id


def require_admin(profile, what: str) -> None:
    """Refuse `what` (e.g. "editing profiles") to a restricted profile, in one sentence."""
    if restricted(profile):
        raise Refused(f"profile {profile.id} is restricted to its own datasets and cannot do {what}",
                      hint=Hint("run it as an unrestricted profile, e.g. {as the default profile}",
                                None, {"profile": "default"}))
