"""The one place that wires the services into the engine: what an Executor runs with."""

from __future__ import annotations

from pathlib import Path

from artfactory.engine.cost import CostBook
from artfactory.engine.ports import RunServices
from artfactory.services import product_inputs, secrets
from artfactory.services.library import Library
from artfactory.services.orders import OrderStore
from artfactory.services.thumbnails import ensure_thumbnails


def run_services(library: Library, costs: CostBook | None = None) -> RunServices:
    """A library's order store, storage, settings, node registry, key redaction and thumbnails, for an Executor;
    `costs` prices what provider nodes used for the ledger (providers.pricing.run_services_with_costs passes the
    library's price book — services sit below the providers and cannot build it here)."""
    home = library.home
    product_inputs.register(library)  # input.product reads products through this open database

    def thumbnails(product_id: str, source: Path) -> object:
        return ensure_thumbnails(home, product_id, source)

    return RunServices(home=home, settings=library.settings, registry=library.registry, storage=library.storage,
                       orders=OrderStore(library), redact=secrets.redact, thumbnails=thumbnails, costs=costs)
