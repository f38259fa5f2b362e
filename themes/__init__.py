"""The workstation's themes, registered as Textual themes (`--theme` or [tui] theme).

Both keep to a small palette; Textual maps them onto the terminal's colours where it
can (ANSI mode respects the terminal's own)."""

from pathlib import Path

from textual.theme import Theme

CSS = Path(__file__).with_name("lakehouse.tcss")  # the workstation's layout

THEMES = [
    Theme(name="lakehouse-dark", primary="#4FA3D9", secondary="#7BC47F", accent="#E0A458",
          warning="#E0A458", error="#E06C75", success="#7BC47F", foreground="#D8DEE9",
          background="#14191F", surface="#1B222B", panel="#222B36", dark=True),
    Theme(name="lakehouse-light", primary="#1F6FA8", secondary="#3C8D40", accent="#B7701F",
          warning="#B7701F", error="#C0392B", success="#3C8D40", foreground="#1E2329",
          background="#F7F8FA", surface="#FFFFFF", panel="#E9EDF2", dark=False),
]
NAMES = [t.name for t in THEMES]
