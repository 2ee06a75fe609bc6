"""The price book: shipped, provider-published and user prices; what a run will cost, and what a job did cost."""

from __future__ import annotations

import logging
import math
import re
import statistics
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from artfactory.engine.cost import Cost, Usage
from artfactory.engine.nodetypes import PARAM_INPUT_PREFIX
from artfactory.providers import registry
from artfactory.services.prices import SOURCES, PriceStore, UnitPrice

if TYPE_CHECKING:
    from artfactory.engine.plan import Plan, PlannedNode
    from artfactory.engine.ports import RunServices
    from artfactory.providers.registry import ProviderSpec
    from artfactory.services.library import Library

log = logging.getLogger("artfactory")
DIGITS = 6  # sums of float prices: a millionth of a dollar, without binary noise
RELOAD_S = 10.0  # a long-lived book (the app's) reads prices another process set within this long
LEDGER_ROWS = 2000  # newest priced order items read for the median run time of a model
ASSUMED_MEGAPIXELS = 1.0  # a 1024 × 1024 image, when neither the estimate nor the input says the size
# Input fields that ask for several outputs per job, by the names the providers' models use.
OUTPUT_COUNT_FIELDS = ("num_outputs", "num_images", "n", "batch_size", "number_of_images")


def format_usd(value: float | None) -> str:
    """An amount as people read it: "$1.25", "$0.0896", "$0.00"; "unpriced" for None."""
    if value is None:
        return "unpriced"
    if value == 0:
        return "$0.00"
    if value >= 1:
        return f"${value:,.2f}"
    if value < 0.0001:
        return f"${value:.1e}"
    text = f"{value:.3g}"  # three significant digits say a tenth of a cent apart, but never "$0.5"
    return f"${text}" if len(text.partition(".")[2]) >= 2 else f"${value:.2f}"


def model_keys(model: str) -> list[str]:
    """The price-book keys a model name may be priced under, most specific first: the name itself, then the name
    without each trailing ":part" (Replicate's "owner/name:version" → "owner/name"; "gpt-image-1:high:1024x1024"
    → "gpt-image-1:high" → "gpt-image-1")."""
    keys = [model]
    while ":" in model:
        model = model.rsplit(":", 1)[0]
        if model:
            keys.append(model)
    return keys


# --- the book ---------------------------------------------------------------------------------------------

_generation = 0  # bumped by every write through this module, so books in this process reload at once
_generation_lock = threading.Lock()


def _changed() -> None:
    global _generation
    with _generation_lock:
        _generation += 1


