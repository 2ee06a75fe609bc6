"""The properties panel: the selected node's form, generated from its param definitions (and, for provider
nodes, from the model's input schema)."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from artfactory.controllers.graph_controller import MISSING, GraphController
from artfactory.controllers.schema_controller import SchemaController
from artfactory.engine.document import SUBGRAPH_TYPE
from artfactory.engine.nodetypes import Param
from artfactory.engine.status import NodeStatus
from artfactory.views import icons, theme
from artfactory.views.canvas.param_fields import ParamField


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


class _Row(QWidget):
    """A field with a reset button that shows when the value differs from the default."""

    def __init__(self, field: ParamField, on_reset: Any) -> None:
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(field, 1)
        self.reset = QToolButton()
        self.reset.setIcon(icons.icon("reset"))
        self.reset.setToolTip("Reset to the default")
        self.reset.setAutoRaise(True)
        self.reset.clicked.connect(on_reset)
        layout.addWidget(self.reset, 0, Qt.AlignmentFlag.AlignTop)
        self.field = field
        # Convert to input / back (node params only; a provider's schema inputs live inside one param).
        self.as_input = QToolButton()
        self.as_input.setObjectName("ConvertToInput")
        self.as_input.setIcon(icons.icon("input"))
        self.as_input.setCheckable(True)
        self.as_input.setAutoRaise(True)
        self.as_input.setToolTip("Convert to input: the value comes in through a port on the node")
        self.as_input.hide()
        layout.addWidget(self.as_input, 0, Qt.AlignmentFlag.AlignTop)
        self.arrived = QLabel()  # what came in through the port on the last run
        self.arrived.setObjectName("ArrivedValue")
        self.arrived.setProperty("role", "dim")
        self.arrived.hide()
        layout.addWidget(self.arrived, 0, Qt.AlignmentFlag.AlignTop)


SEED_MODE_LABELS = {"fixed": "fixed", "random": "random each run", "increment": "increment"}
SEED_MODE_TIPS = {"fixed": "Every Run uses this seed (an unchanged node comes from the cache)",
                  "random": "Every Run draws a new seed: a new result each time",
                  "increment": "After each Run the seed goes up by one (undoable)"}


class _SeedControls(QWidget):
    """Beside a seed param: its mode (fixed / random each run / increment), the dice, the last run's seed."""

    def __init__(self) -> None:
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.mode = QComboBox()
        self.mode.setObjectName("SeedMode")
        for mode, label in SEED_MODE_LABELS.items():
            self.mode.addItem(label, mode)
            self.mode.setItemData(self.mode.count() - 1, SEED_MODE_TIPS[mode], Qt.ItemDataRole.ToolTipRole)
        self.mode.setToolTip("What the seed does on each Run")
        layout.addWidget(self.mode)
        self.dice = QToolButton()
        self.dice.setObjectName("SeedDice")
        self.dice.setIcon(icons.icon("dice"))
        self.dice.setToolTip("Reroll: set a new seed (undoable)")
        self.dice.setAutoRaise(True)
        layout.addWidget(self.dice)
        self.last = QLabel()
        self.last.setObjectName("SeedLast")
        self.last.setProperty("role", "dim")
        self.last.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.last.setToolTip("The seed the last Run used")
        layout.addWidget(self.last, 1)


