"""What a remote job used and what that cost: the values nodes report and the ledger records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# The units a price can be given in (DESIGN §11).
UNITS = ("output", "second", "megapixel", "request")


@dataclass(frozen=True)
class Usage:
    """What one remote job used (or, before a run, is expected to use).

    `model` is the price-book key the provider module chose (e.g. "black-forest-labs/flux-schnell", or
    "gpt-image-1:high:1024x1024" where size and quality set the price). `units` maps units to quantities, e.g.
    {"output": 1, "second": 3.2}. `reported` says the quantities come from the provider's own metrics
    (Replicate's predict_time, fal's billable units), not from counting; `cost_usd` is set when the provider
    states the cost itself."""

    provider: str
    model: str
    units: Mapping[str, float] = field(default_factory=dict)
    reported: bool = False
    job_id: str = ""
    cost_usd: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model, "units": dict(self.units),
                "reported": self.reported, "job_id": self.job_id, "cost_usd": self.cost_usd}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        units = data.get("units") if isinstance(data.get("units"), Mapping) else {}
        cost = data.get("cost_usd")
        return cls(str(data.get("provider") or ""), str(data.get("model") or ""),
                   {str(k): float(v) for k, v in (units or {}).items() if isinstance(v, int | float)},
                   bool(data.get("reported")), str(data.get("job_id") or ""),
                   float(cost) if isinstance(cost, int | float) else None)


@dataclass(frozen=True)
class Cost:
    """What an order item cost: `usd` None when no price is known; `source` "provider" when the provider's own
    metrics (or stated cost) were used, else "estimate" (price × counted units)."""

    usd: float | None
    source: str
    detail: dict[str, Any] = field(default_factory=dict)


class CostBook(Protocol):
    """Prices the executor's writer asks for when a node that called a provider ends (see providers.pricing)."""

    def cost_of(self, usages: Sequence[Usage]) -> Cost | None:
        """The cost of these jobs (None when the node used no provider)."""
        ...
