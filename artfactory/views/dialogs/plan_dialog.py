"""The Plan view (what Run will execute, take from the cache and bill, with estimates) and the budget confirmation."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from artfactory.controllers.graph_controller import GraphController
from artfactory.controllers.money_controller import PlanWatcher, RunCheck, badge_text, badge_tip
from artfactory.providers.pricing import NodeEstimate, PlanEstimate, format_usd
from artfactory.views import icons

COLUMNS = ("Node", "Action", "Bills", "Estimate", "Provider · model")


def summary(estimate: PlanEstimate) -> str:
    """One line: how many nodes execute, come from the cache and bill, and the estimated total."""
    nodes = estimate.nodes.values()
    execute = sum(1 for e in nodes if e.action == "execute")
    cached = sum(1 for e in nodes if e.action == "cached")
    paid = sum(1 for e in nodes if e.paid and e.action == "execute")
    parts = [f"{execute} node{'s' if execute != 1 else ''} execute ({paid} paid)", f"{cached} from the cache"]
    other = len(estimate.nodes) - execute - cached
    if other:
        parts.append(f"{other} bypassed or muted")
    return " · ".join(parts) + f" — estimated total ≈ {format_usd(estimate.estimated_usd)}"


def unpriced_line(estimate: PlanEstimate) -> str:
    if not estimate.unpriced:
        return ""
    count = len(estimate.unpriced)
    return (f"{count} paid node{'s' if count != 1 else ''} without a price, not in the total: "
            f"{', '.join(estimate.unpriced)} — set a price in Preferences → Prices & budget")


def _estimate_cell(node: NodeEstimate) -> str:
    if node.action != "execute":
        return "free"
    if not node.paid:
        return "—"
    return badge_text(node)


def fill_tree(tree: QTreeWidget, graph: GraphController, estimate: PlanEstimate) -> None:
    tree.clear()
    for node_id, node in estimate.nodes.items():
        title = graph.display_title(node_id) if graph.doc.node(node_id) is not None else node_id
        who = f"{node.provider} · {node.model}" if node.paid else ""
        row = QTreeWidgetItem([f"{title} ({node_id})" if title != node_id else node_id, node.action,
                               "yes" if node.paid and node.action == "execute" else "no",
                               _estimate_cell(node), who])
        row.setData(0, Qt.ItemDataRole.UserRole, node_id)
        row.setTextAlignment(3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        tip = badge_tip(node)
        for column in range(len(COLUMNS)):
            row.setToolTip(column, tip)
        tree.addTopLevelItem(row)


def _tree() -> QTreeWidget:
    tree = QTreeWidget()
    tree.setObjectName("PlanTree")
    tree.setRootIsDecorated(False)
    tree.setUniformRowHeights(True)
    tree.setHeaderLabels(list(COLUMNS))
    header = tree.header()
    assert header is not None  # a tree always has its header; PyQt's stubs mark every pointer optional
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for column in range(1, len(COLUMNS)):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(False)
    return tree


class PlanDialog(QDialog):
    """Run → Plan…: the graph's plan, kept current while it is open (edits re-plan after a pause)."""

    run_requested = pyqtSignal()
    node_selected = pyqtSignal(str)

    def __init__(self, graph: GraphController, watcher: PlanWatcher, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graph, self.watcher = graph, watcher
        self.setObjectName("PlanDialog")
        self.setWindowTitle(f"Plan — {graph.title()}")
        self.resize(760, 420)
        self.heading = QLabel("Planning…")
        self.heading.setObjectName("PlanSummary")
        self.heading.setProperty("role", "heading")
        self.heading.setWordWrap(True)
        self.unpriced = QLabel()
        self.unpriced.setObjectName("PlanUnpriced")
        self.unpriced.setProperty("role", "error")
        self.unpriced.setWordWrap(True)
        note = QLabel("A plan sends nothing to any provider: it reads the cache, the prices and your recorded runs.")
        note.setProperty("role", "dim")
        note.setWordWrap(True)
        self.tree = _tree()
        self.tree.itemDoubleClicked.connect(
            lambda item, _c: self.node_selected.emit(item.data(0, Qt.ItemDataRole.UserRole)))
        buttons = QDialogButtonBox()
        self.run_button = QPushButton(icons.icon("run", "#3fb27f"), "Run")
        self.run_button.setObjectName("PlanRunButton")
        buttons.addButton(self.run_button, QDialogButtonBox.ButtonRole.AcceptRole)
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        assert close is not None
        close.clicked.connect(self.reject)
        self.run_button.clicked.connect(self._run)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.unpriced)
        layout.addWidget(self.tree, 1)
        layout.addWidget(note)
        layout.addWidget(buttons)
        watcher.updated.connect(self.show_estimate)
        if watcher.planned:
            self.show_estimate()
        else:
            watcher.refresh_now()  # now, not after the debounce: the user asked

    def show_estimate(self) -> None:
        estimate = self.watcher.estimate
        if estimate is None:
            self.heading.setText(self.watcher.error[:1].upper() + self.watcher.error[1:] if self.watcher.error
                                 else "Planning…")
            self.unpriced.setText("")
            self.tree.clear()
            self.run_button.setEnabled(False)
            return
        self.heading.setText(summary(estimate))
        self.unpriced.setText(unpriced_line(estimate))
        self.unpriced.setVisible(bool(estimate.unpriced))
        fill_tree(self.tree, self.graph, estimate)
        self.run_button.setEnabled(True)

    def rows(self) -> list[list[str]]:
        return [[item.text(c) for c in range(len(COLUMNS))] for i in range(self.tree.topLevelItemCount())
                if (item := self.tree.topLevelItem(i)) is not None]

    def _run(self) -> None:
        self.accept()
        self.run_requested.emit()


class BudgetDialog(QDialog):
    """Run asks first: the estimate, the reasons (threshold, monthly budget, unpriced nodes), Run anyway / Cancel.
    Cancel (the default, and Esc) sends nothing."""

    def __init__(self, graph: GraphController, check: RunCheck, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("BudgetDialog")
        self.setWindowTitle("Confirm a paid run — Art Factory")
        self.resize(640, 380)
        estimate = check.estimate
        heading = QLabel(f"Run {graph.title()}? Estimated ≈ {format_usd(estimate.estimated_usd)}" if estimate
                         else f"Run {graph.title()}?")
        heading.setObjectName("BudgetHeading")
        heading.setProperty("role", "heading")
        heading.setWordWrap(True)
        self.reasons = QLabel("\n".join(f"• {reason}" for reason in check.reasons))
        self.reasons.setObjectName("BudgetReasons")
        self.reasons.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.reasons)
        self.tree = _tree()
        if estimate is not None:
            layout.addWidget(QLabel(summary(estimate)))
            fill_tree(self.tree, graph, estimate)
            layout.addWidget(self.tree, 1)
        buttons = QDialogButtonBox()
        self.run_button = QPushButton("Run anyway")
        self.run_button.setObjectName("RunAnywayButton")
        self.run_button.setAutoDefault(False)
        buttons.addButton(self.run_button, QDialogButtonBox.ButtonRole.AcceptRole)
        cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        assert cancel is not None
        self.cancel_button = cancel
        cancel.setDefault(True)
        self.run_button.clicked.connect(self.accept)
        cancel.clicked.connect(self.reject)
        layout.addWidget(buttons)
