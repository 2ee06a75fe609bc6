"""The node registry: built-in node modules in `nodes/` plus plugins from the `artfactory.nodes` entry points."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from artfactory.engine.nodetypes import NodeType

log = logging.getLogger("artfactory.engine")
ENTRY_POINT_GROUP = "artfactory.nodes"
BUILTIN_PACKAGE = "nodes"


class NodeRegistry:
    """Node types by type name."""

    def __init__(self, types: Iterable[NodeType] = ()) -> None:
        self._types: dict[str, NodeType] = {}
        self.problems: list[str] = []
        for node_type in types:
            self.add(node_type)

    def add(self, node_type: NodeType, origin: str = "") -> None:
        if node_type.type in self._types and self._types[node_type.type] is not node_type:
            self.problems.append(f"node type {node_type.type} from {origin or 'a plugin'} is already registered")
            return
        self._types[node_type.type] = node_type

    def add_module(self, module: ModuleType) -> int:
        """The module's NodeType values, and those its `node_types()` makes (types made from data)."""
        found = [value for value in vars(module).values() if isinstance(value, NodeType)]
        maker = getattr(module, "node_types", None)
        if callable(maker):
            found += [value for value in maker() if isinstance(value, NodeType)]
        for node_type in found:
            self.add(node_type, module.__name__)
        return len(found)

    def get(self, type_name: str) -> NodeType | None:
        return self._types.get(type_name)

    def __contains__(self, type_name: object) -> bool:
        return type_name in self._types

    def __iter__(self) -> Iterator[NodeType]:
        return iter(sorted(self._types.values(), key=lambda t: t.type))

    def __len__(self) -> int:
        return len(self._types)

    def families(self) -> dict[str, list[NodeType]]:
        out: dict[str, list[NodeType]] = {}
        for node_type in self:
            out.setdefault(node_type.family, []).append(node_type)
        return out


def _load_builtin(registry: NodeRegistry) -> None:
    # Built-in nodes sit above the engine (they use providers and services): like plugins, they are found by
    # name at run time, never imported by the engine (the layers contract in pyproject.toml).
    package = importlib.import_module(BUILTIN_PACKAGE)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{BUILTIN_PACKAGE}.{info.name}")
        registry.add_module(module)


def _declared_anywhere(group: str, paths: Iterable[str] | None = None) -> bool:
    """Whether any installed distribution's entry_points.txt names the group: a few small file reads, where
    importlib.metadata costs ~25 ms to import and scan — most libraries have no plugin, and the CLI starts faster."""
    header = f"[{group}]"
    for folder in paths if paths is not None else sys.path:
        try:
            found = list(Path(folder or ".").glob("*.*-info/entry_points.txt"))
        except OSError:
            continue
        for path in found:
            try:
                if header in path.read_text(encoding="utf-8", errors="replace"):
                    return True
            except OSError:
                continue
    return False


def entry_points(group: str) -> Iterable[Any]:
    """The group's entry points (importlib.metadata's), loaded only when a distribution declares the group."""
    if not _declared_anywhere(group):
        return ()
    from importlib.metadata import entry_points as installed

    return installed(group=group)


def _load_plugins(registry: NodeRegistry) -> None:
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
        except Exception as exc:  # a broken plugin must not take the app down
            registry.problems.append(f"node plugin {entry.name!r} failed to load: {exc}")
            log.warning("node plugin %s failed to load: %s", entry.name, exc)
            continue
        if isinstance(loaded, ModuleType):
            registry.add_module(loaded)
        elif isinstance(loaded, NodeType):
            registry.add(loaded, entry.name)
        elif callable(loaded):
            for node_type in loaded():
                registry.add(node_type, entry.name)


_default: NodeRegistry | None = None


def default_registry() -> NodeRegistry:
    """Built-ins and plugins, loaded once per process."""
    global _default
    if _default is None:
        registry = NodeRegistry()
        _load_builtin(registry)
        _load_plugins(registry)
        _default = registry
    return _default
