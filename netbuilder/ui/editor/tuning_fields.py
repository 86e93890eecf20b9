"""The inspector's fine-tuning row: a Frozen switch and the learning-rate multiplier of the
shown node. Each change is one SetTuning undo command; the row re-reads the node when the
graph reports a change (undo, redo, the canvas's Freeze)."""
from __future__ import annotations

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QHBoxLayout, QLabel, QWidget

from ...core.graph import MAX_LR_MULT
from ..document.commands import SetTuning


class TuningFields(QWidget):
    def __init__(self, doc, graph_of, parent=None):
        super().__init__(parent)
        self.doc, self.graph_of = doc, graph_of  # graph_of(): the graph the inspector shows
        self.node_id: str | None = None
        self.frozen = QCheckBox("Frozen")
        self.frozen.setToolTip("A frozen layer's weights do not train: no gradient, left out "
                               "of the optimizer, BatchNorm statistics kept (on a block: "
                               "every layer inside it)")
        self.mult = QDoubleSpinBox(decimals=3, minimum=0.001, maximum=MAX_LR_MULT,
                                   singleStep=0.5, value=1.0, prefix="×")
        self.mult.setToolTip("learning-rate multiplier: this layer trains with the run's "
                             "learning rate times this")
        self.mult.setKeyboardTracking(False)  # one command per finished value, not per digit
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.frozen)
        row.addStretch(1)
        row.addWidget(QLabel("lr"))
        row.addWidget(self.mult)
        self.frozen.toggled.connect(self._frozen_toggled)
        self.mult.valueChanged.connect(self._mult_changed)

    def show_node(self, node) -> None:
        self.node_id = node.id if node is not None else None
        if node is None:
            return
        with QSignalBlocker(self.frozen), QSignalBlocker(self.mult):
            self.frozen.setChecked(node.frozen)
            self.mult.setValue(node.lr_mult)

    def _push(self, **change) -> None:
        graph = self.graph_of()
        if self.node_id is None or self.node_id not in graph.nodes:
            return
        cmd = SetTuning(graph, [self.node_id], **change)
        if cmd.changes_anything:
            self.doc.undo_stack.push(cmd)
        self.show_node(graph.node(self.node_id))  # a refused (locked) edit shows the truth

    def _frozen_toggled(self, on: bool) -> None:
        self._push(frozen=on)

    def _mult_changed(self, value: float) -> None:
        self._push(lr_mult=round(value, 3))
