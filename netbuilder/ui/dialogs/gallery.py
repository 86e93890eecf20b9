"""File › New from Example: the shipped examples, one line of description each."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem,
                               QVBoxLayout)

from ... import examples


class ExampleGallery(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("New from example")
        self.resize(560, 380)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Start from one of the shipped examples:"))
        self.list = QListWidget()
        for name in examples.names():
            p = examples.load(name)
            item = QListWidgetItem(f"{p.name}\n{p.description}")
            item.setData(Qt.UserRole, name)
            self.list.addItem(item)
        self.list.setWordWrap(True)
        self.list.setSpacing(4)
        self.list.setCurrentRow(0)
        self.list.itemDoubleClicked.connect(self.accept)
        lay.addWidget(self.list)
        buttons = QDialogButtonBox(QDialogButtonBox.Open | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def chosen(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.UserRole) if item else None
