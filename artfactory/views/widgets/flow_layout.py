"""A layout that puts its widgets in a row and wraps them onto further rows when the row is too narrow."""

from __future__ import annotations

from PyQt6.QtCore import QPoint, QRect, QSize, Qt
from PyQt6.QtWidgets import QLayout, QLayoutItem, QSizePolicy, QWidget


class FlowLayout(QLayout):
    """Items at their size hint, left to right, wrapping; an item with a horizontal stretch policy
    (Expanding) takes the rest of its row. Nothing is ever squeezed below its hint, so no text is cut."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 6) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        self.setContentsMargins(0, 0, 0, 0)

    # -- the QLayout protocol ----------------------------------------------------------------------
    def addItem(self, item: QLayoutItem | None) -> None:
        if item is not None:
            self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:
        """Everything on one row."""
        hints = [item.sizeHint() for item in self._visible()]
        width = sum(h.width() for h in hints) + self._spacing * max(0, len(hints) - 1)
        height = max((h.height() for h in hints), default=0)
        margins = self.contentsMargins()
        return QSize(width + margins.left() + margins.right(), height + margins.top() + margins.bottom())

    def minimumSize(self) -> QSize:
        """The widest single item: narrower than that something would be cut."""
        size = QSize()
        for item in self._visible():
            size = size.expandedTo(item.sizeHint())
        margins = self.contentsMargins()
        return size + QSize(margins.left() + margins.right(), margins.top() + margins.bottom())

    # -- placing -----------------------------------------------------------------------------------
    def _visible(self) -> list[QLayoutItem]:
        return [item for item in self._items if not item.isEmpty()]

    def _arrange(self, rect: QRect, move: bool) -> int:
        """Lay the items out in `rect` (or only measure); returns the height used."""
        margins = self.contentsMargins()
        area = rect.adjusted(margins.left(), margins.top(), -margins.right(), -margins.bottom())
        rows: list[list[QLayoutItem]] = [[]]
        x = 0
        for item in self._visible():
            width = item.sizeHint().width()
            if rows[-1] and x + self._spacing + width > area.width():
                rows.append([])
                x = 0
            x += (self._spacing if rows[-1] else 0) + width
            rows[-1].append(item)
        y = area.y()
        for row in rows:
            if not row:
                continue
            height = max(item.sizeHint().height() for item in row)
            if move:
                self._place_row(row, QRect(area.x(), y, area.width(), height))
            y += height + self._spacing
        return y - self._spacing - area.y() + margins.top() + margins.bottom() if rows[0] else 0

    def _place_row(self, row: list[QLayoutItem], line: QRect) -> None:
        used = sum(item.sizeHint().width() for item in row) + self._spacing * (len(row) - 1)
        stretchers = [item for item in row if _expands(item)]
        extra = max(0, line.width() - used) // len(stretchers) if stretchers else 0
        x = line.x()
        for item in row:
            hint = item.sizeHint()
            width = hint.width() + (extra if item in stretchers else 0)
            height = min(line.height(), max(hint.height(), item.minimumSize().height()))
            top = line.y() + (line.height() - height) // 2
            item.setGeometry(QRect(QPoint(x, top), QSize(width, height)))
            x += width + self._spacing


def _expands(item: QLayoutItem) -> bool:
    widget = item.widget()
    return widget is not None and widget.sizePolicy().horizontalPolicy() in (
        QSizePolicy.Policy.Expanding, QSizePolicy.Policy.MinimumExpanding)
