"""Domain events as Qt signals: what the app's views and the CLI's progress display listen to."""

from __future__ import annotations

from PyQt6.QtCore import QObject, pyqtSignal


class DomainSignals(QObject):
    """Run events (DESIGN §4). Arguments are plain str/float so queued connections need no registration."""

    order_created = pyqtSignal(str)  # order_id
    order_started = pyqtSignal(str)  # order_id
    node_started = pyqtSignal(str, str)  # order_id, node_id
    node_progress = pyqtSignal(str, str, float, str)  # order_id, node_id, percent, message
    node_finished = pyqtSignal(str, str, str, str)  # order_id, node_id, status, error ("" when none)
    product_created = pyqtSignal(str, str, str)  # order_id, node_id, product_id
    order_finished = pyqtSignal(str, str)  # order_id, status
    thumbnails_ready = pyqtSignal(str)  # product_id: its small/medium/large thumbnails are on disk
