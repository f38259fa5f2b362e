"""Every key of the workstation, in one table. The app's and the panes' BINDINGS (and so
the footer), the help screen, the command palette's key hints and the README's key table
are all made from it, so they cannot disagree (tests/test_tui.py checks the README).

The keys are ones that arrive intact in tmux, xterm, VS Code's terminal and macOS
Terminal: function keys and ctrl+letter. Left out on purpose:
- alt+digit: tmux and most terminals send Alt as an ESC prefix, which Textual reads as the
  macOS Option characters (ESC 1 is "¡"), so it would be typed into the focused box;
- ctrl+h: it is Backspace (0x08) in most terminals; ctrl+b: tmux's prefix; ctrl+k: a
  chord prefix in VS Code.
VS Code's terminal keeps F1, ctrl+p and ctrl+j for itself and macOS needs fn for the
F-keys, so every action there has a ctrl+letter too (ctrl+n cycles the panes, ctrl+r runs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    scope: str  # where it works: one of SCOPES
    keys: str  # Textual key names, comma-separated
    action: str | None  # a Textual action; None: the widget's own key, listed here for the help screen
    label: str  # short: the footer and the command palette
    help: str  # what it does, for the help screen and the README
    footer: bool = False  # shown in the footer while its scope has focus
    priority: bool = False  # before the focused widget (the editor would otherwise take it)
    shown_as: str = ""  # how people write the keys, when it is not just the key names


SCOPES = {"app": "Everywhere", "ask": "Ask", "explore": "Explore", "sql": "SQL", "system": "System",
          "picker": "Pickers (profile, history, names)", "cell": "A result cell's value", "help": "The help screen"}

PANES = [("ask", "Ask", "f1"), ("explore", "Explore", "f2"), ("sql", "SQL", "f3"), ("system", "System", "f4")]

KEYS: list[Key] = [
    # priority: a binding the focused widget does not take fires only after the key has bubbled
    # up to the app, and by then the keys typed right after it have gone to the old focus
    *[Key("app", key, f"pane('{pid}')", title, f"the {title} pane", priority=True) for pid, title, key in PANES],
    Key("app", "ctrl+n", "next_pane", "Next pane", "the next pane (Ask, Explore, SQL, System, Ask …)", footer=True,
        priority=True),
    Key("app", "ctrl+o", "pick_profile", "Profile", "switch profile: 1–9 picks one, or type to filter", footer=True,
        priority=True),
    Key("app", "ctrl+p", "command_palette", "palette", "command palette: every action, searchable, with its key",
        priority=True),
    Key("app", "question_mark", "help", "Help", "this list of keys (outside a text box, where ? is text)",
        shown_as="?"),
    Key("app", "ctrl+q", "quit", "Quit", "quit", footer=True, priority=True),

    Key("ask", "enter", None, "Ask", "ask the question in the box (tab reaches the mode: auto, sql or rag)"),
    Key("ask", "ctrl+r", "open_sql", "Open SQL", "open the last answer's SQL in the SQL pane and run it", footer=True),
    Key("ask", "ctrl+l", "open_cited", "Cited rows", "open the last answer's cited rows in the SQL pane",
        footer=True),

    Key("explore", "enter", "query", "Query it", "query the selected dataset, column or system table in SQL",
        footer=True, priority=True),
    Key("explore", "space", None, "Expand", "expand or collapse a node (a dataset's columns load)"),
    Key("explore", "p", "pin", "Pin/unpin", "pin or unpin the selected dataset", footer=True),
    Key("explore", "e", "embed", "Embed column", "embed the selected text column into a vector index (a job)",
        footer=True),
    Key("explore", "r", "reload", "Reload", "reload the catalog", footer=True),

    Key("sql", "ctrl+r,ctrl+enter,ctrl+j", "run", "Run", "run the statement under the cursor, or the selection",
        footer=True, priority=True),
    Key("sql", "ctrl+g", "cancel", "Cancel", "cancel the running query", footer=True, priority=True),
    Key("sql", "ctrl+l", "history", "History", "query history: type to filter, enter loads one", footer=True,
        priority=True),
    Key("sql", "ctrl+space,ctrl+@", "complete", "Complete", "complete a dataset or column name", footer=True,
        priority=True, shown_as="ctrl+space"),
    Key("sql", "ctrl+t", "new_buffer", "New buffer", "a new editor buffer (close one from the command palette)",
        footer=True, priority=True),
    Key("sql", "ctrl+s", "export", "Export", "export the whole result (.csv, .parquet or .json, by the name)",
        footer=True, priority=True),
    Key("sql", "enter", None, "Cell value", "on a result cell: its whole value"),
    Key("sql", "c", "copy_cell", "Copy cell", "on a result cell: copy it (through the terminal, OSC 52)"),
    Key("sql", "C", "copy_row", "Copy row", "on a result cell: copy its row, tab-separated", shown_as="shift+c"),
    Key("sql", "escape", None, "Close", "close the export prompt"),

    Key("system", "x", "cancel_job", "Cancel job", "cancel the highlighted running job (in any process)",
        footer=True),
    Key("system", "t", "retry_job", "Retry job", "retry the highlighted failed, cancelled or interrupted job",
        footer=True),
    Key("system", "r", "refresh", "Refresh", "refresh now (it refreshes every 3 s)", footer=True),

    Key("picker", "up", "move(-1)", "Up", "move through the list while typing the filter", shown_as="up / down"),
    Key("picker", "down", "move(1)", "Down", ""),  # listed with up
    Key("picker", "enter", None, "Pick", "pick the highlighted entry (in the profile picker 1–9 pick directly)"),
    Key("picker", "escape", "close", "Cancel", "close without picking", footer=True),

    Key("cell", "c", "copy", "Copy", "copy the value", footer=True),
    Key("cell", "escape,q,enter", "close", "Close", "close", footer=True, shown_as="escape / q / enter"),

    Key("help", "up,down,pageup,pagedown,home,end", None, "Scroll", "scroll this list",
        shown_as="up/down/pgup/pgdn/home/end"),
    Key("help", "escape,q,question_mark", "close", "Close", "close this screen", footer=True,
        shown_as="escape / q / ?"),
]


def bindings(scope: str) -> list[Binding]:
    """The Textual bindings of a scope (keys with an action)."""
    return [Binding(k.keys, k.action, k.label, show=k.footer, priority=k.priority)
            for k in KEYS if k.scope == scope and k.action]


def shown(k: Key) -> str:
    """The key as people write it: F1, ctrl+r / ctrl+enter / ctrl+j."""
    if k.shown_as:
        return k.shown_as
    return " / ".join(name.upper() if re.fullmatch(r"f\d+", name) else name for name in k.keys.split(","))


def key_of(scope: str, action: str) -> str:
    """The keys of an action, for a command-palette title."""
    return next(shown(k) for k in KEYS if k.scope == scope and k.action == action)


def listed() -> list[tuple[str, list[tuple[str, str]]]]:
    """(scope title, [(keys, what it does)]) for the help screen and the README, every key
    once; the pane keys F1–F4 share a line."""
    out = []
    for scope, title in SCOPES.items():
        rows = []
        for k in KEYS:
            if k.scope != scope or not k.help:
                continue
            if k.action and k.action.startswith("pane("):
                if k.keys == PANES[0][2]:
                    rows.append(("F1 / F2 / F3 / F4", "the Ask, Explore, SQL and System panes"))
                continue
            rows.append((shown(k), k.help))
        out.append((title, rows))
    return out


def markdown() -> str:
    """The README's key table."""
    lines = ["| where | key | what it does |", "|---|---|---|"]
    for title, rows in listed():
        for keys, text in rows:
            lines.append(f"| {title} | `{keys}` | {text} |")
    return "\n".join(lines)
