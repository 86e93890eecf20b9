"""The editor's fine-tuning gestures: freeze / unfreeze the selection (Ctrl+Shift+F /
Ctrl+Shift+U), freeze everything before a node, fit the head to the dataset's classes, and
Load Weights… (the next run starts from a checkpoint or state_dict file). Every change is
one undo command; a weights file that fits nothing is reported and changes nothing.
"""
from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox

from ...core.tuning import upstream
from ..document.commands import SetParams, SetTraining, SetTuning

WEIGHT_FILES = ("Weights (*.safetensors *.pt *.pth *.bin *.ckpt);;"
                "Checkpoint folder's model.safetensors (model.safetensors);;All files (*)")


def _ask_path(parent) -> str:
    path, _ = QFileDialog.getOpenFileName(parent, "Load weights", "", WEIGHT_FILES)
    return path


def _show_report(parent, title: str, text: str, ok: bool) -> None:
    box = QMessageBox.information if ok else QMessageBox.warning
    box(parent, title, text)


class TuningActions(QObject):
    message = Signal(str)  # what a gesture did, or why it did nothing: a status line

    def __init__(self, doc, canvas, parent=None):
        super().__init__(parent)
        self.doc, self.canvas = doc, canvas
        self.ask_path = _ask_path  # replaced in tests to answer the file dialog
        self.show_report = _show_report  # replaced in tests to read the report
        self.last_report = ""
        K = QKeySequence
        self.act_freeze = self._action("&Freeze", self.freeze_selection, K("Ctrl+Shift+F"))
        self.act_unfreeze = self._action("U&nfreeze", self.unfreeze_selection,
                                         K("Ctrl+Shift+U"))
        self.act_before = self._action("Freeze Everything &Before This Node",
                                       self.freeze_before, None)
        self.act_fit = self._action("Fit &Head to the Data", self.fit_head, None)
        self.act_load = self._action("&Load Weights…", self.load_weights, None)
        self.act_fresh = self._action("Start from Fresh &Weights", self.fresh_weights, None)
        self.selection_actions = [self.act_freeze, self.act_unfreeze, self.act_before]
        self.actions = [*self.selection_actions, self.act_fit, self.act_load, self.act_fresh]
        canvas.selectionChanged.connect(self._enable)
        doc.trainingChanged.connect(self._enable)
        self._enable()

    def _action(self, text, slot, shortcut) -> QAction:
        act = QAction(text, self.parent() or self, triggered=lambda _=False: slot())
        act.setShortcut(shortcut or QKeySequence())
        return act

    def _enable(self) -> None:
        if not shiboken6.isValid(self.canvas):
            return  # the window is being torn down
        ids = self.canvas.selected_node_ids()
        nodes = [self.canvas.graph.nodes[i] for i in ids if i in self.canvas.graph.nodes]
        self.act_freeze.setEnabled(any(not n.frozen for n in nodes))
        self.act_unfreeze.setEnabled(any(n.frozen for n in nodes))
        self.act_before.setEnabled(len(nodes) == 1)
        self.act_fresh.setEnabled(bool(self.doc.project.training.init_weights))

    def _push(self, cmd) -> bool:
        if cmd is None:
            return False
        self.doc.undo_stack.push(cmd)
        self._enable()
        return True

    # ---- freezing ---------------------------------------------------------------------------

    def _set_frozen(self, ids, frozen: bool, text: str | None = None) -> bool:
        cmd = SetTuning(self.canvas.graph, ids, frozen=frozen, text=text) if ids else None
        return self._push(cmd if cmd is not None and cmd.changes_anything else None)

    def freeze_selection(self) -> bool:
        return self._set_frozen(self.canvas.selected_node_ids(), True)

    def unfreeze_selection(self) -> bool:
        return self._set_frozen(self.canvas.selected_node_ids(), False)

    def freeze_before(self, node_id: str | None = None) -> bool:
        """Freeze every node with weights that feeds this one (one undo entry)."""
        ids = self.canvas.selected_node_ids()
        node_id = node_id or (ids[0] if len(ids) == 1 else None)
        if node_id is None:
            return False
        graph = self.canvas.graph
        infos = self.doc.levels.infos()
        before = [n for n in upstream(graph, node_id)
                  if infos.get(n) is None or infos[n].params > 0]
        if not before:
            self.message.emit(f"nothing with weights comes before {graph.node(node_id).name}")
            return False
        return self._set_frozen(before, True,
                                f"Freeze everything before {graph.node(node_id).name}")

    # ---- the head and the weights -----------------------------------------------------------

    def fit_head(self) -> bool:
        from ...training.tuning import head_fit

        try:
            node_id, classes = head_fit(self.doc.project)
        except ValueError as e:
            self.message.emit(f"cannot fit the head: {e}")
            return False
        graph = self.doc.graph
        node = graph.node(node_id)
        if node.params.get("out_features") == classes:
            self.message.emit(f"{node.name} already has {classes} outputs, one per class")
            return False
        cmd = SetParams(graph, node_id, {"out_features": classes})
        cmd.setText(f"Fit {node.name} to {classes} classes")
        self.message.emit(f"{node.name}: out_features {node.params.get('out_features')} → "
                          f"{classes} (the dataset's classes); every other layer is kept")
        return self._push(cmd)

    def load_weights(self, path: str | None = None) -> bool:
        """Check `path` against the graph and make it the next run's starting weights.
        Shows the report; a file that fits nothing changes nothing."""
        from ...core.compiler import CompileError, compile_graph
        from ...training.init_weights import InitError, check_initial

        path = path or self.ask_path(self.parent())
        if not path:
            return False
        title = "Load weights"
        try:
            report, _ = check_initial(compile_graph(self.doc.graph), path)
        except CompileError as e:
            return self._report(title, f"The graph has errors; fix them first.\n\n{e}", False)
        except InitError as e:
            return self._report(title, f"{e}\n\nNothing was changed.", False)
        old = self.doc.project.training
        self._push(SetTraining(self.doc, old, old.model_copy(update={"init_weights": path}),
                               "Load weights"))
        return self._report(title, report.text() + "\n\nThe next training run starts from "
                            "these weights (mismatched and missing tensors start fresh).", True)

    def fresh_weights(self) -> bool:
        old = self.doc.project.training
        if not old.init_weights:
            return False
        return self._push(SetTraining(self.doc, old, old.model_copy(update={"init_weights": ""}),
                                      "Start from fresh weights"))

    def _report(self, title: str, text: str, ok: bool) -> bool:
        self.last_report = text
        self.show_report(self.parent(), title, text, ok)
        return ok
