"""The facade's declared surface: every public operation of `core.Lakehouse`, once.

Each public method (and property) of the facade carries `@operation(...)`, which records
what it is into `OPERATIONS` — callable over the daemon or not, audited, mutating,
streaming, retryable as a job, the profile rule that scopes it, and one line saying what
it does. Frontends read this table instead of introspecting the class: the daemon
exposes exactly the `remote` operations, `Lakehouse.retry_job` retries only the
`retryable` ones, and docs/protocol.md's method table is generated from it
(`python -m core.api --markdown`). The suite fails when a public method is added to the
facade without a declaration (tests/test_api_registry.py).

The table fills as `core.lakehouse` is imported; this module never imports it (it is
below the facade), except when run as the generator.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass, field
from typing import Callable

# The scope rules: what a profile's view of the data does to an operation
SCOPES: dict[str, str] = {
    "datasets": "acts on or lists datasets the profile sees; names outside it are not found or refused",
    "query": "runs through the profile's SQL engine (and its indexes): only its datasets are visible",
    "index": "acts on or lists indexes the profile searches, over datasets it sees",
    "jobs": "jobs the profile sees; a restricted profile cancels and retries only the ones it started",
    "own-audit": "a profile other than an unrestricted one reads only its own audit entries",
    "profile-admin": "changing profiles, or activating another one, needs an unrestricted holder",
    "none": "not scoped by profile (process state, the model server, lifecycle)",
}

MARKS = ("audited", "mutates", "retryable", "streams")


@dataclass(frozen=True)
class Operation:
    """One declared facade operation."""

    name: str
    summary: str  # one line: what it does (the method table in docs/protocol.md)
    remote: bool  # callable over the daemon (the rest is lifecycle and in-process plumbing)
    scope: str  # a rule name from SCOPES
    audited: bool = False  # the call writes audit-log entries (itself or through a call it makes)
    mutates: bool = False  # changes datasets, indexes, profiles or jobs (audit and ask records aside)
    streams: bool = False  # returns a reader whose rows arrive as they are read
    retryable: bool = False  # the jobs it starts record the call; `retry_job` may make it again
    func: Callable = field(default=None, compare=False, repr=False)  # as the class holds it

    @property
    def marks(self) -> list[str]:
        return [m for m in MARKS if getattr(self, m)]

    def params(self) -> list[str]:
        """Its parameters as a client passes them (`?` = optional); `cancel` is the
        protocol's own `cancel` notification, never a parameter."""
        ps = list(inspect.signature(self.func).parameters.values())[1:]  # without self/cls
        return [p.name + ("?" if p.default is not p.empty else "") for p in ps if p.name != "cancel"]


OPERATIONS: dict[str, Operation] = {}


def operation(summary: str, *, remote: bool, scope: str, audited: bool = False, mutates: bool = False,
              streams: bool = False, retryable: bool = False):
    """Declare a facade method (apply below @property / @classmethod). A retryable one
    also records its call for the jobs it starts (core.ops.jobs.retryable)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope rule {scope!r} — one of {', '.join(SCOPES)}")
    if not summary or "\n" in summary:
        raise ValueError("an operation's summary is one line")

    def declare(fn):
        if retryable:
            from core.ops.jobs import retryable as record_call

            fn = record_call(fn)
        name = fn.__name__
        known = OPERATIONS.get(name)
        if known is not None and known.func.__qualname__ != fn.__qualname__:
            raise ValueError(f"operation {name!r} is declared twice ({known.func.__qualname__}, {fn.__qualname__})")
        OPERATIONS[name] = Operation(name, summary, remote, scope, audited, mutates, streams, retryable, fn)
        return fn
    return declare


def remote_operations() -> dict[str, Operation]:
    """The operations a daemon client may call, by name (sorted)."""
    return {n: OPERATIONS[n] for n in sorted(OPERATIONS) if OPERATIONS[n].remote}


def is_retryable(method) -> bool:
    """Whether `retry_job` may make this recorded call again."""
    return isinstance(method, str) and method in OPERATIONS and OPERATIONS[method].retryable


def markdown(ops: dict[str, Operation] | None = None) -> str:
    """The method table of docs/protocol.md (the remote operations), and the scope rules."""
    ops = remote_operations() if ops is None else ops
    lines = ["| method | params | what it does | scope | marks |", "|---|---|---|---|---|"]
    for op in ops.values():
        lines.append(f"| `{op.name}` | {', '.join(op.params())} | {op.summary} | {op.scope} | "
                     f"{', '.join(op.marks)} |")
    lines += ["", "Scope rules:", ""]
    used = {op.scope for op in ops.values()}
    lines += [f"- **{s}**: {text}" for s, text in SCOPES.items() if s in used]
    lines += ["", "Marks: **audited** writes audit-log entries; **mutates** changes datasets, indexes, "
              "profiles or jobs; **retryable** records its call with the jobs it starts "
              "(`retry_job`); **streams** returns a reader."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["--markdown"]:
        print("usage: python -m core.api --markdown", file=sys.stderr)
        return 2
    import core.lakehouse  # noqa: F401  (declares the operations)
    from core import api  # the imported module, not this __main__ copy

    sys.stdout.write(api.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
