"""A DataTable for panes (row cursor, rows updated in place by key, and no `enter` binding of
its own so that the pane's `enter` (with its description) shows in the footer), and the pane
built around one."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Static

from hermes_tui.widgets.pane import Pane, show

MIN_FLEX = 8  # the flexible column never shrinks below this


class Column:
    """width None: the column takes the room the fixed columns leave (like k9s' last column)."""

    def __init__(self, key: str, label: str, width: int | None = None) -> None:
        self.key, self.label, self.width = key, label, width


class PaneTable(DataTable, inherit_bindings=False):
    BINDINGS = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "scroll_top", "Top", show=False),
        Binding("end,G", "scroll_bottom", "Bottom", show=False),
    ]

    def __init__(self, columns: Sequence[Column], **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._columns = list(columns)
        for column in self._columns:
            self.add_column(column.label, key=column.key, width=column.width or MIN_FLEX)

    @property
    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        row = min(self.cursor_row, self.row_count - 1)
        return self.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value

    def upsert(self, key: str, cells: dict[str, Any]) -> None:
        """Add the row, or change only the cells that differ (no re-layout when none do)."""
        if key in self.rows:
            for column, value in cells.items():
                if self.get_cell(key, column) != value:
                    self.update_cell(key, column, value)
        else:
            self.add_row(*(cells.get(c.key, "") for c in self._columns), key=key)

    def drop(self, key: str) -> None:
        if key in self.rows:
            self.remove_row(key)

    def keep_only(self, keys: Iterable[str]) -> None:
        wanted = set(keys)
        for row_key in [k for k in self.rows if k.value not in wanted]:
            self.remove_row(row_key)

    def on_resize(self, event: events.Resize) -> None:
        self.fit(event.size.width)

    def fit(self, width: int) -> None:
        """Give the flexible columns what the fixed ones leave, so rows span the pane."""
        flex = [c for c in self._columns if c.width is None]
        if not flex or width <= 0:
            return
        pad = 2 * self.cell_padding
        fixed = sum(c.width + pad for c in self._columns if c.width is not None)
        room = width - fixed - pad * len(flex) - 1  # 1: the vertical scrollbar
        each = max(MIN_FLEX, room // len(flex))
        for spec in flex:
            column = self.columns[spec.key]
            column.auto_width, column.width = False, each
        # DataTable has no public call to resize a column; these two are what its own
        # add_column does (textual is pinned exactly).
        self._require_update_dimensions = True
        self._clear_caches()
        self.refresh()


class TablePane(Pane):
    """A pane around one PaneTable, with an optional detail line under it that tells the
    selected row's whole story (a cell never holds all of it)."""

    COLUMNS: ClassVar[Sequence[Column]] = ()
    TABLE_ID: ClassVar[str] = ""
    DETAIL_ID: ClassVar[str] = ""  # "" for no detail line

    def compose(self) -> ComposeResult:
        self._table = PaneTable(self.COLUMNS, id=self.TABLE_ID)
        yield self._table
        if self.DETAIL_ID:
            yield Static("", id=self.DETAIL_ID, classes="pane-detail", markup=False)

    @property
    def table(self) -> PaneTable:
        return self._table

    def detail_text(self) -> str:
        """What the detail line says about the selected row (panes with DETAIL_ID)."""
        return ""

    def show_detail(self) -> None:
        if self.DETAIL_ID:
            show(self.query_one(f"#{self.DETAIL_ID}", Static), self.detail_text())

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self.show_detail()
        self.refresh_bindings()