class PriceBook:
    """Every price a library knows, with precedence user > provider > shipped (engine.cost.CostBook)."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.store = PriceStore(library)
        self._lock = threading.Lock()
        self._rows: list[UnitPrice] | None = None
        self._read_at = 0.0
        self._read_generation = -1

    # -- reading ------------------------------------------------------------------------------------------
    def _stored(self) -> list[UnitPrice]:
        with self._lock:
            fresh = (self._rows is not None and self._read_generation == _generation
                     and time.monotonic() - self._read_at < RELOAD_S)
            if not fresh:
                try:
                    self._rows = self.store.rows()
                except Exception as exc:  # an unreadable table must not stop a run: shipped prices still apply
                    log.warning("could not read the stored prices: %s", exc)
                    self._rows = self._rows or []
                self._read_at = time.monotonic()
                self._read_generation = _generation
            return list(self._rows or [])

    def all_prices(self) -> list[UnitPrice]:
        """Shipped prices of every registered provider and every stored row, in no particular precedence."""
        shipped = [price for spec in registry.all() for price in spec.prices]
        return shipped + self._stored()

    def _by_key(self) -> dict[tuple[str, str], dict[str, UnitPrice]]:
        book: dict[tuple[str, str], dict[str, UnitPrice]] = {}
        for price in self.all_prices():
            # A shipped book listing a model twice: the first entry is the one it means.
            book.setdefault((price.provider, price.model), {}).setdefault(price.source, price)
        return book

    def prices(self) -> list[UnitPrice]:
        """One effective price per provider and model, each followed by the prices it overrides (their
        `overridden_by` names the winning source)."""
        out: list[UnitPrice] = []
        for (_provider, _model), by_source in sorted(self._by_key().items()):
            ranked = [by_source[s] for s in SOURCES if s in by_source]
            winner = ranked[0]
            out.append(winner)
            out.extend(replace(p, overridden_by=winner.source) for p in ranked[1:])
        return out

    def price_for(self, provider: str, model: str) -> UnitPrice | None:
        """The price that applies to one model: the user's, else the provider's published one, else the shipped
        one; within a source the most specific key wins (see model_keys)."""
        book = self._by_key()
        keys = model_keys(model)
        for source in SOURCES:
            for key in keys:
                price = book.get((provider, key), {}).get(source)
                if price is not None:
                    # A shipped typical run time still helps estimate a user's per-second price of the same model.
                    if price.unit == "second" and price.typical_seconds is None:
                        typical = _typical_seconds(book, provider, keys)
                        if typical is not None:
                            price = replace(price, typical_seconds=typical)
                    return price
        return None

    # -- what jobs cost (the ledger) -------------------------------------------------------------------
    def cost_of(self, usages: Sequence[Usage]) -> Cost | None:
        """What these jobs (one node's) cost: price × units of the price's unit per job, or the cost the provider
        stated. Source "provider" when every job's quantity came from the provider's own metrics (or it stated the
        cost), else "estimate"; usd None when a job has no price (or no quantity for its price's unit)."""
        if not usages:
            return None
        total: float | None = 0.0
        all_reported = True
        jobs: list[dict[str, Any]] = []
        units: dict[str, float] = {}
        first_price: UnitPrice | None = None
        found: dict[tuple[str, str], UnitPrice | None] = {}  # a batch's jobs share one model: looked up once
        for usage in usages:
            for unit, qty in usage.units.items():
                units[unit] = units.get(unit, 0.0) + qty
            job: dict[str, Any] = {"job_id": usage.job_id, "model": usage.model, "units": dict(usage.units),
                                   "reported": usage.reported}
            if (usage.provider, usage.model) not in found:
                found[(usage.provider, usage.model)] = self.price_for(usage.provider, usage.model)
            price = found[(usage.provider, usage.model)]
            if price is not None and first_price is None:
                first_price = price
            if usage.cost_usd is not None and math.isfinite(usage.cost_usd) and usage.cost_usd >= 0:
                job_usd: float | None = usage.cost_usd
                job["stated"] = True
            elif price is None:
                job_usd = None
                all_reported = False
            else:
                billed, measured = _billed_quantity(price, usage)
                job_usd = None if billed is None else price.usd * billed
                job.update(unit=price.unit, unit_usd=price.usd, price_source=price.source, quantity=billed)
                all_reported = all_reported and usage.reported and measured
            job["usd"] = None if job_usd is None else round(job_usd, DIGITS)
            jobs.append(job)
            total = None if total is None or job_usd is None else total + job_usd
        head = usages[0]
        detail: dict[str, Any] = {
            "provider": head.provider, "model": head.model,
            "unit": first_price.unit if first_price else None,
            "unit_usd": first_price.usd if first_price else None,
            "price_source": first_price.source if first_price else None,
            "price_model": first_price.model if first_price else None,
            "units": {k: round(v, DIGITS) for k, v in units.items()},
            "jobs": jobs,
        }
        return Cost(None if total is None else round(total, DIGITS),
                    "provider" if all_reported else "estimate", detail)

    # -- what a run will cost (the plan) ---------------------------------------------------------------
    def estimate_plan(self, library: Library, plan: Plan) -> PlanEstimate:
        """Which nodes of `plan` execute or come from the cache, which bill and roughly how much. Read-only: it
        looks up the cache and the ledger and sends nothing anywhere."""
        from artfactory.services.orders import OrderStore

        store = OrderStore(library)
        hits = store.find_cached(plan.nodes[n].cache_key for n in plan.order if plan.nodes[n].mode == "normal")
        ledger = _LedgerSeconds(library)
        counts: dict[str, dict[str, int | None]] = {}
        nodes: dict[str, NodeEstimate] = {}
        for node_id in plan.order:
            node = plan.nodes[node_id]
            if node.mode != "normal":  # DESIGN §10: not executed, so never paid
                nodes[node_id] = NodeEstimate(action="bypassed" if node.mode == "bypass" else "muted", paid=False,
                                              estimated_usd=0.0)
                counts[node_id] = {port: counts.get(source, {}).get(source_port)
                                   for port, (source, source_port) in node.passthrough.items()}
                continue
            spec = registry.for_node_type(node.node_type.type)
            hit = hits.get(node.cache_key)
            batch, batch_note = _batch_size(node, counts)
            estimate = NodeEstimate(action="cached" if hit is not None else "execute", paid=spec is not None,
                                    estimated_usd=0.0)
            if batch_note and spec is not None and hit is None:  # only where it changes what is paid
                estimate.notes.append(batch_note)
            per_job_outputs = 1
            if spec is not None:
                usage = _expected_usage(spec, node)
                estimate.provider, estimate.model = usage.provider, usage.model
                per_job_outputs = _outputs_per_job(usage, node)
                if hit is None:
                    # Jobs an earlier run of the same work had accepted are polled again, not paid for twice.
                    estimate.reattached = _reattachable(store, node.cache_key, batch)
                    estimate.jobs = batch - estimate.reattached
                    if estimate.reattached:
                        estimate.notes.append(f"{estimate.reattached} job{'s' if estimate.reattached > 1 else ''} "
                                              "an earlier run started will be picked up again, not paid again")
                    if estimate.jobs > 0:
                        self._price_node(estimate, usage, estimate.jobs, ledger)
                    if any(link.port == PARAM_INPUT_PREFIX + spec.node.model.name for link in node.inputs):
                        estimate.notes.append(f"the {spec.node.model.name} arrives on a param input: every job "
                                              f"is priced as {usage.model}")
            if hit is not None:
                counts[node_id] = {port: len(values) for port, values in (hit.outputs or {}).items()}
                for port in node.node_type.outputs:
                    counts[node_id].setdefault(port.name, 0)
            else:
                counts[node_id] = _output_counts(node, batch, per_job_outputs, counts)
            nodes[node_id] = estimate
        total = round(sum(n.estimated_usd or 0.0 for n in nodes.values()), DIGITS)
        unpriced = [n for n, e in nodes.items() if e.paid and e.action == "execute" and e.estimated_usd is None]
        return PlanEstimate(nodes, total, unpriced)

    def _price_node(self, estimate: NodeEstimate, usage: Usage, batch: int, ledger: _LedgerSeconds) -> None:
        price = self.price_for(usage.provider, usage.model)
        if price is None:
            estimate.estimated_usd = None
            model = usage.model or "MODEL"
            estimate.notes.append(f"no price for {usage.provider} {usage.model or '(no model)'}: set one with "
                                  f"`artfactory prices set {usage.provider} {model} USD --unit ...`")
            return
        estimate.unit, estimate.unit_usd, estimate.price_source = price.unit, price.usd, price.source
        qty: float | None
        if price.unit == "second":
            # Seconds the input asks for (a video's duration) are known; else the model's own history, else its
            # typical run time.
            seconds = None if "second" in usage.units else ledger.median(usage.provider, price.model)
            if "second" in usage.units:
                qty = usage.units["second"]
            elif seconds is not None:
                qty = seconds
                estimate.notes.append(f"{seconds:.3g} s per job: the median of this model's recorded runs")
            elif price.typical_seconds is not None:
                qty = price.typical_seconds
                estimate.notes.append(f"{qty:.3g} s per job: the model's typical run time")
            else:
                estimate.estimated_usd = None
                estimate.notes.append(f"{usage.provider} {usage.model} is priced per second and its run time is "
                                      "not known yet")
                return
        elif price.unit == "megapixel":
            qty = usage.units.get("megapixel")
            if qty is None:
                qty = ASSUMED_MEGAPIXELS * _outputs_per_job(usage, None)
                estimate.notes.append("image size unknown: assumed 1 megapixel per output")
        elif price.unit == "output":
            qty = usage.units.get("output", 1.0)
        else:
            qty = usage.units.get(price.unit, 1.0)
        estimate.estimated_usd = round(price.usd * qty * batch, DIGITS)

    # -- the month ---------------------------------------------------------------------------------------
    def month_spent(self, library: Library | None = None) -> float:
        return month_spent(library or self.library)


@dataclass
class NodeEstimate:
    """One node of a plan: execute or cached, whether it bills, and its estimate (None: not priced)."""

    action: str
    paid: bool
    estimated_usd: float | None
    jobs: int | None = None  # paid jobs it will start
    reattached: int = 0  # jobs an earlier run started that this one polls instead of paying again
    provider: str = ""
    model: str = ""
    unit: str = ""
    unit_usd: float | None = None
    price_source: str = ""
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "paid": self.paid, "estimated_usd": self.estimated_usd}
        if self.paid:
            out.update(provider=self.provider, model=self.model)
            if self.jobs is not None:
                out["jobs"] = self.jobs
            if self.reattached:
                out["reattached"] = self.reattached
            if self.unit:
                out.update(unit=self.unit, unit_usd=self.unit_usd, price_source=self.price_source)
        if self.notes:
            out["notes"] = list(self.notes)
        return out


@dataclass
class PlanEstimate:
    """A plan's money: per node, the total of what executes, and the paid nodes that will execute unpriced."""

    nodes: dict[str, NodeEstimate]
    estimated_usd: float
    unpriced: list[str]

    def as_json(self) -> dict[str, Any]:
        return {"nodes": {n: e.as_json() for n, e in self.nodes.items()}, "estimated_usd": self.estimated_usd,
                "unpriced": list(self.unpriced)}

    @property
    def executes_paid(self) -> bool:
        return any(e.paid and e.action == "execute" for e in self.nodes.values())


# --- helpers of the estimate --------------------------------------------------------------------------------


def _typical_seconds(book: Mapping[tuple[str, str], Mapping[str, UnitPrice]], provider: str,
                     keys: Sequence[str]) -> float | None:
    for key in keys:
        for price in book.get((provider, key), {}).values():
            if price.typical_seconds is not None:
                return price.typical_seconds
    return None


def _billed_quantity(price: UnitPrice, usage: Usage) -> tuple[float | None, bool]:
    """How many of the price's units a finished job used, and whether that number was measured (not assumed)."""
    if price.unit in usage.units:
        return usage.units[price.unit], True
    if price.unit == "request":
        return 1.0, True  # a job is one request
    if price.unit == "output" and "output" not in usage.units:
        return 1.0, False
    if price.unit == "second" and price.typical_seconds is not None:
        return price.typical_seconds, False
    if price.unit == "megapixel":
        return ASSUMED_MEGAPIXELS * usage.units.get("output", 1.0), False
    return None, False


def _expected_usage(spec: ProviderSpec, node: PlannedNode) -> Usage:
    """What one job of this node is expected to use, from the provider's estimate hook (else just the model)."""
    model = str(node.params.get(spec.node.model.name) or "").strip()
    body = dict(node.params.get("input") or {}) if isinstance(node.params.get("input"), dict) else {}
    seed = node.params.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0:
        body["seed"] = seed
    if spec.estimate is not None and model:
        try:
            usage = spec.estimate(model, body, dict(node.params))
        except Exception as exc:  # an estimate must never stop a plan; the node shows as unpriced instead
            log.warning("%s could not estimate %s: %s", spec.name, model, exc)
            usage = None
        if usage is not None:
            return usage
    units: dict[str, float] = {}
    count = _requested_outputs(body)
    if count is not None:
        units["output"] = float(count)
    return Usage(spec.id, model, units)


def _reattachable(store: Any, cache_key: str, batch: int) -> int:
    """How many of the node's `batch` jobs were accepted by an earlier, unfinished run and will be re-attached."""
    try:
        jobs = store.recorded_jobs(cache_key)
    except Exception as exc:  # an estimate never fails on this: it just counts those jobs as new
        log.warning("could not read the recorded remote jobs: %s", exc)
        return 0
    return len([index for index in jobs if 0 <= index < batch])


def _requested_outputs(body: Mapping[str, Any]) -> int | None:
    for name in OUTPUT_COUNT_FIELDS:
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
    return None


def _outputs_per_job(usage: Usage, node: PlannedNode | None) -> int:
    if "output" in usage.units and usage.units["output"] >= 1:
        return int(usage.units["output"])
    if node is not None and isinstance(node.params.get("input"), dict):
        return _requested_outputs(node.params["input"]) or 1
    return 1


_GROUP = re.compile(r"\{([^{}]*)\}")


def _template_count(template: str) -> int | None:
    """How many prompts a plain `{a|b}` template makes per input; None when it uses more than plain groups."""
    text = template.replace("{input}", "")
    count = 1
    for group in _GROUP.findall(text):
        if "$$" in group:
            return None
        count *= len(group.split("|"))
    if "{" in _GROUP.sub("", text) or "}" in _GROUP.sub("", text) or "__" in text:
        return None
    return count


def _batch_size(node: PlannedNode, counts: Mapping[str, Mapping[str, int | None]]) -> tuple[int, str]:
    """How many times the node runs (zip with broadcast, as engine.batch does), and a note when it is a guess."""
    lengths: list[int] = []
    unknown = False
    swept = _param_input_count(node, counts)
    if swept is None:
        unknown = True
    elif swept != 1:
        lengths.append(swept)
    for link in node.inputs:
        if link.port.startswith(PARAM_INPUT_PREFIX):
            continue
        port = node.node_type.input(link.port)
        if port is not None and port.whole_list:
            continue
        n = counts.get(link.source, {}).get(link.source_port)
        if n is None:
            unknown = True
        else:
            lengths.append(n)
    if unknown:
        return max([1, *lengths]), "batch size unknown before the run: assumed 1 job per known input item"
    if not lengths:
        return 1, ""
    if 0 in lengths:
        return 0, ""
    return max(lengths), ""


def _param_input_count(node: PlannedNode, counts: Mapping[str, Mapping[str, int | None]]) -> int | None:
    """Executions the param inputs make (every combination of their values, as engine.batch does); None when a
    count is unknown before the run."""
    total = 1
    for link in node.inputs:
        if link.port.startswith(PARAM_INPUT_PREFIX):
            n = counts.get(link.source, {}).get(link.source_port)
            if n is None:
                return None
            total *= n
    return total


def _value_count(node: PlannedNode) -> int | None:
    """How many values a value node sends (value.list: its items; value.range: its numbers; others one)."""
    if node.node_type.type == "value.list":
        values = node.params.get("values")
        return len(values) if isinstance(values, list) else None
    if node.node_type.type == "value.range":
        start, stop, step = (node.params.get(k) for k in ("start", "stop", "step"))
        if not (isinstance(start, int | float) and isinstance(stop, int | float) and isinstance(step, int | float)
                and step):
            return None
        return max(0, math.ceil((stop - start) / step - 1e-9))
    return 1


def _output_counts(node: PlannedNode, batch: int, per_job_outputs: int,
                   counts: Mapping[str, Mapping[str, int | None]]) -> dict[str, int | None]:
    """How many items each output will carry (None: cannot be known before the run)."""
    kind = node.node_type.type
    outputs = [port.name for port in node.node_type.outputs]
    if kind == "prompt.lines":
        lines = [line for line in str(node.params.get("text") or "").splitlines() if line.strip()]
        return dict.fromkeys(outputs, len(lines))
    if kind == "prompt.template":
        per = _template_count(str(node.params.get("template") or ""))
        return dict.fromkeys(outputs, None if per is None else per * batch)
    if kind == "transform.grid":
        return dict.fromkeys(outputs, 1)
    if node.node_type.family == "value":
        return dict.fromkeys(outputs, _value_count(node))
    if kind == "collection.add":
        sources = [counts.get(link.source, {}).get(link.source_port) for link in node.inputs]
        known = None if any(n is None for n in sources) else sum(n or 0 for n in sources)
        return dict.fromkeys(outputs, known)
    whole = [p for p in node.node_type.inputs if p.whole_list]
    if whole:  # another whole-list node: what it makes of its list cannot be told from outside
        return dict.fromkeys(outputs, None)
    return dict.fromkeys(outputs, batch * per_job_outputs)


class _LedgerSeconds:
    """Per-job run times recorded in the ledger (order_items.cost_detail), read once per plan."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self._seconds: dict[tuple[str, str], list[float]] | None = None

    def _load(self) -> dict[tuple[str, str], list[float]]:
        from sqlalchemy import select

        from artfactory.models import OrderItem

        found: dict[tuple[str, str], list[float]] = {}
        try:
            with self.library.db.engine.connect() as conn:
                rows = conn.execute(select(OrderItem.cost_detail).where(OrderItem.cost_detail.is_not(None))
                                    .order_by(OrderItem.finished_at.desc()).limit(LEDGER_ROWS)).scalars().all()
        except Exception as exc:  # an old or odd ledger only makes the estimate rougher
            log.warning("could not read recorded run times: %s", exc)
            return found
        for detail in rows:
            if not isinstance(detail, dict):
                continue
            provider = str(detail.get("provider") or "")
            for job in detail.get("jobs") or []:
                if not isinstance(job, dict) or not job.get("reported"):
                    continue
                seconds = (job.get("units") or {}).get("second")
                if isinstance(seconds, int | float) and seconds > 0:
                    model = str(job.get("model") or detail.get("model") or "")
                    found.setdefault((provider, model), []).append(float(seconds))
        return found

    def median(self, provider: str, price_model: str) -> float | None:
        """The median recorded seconds of the jobs priced under this price-book key (e.g. every version of a
        Replicate model priced as "owner/name")."""
        if self._seconds is None:
            self._seconds = self._load()
        values = [s for (p, model), runs in self._seconds.items()
                  if p == provider and price_model in model_keys(model) for s in runs]
        return statistics.median(values) if values else None


# --- the month and the budget --------------------------------------------------------------------------------


def month_start(now: datetime | None = None) -> datetime:
    """The first instant of this calendar month, UTC (naive, like the database's times)."""
    now = now or datetime.now(UTC)
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def month_spent(library: Library, now: datetime | None = None) -> float:
    """What the ledger recorded this calendar month (UTC), in USD."""
    from sqlalchemy import func, select

    from artfactory.models import OrderItem

    when = func.coalesce(OrderItem.finished_at, OrderItem.started_at)
    with library.db.engine.connect() as conn:
        total = conn.execute(select(func.sum(OrderItem.cost_usd))
                             .where(OrderItem.cost_usd.is_not(None), when >= month_start(now))).scalar()
    return round(float(total or 0.0), DIGITS)


def budget_problem(estimate: PlanEstimate, *, max_usd: float | None = None, allow_unpriced: bool = False,
                   monthly_budget: float | None = None, month_spent: float = 0.0) -> str | None:
    """The one-line reason a run must not start (nothing is sent), or None when it may."""
    total = estimate.estimated_usd
    unpriced = estimate.unpriced
    shown_unpriced = ", ".join(unpriced[:5]) + (" …" if len(unpriced) > 5 else "")
    tolerance = 1e-9
    if max_usd is not None:
        if total > max_usd + tolerance:
            return (f"the run is estimated at {format_usd(total)}, over --max-usd "
                    f"{format_usd(max_usd)}; nothing was sent (see `artfactory plan`)")
        if unpriced and not allow_unpriced:
            return (f"node{'s' if len(unpriced) > 1 else ''} {shown_unpriced} will bill but "
                    f"{'have' if len(unpriced) > 1 else 'has'} no price, so the estimate "
                    f"({format_usd(total)} for the rest) cannot be held to --max-usd {format_usd(max_usd)}; "
                    "set a price with `artfactory prices set` or pass --allow-unpriced; nothing was sent")
    if monthly_budget:
        if month_spent + total > monthly_budget + tolerance:
            return (f"the run is estimated at {format_usd(total)} and {format_usd(month_spent)} "
                    f"was spent this month, over the monthly budget of {format_usd(monthly_budget)} "
                    "(setting budget_monthly_usd); nothing was sent")
        if unpriced and not allow_unpriced:
            return (f"node{'s' if len(unpriced) > 1 else ''} {shown_unpriced} will bill but "
                    f"{'have' if len(unpriced) > 1 else 'has'} no price, so the monthly budget of "
                    f"{format_usd(monthly_budget)} cannot be kept (estimate {format_usd(total)} for the rest); "
                    "set a price with `artfactory prices set` or pass --allow-unpriced; nothing was sent")
    return None


# --- provider-published prices ------------------------------------------------------------------------------


def refresh_published(library: Library, providers: Iterable[str] | None = None,
                      notes: list[str] | None = None) -> list[UnitPrice]:
    """Read the prices each provider publishes through its API (reading them costs nothing) and store them as
    source "provider", replacing that provider's earlier ones. A provider without such an endpoint, without a
    key or whose answer fails is skipped, with a line in `notes`."""
    from artfactory.providers.http import ProviderError
    from artfactory.services.secrets import SecretsError, get_key

    notes = notes if notes is not None else []
    specs = [registry.get(p) for p in providers] if providers is not None else registry.all()
    store = PriceStore(library)
    known = store.rows()
    saved: list[UnitPrice] = []
    for spec in specs:
        if spec.published_prices is None:
            notes.append(f"{spec.name} publishes no prices through its API; its shipped prices apply")
            continue
        try:
            key = get_key(spec.id)
        except SecretsError as exc:
            notes.append(f"{spec.name}: skipped, {exc}")
            continue
        if not key:
            notes.append(f"{spec.name}: skipped, no API key (run `artfactory keys set {spec.id}` "
                         f"or set {spec.key_env})")
            continue
        models = tuple(dict.fromkeys([p.model for p in spec.prices]
                                     + [p.model for p in known if p.provider == spec.id]))
        try:
            published = spec.published_prices(library.settings, key, models) or []
        except ProviderError as exc:
            notes.append(f"{spec.name}: could not read its prices: {exc}")
            continue
        today = datetime.now(UTC).date().isoformat()
        published = [replace(p, provider=spec.id, source="provider", as_of=p.as_of or today) for p in published]
        store.save_published(published)
        saved.extend(published)
        notes.append(f"{spec.name}: {len(published)} published price{'s' if len(published) != 1 else ''} stored")
    _changed()
    return saved


def set_user_price(library: Library, provider: str, model: str, usd: float, unit: str,
                   note: str = "") -> UnitPrice:
    """The user's own price (wins over the others); the provider must be registered."""
    registry.get(provider)
    price = PriceStore(library).set_user_price(provider, model, usd, unit, note)
    _changed()
    return price


def delete_user_price(library: Library, provider: str, model: str) -> bool:
    removed = PriceStore(library).delete_user_price(provider, model)
    _changed()
    return removed


# --- wiring ------------------------------------------------------------------------------------------------


def run_services_with_costs(library: Library) -> RunServices:
    """services.runs.run_services with this library's price book as the ledger's CostBook."""
    from artfactory.services.runs import run_services

    return run_services(library, costs=PriceBook(library))
