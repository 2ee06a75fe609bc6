"""Money in the app: a graph's plan and estimate (debounced, off the UI thread) and the budget check before Run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from PyQt6.QtCore import QObject, QTimer, pyqtSignal

from artfactory.controllers.background import BackgroundCall
from artfactory.controllers.graph_controller import GraphController
from artfactory.engine.executor import Executor
from artfactory.engine.plan import PlanError
from artfactory.providers import pricing
from artfactory.providers.pricing import NodeEstimate, PlanEstimate, PriceBook
from artfactory.services.library import Library

log = logging.getLogger(__name__)
DEBOUNCE_MS = 300  # typing in a param field re-plans once it pauses, not per keystroke
BUDGET_PLACE = "Preferences → Prices & budget"


def badge_text(estimate: NodeEstimate) -> str:
    """What a node's cost badge says: "≈ $0.012", "cached · free", "unpriced"; "" for a node that never bills."""
    if not estimate.paid:
        return ""
    if estimate.action == "cached":
        return "cached · free"
    if estimate.action != "execute":  # bypassed or muted: it sends nothing
        return f"{estimate.action} · free"
    if estimate.estimated_usd is None:
        return "unpriced"
    return "≈ " + pricing.format_usd(estimate.estimated_usd)


def badge_tip(estimate: NodeEstimate) -> str:
    """The badge's tooltip: what bills, at which price, and the estimate's assumptions."""
    if not estimate.paid:
        return ""
    lines = [f"{estimate.provider} · {estimate.model or '(no model)'}"]
    if estimate.action == "cached":
        lines.append("Its result is in the cache: running the graph sends nothing for this node.")
    elif estimate.action == "execute":
        if estimate.unit:
            lines.append(f"{pricing.format_usd(estimate.unit_usd)} per {estimate.unit} ({estimate.price_source} price)")
        if estimate.jobs is not None:
            lines.append(f"{estimate.jobs} paid job{'s' if estimate.jobs != 1 else ''}")
    lines.extend(estimate.notes)
    return "\n".join(lines)


@dataclass
class RunCheck:
    """What Run is about to spend and why the user should confirm it (no reasons: start without asking)."""

    estimate: PlanEstimate | None
    reasons: list[str] = field(default_factory=list)
    month_spent: float = 0.0

    @property
    def needs_confirmation(self) -> bool:
        return bool(self.reasons)


class PlanWatcher(QObject):
    """Keeps one graph's estimate current: re-planned DEBOUNCE_MS after an edit, after a run ends and when prices
    change; planning and the cache/ledger reads run on a worker thread. `updated` fires with each new answer."""

    updated = pyqtSignal()

    def __init__(self, money: MoneyController, graph: GraphController) -> None:
        super().__init__(graph)
        self.money, self.graph = money, graph
        self.estimate: PlanEstimate | None = None
        self.error = ""  # why there is no estimate (e.g. the graph has problems)
        self.planned = False  # an answer arrived since the last change
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.refresh_now)
        self._call = BackgroundCall(self)
        self._call.finished.connect(self._on_finished)
        self._call.failed.connect(self._on_failed)
        # mode_changed: a bypassed or muted node bills nothing; node_meta_changed: "random each run" always runs.
        for signal in (graph.node_added, graph.node_removed, graph.param_changed, graph.edge_added,
                       graph.edge_removed, graph.mode_changed, graph.node_meta_changed, graph.document_reset):
            signal.connect(self.schedule)
        graph.run_state.finished.connect(self.schedule)
        money.prices_changed.connect(self.schedule)

    def schedule(self, *_args: object) -> None:
        self.planned = False
        self._timer.start()

    @property
    def busy(self) -> bool:
        return self._timer.isActive() or self._call.busy

    def refresh_now(self) -> None:
        self._timer.stop()
        self.planned = False
        work = self.money.estimate_job(self.graph)
        self._call.call(work)

    def _on_finished(self, result: object) -> None:
        self.estimate = result if isinstance(result, PlanEstimate) else None
        self.error = "" if self.estimate is not None else str(result)
        self.planned = True
        self.updated.emit()

    def _on_failed(self, message: str) -> None:
        self.estimate, self.error, self.planned = None, f"could not estimate the run: {message}", True
        self.updated.emit()


