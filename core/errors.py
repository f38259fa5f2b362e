"""Errors a user sees: one clear sentence saying what failed, where, and what to do.

Frontends print `str(error)` (CLI: stderr + non-zero exit; TUI: a notification;
daemon: a JSON-RPC error object). Anything that is not a LakehouseError is a bug.
"""


class LakehouseError(Exception):
    """Base class: the message is the whole user-facing sentence."""

    exit_code = 1
    refused = False  # the audit's outcome: True when the product said no (scope, read-only, a
    # name that is not there), False when the work was tried and failed (syntax, a type, I/O)


class ConfigError(LakehouseError):
    exit_code = 2


class NameError_(LakehouseError):
    """An invalid dataset name (kept distinct from the builtin NameError)."""

    exit_code = 2
    refused = True


class NotFound(LakehouseError):
    refused = True


class IngestError(LakehouseError):
    pass


class SqlError(LakehouseError):
    """A query that could not run: refused by the read-only gate or the profile
    (refused=True), or failed in DuckDB (a syntax, binder or runtime error)."""

    def __init__(self, message: str, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


class Cancelled(LakehouseError):
    """A job was cancelled by the user; nothing it started is left behind."""

    exit_code = 130


class VectorError(LakehouseError):
    """Embedding, index or search failures (bad input, corrupt files, model mismatch)."""

    refused = True


class OllamaError(LakehouseError):
    """The Ollama server could not do what was asked (unreachable, model missing, ...)."""
