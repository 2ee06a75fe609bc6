"""Qt signals for domain events (QtCore only)."""

from artfactory.signals.domain import DomainSignals

__all__ = ["DomainSignals"]
