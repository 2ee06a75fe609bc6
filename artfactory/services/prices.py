"""Prices: the unit price value every part shares, and the library's own price rows (provider-published, user-set)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from artfactory.engine.cost import UNITS
from artfactory.engine.document import bad_text

if TYPE_CHECKING:
    from artfactory.services.library import Library

# SQLAlchemy and the models are imported where the table is used: the provider modules import UnitPrice for their
# shipped books, and `artfactory nodes` must not load a database layer for that.

# Where a price comes from, strongest first: the user's own, what the provider publishes through its API, the
# book shipped with the app (in each provider module).
SOURCES = ("user", "provider", "shipped")
MAX_USD = 1_000_000.0  # per unit: far above any real price; a typo such as 1e12 is refused, not stored
MAX_NOTE = 500


class PriceError(ValueError):
    """A price that cannot be stored (bad number, unit, provider or model); the message says which and why."""


@dataclass(frozen=True)
class UnitPrice:
    """One price: `usd` per `unit` ("output", "second", "megapixel" or "request") of one provider's model.

    `model` is the provider's price-book key (see engine.cost.Usage.model). `as_of` is the ISO date the price was
    read or set. `typical_seconds` lets a per-second price estimate a run before it happens. `overridden_by` is set
    in listings (providers.pricing.PriceBook.prices) on a price that a stronger source replaces."""

    provider: str
    model: str
    unit: str
    usd: float
    source: str
    as_of: str
    note: str = ""
    typical_seconds: float | None = None
    overridden_by: str = ""

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"provider": self.provider, "model": self.model, "unit": self.unit,
                                  "usd": self.usd, "source": self.source, "as_of": self.as_of}
        if self.note:
            out["note"] = self.note
        if self.typical_seconds is not None:
            out["typical_seconds"] = self.typical_seconds
        out["active"] = not self.overridden_by
        if self.overridden_by:
            out["overridden_by"] = self.overridden_by
        return out


def check_price(provider: str, model: str, usd: float, unit: str) -> float:
    """`usd` as a float when provider, model, usd and unit make a price; PriceError naming what is wrong."""
    if not provider.strip():
        raise PriceError("a price needs a provider")
    if not model.strip():
        raise PriceError(f"a {provider} price needs a model")
    if len(model) > 300:
        raise PriceError(f"model name is too long ({len(model)} characters; at most 300)")
    for what, text in (("provider", provider), ("model", model)):
        problem = bad_text(text) or ("contains a control character" if any(ord(c) < 32 for c in text) else None)
        if problem:
            raise PriceError(f"the {what} name {problem}")
    if isinstance(usd, bool) or not isinstance(usd, int | float):
        raise PriceError(f"price of {provider} {model} must be a number, got {usd!r}")
    value = float(usd)
    if not math.isfinite(value) or value < 0:
        raise PriceError(f"price of {provider} {model} must be a finite number of at least 0, got {usd!r}")
    if value > MAX_USD:
        raise PriceError(f"price of {provider} {model} must be at most {MAX_USD:,.0f} USD per unit, got {usd!r}")
    if unit not in UNITS:
        raise PriceError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
    return value


def _today() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _iso_day(value: datetime | None) -> str:
    return (value or _today()).date().isoformat()


class PriceStore:
    """The `prices` table: prices the user set (source "user") and the ones providers publish ("provider")."""

    def __init__(self, library: Library) -> None:
        self.library = library

    def rows(self) -> list[UnitPrice]:
        """Every stored price, by provider, model and source."""
        from sqlalchemy import select

        from artfactory.models import Price

        with self.library.db.engine.connect() as conn:
            found = conn.execute(select(Price.provider, Price.model, Price.unit, Price.usd, Price.source,
                                        Price.as_of, Price.note)
                                 .order_by(Price.provider, Price.model, Price.source)).all()
        return [UnitPrice(provider, model, unit, float(usd), source, _iso_day(as_of), note or "")
                for provider, model, unit, usd, source, as_of, note in found]

    def set_user_price(self, provider: str, model: str, usd: float, unit: str, note: str = "") -> UnitPrice:
        """Set (or replace) the user's own price of one model; it wins over every other source."""
        from sqlalchemy import delete, insert

        from artfactory.models import Price

        value = check_price(provider, model, usd, unit)
        note = note[:MAX_NOTE]
        if bad_text(note):
            raise PriceError(f"the note {bad_text(note)}")
        now = _today()
        with self.library.db.engine.begin() as conn:
            conn.execute(delete(Price).where(Price.provider == provider, Price.model == model,
                                             Price.source == "user"))
            conn.execute(insert(Price), [{"provider": provider, "model": model, "unit": unit, "usd": value,
                                          "source": "user", "as_of": now, "note": note}])
        return UnitPrice(provider, model, unit, value, "user", _iso_day(now), note)

    def delete_user_price(self, provider: str, model: str) -> bool:
        """Remove the user's price of one model (the published or shipped one applies again); False if none."""
        from sqlalchemy import delete

        from artfactory.models import Price

        with self.library.db.engine.begin() as conn:
            result = conn.execute(delete(Price).where(Price.provider == provider, Price.model == model,
                                                      Price.source == "user"))
        return bool(result.rowcount)

    def save_published(self, prices: Iterable[UnitPrice]) -> int:
        """Store prices a provider published (source "provider"), replacing the earlier published rows of each
        provider in `prices`; a price that does not check out is refused before anything is written."""
        from sqlalchemy import delete, insert

        from artfactory.models import Price

        rows: list[dict[str, object]] = []
        seen: set[tuple[str, str]] = set()
        for price in prices:
            value = check_price(price.provider, price.model, price.usd, price.unit)
            if (price.provider, price.model) in seen:
                continue  # the first one a provider lists wins; the unique key allows one per model
            seen.add((price.provider, price.model))
            as_of = _parse_day(price.as_of)
            rows.append({"provider": price.provider, "model": price.model, "unit": price.unit, "usd": value,
                         "source": "provider", "as_of": as_of, "note": price.note[:MAX_NOTE]})
        providers = sorted({provider for provider, _ in seen})
        with self.library.db.engine.begin() as conn:
            if providers:
                conn.execute(delete(Price).where(Price.provider.in_(providers), Price.source == "provider"))
            if rows:
                conn.execute(insert(Price), rows)
        return len(rows)


def _parse_day(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return _today()
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed
