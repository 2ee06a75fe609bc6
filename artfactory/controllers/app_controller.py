"""The app's services for views: graphs, templates, settings, provider keys, products and the run controller."""

from __future__ import annotations

import dataclasses
import importlib.metadata as metadata
import logging
import re
import threading
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from artfactory import __version__
from artfactory.config import Settings, save_settings
from artfactory.controllers.graph_controller import GraphController
from artfactory.controllers.live_controller import LiveChanges
from artfactory.controllers.run_controller import RunController
from artfactory.engine import document as graph_document
from artfactory.engine.document import GraphDocument
from artfactory.providers import registry
from artfactory.providers.connection import check_connection
from artfactory.providers.http import ProviderError
from artfactory.services import lineage, secrets, templates, transfer
from artfactory.services.library import Library
from artfactory.services.sweep import sweep_library
from artfactory.services.thumbnails import thumbnail_path

log = logging.getLogger("artfactory")
# The libraries the About dialog credits: our direct dependencies, as installed.
BUNDLED = ("PyQt6", "PyQt6-Qt6", "NodeGraphQt", "Qt.py", "SQLAlchemy", "alembic", "httpx", "pillow",
           "keyring", "networkx", "platformdirs", "rich", "dynamicprompts", "superqt", "av", "psycopg",
           "psycopg-binary")


