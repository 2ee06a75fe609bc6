"""Domain events as Qt signals: what the app's views and the CLI's progress display listen to."""

from __future__ import annotations

from PyQt6.QtCore import QObject, pyqtSignal


class DomainSignals(QObject):
    """Run events (DESIGN §4). Statuses travel as their string values (NodeStatus/OrderStatus are StrEnums)."""

    order_created = pyqtSignal(str)  # order_id
    order_started = pyqtSignal(str)  # order_id
    node_started = pyqtSignal(str, str)  # order_id, node_id
    # An artfactory.engine.status.NodeProgress (order_id, node_id, percent, message); this layer sits below the
    # engine, so the signal names it `object` (emitted and received on the owner thread, no registration needed).
    node_progress = pyqtSignal(object)
    node_finished = pyqtSignal(str, str, str, str)  # order_id, node_id, status, error ("" when none)
    product_created = pyqtSignal(str, str, str)  # order_id, node_id, product_id
    order_finished = pyqtSignal(str, str)  # order_id, status
    thumbnails_ready = pyqtSignal(str)  # product_id: its small/medium/large thumbnails are on disk
