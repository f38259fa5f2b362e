"""Whom a daemon's socket belongs to (docs/protocol.md, "Who the client trusts"): where
default sockets live, the checks on their directory and on the socket file, and the
credentials of the process at the other end. The server makes and checks its directory
before it listens (socket_dir); a client checks the directory and the socket before
connecting and the peer before sending a byte.

Standard library only; what a client given its socket never needs is imported where it
is used (app/fast.py's budget).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from core.errors import LakehouseError


def runtime_dir() -> Path:
    """Where default sockets live: the user's runtime dir (XDG_RUNTIME_DIR, usually
    /run/user/UID), else a per-user directory in the temp dir. Only the path: the server
    makes it with socket_dir(), and both sides check it (check_dir) before they trust it."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg) and os.access(xdg, os.W_OK):
        return Path(xdg) / "lakehouse"
    import tempfile  # here, not at the top: a client given its socket never needs it (app/fast.py)

    return Path(tempfile.gettempdir()) / f"lakehouse-{os.getuid()}"


def default_socket(root: Path) -> Path:
    """One socket per storage root, named by a hash of its path (short enough for the
    108-byte limit on socket paths)."""
    import hashlib

    return runtime_dir() / f"{hashlib.sha256(str(root).encode()).hexdigest()[:16]}.sock"


class Untrusted(LakehouseError):
    """The runtime directory, a socket or the process behind it belongs to someone else:
    refused before anything is sent or served."""

    exit_code = 1
    refused = True


def _who(st: os.stat_result) -> str:
    try:
        import pwd

        name = pwd.getpwuid(st.st_uid).pw_name
        return f"uid {st.st_uid} ({name})"
    except (ImportError, KeyError):
        return f"uid {st.st_uid}"


def check_dir(path: Path) -> None:
    """A socket's directory must be one that no other user can change. The default
    runtime directory (runtime_dir()) must be a real directory (not a symlink), ours, and
    private (mode & 0o077 == 0). A directory you configured ([daemon] socket, --socket) may
    be a symlink and may also belong to root, but no other user may write in it unless it
    is sticky like /tmp (then only the socket's owner can replace the socket, and that
    owner is checked). A directory that does not exist passes: nothing is there to trust."""
    path = Path(path)
    # runtime_dir()'s names only: the temp dir is looked up (tempfile imported) only when it could match
    private = path.name in ("lakehouse", f"lakehouse-{os.getuid()}") and path == runtime_dir()
    try:
        st = os.lstat(path) if private else os.stat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise Untrusted(f"cannot check the daemon's directory {path} ({e.strerror}) — set [daemon] socket to a "
                        "directory of your own") from None
    me = os.getuid()
    mode = stat.S_IMODE(st.st_mode)
    if private:
        fix = "remove it, or set XDG_RUNTIME_DIR to a private directory of yours"
        if stat.S_ISLNK(st.st_mode):
            raise Untrusted(f"refusing the daemon's runtime directory {path}: it is a symlink (to "
                            f"{os.readlink(path)}), not a directory, so whoever made it chooses where sockets go "
                            f"— {fix}")
        if not stat.S_ISDIR(st.st_mode):
            raise Untrusted(f"refusing the daemon's runtime directory {path}: it is not a directory — {fix}")
        if st.st_uid != me or mode & 0o077:
            raise Untrusted(f"refusing the daemon's runtime directory {path}: it belongs to {_who(st)} with mode "
                            f"{mode:04o}, and it must be yours (uid {me}) with no access for others (0700), or "
                            f"another user could swap in their own socket — {fix}")
        _check_ancestors(path, fix)
        return
    if not stat.S_ISDIR(st.st_mode):
        raise Untrusted(f"refusing the daemon's socket directory {path}: it is not a directory — choose "
                        "another [daemon] socket / --socket")
    if st.st_uid not in (me, 0) or (mode & 0o022 and not mode & stat.S_ISVTX):
        raise Untrusted(f"refusing the daemon's socket directory {path}: it belongs to {_who(st)} with mode "
                        f"{mode:04o}, so another user could swap in their own socket — use a directory of yours "
                        "that only you can write (chmod go-w), or choose another [daemon] socket / --socket")
    _check_ancestors(path, "use a directory of yours that only you can write, or choose another [daemon] "
                           "socket / --socket")


