"""The help modal: the keys of the screen underneath, grouped (this screen, go to, app)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

INTRO = (
    "jobs admin: durable background jobs. The list views follow new jobs while you are at "
    "the top; the cursor stays on its job."
)
MOVE = ("↑ ↓  j k  PgUp PgDn  Home End", "Move the cursor")
PALETTE = ("ctrl+p", 'Command palette (every action; "job 1234" opens a job)')

Group = tuple[str, list[tuple[str, str]]]
"""A titled list of (key, what it does)."""


def help_groups(screen: Screen[Any], app: App[Any]) -> list[Group]:
    """The keys active on `screen`: its own first, then the views, then the app's."""
    own: list[tuple[str, str]] = []
    views: list[tuple[str, str]] = []
    general: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description or screen.check_action(_name(binding.action), ()) is False:
            continue  # hidden here (read-only)
        entry = (app.get_key_display(binding) or key, binding.description)
        if entry in seen or binding.id is None:
            continue  # stock widget keys (table cursor, focus) are summed up in one line
        seen.add(entry)
        if active.node is app:
            (views if binding.action.startswith("app.show") else general).append(entry)
        else:
            own.append(entry)
    own.append(MOVE)
    general.append(PALETTE)
    return [("This screen", own), ("Go to", views), ("App", general)]


def _name(action: str) -> str:
    """`cancel` from `cancel` or `app.show('queue')`."""
    return action.split(".")[-1].split("(")[0]


class HelpScreen(ModalScreen[None]):
    """Shows the key groups gathered from the screen underneath."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help.close")]

    def __init__(self, groups: Sequence[Group]) -> None:
        super().__init__()
        self.groups = list(groups)

    @property
    def keys(self) -> list[tuple[str, str]]:
        """Every (key, description), in the order shown."""
        return [entry for _, entries in self.groups for entry in entries]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog"):
            yield Static("Help", id="help-title")
            yield Static(INTRO, id="help-intro")
            for title, entries in self.groups:
                if not entries:
                    continue
                yield Static(title, classes="help-group")
                lines = [Content.assemble((f"{key:>14}", "bold $accent"), "  ", text)
                         for key, text in entries]  # fmt: skip
                yield Static(Content("\n").join(lines), classes="help-keys")

    def action_close(self) -> None:
        self.dismiss()
