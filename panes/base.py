"""What every pane has: the facade once it is ready, and a way to rescope."""

from __future__ import annotations

from textual.containers import Container


class Pane(Container):
    lh = None

    def ready(self, lh) -> None:
        """The facade is open: fill in."""
        self.lh = lh
        self.rescope()

    def rescope(self) -> None:
        """The profile changed (or first fill): reload what the pane shows."""

    def focus_main(self) -> None:
        """Focus the pane's main widget when it is switched to."""

    def commands(self):
        """Command-palette entries (textual.app.SystemCommand) for this pane's actions."""
        return []
