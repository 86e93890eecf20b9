"""Help › Quick Start and Help › Keyboard Shortcuts. The shortcut list is read from the
window's menu actions, so it always says what the keys really do."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFrame, QMenuBar, QMessageBox,
                               QTextBrowser, QVBoxLayout, QWidget)

from ..widgets.text import html

QUICK_START = (
    "<h3>Quick start</h3><ol>"
    "<li><b>Add layers</b>: drag them from the Layers palette onto the canvas (or "
    "double-click one). Dropped on a wire, a layer is inserted into it.</li>"
    "<li><b>Wire them</b>: drag from an output port (right) to an input port (left). "
    "Every card shows its output shape and parameters as you build.</li>"
    "<li><b>Fix problems</b>: the Problems tab explains each mistake and how to fix it; "
    "click one to show its layer. The status bar counts them.</li>"
    "<li><b>Choose data</b>: the Data tab picks the dataset and matches the Input node to "
    "it.</li>"
    "<li><b>Train</b>: set the loss and epochs in the Training panel, then Train "
    "(Ctrl+Enter). Pause (Ctrl+P) to edit the network mid-run.</li>"
    "<li><b>Use it</b>: the Results tab shows test metrics and a try-it box; File › "
    "Export… (Ctrl+E) writes TorchScript, ONNX, pt2 or PyTorch source.</li></ol>"
    "<p>File › New from Example… (Ctrl+Shift+N) opens a working network to start from.</p>")


def show_quick_start(parent: QWidget) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Information, "Quick start", QUICK_START,
                      QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.RichText)
    box.open()
    return box


def shortcut_rows(menubar: QMenuBar) -> list[tuple[str, str, str]]:
    """(menu, command, keys) for every menu action that has a shortcut, in menu order."""
    rows = []

    def walk(menu, path):
        for act in menu.actions():
            if act.menu() is not None:
                walk(act.menu(), f"{path} › {act.text().replace('&', '')}")
            elif not act.isSeparator() and act.shortcuts():
                keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText)
                                 for k in act.shortcuts())
                rows.append((path, act.text().replace("&", ""), keys))
    for top in menubar.actions():
        if top.menu() is not None:
            walk(top.menu(), top.text().replace("&", ""))
    return rows


def shortcuts_html(rows) -> str:
    body = "".join(f"<tr><td>{html(m)}</td><td>{html(a)}</td><td><b>{html(k)}</b></td></tr>"
                   for m, a, k in rows)
    return (f"<table cellspacing='6'><tr><th align='left'>Menu</th><th align='left'>"
            f"Command</th><th align='left'>Keys</th></tr>{body}</table>")


class ShortcutsDialog(QDialog):
    """The shortcut table in a scrolling view: as a message box it grew taller than a
    768-pixel screen and its OK button was off the bottom. It opens as tall as the table,
    at most most of the screen's height, and as wide as the table."""

    SCREEN_SHARE = 0.8

    def __init__(self, parent: QWidget | None, html_text: str):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self._html = html_text
        lay = QVBoxLayout(self)
        self.view = QTextBrowser()
        self.view.setHtml(html_text)
        self.view.setFrameShape(QFrame.Shape.NoFrame)
        lay.addWidget(self.view, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        lay.addWidget(buttons)
        self._fit()

    def text(self) -> str:
        return self._html

    def _fit(self) -> None:
        doc = self.view.document()
        doc.setTextWidth(-1)  # the table's natural width, no wrapping
        margins = 2 * self.view.frameWidth() + 2 * int(doc.documentMargin())
        bar = self.style().pixelMetric(self.style().PixelMetric.PM_ScrollBarExtent)
        width = int(doc.idealWidth()) + margins + bar
        height = int(doc.size().height()) + margins
        screen = (self.parentWidget() or self).screen().availableGeometry()
        room = self.layout().contentsMargins()
        extra_h = room.top() + room.bottom() + self.layout().spacing() + \
            QDialogButtonBox(QDialogButtonBox.StandardButton.Ok).sizeHint().height()
        extra_w = room.left() + room.right()
        self.resize(min(width + extra_w, int(screen.width() * self.SCREEN_SHARE)),
                    min(height + extra_h, int(screen.height() * self.SCREEN_SHARE)))


def show_shortcuts(parent: QWidget, menubar: QMenuBar) -> ShortcutsDialog:
    box = ShortcutsDialog(parent, shortcuts_html(shortcut_rows(menubar)))
    box.open()
    return box
