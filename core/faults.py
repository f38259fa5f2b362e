"""Crash injection for the crash-consistency tests: with LAKEHOUSE_CRASH_AT=<point>
the process SIGKILLs itself there, exactly like a power cut at that step."""

import os
import signal


def crash_point(name: str) -> None:
    if os.environ.get("LAKEHOUSE_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
