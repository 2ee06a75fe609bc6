"""Templates: the shipped graphs in graphs/ plus the user's own, saved in the library database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from artfactory.config import shipped_graphs_dir
from artfactory.engine import document as graph_document
from artfactory.engine.document import DocumentError, GraphDocument, name_problem
from artfactory.files import show_path
from artfactory.models import Graph
from artfactory.services.library import Library
from artfactory.services.storage import sanitize_name


class TemplateError(Exception):
    """A template that does not exist or cannot be read or saved."""


def _shipped() -> list[tuple[Path, GraphDocument]]:
    out = []
    folder = shipped_graphs_dir()
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            out.append((path, graph_document.load(path)))
        except DocumentError:
            continue  # a broken shipped file must not hide the others
    return out


def _describe(doc: GraphDocument, source: str, **extra: Any) -> dict[str, Any]:
    meta = doc.meta if isinstance(doc.meta, dict) else {}
    return {"name": doc.name, "source": source, "description": str(meta.get("description", "")),
            "nodes": len(doc.nodes), **extra}


def list_templates(library: Library) -> list[dict[str, Any]]:
    items = [_describe(doc, "shipped", path=str(path)) for path, doc in _shipped()]
    with library.db.session() as session:
        for graph in session.scalars(select(Graph).where(Graph.kind == "template").order_by(Graph.name)):
            doc = graph_document.loads(graph.document, f"template {graph.name!r}")
            item = _describe(doc, "user", id=graph.id, preview_product_id=graph.preview_product_id)
            item["name"], item["description"] = graph.name, graph.description
            items.append(item)
    return items


def save_template(library: Library, doc: GraphDocument, *, name: str | None = None, description: str = "",
                  preview_product_id: str | None = None) -> dict[str, Any]:
    """Save (or replace) a user template under `name`."""
    name = (name or doc.name or "").strip()
    if not name:
        raise TemplateError("a template needs a name")
    problem = name_problem(name, "a template name")
    if problem:
        raise TemplateError(problem)
    doc = doc.copy()
    doc.name = name
    if description:
        doc.meta["description"] = description
    text = doc.dumps()
    with library.db.session() as session:
        graph = session.scalars(select(Graph).where(Graph.kind == "template", Graph.name == name)).first()
        if graph is None:
            graph = Graph(kind="template", name=name, document=text, sha256=doc.sha256(), description=description)
            session.add(graph)
        else:
            graph.document, graph.sha256, graph.description = text, doc.sha256(), description
        if preview_product_id:
            graph.preview_product_id = preview_product_id
        session.flush()
        return _describe(doc, "user", id=graph.id, preview_product_id=graph.preview_product_id)


def delete_template(library: Library, name: str) -> None:
    with library.db.session() as session:
        graph = session.scalars(select(Graph).where(Graph.kind == "template", Graph.name == name)).first()
        if graph is None:
            raise TemplateError(f"no user template {name!r}")
        session.delete(graph)


def instantiate(library: Library, name: str) -> GraphDocument:
    """A fresh copy of the template called `name` (user templates first, then shipped; file stems work too)."""
    with library.db.session() as session:
        graph = session.scalars(select(Graph).where(Graph.kind == "template", Graph.name == name)).first()
        if graph is not None:
            return graph_document.loads(graph.document, f"template {name!r}")
    for path, doc in _shipped():
        if name in (doc.name, path.stem):
            return doc.copy()
    known = ", ".join(t["name"] for t in list_templates(library)) or "none"
    raise TemplateError(f"no template {name!r} (templates: {known})")


def default_instance_path(library: Library, doc: GraphDocument) -> Path:
    folder = library.home / "graphs"
    folder.mkdir(parents=True, exist_ok=True)
    stem = sanitize_name(doc.name or "graph")
    candidate, n = folder / f"{stem}.json", 2
    while candidate.exists():
        candidate, n = folder / f"{stem}-{n}.json", n + 1
    return candidate


def write_instance(doc: GraphDocument, target: Path, *, overwrite: bool = False) -> None:
    """Save an instantiated template as a graph file; an existing file is replaced only with `overwrite`."""
    where = show_path(target)
    if target.is_dir():
        raise TemplateError(f"{where} is a folder; give a file name, such as {show_path(target / 'graph.json')}")
    if target.exists() and not overwrite:
        raise TemplateError(f"{where} already exists; use --force to overwrite it")
    try:
        doc.save(target)
    except ValueError:  # "embedded null byte"
        raise TemplateError(f"{where}: the path contains a NUL character") from None
    except OSError as exc:
        raise TemplateError(f"{where} cannot be written ({exc.strerror or exc})") from None
