"""Does a provider accept this key? One cheap authenticated request that creates nothing and costs nothing."""

from __future__ import annotations

from typing import Any

from artfactory.providers import registry


def check_connection(provider: str, settings: Any, key: str) -> str:
    """A short confirmation when the provider accepts the key; raises ProviderError naming the problem.

    Raises registry.UnknownProvider (a LookupError) for an id no provider is registered under."""
    return registry.get(provider).check_connection(settings, key)