def _check_ancestors(path: Path, fix: str) -> None:
    """Every directory above a socket's directory, as written and as resolved, must belong
    to this user or root and be writable by no one else unless sticky (like /tmp): else
    another user could rename the socket's directory away and put their own in its place.
    A symlink on the way must belong to this user or root too."""
    me = os.getuid()
    seen = set()
    for chain in (Path(os.path.abspath(path)).parents, Path(os.path.realpath(path)).parents):
        for p in chain:
            if p in seen:
                continue
            seen.add(p)
            try:
                st = os.lstat(p)
            except OSError:
                continue  # gone or unreadable: the directory below it was checked itself
            mode = stat.S_IMODE(st.st_mode)
            if st.st_uid not in (me, 0) or (not stat.S_ISLNK(st.st_mode) and mode & 0o022
                                            and not mode & stat.S_ISVTX):
                raise Untrusted(f"refusing the daemon's socket directory {path}: {p} above it belongs to "
                                f"{_who(st)} with mode {mode:04o}, so another user could replace what is below "
                                f"it — {fix}")


def socket_dir(socket_path: Path) -> None:
    """The server's side: make the socket's directory (0700, never over something that is
    already there) and check it, so `serve` never listens in a directory another user made
    or can write."""
    parent = Path(socket_path).parent
    try:
        if parent == runtime_dir():
            os.mkdir(parent, 0o700)  # fails if anything (a squatter's directory, a symlink) is there
        else:
            parent.mkdir(parents=True, mode=0o700)
    except FileExistsError:
        pass
    except OSError as e:
        raise Untrusted(f"cannot make the daemon's socket directory {parent} ({e.strerror}) — set "
                        "[daemon] socket or --socket to a directory of yours") from None
    check_dir(parent)


def check_socket(address: str) -> None:
    """The client's side, before connecting: the socket's directory (check_dir) and the
    socket itself — a socket, owned by this user. A path where nothing is passes (the
    connect then says no daemon answers)."""
    path = Path(address)
    check_dir(path.parent)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise Untrusted(f"cannot check the daemon's socket {path} ({e.strerror})") from None
    if not stat.S_ISSOCK(st.st_mode):
        kind = "a symlink" if stat.S_ISLNK(st.st_mode) else "not a socket"
        raise Untrusted(f"refusing {path}: it is {kind}, not the daemon's socket — remove it and start the daemon "
                        "again with `lakehouse serve --detach`")
    if st.st_uid != os.getuid():
        raise Untrusted(f"refusing the socket {path}: it belongs to {_who(st)}, not to you (uid {os.getuid()}), so "
                        "the process behind it is not your daemon — remove it, or set XDG_RUNTIME_DIR to a "
                        "private directory of yours")


def peer_creds(sock) -> tuple[int, int, int] | None:
    """(pid, uid, gid) of the process at the other end of a connected Unix socket
    (SO_PEERCRED); None where the platform has no SO_PEERCRED or the socket cannot say."""
    import socket as _socket
    import struct

    try:
        creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, struct.calcsize("3i"))
    except (OSError, AttributeError):
        return None
    return struct.unpack("3i", creds)


def peer_uid(sock) -> int | None:
    """The uid of the process at the other end of a connected Unix socket (SO_PEERCRED
    on Linux, getpeereid's LOCAL_PEERCRED on BSD and macOS); None where neither exists."""
    import socket as _socket
    import struct

    if hasattr(_socket, "SO_PEERCRED"):
        creds = peer_creds(sock)
        return None if creds is None else creds[1]
    if hasattr(_socket, "LOCAL_PEERCRED"):  # struct xucred: u_int version; uid_t uid; ...
        try:
            creds = sock.getsockopt(0, _socket.LOCAL_PEERCRED, struct.calcsize("2Ih16I"))  # 0: SOL_LOCAL
        except OSError:
            return None
        return struct.unpack("2I", creds[:8])[1]
    return None


def same_user(sock) -> bool:
    """True unless the peer's credentials say another user is at the other end (where a
    platform has none, the 0600 socket in a 0700 directory is the guard)."""
    uid = peer_uid(sock)
    return uid is None or uid == os.getuid()


def check_peer(sock, address: str) -> None:
    """The client's side, after connecting and before sending a byte: the process behind
    the socket must run as this user."""
    uid = peer_uid(sock)
    if uid is not None and uid != os.getuid():
        raise Untrusted(f"refusing the daemon at {address}: the process behind it runs as uid {uid}, not as you "
                        f"(uid {os.getuid()}), so it is not your daemon — nothing was sent; remove the socket and "
                        "start yours with `lakehouse serve --detach`")
