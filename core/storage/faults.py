"""Crash injection for the crash-consistency tests: with LAKEHOUSE_CRASH_AT=<point>
the process SIGKILLs itself there, exactly like a power cut at that step."""

import os
import signal


def crash_point(name: str) -> None:
    if os.environ.get("LAKEHOUSE_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


# In-process test hooks: a test puts a callable at a named point (e.g. to append to a
# source file between the hash and the read) and the code calls it there — deterministic,
# where a timed race would be flaky. Empty outside tests.
HOOKS: dict = {}


def hook(name: str) -> None:
    fn = HOOKS.get(name)
    if fn is not None:
        fn()
