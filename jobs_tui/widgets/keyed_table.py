"""A DataTable whose rows are keyed (by job id, engine id, task name) and updated in place,
with columns that share the width and drop the least useful first when it is narrow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.console import JustifyMethod
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widgets import DataTable

Cells = Mapping[str, object]
Row = tuple[str, Cells]
"""A row's key and its cells by column key (cells of hidden columns are ignored)."""

CELL_PADDING = 1
"""DataTable's padding on each side of a cell."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its least readable width, its share of spare width, how long it stays."""

    key: str
    label: str
    width: int
    """Width below which the column is not worth showing (its content is cut beyond it)."""
    grow: int = 0
    """Share of the spare width it takes (0: fixed at `width`)."""
    keep: int = 5
    """Priority when the table is narrow: lower values are dropped first."""
    most: int | None = None
    """Widest it gets, if bounded."""
    right: bool = False
    """Numbers: the label is right-aligned over the right-aligned cells."""


def layout(
    columns: Sequence[Column], width: int, content: Mapping[str, int] | None = None
) -> list[tuple[Column, int]]:
    """The columns shown in `width` cells and the width of each: drop the lowest `keep`
    until the rest fit, then share what is left by `grow`, first up to what each column's
    content needs (`content`: widest cell per column), then up to `most`."""
    shown = list(columns)
    while len(shown) > 1 and _needed(shown) > width:
        lowest = min(shown, key=lambda c: c.keep)
        shown.remove(lowest)
    if content is not None:
        _drop_for_content(shown, width, content)
    spare = max(0, width - _needed(shown))
    widths = {c.key: c.width for c in shown}
    growing = [c for c in shown if c.grow]
    if content is not None:
        needs = {c.key: max(c.width, content.get(c.key, 0)) for c in growing}
        spare = _share(widths, growing, spare, needs)
    _share(widths, growing, spare, {})
    return [(c, widths[c.key]) for c in shown]


def _drop_for_content(shown: list[Column], width: int, content: Mapping[str, int]) -> None:
    """Drop low-value columns while a more valuable column would be cut: a task's name in
    full is worth more than its last run time."""

    def need(c: Column) -> int:
        wanted = max(c.width, content.get(c.key, 0)) if c.grow else c.width
        return min(wanted, c.most) if c.most is not None else wanted

    while len(shown) > 1:
        if sum(need(c) + 2 * CELL_PADDING for c in shown) <= width:
            return
        cut = [c for c in shown if c.grow and need(c) > c.width]
        lowest = min(shown, key=lambda c: c.keep)
        if not cut or lowest.keep >= min(c.keep for c in cut):
            return
        shown.remove(lowest)


