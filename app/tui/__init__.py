"""The workstation: a Textual app over core.Lakehouse (app.py), its own screens
(screens.py); the panes live in panes/, one module each, and every key in panes/keys.py."""

from app.tui.app import LakehouseApp, run

__all__ = ["LakehouseApp", "run"]
