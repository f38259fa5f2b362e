"""The global options of `lakehouse`, once, for both entries.

app/fast.py (which must stay light: no Typer, rich, DuckDB or pyarrow) parses them from
argv by hand; app/cli declares them as Typer options and accepts them anywhere on the
line (app.cli.argv). Both read the names, help texts and rules from here.
"""

from __future__ import annotations

import re

# the options that take a value: (help, an example value for "needs a value")
VALUED: dict[str, tuple[str, str]] = {
    "--home": ("Storage root (relocates all state; env LAKEHOUSE_HOME).", "~/lakehouse"),
    "--config": ("Config file to use instead of the default.", "./lakehouse.toml"),
    "--profile": ("Work as this profile (env LAKEHOUSE_PROFILE; default: the active one).", "default"),
}
REMOTE = "--remote"  # its value is optional: "-" means this storage root's daemon
REMOTE_HELP = ("Run the command in the daemon (`lakehouse serve`): this storage root's, or the one at "
               "SOCKET or HOST:PORT. Works before or after the subcommand.")
VERSION_HELP = "Print the version and exit."


def looks_like_address(arg: str) -> bool:
    """A socket path or HOST:PORT — never a command name or a query: `--remote` takes the
    next word only when it looks like one."""
    return (arg.startswith(("/", "./", "../", "~", "tcp://")) or arg.endswith(".sock")
            or re.fullmatch(r"[\w.\-]*:\d{1,5}", arg) is not None)
