"""A module imported on first use, for heavy libraries that short commands (`artfactory nodes`) never touch."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule(ModuleType):
    """Stands in for a module until an attribute is read, then forwards to the real one.

    Unlike importlib.util.LazyLoader it leaves sys.modules alone and is safe when two threads use it first:
    importlib's own module lock serialises the one real import.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self.__name__), attr)

    def __dir__(self) -> list[str]:
        return dir(importlib.import_module(self.__name__))


def lazy_module(name: str) -> Any:
    """`name`, imported when first used (`httpx = lazy_module("httpx")`, then `httpx.Client(...)`)."""
    return LazyModule(name)
