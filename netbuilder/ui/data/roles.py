"""The CSV column roles editor of the Data panel: one row per column of the file's header,
with its role (target, feature, ignore, one-hot, index). An edit becomes the dataset
options `roles` and `target` (one undo entry, pushed by the panel)."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHeaderView, QTableWidget,
                               QTableWidgetItem)

ROLE_LABELS = {"target": "target", "feature": "feature (number)", "ignore": "ignore",
               "onehot": "category: one-hot", "index": "category: index (Embedding)"}


def roles_text(roles: dict[str, str]) -> str:
    """{"a": "onehot", "b": "feature"} -> "a=onehot" (features are the default)."""
    return ", ".join(f"{c}={r}" for c, r in roles.items() if r not in ("feature", "target"))


class ColumnRoles(QTableWidget):
    """`edited(roles, target)`: the person chose another role for a column."""

    edited = Signal(str, str)

    def __init__(self, parent=None):
        super().__init__(0, 2, parent)
        self.setHorizontalHeaderLabels(["Column", "Role"])
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.columns: list[str] = []
        self.roles: dict[str, str] = {}

    def show_columns(self, columns: list[str], target: str, roles: dict[str, str]) -> None:
        target = target or (columns[-1] if columns else "")
        self.columns = list(columns)
        self.roles = {c: "target" if c == target else roles.get(c, "feature") for c in columns}
        self.setRowCount(len(columns))
        for row, c in enumerate(columns):
            self.setItem(row, 0, QTableWidgetItem(c))
            combo = QComboBox()
            for key, label in ROLE_LABELS.items():
                combo.addItem(label, key)
            combo.setCurrentIndex(combo.findData(self.roles[c]))
            combo.currentIndexChanged.connect(lambda _, c=c, w=combo: self._chosen(c, w))
            self.setCellWidget(row, 1, combo)
        self.setFixedHeight(min(260, 28 + 30 * len(columns)))

    def combo(self, column: str) -> QComboBox:
        return self.cellWidget(self.columns.index(column), 1)

    def _chosen(self, column: str, combo: QComboBox) -> None:
        role = combo.currentData()
        roles = dict(self.roles)
        if role == "target":  # one target: the previous one becomes a feature
            roles = {c: ("feature" if r == "target" else r) for c, r in roles.items()}
        roles[column] = role
        target = next((c for c, r in roles.items() if r == "target"), "")
        self.edited.emit(roles_text(roles), target)
