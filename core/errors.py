"""Errors a user sees: one clear sentence saying what failed, where, and what to do.

Frontends print `str(error)` (CLI: stderr + non-zero exit; TUI: a notification;
daemon: a JSON-RPC error object). Anything that is not a LakehouseError is a bug.
"""


class LakehouseError(Exception):
    """Base class: the message is the whole user-facing sentence."""

    exit_code = 1


class ConfigError(LakehouseError):
    exit_code = 2


class NameError_(LakehouseError):
    """An invalid dataset name (kept distinct from the builtin NameError)."""

    exit_code = 2


class NotFound(LakehouseError):
    pass


class IngestError(LakehouseError):
    pass


class SqlError(LakehouseError):
    pass


class Cancelled(LakehouseError):
    """A job was cancelled by the user; nothing it started is left behind."""

    exit_code = 130


class VectorError(LakehouseError):
    """Embedding, index or search failures (bad input, corrupt files, model mismatch)."""


class OllamaError(LakehouseError):
    """The Ollama server could not do what was asked (unreachable, model missing, ...)."""
