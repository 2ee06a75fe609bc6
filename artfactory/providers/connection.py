"""Does a provider accept this key? One cheap authenticated request that creates nothing and costs nothing."""

from __future__ import annotations

from typing import Any

from artfactory.providers.fal import FalClient
from artfactory.providers.replicate import ReplicateClient


def check_connection(provider: str, settings: Any, key: str) -> str:
    """A short confirmation when the provider accepts the key; raises ProviderError naming the problem."""
    if provider == "replicate":
        with ReplicateClient(settings, key) as replicate:
            return f"Connected to Replicate as {replicate.account()}"
    if provider == "fal":
        with FalClient(settings, key) as fal:
            fal.check_key()
            return "Connected to fal: the key was accepted"
    raise ValueError(f"unknown provider {provider!r}")
