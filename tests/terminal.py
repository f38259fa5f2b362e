"""A real terminal for tests: run a command under a pseudo-terminal and read its screen.

The child gets the pty as its controlling terminal (so Ctrl-C typed as \\x03 reaches it
as SIGINT, and Textual sees a real tty); a thread feeds everything it writes into a
pyte screen, which renders it the way a VT100-compatible terminal would.
"""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import subprocess
import termios
import threading
import time

import pyte


def _controlling_tty() -> None:  # runs in the child, between fork and exec
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    def __init__(self, argv: list[str], env: dict, cols: int = 120, rows: int = 36, cwd=None) -> None:
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()  # everything the child wrote, for messages and tracebacks
        self._lock = threading.Lock()
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}
        env.update(TERM="xterm-256color", COLORTERM="truecolor")
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                                     preexec_fn=_controlling_tty, close_fds=True)
        os.close(slave)
        self.master = master
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the child closed its side
                return
            if not chunk:
                return
            with self._lock:
                self.raw += chunk
                self.stream.feed(chunk)

    def text(self) -> str:
        with self._lock:
            return "\n".join(self.screen.display)

    def output(self) -> str:
        with self._lock:
            return self.raw.decode("utf-8", "replace")

    def send(self, data: str | bytes) -> None:
        os.write(self.master, data.encode() if isinstance(data, str) else data)

    def wait_for(self, predicate, timeout: float = 120, what: str = "") -> None:
        """Wait until predicate(screen text) holds; fail with the screen when it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.text()):
                return
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the reader drain what the child wrote last
                if predicate(self.text()):
                    return
                raise AssertionError(f"the process exited ({self.proc.returncode}) before {what!r} showed:\n"
                                     f"{self.output()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"{what!r} did not show within {timeout} s; the screen:\n{self.text()}")

    def wait_for_text(self, needle: str, timeout: float = 120) -> None:
        """Wait for `needle` on the screen, also where the terminal wrapped it (a long
        path before it, e.g. a deeper temp dir, moves the wrap)."""
        self.wait_for(lambda t: needle in t or needle in t.replace("\n", ""), timeout, needle)

    def wait_exit(self, timeout: float = 60) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the process did not exit within {timeout} s; the screen:\n{self.text()}")
        self._reader.join(5)
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
        self._reader.join(5)
        try:
            os.close(self.master)
        except OSError:
            pass

    def __enter__(self) -> "Terminal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
