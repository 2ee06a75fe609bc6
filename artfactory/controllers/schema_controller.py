"""Provider model input schemas for the properties form, fetched on a worker thread and cached."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PyQt6.QtCore import QObject, QRunnable, QThreadPool, pyqtSignal

from artfactory.engine.nodetypes import Param
from artfactory.providers import registry
from artfactory.providers.http import ProviderError
from artfactory.providers.schemas import SchemaCache, SchemaInputs, node_file_ports, schema_inputs
from artfactory.services import secrets
from artfactory.services.library import Library

if TYPE_CHECKING:
    from artfactory.controllers.graph_controller import GraphController

# Inputs the node fills itself (from its ports and its own seed param); the form leaves them out.
PORT_FILLED = ("prompt", "seed")


class _Signals(QObject):
    done = pyqtSignal(str, str, object)  # provider, model, SchemaInputs
    failed = pyqtSignal(str, str, str)  # provider, model, message


class _Fetch(QRunnable):
    def __init__(self, library: Library, provider: str, model: str, signals: _Signals) -> None:
        super().__init__()
        self.library, self.provider, self.model, self.signals = library, provider, model, signals

    def run(self) -> None:
        try:
            key = secrets.get_key(self.provider)
            cache = SchemaCache(self.library.db.session, self.library.settings.schema_ttl_s)
            inputs = schema_inputs(self.provider, self.model, settings=self.library.settings, api_key=key,
                                   cache=cache)
        except (ProviderError, secrets.SecretsError) as exc:
            self.signals.failed.emit(self.provider, self.model, secrets.redact(str(exc)))
            return
        except Exception as exc:  # a worker must always answer, or the form would wait forever
            self.signals.failed.emit(self.provider, self.model, secrets.redact(f"unexpected error: {exc}"))
            return
        self.signals.done.emit(self.provider, self.model, inputs)


class SchemaController(QObject):
    """Asks for a model's inputs; answers arrive as signals on the GUI thread."""

    loaded = pyqtSignal(str, str, list)  # provider, model, [Param] (port-filled inputs left out)
    failed = pyqtSignal(str, str, str)

    def __init__(self, library: Library, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self._signals = _Signals(self)
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        self._known: dict[tuple[str, str], list[Param]] = {}
        self._files: dict[tuple[str, str], dict[str, str]] = {}  # the model's file fields -> port kind
        self._pending: set[tuple[str, str]] = set()

    @staticmethod
    def model_param(node_type: str) -> str | None:
        """The param naming the model of a provider node type (its schema gives the form); None for others."""
        spec = registry.for_node_type(node_type)
        return spec.node.model.name if spec is not None and spec.fetch_schema is not None else None

    def known(self, provider: str, model: str) -> list[Param] | None:
        return self._known.get((provider, model))

    def request(self, provider: str, model: str) -> None:
        model = model.strip()
        if not model:
            self.failed.emit(provider, model, "enter a model first")
            return
        key = (provider, model)
        if key in self._known:
            self.loaded.emit(provider, model, self._known[key])
            return
        if key in self._pending:
            return
        self._pending.add(key)
        pool = QThreadPool.globalInstance()
        assert pool is not None  # Qt always has the global pool; PyQt's stubs mark every pointer result optional
        pool.start(_Fetch(self.library, provider, model, self._signals))

    def _on_failed(self, provider: str, model: str, message: str) -> None:
        self._pending.discard((provider, model))
        self.failed.emit(provider, model, message)

    def _on_done(self, provider: str, model: str, inputs: object) -> None:
        self._pending.discard((provider, model))
        params = inputs.params if isinstance(inputs, SchemaInputs) else []
        shown = [p for p in params if isinstance(p, Param) and p.name not in PORT_FILLED]
        self._known[(provider, model)] = shown
        self._files[(provider, model)] = dict(inputs.files) if isinstance(inputs, SchemaInputs) else {}
        self.loaded.emit(provider, model, shown)

    def file_fields(self, provider: str, model: str) -> dict[str, str] | None:
        """The loaded model's fields that take a file, with their port kinds; None before its schema is loaded."""
        return self._files.get((provider, model.strip()))

    def apply_file_ports(self, graph: GraphController, node_id: str) -> bool:
        """Give a provider node a typed input port per file field of its model (its `media_inputs`, and the
        `image_field` its image port fills), as one undo step; False when its schema is not loaded or nothing
        changes. Links into ports the model no longer has stay in the document, so validation names them."""
        spec = graph.doc.node(node_id)
        provider = registry.for_node_type(spec.type) if spec is not None else None
        if spec is None or provider is None:
            return False
        model = str(graph.param_value(node_id, provider.node.model.name) or "")
        files = self.file_fields(provider.id, model)
        if files is None:
            return False
        ports, field = node_file_ports(files, str(spec.params.get("image_field") or ""), provider.node.image_field)
        wanted = {"media_inputs": ports, "image_field": field}
        changed = {name: value for name, value in wanted.items()
                   if (spec.params.get(name) or type(value)()) != value}
        if not changed:
            return False
        graph.undo_stack.beginMacro(f"Ports of {node_id} from {model}")
        try:
            for name, value in changed.items():
                graph.set_param(node_id, name, value)
        finally:
            graph.undo_stack.endMacro()
        return True