def _share(
    widths: dict[str, int], growing: list[Column], spare: int, caps: Mapping[str, int]
) -> int:
    """Give `spare` cells to `growing` columns by weight, none beyond its cap or `most`;
    returns what is left."""

    def cap(c: Column) -> int | None:
        limits = [v for v in (c.most, caps.get(c.key)) if v is not None]
        return min(limits) if limits else None

    open_ = [c for c in growing if (limit := cap(c)) is None or widths[c.key] < limit]
    while spare > 0 and open_:
        total = sum(c.grow for c in open_)
        given = 0
        for c in open_:
            share = min(max(1, spare * c.grow // total), spare - given)
            limit = cap(c)
            if limit is not None:
                share = min(share, limit - widths[c.key])
            widths[c.key] += share
            given += share
        spare -= given
        open_ = [c for c in open_ if (limit := cap(c)) is None or widths[c.key] < limit]
        if given == 0:
            break
    return spare


def _needed(columns: Sequence[Column]) -> int:
    return sum(c.width + 2 * CELL_PADDING for c in columns)


class KeyedTable(DataTable[object]):
    """Rows keyed by a stable key; `sync` changes only what changed and keeps the cursor on
    its row's key (never on a position); columns are laid out again when the width changes."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("k", "cursor_up", "Up", show=False, id="table.up"),
    ]

    def __init__(self, columns: Sequence[Column], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.specs = list(columns)
        self._rows: dict[str, Cells] = {}
        self._order: list[str] = []
        self._shown: list[tuple[Column, int]] = []
        self._sort: tuple[str, bool] | None = None
        self._content: dict[str, int] = {}

    # -- columns ----------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._layout()

    def on_mount(self) -> None:
        self._layout()

    def _layout(self) -> None:
        if self._new_layout():
            self._rebuild(columns=True)

    def _new_layout(self) -> bool:
        """Lay the columns out for the current width and content; True if that changed."""
        available = self.size.width  # the content width: any scrollbar is outside it
        if available <= 0:
            return False
        shown = layout(self.specs, available, self._content)
        if shown == self._shown:
            return False
        self._shown = shown
        return True

    def shows(self, key: str) -> bool:
        """Whether column `key` fits at the current width."""
        return any(c.key == key for c, _ in self._shown)

    def set_sort(self, key: str | None, descending: bool = False) -> None:
        """Show an arrow on the sorted column (the caller orders the rows)."""
        sort = None if key is None else (key, descending)
        if sort != self._sort:
            self._sort = sort
            self._rebuild(columns=True)

    def _label(self, column: Column) -> Text:
        justify: JustifyMethod = "right" if column.right else "left"
        if self._sort is not None and self._sort[0] == column.key:
            return Text(column.label + (" ▼" if self._sort[1] else " ▲"), justify=justify)
        return Text(column.label, justify=justify)

    # -- rows -------------------------------------------------------------------------------

    @property
    def keys(self) -> list[str]:
        """The row keys, in the order shown."""
        return list(self._order)

    @property
    def selected_key(self) -> str | None:
        """Key of the row under the cursor, None when the table is empty."""
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def select_key(self, key: str | None) -> None:
        """Put the cursor on row `key` (no move if it is not shown)."""
        if key is not None and key in self._order:
            index = self._order.index(key)
            if index != self.cursor_row:
                self.move_cursor(row=index, scroll=False)

    def sync(self, rows: Sequence[Row], *, select: str | None = None) -> None:
        """Show exactly `rows`, in order: update changed cells, remove and append rows, and
        rebuild only when the order changed. The cursor stays on its key, or goes to `select`
        when given (its key left)."""
        selected = select or self.selected_key
        wanted = [key for key, _ in rows]
        new_rows = dict(rows)
        content = _content_widths(self.specs, rows)
        if content != self._content:
            self._content = content
            if self._new_layout():
                self._rows, self._order = new_rows, wanted
                self._rebuild(columns=True, select=selected)
                return
        if not self._shown:
            self._rows, self._order = new_rows, wanted
            return
        with self.app.batch_update():
            if keeps_order(self._order, wanted):
                for key in set(self._order) - set(wanted):
                    self.remove_row(key)
                for key, cells in rows:
                    if key in self._rows:
                        self._update_row(key, cells)
                    else:
                        self.add_row(*self._cells(cells), key=key)
                self._rows, self._order = new_rows, wanted
            else:
                self._rows, self._order = new_rows, wanted
                self._rebuild(columns=False, select=selected)
            self.select_key(selected)

    def _cells(self, cells: Cells) -> list[object]:
        return [cells.get(column.key, "") for column, _ in self._shown]

    def _update_row(self, key: str, cells: Cells) -> None:
        old = self._rows[key]
        for column, _ in self._shown:
            after = cells.get(column.key, "")
            if old.get(column.key, "") != after:
                self.update_cell(key, column.key, after)

    def _rebuild(self, *, columns: bool, select: str | None = None) -> None:
        selected = select or self.selected_key
        scroll_y = self.scroll_y
        with self.app.batch_update():
            self.clear(columns=columns)
            if columns:
                for column, width in self._shown:
                    self.add_column(self._label(column), key=column.key, width=width)
            for key in self._order:
                self.add_row(*self._cells(self._rows[key]), key=key)
            if selected in self._order:
                self.move_cursor(row=self._order.index(selected), scroll=False)
            self.scroll_to(y=scroll_y, animate=False, immediate=True)


def _content_widths(columns: Sequence[Column], rows: Sequence[Row]) -> dict[str, int]:
    """The widest cell of each growing column, rounded up to 4 so a column does not change
    width (and the table is not laid out again) for every character."""
    widths: dict[str, int] = {}
    for column in columns:
        if not column.grow:
            continue
        widest = len(column.label)
        for _, cells in rows:
            cell = cells.get(column.key, "")
            widest = max(widest, cell.cell_len if isinstance(cell, Text) else len(str(cell)))
        widths[column.key] = -(-widest // 4) * 4
    return widths


def keeps_order(current: Sequence[str], wanted: Sequence[str]) -> bool:
    """Whether `wanted` is `current` minus some rows plus rows appended at the end."""
    present = set(wanted)
    kept = [key for key in current if key in present]
    return list(wanted[: len(kept)]) == kept