class PropertiesPanel(QWidget):
    """Bound to one graph at a time (the current tab) and to its selection."""

    def __init__(self, schemas: SchemaController | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("PropertiesPanel")
        self.schemas = schemas
        self.graph: GraphController | None = None
        self.node_id: str | None = None
        self.rows: dict[str, _Row] = {}
        self.input_rows: dict[str, _Row] = {}
        self.seed: _SeedControls | None = None
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.content = QWidget()
        self.body = QVBoxLayout(self.content)
        s = theme.SPACING
        self.body.setContentsMargins(s + 4, s + 4, s + 4, s + 4)
        self.body.setSpacing(s)
        scroll.setWidget(self.content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        if schemas is not None:
            schemas.loaded.connect(self._on_schema)
            schemas.failed.connect(self._on_schema_failed)
        self._render()

    # --- binding ----------------------------------------------------------------------------------
    def set_graph(self, graph: GraphController | None) -> None:
        if self.graph is graph:
            return
        if self.graph is not None:
            for signal, slot in self._connections():
                signal.disconnect(slot)
        self.graph = graph
        if graph is not None:
            for signal, slot in self._connections():
                signal.connect(slot)
        self.show_nodes([])

    def _connections(self) -> list[tuple[Any, Any]]:
        g = self.graph
        assert g is not None
        return [(g.param_changed, self._on_param_changed), (g.node_removed, self._on_node_removed),
                (g.document_reset, self._on_reset), (g.issues_changed, self._refresh_header),
                (g.run_state.node_changed, self._on_run_changed), (g.node_meta_changed, self._on_meta_changed),
                (g.param_inputs_changed, self._on_param_inputs_changed)]

    def show_nodes(self, node_ids: list[str]) -> None:
        node_id = node_ids[0] if len(node_ids) == 1 else None
        self._count = len(node_ids)
        if node_id == self.node_id and node_id is not None:
            return
        self.node_id = node_id
        self._render()

    # --- rendering ------------------------------------------------------------------------------------
    def _clear(self) -> None:
        while self.body.count():
            item = self.body.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()  # at once: deleteLater waits for the event loop
                widget.setParent(None)
                widget.deleteLater()
        self.rows, self.input_rows, self.seed = {}, {}, None

    def _render(self) -> None:
        self._clear()
        graph, node_id = self.graph, self.node_id
        spec = graph.doc.node(node_id) if graph is not None and node_id else None
        if graph is None or spec is None:
            count = getattr(self, "_count", 0)
            text = f"{count} nodes selected" if count > 1 else "Select a node to edit its settings."
            hint = QLabel(text)
            hint.setProperty("role", "dim")
            hint.setWordWrap(True)
            self.body.addWidget(hint)
            self.body.addStretch(1)
            return
        node_type = graph.node_type(spec.id)
        title = QLabel(node_type.title if node_type else f"Subgraph {spec.params.get('name')}"
                       if spec.type == SUBGRAPH_TYPE else f"Unknown type {spec.type}")
        title.setProperty("role", "heading")
        self.body.addWidget(title)
        ident = QLabel(f"{spec.type}  ·  id <b>{spec.id}</b>")
        ident.setProperty("role", "dim")
        ident.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.addWidget(ident)
        if node_type and node_type.doc:
            doc = QLabel(node_type.doc.strip())
            doc.setWordWrap(True)
            doc.setProperty("role", "dim")
            self.body.addWidget(doc)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.body.addWidget(self.status)
        self._refresh_header()
        if node_type is None or not node_type.params:
            if spec.type == SUBGRAPH_TYPE:  # its settings are its inner nodes'
                inside = QLabel("Double-click the node to open it and edit its nodes; right-click → Ungroup puts "
                                "them back in this graph.")
                inside.setWordWrap(True)
                inside.setProperty("role", "dim")
                self.body.addWidget(inside)
            elif node_type is not None:
                none = QLabel("This node has no settings.")
                none.setProperty("role", "dim")
                self.body.addWidget(none)
            self.body.addStretch(1)
            return
        box = QGroupBox("Settings")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        form.setVerticalSpacing(theme.SPACING)
        for param in node_type.params:
            row = self._make_row(param, lambda value, name=param.name: self._edit(name, value),
                                 lambda _=False, name=param.name: self._edit(name, MISSING))
            self.rows[param.name] = row
            row.as_input.show()
            row.as_input.toggled.connect(lambda on, name=param.name: self._set_as_input(name, on))
            label = QLabel(_label(param.name) + (" *" if param.required else ""))
            label.setToolTip(param.doc)
            form.addRow(label, row)
            self._show_value(param.name)
            if node_type.seed_param == param.name:
                self.seed = self._seed_controls(spec.id)
                form.addRow("", self.seed)
        self.body.addWidget(box)
        if self.schemas is not None and SchemaController.model_param(spec.type):
            self._schema_section(spec.type)
        self.body.addStretch(1)

    def _seed_controls(self, node_id: str) -> _SeedControls:
        controls = _SeedControls()
        controls.mode.activated.connect(lambda index: self._set_seed_mode(controls.mode.itemData(index)))
        controls.dice.clicked.connect(lambda _=False: self._reroll())
        self._seed_state_shown(controls, node_id)
        return controls

    def _seed_state_shown(self, controls: _SeedControls, node_id: str) -> None:
        assert self.graph is not None
        controls.mode.setCurrentIndex(controls.mode.findData(self.graph.seed_mode(node_id)))
        last = self.graph.last_seeds.get(node_id)
        controls.last.setText(f"last run: {last}" if last is not None else "")

    def _set_seed_mode(self, mode: str) -> None:
        if self.graph is not None and self.node_id is not None:
            self.graph.set_seed_mode(self.node_id, mode)

    def _reroll(self) -> None:
        if self.graph is not None and self.node_id is not None:
            self.graph.reroll_seed(self.node_id)

    def _make_row(self, param: Param, on_edit: Any, on_reset: Any) -> _Row:
        field = ParamField(param)
        field.edited.connect(on_edit)
        return _Row(field, on_reset)

    def _show_value(self, name: str) -> None:
        if self.graph is None or self.node_id is None or name not in self.rows:
            return
        row = self.rows[name]
        spec = self.graph.doc.node(self.node_id)
        row.field.set_value(self.graph.param_value(self.node_id, name))
        explicit = spec is not None and name in spec.params and spec.params[name] != row.field.param.default
        as_input = spec is not None and name in spec.param_inputs
        row.reset.setVisible(explicit and not as_input)
        row.field.setEnabled(not as_input)  # read-only while the value comes in through the port
        arrived = self.graph.arrived_params.get(self.node_id, {}).get(name) if as_input else None
        if arrived:
            try:  # the value that came in on the last run (the first, when a list fanned the node out)
                row.field.set_value(row.field.param.coerce(arrived[0]))
            except (ValueError, TypeError):
                pass
        row.arrived.setText(("arrived: " + ", ".join(str(v) for v in arrived[:8]) +
                             (" …" if len(arrived) > 8 else "")) if arrived else "")
        row.arrived.setVisible(bool(arrived))
        row.as_input.blockSignals(True)
        row.as_input.setChecked(as_input)
        row.as_input.blockSignals(False)
        row.as_input.setToolTip(f"Convert to param: set {name} here again" if as_input else
                                f"Convert to input: {name} comes in through a port on the node")

    def _set_as_input(self, name: str, on: bool) -> None:
        if self.graph is not None and self.node_id is not None:
            self.graph.set_param_input(self.node_id, name, on)

    def _refresh_header(self) -> None:
        if self.graph is None or self.node_id is None or not hasattr(self, "status"):
            return
        parts = []
        run = self.graph.run_state.get(self.node_id)
        if run is not None:
            color = theme.STATUS_COLORS.get(run.status, theme.STATUS_COLORS[NodeStatus.PENDING])
            extra = f" · {len(run.products)} product{'s' if len(run.products) != 1 else ''}" if run.products else ""
            parts.append(f"<span style='color:{color}'>● {run.status}</span>{extra}")
            if run.error and run.status in (NodeStatus.FAILED, NodeStatus.SKIPPED, NodeStatus.CANCELED):
                parts.append(f"<span style='color:{theme.STATUS_COLORS[NodeStatus.FAILED]}'>{_html(run.error)}</span>")
        for message in self.graph.issues.get(self.node_id, []):
            parts.append(f"<span style='color:{theme.STATUS_COLORS[NodeStatus.FAILED]}'>⚠ {_html(message)}</span>")
        try:
            self.status.setText("<br/>".join(parts))
            self.status.setVisible(bool(parts))
        except RuntimeError:  # the label went with a re-render
            pass

    # --- provider model inputs --------------------------------------------------------------------------
    def _schema_section(self, type_name: str) -> None:
        assert self.graph is not None and self.node_id is not None and self.schemas is not None
        provider = type_name.split(".", 1)[1]
        model = str(self.graph.param_value(self.node_id, SchemaController.model_param(type_name) or "") or "")
        self.schema_box = QGroupBox("Model inputs")
        layout = QVBoxLayout(self.schema_box)
        self.schema_note = QLabel("Load the model's input schema to edit its inputs as fields; they are "
                                  "written into the node's input object.")
        self.schema_note.setWordWrap(True)
        self.schema_note.setProperty("role", "dim")
        layout.addWidget(self.schema_note)
        self.schema_button = QPushButton("Load inputs from the model")
        self.schema_button.setEnabled(bool(model.strip()))
        self.schema_button.clicked.connect(lambda: self._load_schema(provider, model))
        layout.addWidget(self.schema_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.schema_form = QFormLayout()
        self.schema_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        layout.addLayout(self.schema_form)
        self.body.addWidget(self.schema_box)
        self._schema_for = (provider, model)
        known = self.schemas.known(provider, model.strip())
        if known is not None:
            self._fill_schema(known)
            # Another model whose schema is known already (or ports edited away): the node takes its file ports.
            QTimer.singleShot(0, lambda node_id=self.node_id, graph=self.graph: self._apply_file_ports(graph,
                                                                                                        node_id))

    def _apply_file_ports(self, graph: GraphController | None, node_id: str | None) -> None:
        if graph is not None and node_id is not None and self.schemas is not None and graph.doc.node(node_id):
            self.schemas.apply_file_ports(graph, node_id)

    def _load_schema(self, provider: str, model: str) -> None:
        assert self.schemas is not None
        self.schema_button.setEnabled(False)
        self.schema_note.setText(f"Loading the inputs of {model}…")
        self.schemas.request(provider, model)

    def _on_schema(self, provider: str, model: str, params: list[Param]) -> None:
        if getattr(self, "_schema_for", None) == (provider, model) and self.node_id:
            self._fill_schema(params)
            if self.graph is not None and self.schemas is not None:
                # The model's file fields become typed ports on the node (one undo step when they change).
                self.schemas.apply_file_ports(self.graph, self.node_id)

    def _on_schema_failed(self, provider: str, model: str, message: str) -> None:
        if getattr(self, "_schema_for", None) == (provider, model) and self.node_id:
            self.schema_note.setText(f"Could not load the inputs: {message}")
            self.schema_button.setEnabled(True)

    def _fill_schema(self, params: list[Param]) -> None:
        self.schema_button.hide()
        self.schema_note.setText(f"{len(params)} inputs from the model's schema; unset ones use the model's "
                                 "default.")
        for param in params:
            row = self._make_row(param, lambda v, name=param.name: self._edit_input(name, v),
                                 lambda _=False, name=param.name: self._edit_input(name, MISSING))
            label = QLabel(_label(param.name) + (" *" if param.required else ""))
            label.setToolTip(param.doc)
            self.schema_form.addRow(label, row)
            self.input_rows[param.name] = row
        self._show_inputs()

    def _show_inputs(self) -> None:
        if self.graph is None or self.node_id is None:
            return
        current = self.graph.param_value(self.node_id, "input") or {}
        for name, row in self.input_rows.items():
            row.field.set_value(current.get(name, row.field.param.default))
            row.reset.setVisible(name in current)

    # --- edits -> controller ---------------------------------------------------------------------------
    def _edit(self, name: str, value: Any) -> None:
        if self.graph is None or self.node_id is None:
            return
        if not self.graph.set_param(self.node_id, name, value):
            self._show_value(name)  # refused: show the value that stands

    def _edit_input(self, name: str, value: Any) -> None:
        if self.graph is None or self.node_id is None:
            return
        current = dict(self.graph.param_value(self.node_id, "input") or {})
        if value is MISSING:
            current.pop(name, None)
        else:
            current[name] = value
        self.graph.set_param(self.node_id, "input", current)

    # --- controller -> form -----------------------------------------------------------------------------
    def _on_param_changed(self, node_id: str, name: str) -> None:
        if node_id != self.node_id:
            return
        spec = self.graph.doc.node(node_id) if self.graph is not None else None
        if spec is not None and name in (SchemaController.model_param(spec.type) or "",):
            self._render()  # another model: other inputs
            return
        self._show_value(name)
        if name == "input":
            self._show_inputs()

    def _on_node_removed(self, node_id: str) -> None:
        if node_id == self.node_id:
            self.show_nodes([])

    def _on_reset(self) -> None:
        self.node_id = None
        self.show_nodes([])

    def _on_run_changed(self, node_id: str) -> None:
        if node_id == self.node_id:
            self._refresh_header()
            spec = self.graph.doc.node(node_id) if self.graph is not None else None
            for name in spec.param_inputs if spec is not None else ():
                self._show_value(name)
            if self.seed is not None:
                self._seed_state_shown(self.seed, node_id)

    def _on_param_inputs_changed(self, node_id: str) -> None:
        if node_id == self.node_id:
            for name in self.rows:
                self._show_value(name)

    def _on_meta_changed(self, node_id: str, key: str) -> None:
        if node_id == self.node_id and key == "seed_mode" and self.seed is not None:
            self._seed_state_shown(self.seed, node_id)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
