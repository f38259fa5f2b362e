"""What every pane has: the facade once it is ready, and a way to rescope."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Container
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static

from .keys import bindings


class Pane(Container):
    lh = None

    def ready(self, lh) -> None:
        """The facade is open: fill in."""
        self.lh = lh
        self.rescope()

    def rescope(self) -> None:
        """The profile changed (or first fill): reload what the pane shows."""

    def main_widget(self):
        """The widget that takes focus when the pane is switched to."""
        return None

    def focus_main(self) -> None:
        """Focus the main widget at once, not after the keys already queued (widget.focus()
        waits for them): text typed right after F3 goes to the editor, not the hidden box."""
        widget = self.main_widget()
        if widget is not None:
            self.screen.set_focus(widget)

    def commands(self):
        """Command-palette entries (textual.app.SystemCommand) for this pane's actions."""
        return []


class FilterPicker(ModalScreen):
    """A list to pick from: type to filter, enter (or a click) picks, escape cancels.
    Subclasses give the heading and `choices(text)`: (label, value) pairs."""

    AUTO_FOCUS = "*"  # the app's own AUTO_FOCUS names a widget this screen does not have
    BINDINGS = bindings("picker")
    heading = ""

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[tuple[str, object]] = []

    def compose(self) -> ComposeResult:
        with Container(id="picker"):
            yield Static(self.heading)
            yield Input(placeholder="filter", id="picker-filter")
            yield OptionList(id="picker-list")

    def choices(self, text: str) -> list[tuple[str, object]]:
        raise NotImplementedError

    def on_mount(self) -> None:
        self._fill("")

    def _fill(self, text: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        self.shown = self.choices(text)
        for label, _ in self.shown:
            options.add_option(label)
        options.highlighted = 0 if self.shown else None

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        index = self.query_one(OptionList).highlighted
        self.dismiss(self.shown[index][1] if index is not None and self.shown else None)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.shown[event.option_index][1])

    def action_move(self, step: int) -> None:
        """up/down move through the list while typing in the filter."""
        options = self.query_one(OptionList)
        if self.shown:
            options.highlighted = max(0, min(len(self.shown) - 1, (options.highlighted or 0) + step))

    def action_close(self) -> None:
        self.dismiss(None)
