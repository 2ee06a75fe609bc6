"""A product in its own window: the viewer with lineage, opened from a node's thumbnail or the gallery."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QDialog, QVBoxLayout, QWidget

from artfactory.services.library import Library
from artfactory.services.product_records import ProductLineage
from artfactory.views.viewer.viewer import ProductViewer


class ProductDialog(QDialog):
    """A non-modal window around one `ProductViewer`; the main window connects its signals once and reuses it."""

    def __init__(self, library: Library, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ProductWindow")
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.resize(1180, 760)
        self.viewer = ProductViewer(library, self, orientation=Qt.Orientation.Horizontal)
        self.viewer.product_deleted.connect(lambda _pid: self.close())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.viewer)

    @property
    def detail(self) -> ProductLineage | None:
        return self.viewer.detail

    def show_product(self, product_id: str) -> bool:
        """Show it (raising the window); False when the product is no longer in the library."""
        self.viewer.show_product(product_id)
        detail = self.viewer.detail
        if detail is None:
            return False
        name = detail.name or detail.id
        self.setWindowTitle(f"{name} — Art Factory")
        self.show()
        self.raise_()
        self.activateWindow()
        return True