class AppController(QObject):
    settings_changed = pyqtSignal()
    connection_tested = pyqtSignal(str, bool, str)  # provider, whether the key works, what happened
    library_swept = pyqtSignal(str)  # what the start-up sweep moved or could not, said once

    def __init__(self, library: Library, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.registry = library.registry
        self.runs = RunController(library, self)
        # A shared PostgreSQL library tells this app what other apps and CLI runs change (nothing on SQLite).
        self.live = LiveChanges(library, self)
        self.live.orders_changed.connect(self.runs.note_changed_orders)
        self.live.resync.connect(self.runs.resync_history)

    @property
    def settings(self) -> Settings:
        return self.library.settings

    # --- graphs --------------------------------------------------------------------------------
    def new_graph(self, doc: GraphDocument | None = None, path: Path | None = None) -> GraphController:
        defaults = {"width": self.settings.default_width, "height": self.settings.default_height}
        return GraphController(self.registry, doc, path, defaults=defaults)

    def open_graph(self, path: Path) -> GraphController:
        """Load a graph file, or restore the graph an exported PNG or lineage sidecar carries.

        Raises DocumentError (with a message naming the file and the problem) and changes nothing.
        """
        path = Path(path).resolve()
        if not transfer.is_export(path):
            return self.new_graph(graph_document.load(path), path)
        data = transfer.graph_from_export(path)
        if data is None:
            raise graph_document.DocumentError(f"{path.name}: carries no Art Factory graph")
        graph = self.new_graph(graph_document.from_json(data, path.name))  # never saved over the export
        graph.mark_dirty()
        return graph

    # --- templates -----------------------------------------------------------------------------
    def graph_from_order(self, order_id: str, *, rerun: bool = False) -> GraphController:
        """The graph snapshot an order ran, with its seeds kept; raises lineage.NotFound or DocumentError.

        With `rerun` the graph is linked to the order: its runs record it as their parent, and
        everything left untouched comes from the cache.
        """
        with self.library.db.session() as session:
            doc, pinned, _project_id = lineage.rerun_document(self.library, session, order_id, (), reroll=False)
        graph = self.new_graph(doc)
        graph.pinned_seeds = pinned
        if rerun:
            graph.parent_order_id = order_id
            graph.doc.name = f"{doc.name or 'Graph'} (re-run)"
        graph.mark_dirty()  # not saved anywhere yet: closing it asks
        return graph

    def templates(self) -> list[dict[str, Any]]:
        return templates.list_templates(self.library)

    def template_preview(self, item: dict[str, Any]) -> Path | None:
        product_id = item.get("preview_product_id")
        if not product_id:
            return None
        path = thumbnail_path(self.library.home, "medium", product_id)
        return path if path.is_file() else None

    def template_document(self, item: dict[str, Any]) -> GraphDocument:
        """The document behind a template listing entry (for its preview); raises TemplateError."""
        return templates.instantiate(self.library, item["name"])

    def instantiate(self, name: str) -> GraphController:
        """A new, unsaved graph from a template; raises TemplateError."""
        doc = templates.instantiate(self.library, name)
        graph = self.new_graph(doc)
        return graph

    def save_template(self, graph: GraphController, name: str, description: str,
                      preview_product_id: str | None) -> dict[str, Any]:
        return templates.save_template(self.library, graph.doc, name=name, description=description,
                                       preview_product_id=preview_product_id)

    def delete_template(self, name: str) -> None:
        templates.delete_template(self.library, name)

    def first_product(self, graph: GraphController) -> tuple[str, Path] | None:
        """The first product of the graph's latest run (document order), with its thumbnail."""
        for spec in graph.doc.nodes:
            run = graph.run_state.get(spec.id)
            if run and run.products:
                product_id = run.products[0][0]
                return product_id, thumbnail_path(self.library.home, "medium", product_id)
        return None

    # --- products ------------------------------------------------------------------------------
    def product_detail(self, product_id: str) -> lineage.ProductLineage:
        """Lineage of a product; raises lineage.NotFound."""
        with self.library.db.session() as session:
            return lineage.product_lineage(self.library, session, product_id)

    def product_image(self, product_id: str, detail: lineage.ProductLineage | None = None) -> Path | None:
        """The best image to show: the large thumbnail, else the medium one, else the file itself."""
        for size in ("large", "medium"):
            path = thumbnail_path(self.library.home, size, product_id)
            if path.is_file():
                return path
        if detail and detail.media_type == "image" and Path(detail.path).is_file():
            return Path(detail.path)
        return None

    # --- settings and keys ----------------------------------------------------------------------
    def update_settings(self, **changes: Any) -> None:
        """Apply and persist settings (unknown names are a programming error)."""
        valid = {f.name for f in dataclasses.fields(Settings)}
        unknown = set(changes) - valid
        if unknown:
            raise KeyError(f"unknown settings: {', '.join(sorted(unknown))}")
        for name, value in changes.items():
            setattr(self.settings, name, value)
        save_settings(self.library.home, self.settings)
        self.runs.apply_limits()
        self.settings_changed.emit()

    def test_connection(self, provider: str, typed_key: str = "") -> threading.Thread:
        """Check the typed key, else the stored one, off the UI thread; the answer comes as `connection_tested`."""

        def work() -> None:
            try:
                key = typed_key.strip() or secrets.require_key(provider)
                secrets.remember_secret(key)  # redacted from any message from here on
                ok, message = True, check_connection(provider, self.settings, key)
            except (ProviderError, secrets.SecretsError) as exc:
                ok, message = False, str(exc)
            except Exception as exc:  # a bug must not leave the button waiting forever
                ok, message = False, secrets.redact(f"unexpected error: {exc}")
            try:
                self.connection_tested.emit(provider, ok, message)
            except RuntimeError:  # the app closed while the request was out: nobody is waiting
                pass

        thread = threading.Thread(target=work, name=f"test-{provider}", daemon=True)
        thread.start()
        return thread

    def sweep_library(self) -> threading.Thread:
        """Clear crash leftovers off the UI thread (a walk of every product file); `library_swept` says
        what moved, once, if anything did."""

        def work() -> None:
            try:
                message = sweep_library(self.library).message
            except Exception as exc:  # housekeeping: a failure is said, the app works on
                log.exception("the library sweep failed")
                message = f"could not check the library for crash leftovers: {exc}"
            if not message:
                return
            log.warning("%s", message)
            try:
                self.library_swept.emit(message)
            except RuntimeError:  # the app closed meanwhile: the log has it
                pass

        thread = threading.Thread(target=work, name="library-sweep", daemon=True)
        thread.start()
        return thread

    def key_status(self, provider: str) -> dict[str, Any]:
        return secrets.key_status(provider)

    def set_key(self, provider: str, value: str) -> None:
        """Store a key in the keychain; raises secrets.SecretsError with a message for the user."""
        secrets.set_key(provider, value)

    def delete_key(self, provider: str) -> bool:
        return secrets.delete_key(provider)

    def provider_name(self, provider: str) -> str:
        return secrets.display_name(provider)

    @staticmethod
    def cloud_providers() -> list[registry.ProviderSpec]:
        """The registered cloud providers, for the keys page and its limits."""
        return registry.cloud()

    # --- about ----------------------------------------------------------------------------------
    @staticmethod
    def version() -> str:
        return __version__

    @staticmethod
    def bundled_libraries() -> list[tuple[str, str, str]]:
        """(name, version, licence) of the libraries the app ships with."""
        rows = []
        for name in BUNDLED:
            try:
                meta = metadata.metadata(name)
            except metadata.PackageNotFoundError:
                continue
            rows.append((_header(meta, "Name", name), _header(meta, "Version", "?"), _licence(meta)))
        return rows


def _header(meta: metadata.PackageMetadata, name: str, default: str) -> str:
    """A metadata field's first value (what email's Message.get gives), or `default` when it is absent."""
    values = meta.get_all(name)
    return str(values[0]) if values else default


def _licence(meta: metadata.PackageMetadata) -> str:
    expression = _header(meta, "License-Expression", "")
    if expression:
        return str(expression)
    classifiers = [c.split("::")[-1].strip() for c in (meta.get_all("Classifier") or [])
                   if c.startswith("License ::")]
    if classifiers:
        return ", ".join(dict.fromkeys(classifiers))
    text = _header(meta, "License", "").strip()
    first = text.splitlines()[0] if text else ""
    return re.sub(r"\s+", " ", first)[:60] or "see package"
