"""The registry finds every built-in node family and plugins from the artfactory.nodes entry points."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from artfactory.engine import registry as registry_module
from artfactory.engine.nodetypes import NodeType, Port
from artfactory.engine.registry import NodeRegistry, default_registry

CATALOGUE = {
    "prompt.text", "prompt.lines", "prompt.template", "prompt.combine", "input.image", "provider.local",
    "provider.replicate", "provider.fal", "transform.resize", "transform.crop", "transform.rotate",
    "transform.adjust", "transform.grayscale", "transform.blur", "transform.sharpen", "transform.convert",
    "transform.watermark", "transform.grid", "collection.add",
}


def test_builtin_catalogue_is_complete_and_declared() -> None:
    registry = default_registry()
    assert {t.type for t in registry} >= CATALOGUE
    for node_type in registry:
        assert node_type.title and node_type.doc and node_type.version >= 1
        for param in node_type.params:
            assert param.doc, f"{node_type.type}.{param.name} has no doc"
            if param.default is not None and not param.required:
                param.coerce(param.default)  # every default is valid for its own param


class _EntryPoint:
    def __init__(self, name: str, value: object) -> None:
        self.name, self.value = name, value

    def load(self) -> object:
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


def test_plugins_from_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = NodeType(type="plugin.echo", title="Echo", run=lambda c, i, p: {"text": [i["text"]]},
                      inputs=(Port("text", "text"),), outputs=(Port("text", "text"),))
    module = types.ModuleType("fake_plugin")
    module.ECHO = plugin  # type: ignore[attr-defined]
    points = [_EntryPoint("echo", module), _EntryPoint("broken", ImportError("no such thing"))]
    monkeypatch.setattr(registry_module, "entry_points", lambda group: points)
    registry = NodeRegistry()
    registry_module._load_plugins(registry)
    assert registry.get("plugin.echo") is plugin
    assert any("broken" in problem for problem in registry.problems)


def test_plugin_lookup_reads_entry_points_only_where_a_distribution_declares_the_group(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "plain-1.0.dist-info").mkdir(parents=True)
    (site / "plain-1.0.dist-info" / "entry_points.txt").write_text("[console_scripts]\nplain = plain:main\n")
    assert not registry_module._declared_anywhere("artfactory.nodes", [str(site)])
    (site / "fancy_nodes-2.0.dist-info").mkdir()
    (site / "fancy_nodes-2.0.dist-info" / "entry_points.txt").write_text(
        "[artfactory.nodes]\nfancy = fancy_nodes\n")
    assert registry_module._declared_anywhere("artfactory.nodes", [str(site), str(tmp_path / "missing")])


def test_a_real_distribution_declaring_the_group_is_found_through_importlib_metadata(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    info = site / "fancy_nodes-2.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fancy-nodes\nVersion: 2.0\n")
    (info / "entry_points.txt").write_text("[artfactory.nodes]\nfancy = fancy_nodes_mod\n")
    (site / "fancy_nodes_mod.py").write_text(
        "from artfactory.engine.nodetypes import NodeType, Port\n"
        "FANCY = NodeType(type='plugin.fancy', title='Fancy', run=lambda c, i, p: {'text': i['text']},\n"
        "                 inputs=(Port('text', 'text'),), outputs=(Port('text', 'text'),))\n")
    monkeypatch.syspath_prepend(str(site))
    registry = NodeRegistry()
    registry_module._load_plugins(registry)
    assert registry.get("plugin.fancy").title == "Fancy"
