"""The inspector: edit the selected layer's name and parameters, see its shapes and cost.

Editors are generated from the layer's `Param`s. A typed value is checked with
`Param.check` before anything changes; a bad value stays in the editor, framed in red,
with a message saying what is wrong, and the graph is not touched. A good value becomes one
`SetParams` undo command. The inspector never writes to the graph directly: it re-reads the
node when the graph reports a change (undo, redo, edits from elsewhere).
"""
from __future__ import annotations

import shiboken6
from PySide6.QtCore import QSignalBlocker, QSize, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QLineEdit, QScrollArea, QVBoxLayout, QWidget

from ...core.analysis import ERROR
from ...core.graph import Graph, Node
from ...core.registry import BOOL, CHOICE, FLOAT, INT
from ..document.commands import Rename, SetParams
from ..document.document import Document
from ..widgets import theme
from .tuning_fields import TuningFields
from ..widgets.forms import (ErrorFrame, ParamField, bounds_text, clear_layout, fmt_count,
                             plain, rule, section, tidy_form, value_label)


class Inspector(QWidget):
    """Shows and edits one node. Call `set_node(node_id)` when the selection changes."""

    # "Sweep this" (right-click a parameter's name): ("NODE.param", its value now)
    sweepRequested = Signal(str, object)

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.node_id: str | None = None
        self.fields: dict[str, ParamField] = {}
        self._graph: Graph | None = None
        self._label_width = 0
        self._populating = False

        self.hint = QLabel("Select a layer to edit it", alignment=Qt.AlignmentFlag.AlignCenter,
                           wordWrap=True)
        self.hint.setStyleSheet(f"color: {theme.css(theme.muted_colour())}; padding: 24px;")

        self.title = QLabel()
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.title.setFont(font)
        self.doc_label = plain(QLabel(wordWrap=True))
        self.doc_label.setStyleSheet(f"color: {theme.css(theme.muted_colour())};")

        self.name_edit = QLineEdit()
        self.name_edit.editingFinished.connect(self._commit_name)
        self.name_frame = ErrorFrame(self.name_edit)
        self.name_message = plain(QLabel(wordWrap=True))
        self.name_message.setStyleSheet(f"color: {theme.css(theme.severity_colour(ERROR))};")
        self.name_message.hide()

        self._form_host = QWidget()  # rebuilt for every node (different params)
        self.info_form = QFormLayout()
        self.problems_box = QVBoxLayout()
        self.problems_box.setSpacing(4)
        self.tuning = TuningFields(doc, lambda: self.graph)  # frozen, lr × (fine-tuning)

        self.node_view = QWidget()
        body = QVBoxLayout(self.node_view)
        body.setContentsMargins(10, 10, 10, 10)
        body.setSpacing(6)
        body.addWidget(self.title)
        body.addWidget(self.doc_label)
        body.addWidget(rule())
        body.addWidget(self._form_host)
        body.addWidget(self.tuning)
        body.addSpacing(4)
        body.addWidget(section("Shapes and cost"))
        body.addLayout(self.info_form)
        body.addLayout(self.problems_box)
        body.addStretch(1)
        tidy_form(self.info_form)

        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        content = QWidget()
        stack = QVBoxLayout(content)
        stack.setContentsMargins(0, 0, 0, 0)
        stack.addWidget(self.hint)
        stack.addWidget(self.node_view)
        scroll.setWidget(content)
        # Shown while a training run locks the graph (the lock follows the run state).
        self.lock_banner = QLabel(wordWrap=True)
        self.lock_banner.setStyleSheet("background: #fff3cd; color: #5d4200; padding: 6px;")
        self.lock_banner.hide()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.lock_banner)
        # Inside a block: which copy is shown and that edits change every copy.
        self.scope = QLabel(wordWrap=True)
        self.scope.setStyleSheet("background: #e3f2fd; color: #0d3c61; padding: 6px;")
        self.scope.hide()
        outer.addWidget(self.scope)
        outer.addWidget(scroll)
        doc.lockChanged.connect(self._lock_changed)

        doc.analysisChanged.connect(self._refresh_info)
        doc.projectReplaced.connect(self._attach_graph)
        doc.levels.changed.connect(self._attach_graph)  # a block opened or closed
        doc.levels.changed.connect(self._show_scope)
        doc.analysisChanged.connect(self._show_scope)  # copies and instances may change
        self._attach_graph()

    def _show_scope(self) -> None:
        note = self.doc.levels.scope_note()
        self.scope.setText(note)
        self.scope.setVisible(bool(note))

    def _lock_changed(self, locked: bool) -> None:
        self.lock_banner.setText(self.doc.lock_reason or "Editing is locked")
        self.lock_banner.setVisible(locked)
        self.node_view.setEnabled(not locked)

    def sizeHint(self) -> QSize:
        return QSize(310, 600)  # wide enough for the longest parameter names and a value

    # ---- document / graph wiring ------------------------------------------------------------

    @property
    def graph(self) -> Graph:
        """The graph the canvas shows: the top graph or an opened block definition."""
        return self.doc.levels.graph

    def _attach_graph(self) -> None:
        """Listen to the current graph (a replaced project brings a new graph object)."""
        if self._graph is not None:
            ev = self._graph.events
            ev.node_changed.disconnect(self._on_node_changed)
            ev.node_removed.disconnect(self._on_node_removed)
            ev.reset.disconnect(self._on_reset)
        self._graph = self.graph
        ev = self._graph.events
        ev.node_changed.connect(self._on_node_changed)
        ev.node_removed.connect(self._on_node_removed)
        ev.reset.connect(self._on_reset)
        self.set_node(None)

    def _on_node_changed(self, node: Node, what: str) -> None:
        if not shiboken6.isValid(self) or node.id != self.node_id:
            return
        if what == "name":
            self._show_name(node)
        elif what == "params":
            self._show_values(node)
        elif what == "tuning":
            self.tuning.show_node(node)

    def _on_node_removed(self, node: Node) -> None:
        if shiboken6.isValid(self) and node.id == self.node_id:
            self.set_node(None)

    def _on_reset(self) -> None:
        if shiboken6.isValid(self):
            self.set_node(self.node_id if self.node_id in self.graph.nodes else None)

    # ---- showing a node -------------------------------------------------------------------

    def set_node(self, node_id: str | None) -> None:
        if node_id is not None and node_id not in self.graph.nodes:
            node_id = None
        if node_id is not None and node_id == self.node_id and self.fields.keys() == {
                p.name for p in self.graph.node(node_id).spec.params}:
            # Same node again (a selection re-sent): keep the editors and the focus.
            node = self.graph.node(node_id)
            self._show_name(node)
            self._show_values(node)
            self.tuning.show_node(node)
            self._refresh_info()
            return
        self.node_id = node_id
        self.hint.setVisible(node_id is None)
        self.node_view.setVisible(node_id is not None)
        self._build_form()
        if node_id is not None:
            node = self.graph.node(node_id)
            self._show_name(node)
            self._show_values(node, keep_pending=False)
            self.tuning.show_node(node)
        self._refresh_info()

    def _build_form(self) -> None:
        """A fresh editor per parameter of the node's type."""
        # The name row survives; the old editors go quietly (hiding a focused editor would
        # otherwise "finish" its edit against the newly shown node).
        old = self._form_host
        self.name_frame.setParent(None)
        self.name_message.setParent(None)
        for child in old.findChildren(QWidget):
            child.blockSignals(True)

        host = QWidget()
        form = QFormLayout(host)
        form.setContentsMargins(0, 0, 0, 0)
        tidy_form(form)
        name_box = QWidget()
        nb = QVBoxLayout(name_box)
        nb.setContentsMargins(0, 0, 0, 0)
        nb.setSpacing(2)
        nb.addWidget(self.name_frame)
        nb.addWidget(self.name_message)
        self.name_frame.show()
        self.fields = {}
        params = self.graph.node(self.node_id).spec.params if self.node_id else ()
        # One label width for the editors and the analysis rows, so their columns line up.
        fm = self.fontMetrics()
        self._label_width = max(fm.horizontalAdvance(t) for t in
                                ["Name", "Parameters", "Input in8", *(p.name for p in params)])
        name_label = QLabel("Name")
        name_label.setMinimumWidth(self._label_width)
        form.addRow(name_label, name_box)
        if self.node_id is not None:
            for p in params:
                f = ParamField(p)
                f.edited.connect(lambda f=f: self._commit_param(f))
                label = QLabel(p.name)
                label.setMinimumWidth(self._label_width)
                label.setToolTip(p.doc + bounds_text(p))
                if p.kind in (INT, FLOAT, BOOL, CHOICE) and self.doc.levels.depth == 0:
                    act = QAction("Sweep this…", label)
                    act.triggered.connect(lambda _=False, p=p: self._sweep(p.name))
                    label.addAction(act)
                    label.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
                form.addRow(label, f)
                self.fields[p.name] = f

        # Fully built before it is shown: children added to a visible widget would only
        # appear on the next event-loop turn.
        self.node_view.layout().replaceWidget(old, host)
        self._form_host = host
        host.show()
        old.hide()
        old.deleteLater()

    def _show_name(self, node: Node) -> None:
        spec = node.spec
        colour = theme.css(theme.category_colour(spec.category))
        self.title.setText(f"<span style='color:{colour}'>●</span> {node.type}")
        self.doc_label.setText(f"{spec.category} · {spec.doc}")
        with QSignalBlocker(self.name_edit):
            self.name_edit.setText(node.name)
        self._name_problem(None)

    def _show_values(self, node: Node, keep_pending: bool = True) -> None:
        self._populating = True
        try:
            for name, f in self.fields.items():
                value = node.params.get(name, f.param.default)
                if keep_pending and f.pending and value == f.shown:
                    continue  # another parameter changed: leave the user's rejected text
                f.show_value(value)
                msg = f.param.check(value)  # a stored bad value (e.g. from a file) is flagged
                f.set_problem(f"{name} {msg}" if msg else None)
        finally:
            self._populating = False

    # ---- edits -----------------------------------------------------------------------------

    def _current(self) -> Node | None:
        if self.node_id is None or self._graph is not self.graph:
            return None
        return self.graph.nodes.get(self.node_id)

    def _commit_param(self, field: ParamField) -> None:
        node = self._current()
        if self._populating or node is None or self.fields.get(field.param.name) is not field:
            return
        name = field.param.name
        value, msg = field.read()
        if msg is None:
            msg = field.param.check(value)
        if msg:
            field.set_problem(f"{name} {msg}")
            field.pending = True
            return
        field.set_problem(None)
        field.pending = False
        if value == node.params.get(name):
            return
        self.doc.undo_stack.push(SetParams(self.graph, node.id, {name: value}))

    def _sweep(self, name: str) -> None:
        node = self._current()
        if node is not None:
            self.sweepRequested.emit(f"{node.name}.{name}",
                                     node.params.get(name, node.spec.param(name).default))

    def _commit_name(self) -> None:
        node = self._current()
        if self._populating or node is None:
            return
        name = self.name_edit.text().strip()
        if not name:
            self._name_problem("A layer needs a name; the old name is kept.")
            return
        self._name_problem(None)
        if name != node.name:
            self.doc.undo_stack.push(Rename(self.graph, node.id, name))

    def _name_problem(self, message: str | None) -> None:
        self.name_message.setText(message or "")
        self.name_message.setVisible(bool(message))
        self.name_frame.set_invalid(bool(message))

    # ---- read-only analysis ------------------------------------------------------------------

    def _refresh_info(self) -> None:
        while self.info_form.rowCount():
            self.info_form.removeRow(0)
        clear_layout(self.problems_box)
        node = self._current()
        if node is None:
            return
        info = self.doc.levels.infos().get(node.id)
        if info is None:
            self._info_row("Output", "analysing…")
            return
        ports = node.input_ports()
        arriving = self._input_infos(node.id)
        for port, t in zip(ports, arriving):
            label = "Input" if len(ports) == 1 else f"Input {port}"
            self._info_row(label, str(t) if t else "not known yet")
        if info.output is not None:
            outs = [(f"Output {port}", t) for port, t in info.ports] or [("Output", info.output)]
            for label, t in outs:  # a block with several outputs: one row per port
                self._info_row(label, str(t) + (f"  ({t.dtype})" if t.dtype != "float32"
                                                else ""))
        elif node.spec.outputs:
            self._info_row("Output", "not known (see problems)" if info.error or info.blocked
                           else "—")
        self._info_row("Parameters", fmt_count(info.params))
        self._info_row("FLOPs", fmt_count(info.flops))
        for p in [p for p in self.doc.levels.problems() if p.node_id == node.id]:
            label = plain(QLabel(("✖ " if p.severity == ERROR else "⚠ ") + p.message,
                                  wordWrap=True))
            label.setStyleSheet(f"color: {theme.css(theme.severity_colour(p.severity))};")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.problems_box.addWidget(label)
            label.show()  # now rather than on the next event-loop turn

    def _info_row(self, name: str, text: str) -> None:
        label, value = QLabel(name), value_label(text)
        label.setMinimumWidth(self._label_width)
        self.info_form.addRow(label, value)
        label.show()
        value.show()

    def info_rows(self) -> dict[str, str]:
        """The read-only section as text (label -> value), e.g. {"Output": "N×16×8×8"}."""
        out = {}
        for row in range(self.info_form.rowCount()):
            label = self.info_form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            field = self.info_form.itemAt(row, QFormLayout.ItemRole.FieldRole)
            out[label.widget().text()] = field.widget().text()
        return out

    def problem_texts(self) -> list[str]:
        return [self.problems_box.itemAt(i).widget().text()
                for i in range(self.problems_box.count())]

    def _input_infos(self, node_id: str) -> list:
        try:
            return self.doc.levels.input_infos(node_id)
        except Exception:  # noqa: BLE001 - a stale id must not break the panel
            return []
