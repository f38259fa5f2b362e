"""Where one storage root's daemon is: its files in the root (state, lock, token, log) and
how a TCP address is written. Standard library only (app/fast.py reads these)."""

from __future__ import annotations

import json
from pathlib import Path


def state_file(root: Path) -> Path:
    return root / "daemon.json"  # pid, socket, tcp, start time: for `lakehouse status`


def lock_file(root: Path) -> Path:
    return root / "daemon.lock"  # held while a daemon serves the root: one per root


def token_file(root: Path) -> Path:
    return root / "daemon.token"  # the TCP token, 0600


def log_file(root: Path) -> Path:
    return root / "daemon.log"  # where a detached daemon writes


def write_state(root: Path, info: dict) -> None:
    tmp = state_file(root).with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2))
    tmp.replace(state_file(root))


def read_state(root: Path) -> dict | None:
    try:
        return json.loads(state_file(root).read_text())
    except (OSError, ValueError):
        return None


def is_tcp(address: str) -> bool:
    return address.startswith("tcp://") or ("/" not in address and ":" in address)


def parse_tcp(value: str) -> tuple[str, int]:
    """HOST:PORT (HOST defaults to 127.0.0.1)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--tcp {value!r} is not HOST:PORT — e.g. 127.0.0.1:7788")
    return host or "127.0.0.1", int(port)
