"""Graph documents: canonical save, migrations, meta kept, clear errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from artfactory.engine import document
from artfactory.engine.document import DocumentError

DOC = {
    "format": "artfactory.graph", "version": 1, "name": "Fox posters",
    "nodes": [
        {"id": "prompt", "type": "prompt.text", "params": {"text": "a red fox, poster"}},
        {"id": "gen", "type": "provider.local", "params": {"seed": 7, "width": 512, "height": 512}},
    ],
    "edges": [{"from": ["prompt", "text"], "to": ["gen", "prompt"]}],
    "meta": {"canvas": {"prompt": {"pos": [0, 0]}}, "future_ui_thing": {"x": [1, 2]}},
}


def test_round_trip_is_canonical_and_keeps_meta(tmp_path: Path) -> None:
    doc = document.from_json(DOC)
    path = tmp_path / "g.json"
    doc.save(path)
    again = document.load(path)
    assert again.to_json() == doc.to_json()
    assert again.meta["future_ui_thing"] == {"x": [1, 2]}
    assert [n.id for n in again.nodes] == ["prompt", "gen"]
    # Saving twice gives identical bytes: key order and whitespace are canonical.
    first = path.read_bytes()
    again.save(path)
    assert path.read_bytes() == first


def test_version_zero_is_migrated() -> None:
    old = {"format": "artfactory.graph", "version": 0, "name": "old",
           "nodes": DOC["nodes"], "edges": ["prompt.text -> gen.prompt"]}
    doc = document.from_json(old)
    assert doc.edges[0].to_json() == {"from": ["prompt", "text"], "to": ["gen", "prompt"]}
    assert doc.to_json()["version"] == document.VERSION


def test_newer_version_is_refused_clearly() -> None:
    with pytest.raises(DocumentError, match="newer"):
        document.from_json({**DOC, "version": 99})


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("{not json", "not valid JSON (line 1"),
        ("[]", "must be a JSON object"),
        (json.dumps({**DOC, "format": "comfyui"}), "not an Art Factory graph"),
        (json.dumps({**DOC, "nodes": {"a": 1}}), "'nodes' must be a list"),
        (json.dumps({**DOC, "nodes": [{"type": "prompt.text"}]}), "nodes[0]: 'id' must be non-empty"),
        (json.dumps({**DOC, "edges": [{"from": ["a"], "to": ["b", "c"]}]}), "edges[0]: 'from' must be"),
        (json.dumps({**DOC, "nodes": [{"id": "a", "type": "x", "params": [1]}]}), "'params' must be an object"),
    ],
)
def test_malformed_documents_name_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(DocumentError) as info:
        document.load(path)
    assert needle in str(info.value)
    assert str(path) in str(info.value)


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="file not found"):
        document.load(tmp_path / "nope.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DocumentError, match="invalid UTF-8"):
        document.load(tmp_path / "bin.json")
    with pytest.raises(DocumentError, match="is a folder"):
        document.load(tmp_path)
