"""NodeGraphQt's private members are reached only from views/canvas/compat.py (issue 11 item 7)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path

from artfactory.views.canvas import compat

NodeGraphQt = compat.import_nodegraphqt()
PACKAGE = Path(compat.__file__).resolve().parents[2]  # artfactory/
COMPAT = Path(compat.__file__).resolve()
PRIVATE = re.compile(r"(?<![\w.])_[A-Za-z]\w*")


def nodegraphqt_privates() -> set[str]:
    """Every _name NodeGraphQt defines: attributes it assigns, methods, module-level classes."""
    names: set[str] = set()
    for path in Path(NodeGraphQt.__file__).parent.rglob("*.py"):
        text = path.read_text(encoding="utf-8", errors="replace")
        names |= set(re.findall(r"self\.(_[A-Za-z]\w*)\s*=", text))
        names |= set(re.findall(r"def (_[A-Za-z]\w*)\(", text))
        names |= set(re.findall(r"^class (_[A-Za-z]\w*)", text, re.M))
    return names


def our_sources() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if p.resolve() != COMPAT]


def test_no_nodegraphqt_private_member_is_reached_on_another_object() -> None:
    """`viewer._scene_range`, `graph._on_nodes_moved`, `node.view._input_items`…: only compat.py may."""
    privates = nodegraphqt_privates()
    assert {"_scene_range", "_previous_pos", "_input_items", "_on_nodes_moved"} <= privates  # the scan works
    found = []
    for path in our_sources():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for owner, name in re.findall(r"(\w+|\))\.(_[A-Za-z]\w*)\b", line):
                if owner not in ("self", "cls") and name in privates:
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {owner}.{name}")
    assert found == [], "NodeGraphQt private members outside compat.py:\n" + "\n".join(found)


def nodegraphqt_subclasses() -> list[type]:
    """Our classes (outside compat.py) that derive from a NodeGraphQt class."""
    import artfactory.views

    for info in pkgutil.walk_packages(artfactory.views.__path__, "artfactory.views."):
        importlib.import_module(info.name)
    classes = []
    for name in sorted(m for m in sys.modules if m.startswith("artfactory.")):
        for cls in vars(sys.modules[name]).values():
            if isinstance(cls, type) and cls.__module__ == name and name != compat.__name__ and any(
                    base.__module__.startswith("NodeGraphQt") for base in cls.__mro__):
                classes.append(cls)
    return classes


def test_our_nodegraphqt_subclasses_use_no_inherited_private_member() -> None:
    """A subclass reading self._width or overriding _draw_node_horizontal leans on NodeGraphQt internals too."""
    subclasses = nodegraphqt_subclasses()
    assert any(c.__name__ == "ArtNodeItem" for c in subclasses)  # the walk finds them
    found = []
    for cls in subclasses:
        theirs: set[str] = set()
        for base in cls.__mro__:
            if base.__module__.startswith("NodeGraphQt"):
                theirs |= {n for n in vars(base) if PRIVATE.fullmatch(n) and not n.startswith("__")}
                theirs |= set(re.findall(r"self\.(_[A-Za-z]\w*)\s*=", inspect.getsource(base)))
        source = inspect.getsource(cls)
        used = set(re.findall(r"self\.(_[A-Za-z]\w*)", source)) | set(re.findall(r"def (_[A-Za-z]\w*)\(", source))
        found += [f"{cls.__module__}.{cls.__name__}: {name}" for name in sorted(used & theirs)]
    assert found == [], "inherited NodeGraphQt private members outside compat.py:\n" + "\n".join(found)
