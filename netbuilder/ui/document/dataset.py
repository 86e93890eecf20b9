"""The project's dataset choice as undo commands.

The dataset is part of the project, not of the graph. Changes go through `SetDataset` undo
commands; the Project emits on assignment (psygnal), and the Document's `datasetChanged`
tells every view that the choice changed (including on undo/redo).

Choosing a dataset also sets the Input node's shape and dtype to the data's (when asked) in
the same undo entry: a new dataset almost always needs it, and one Ctrl+Z restores both.
"""
from __future__ import annotations

import copy

from PySide6.QtGui import QUndoCommand

from ...core.project import DatasetChoice
from .commands import MacroCommand, SetParams
from .document import Document


class SetDataset(QUndoCommand):
    """Set `doc.project.dataset` (a DatasetChoice or None). Consecutive edits of one option
    (spin-box arrows) merge into one entry."""

    MERGE_ID = 2001

    def __init__(self, doc: Document, choice: DatasetChoice | None, text: str = "",
                 merge_key: str | None = None, parent: QUndoCommand | None = None):
        name = choice.name if choice else "none"
        super().__init__(text or f"Dataset {name}", parent)
        self.doc = doc
        self.old = copy.deepcopy(doc.project.dataset)
        self.new = copy.deepcopy(choice)
        self.merge_key = merge_key

    def _set(self, value) -> None:
        self.doc.project.dataset = copy.deepcopy(value)  # the project emits the change

    def redo(self):
        self._set(self.new)

    def undo(self):
        self._set(self.old)

    def id(self) -> int:
        return self.MERGE_ID if self.merge_key else -1

    def mergeWith(self, other) -> bool:
        if not isinstance(other, SetDataset) or other.merge_key != self.merge_key \
                or self.merge_key is None or other.doc is not self.doc:
            return False
        self.new = other.new
        return True


def input_node(graph):
    inputs = graph.nodes_of_type("Input")
    return inputs[0] if len(inputs) == 1 else None


def input_mismatch(graph, info) -> dict | None:
    """The Input parameters that would match `info`, or None when they already do (or the
    graph has not exactly one Input)."""
    node = input_node(graph)
    if node is None or info is None:
        return None
    want = info.input_params()
    have = {k: node.params.get(k) for k in want}
    have["shape"] = list(have["shape"] or [])
    return None if have == want else want


def match_input_command(doc: Document, info) -> QUndoCommand | None:
    want = input_mismatch(doc.graph, info)
    if want is None:
        return None
    cmd = SetParams(doc.graph, input_node(doc.graph).id, want)
    cmd.setText("Match Input to dataset")
    return cmd


def change_dataset(doc: Document, choice: DatasetChoice | None, match_input: bool = True
                   ) -> QUndoCommand:
    """One undo entry: the new dataset, and the Input node's shape/dtype when asked and
    known without loading."""
    cmd = SetDataset(doc, choice)
    if not match_input or choice is None:
        return cmd
    try:
        from ...data import get
        spec = get(choice.name)
        info = spec.info(spec.fill(choice.options)) if spec.info else None
    except Exception:  # noqa: BLE001 (bad options: the panel shows the message)
        info = None
    params = match_input_command(doc, info)
    if params is None:
        return cmd
    macro = MacroCommand(f"Dataset {choice.name}")
    macro.children = [cmd, params]
    return macro
