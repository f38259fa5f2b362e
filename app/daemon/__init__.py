"""The daemon frontend: `lakehouse serve` and the clients that talk to it (docs/protocol.md).

- wire.py — the JSON-RPC framing, error codes and objects, and the values they carry
- places.py, trust.py — a root's daemon files; where sockets live and whom they belong to
- server.py — Daemon: state and lifecycle; its parts connections.py (accepting, caps,
  reading lines), dispatch.py (running a request), workers.py (the fair worker pool)
- methods.py — what a client may call: the registry's remote operations (core.api) and the
  server's own; params.py checks a call's params against its signature
- log.py, serve.py — the daemon's log, and the `lakehouse serve` entry
- client.py, proxy.py — a checked connection to a daemon, and RemoteLakehouse

Importing this package imports nothing else: app/fast.py's client takes only what it uses.
"""
