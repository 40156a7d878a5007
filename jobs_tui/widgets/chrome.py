"""The bars around every screen: the top bar (views, where you are, the store) and alerts."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

View = tuple[str, str, str, str]
MIN_PATH = 24
"""Columns kept for the store's path; below that the views take their short names."""
"""Key, mode name, title, short title."""


def shorten_path(path: str, width: int) -> str:
    """`path` in at most `width` characters: cut from the left with `…` while its last part
    (the store's own name) stays whole, else the start of that name with `…` (`job…`, where
    the left cut gave `…ata`)."""
    if len(path) <= width:
        return path
    if width <= 1:
        return "…"[:width]
    name = path.rstrip("/").rsplit("/", 1)[-1] or path
    if len(name) < width:
        return "…" + path[len(path) - width + 1 :]
    return name[: width - 1] + "…"


class TopBar(Widget):
    """One line: the views with their keys (the current one lit), the screen's own title for
    pushed screens, then the store's path and a read-only badge on the right."""

    def __init__(
        self, views: Sequence[View], *, current: str | None, title: str = "", path: str = "",
        read_only: bool = False, id: str | None = None,
    ) -> None:  # fmt: skip
        super().__init__(id=id)
        self.views = list(views)
        self.current = current
        self.title = title
        self.path = path
        self.read_only = read_only

    def set_title(self, title: str) -> None:
        if title != self.title:
            self.title = title
            self.refresh()

    def render(self) -> Content:
        width = self.size.width
        left = self._views(short=False)
        if width - left.cell_length < MIN_PATH:
            left = self._views(short=True)  # short names leave room to say which store
        right = self._right(width - left.cell_length - 2)
        gap = max(1, width - left.cell_length - right.cell_length)
        return Content.assemble(left, " " * gap, right)

    def _views(self, *, short: bool) -> Content:
        parts: list[Content | tuple[str, str] | str] = []
        for key, mode, title, short_title in self.views:
            label = short_title if short else title
            if mode == self.current:
                parts.append((f" {key} {label} ", "bold $block-cursor-foreground on $primary"))
            else:
                parts.extend([(f" {key}", "bold $accent"), (f" {label} ", "$foreground")])
        if self.title:
            parts.append((f" {self.title} ", "bold $block-cursor-foreground on $primary"))
        return Content.assemble(*parts)

    def _right(self, room: int) -> Content:
        badge = " read-only " if self.read_only else ""
        path = shorten_path(self.path, max(0, room - len(badge) - 1))
        parts: list[tuple[str, str] | str] = [(path, "$text-muted")]
        if badge:
            parts.append((badge, "bold $background on $warning"))
        parts.append(" ")
        return Content.assemble(*parts)


class AlertBar(Static):
    """A line that appears only when something needs attention (no live engine)."""

    def show(self, text: str) -> None:
        self.display = bool(text)
        if text:
            self.update(Content.assemble(("⚠ ", "bold $text-error"), text))