class MoneyController(QObject):
    """Plans and prices graphs for the app; one price book shared by every tab."""

    prices_changed = pyqtSignal()  # the user set, deleted or refreshed prices: estimates are re-made

    def __init__(self, library: Library, executor: Executor, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.executor = executor
        self.book = PriceBook(library)

    def watch(self, graph: GraphController) -> PlanWatcher:
        """The graph's live estimate (the watcher lives and dies with the graph)."""
        watcher = PlanWatcher(self, graph)
        watcher.schedule()
        return watcher

    def estimate_job(self, graph: GraphController, only: list[str] | None = None) -> Callable[[], object]:
        """A function for a worker thread: plan a copy of the document as it is now and price the plan; returns
        the PlanEstimate, or a one-line reason (str) when the graph cannot be planned."""
        doc = graph.doc.copy()
        seeds = dict(graph.pinned_seeds)
        rerolled = graph.seed_nodes("random")  # "random each run" nodes run (and bill) on every Run
        executor, book, library = self.executor, self.book, self.library

        def work() -> object:
            try:
                plan = executor.plan(doc, pinned_seeds=seeds, only=only, reroll_nodes=rerolled)
            except PlanError as exc:
                return f"the graph has problems: {exc}"
            return book.estimate_plan(library, plan)

        return work

    def estimate(self, graph: GraphController, only: list[str] | None = None) -> PlanEstimate | str:
        """The same, now, on this thread (Run asks once, before it sends anything)."""
        result = self.estimate_job(graph, only)()
        assert isinstance(result, PlanEstimate | str)
        return result

    def check_run(self, graph: GraphController, only: list[str] | None = None) -> RunCheck:
        """Whether Run must ask first: an estimate over the confirmation threshold (0: any paid run), past the
        monthly budget, or paid nodes without a price while a monthly budget is set. A graph that cannot be planned
        needs no confirmation (Run says what is wrong and sends nothing)."""
        settings = self.library.settings
        try:
            result = self.estimate(graph, only)
        except Exception as exc:  # an unreadable cache or ledger: ask rather than spend blind
            log.warning("could not estimate the run: %s", exc)
            return RunCheck(None, [f"The run's cost could not be estimated ({exc})."])
        if isinstance(result, str) or not result.executes_paid:
            return RunCheck(result if isinstance(result, PlanEstimate) else None)
        estimate = result
        total = estimate.estimated_usd
        confirm = float(settings.confirm_above_usd or 0.0)
        monthly = float(settings.budget_monthly_usd or 0.0)
        reasons: list[str] = []
        if confirm > 0 and total > confirm:
            reasons.append(f"The run is estimated at ≈ {pricing.format_usd(total)}, above the "
                           f"{pricing.format_usd(confirm)} you asked to confirm ({BUDGET_PLACE}).")
        elif confirm <= 0:
            reasons.append(f"The run starts paid jobs (≈ {pricing.format_usd(total)}) and {BUDGET_PLACE} asks "
                           "before every paid run.")
        spent = 0.0
        if monthly > 0:
            spent = pricing.month_spent(self.library)
            if spent + total > monthly + 1e-9:
                reasons.append(f"With ≈ {pricing.format_usd(total)} more, this month's spend "
                               f"({pricing.format_usd(spent)} so far) would pass your monthly budget of "
                               f"{pricing.format_usd(monthly)}.")
        if estimate.unpriced and monthly > 0:  # a budget cannot be kept with costs nobody can tell
            count = len(estimate.unpriced)
            names = ", ".join(estimate.unpriced[:5]) + (" …" if count > 5 else "")
            reasons.append(f"{count} node{'s' if count != 1 else ''} will bill but "
                           f"{'have' if count != 1 else 'has'} no price ({names}): the estimate leaves "
                           f"{'them' if count != 1 else 'it'} out.")
        return RunCheck(estimate, reasons, spent)

    def notify_prices_changed(self) -> None:
        self.prices_changed.emit()
