"""A DataTable whose rows are keyed (by job id, engine id, task name) and updated in place."""

from __future__ import annotations

from collections.abc import Sequence

from textual.binding import Binding
from textual.widgets import DataTable

Cells = tuple[object, ...]
Row = tuple[str, Cells]
Column = tuple[str, str, int | None]
"""Column key, label and width (None: sized to its content)."""


def keeps_order(current: Sequence[str], wanted: Sequence[str]) -> bool:
    """Whether `wanted` is `current` minus some rows plus rows appended at the end."""
    present = set(wanted)
    kept = [key for key in current if key in present]
    return list(wanted[: len(kept)]) == kept


class KeyedTable(DataTable[object]):
    """Rows keyed by a stable key; `sync` changes only what changed, so cursor and scroll
    survive a refresh."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Detail", id="table.open"),
        Binding("j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("k", "cursor_up", "Up", show=False, id="table.up"),
    ]

    def __init__(self, columns: Sequence[Column], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._columns = list(columns)
        self._rows: dict[str, Cells] = {}

    def on_mount(self) -> None:
        for key, label, width in self._columns:
            self.add_column(label, key=key, width=width)

    @property
    def selected_key(self) -> str | None:
        """Key of the row under the cursor, None when the table is empty."""
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def sync(self, rows: Sequence[Row]) -> None:
        """Show exactly `rows`, in order: update changed cells, remove and append rows, and
        rebuild only when the order changed (keeping the cursor on the same key)."""
        wanted = [key for key, _ in rows]
        with self.app.batch_update():
            if keeps_order([r.key.value or "" for r in self.ordered_rows], wanted):
                for key in set(self._rows) - set(wanted):
                    self.remove_row(key)
                for key, cells in rows:
                    if key in self._rows:
                        self._update_row(key, cells)
                    else:
                        self.add_row(*cells, key=key)
            else:
                self._rebuild(rows)
        self._rows = dict(rows)

    def _update_row(self, key: str, cells: Cells) -> None:
        old = self._rows[key]
        for (column, _, width), before, after in zip(self._columns, old, cells, strict=True):
            if before != after:
                self.update_cell(key, column, after, update_width=width is None)

    def _rebuild(self, rows: Sequence[Row]) -> None:
        selected = self.selected_key
        scroll_y = self.scroll_y
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)
        keys = [key for key, _ in rows]
        if selected in keys:
            self.move_cursor(row=keys.index(selected), scroll=False)
        self.scroll_to(y=scroll_y, animate=False, immediate=True)
