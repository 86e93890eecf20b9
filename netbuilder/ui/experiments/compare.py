"""Compare with…: another version of the project drawn over the canvas.

The other version (a file, a run of the history, a sweep trial) is the old one, the
document the new one (core/diff.py). Nodes added since are framed green, changed nodes
orange, and nodes the document no longer has are ghosts at their old place, dashed and
faded; hovering any mark shows what changed, old → new. A banner over the canvas names the
other version and its training-setting changes, with a button to end the comparison.

The marks are items of their own on top of the canvas's; they take no clicks, so editing
goes on underneath, and they are redrawn whenever the graph changes (the comparison stays
true while the user edits). The canvas is reached only through the QGraphicsScene API and
its `nodes` dict (node id -> item), so this feature imports nothing of the editor's.
"""
from __future__ import annotations

import shiboken6
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import (QFileDialog, QGraphicsRectItem, QGraphicsSimpleTextItem,
                               QHBoxLayout, QInputDialog, QLabel, QPushButton, QWidget)

from ...core.diff import ProjectDiff, diff_projects

ADDED_COLOUR, CHANGED_COLOUR, REMOVED_COLOUR = "#2e7d32", "#ef6c00", "#9e9e9e"
MARK_Z = 50  # above nodes and wires
GHOST_SIZE = (180.0, 60.0)  # when the canvas has no node to take the size from


class CompareOverlay:
    def __init__(self, doc, canvas, view):
        self.doc, self.canvas, self.view = doc, canvas, view
        self.other = None  # the other version's Project
        self.label = ""
        self.diff: ProjectDiff | None = None
        self.marks: dict[str, QGraphicsRectItem] = {}  # node id -> its mark
        self._graph = None
        self._refresh = QTimer()
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(0)
        self._refresh.timeout.connect(self.redraw)
        self.banner = _Banner(view, self.clear)
        doc.projectReplaced.connect(self.clear)
        doc.levels.changed.connect(self._schedule)

    @property
    def active(self) -> bool:
        return self.other is not None

    def compare_with(self, project, label: str) -> ProjectDiff:
        self.other, self.label = project, label
        self._listen()
        self.redraw()
        return self.diff

    def compare_with_path(self, spec: str, label: str) -> ProjectDiff | None:
        """A project file, an example or a run folder (experiments/versions.py)."""
        from ...core.project import ProjectError
        from ...experiments.versions import load_version

        try:
            return self.compare_with(load_version(spec), label)
        except ProjectError as e:
            self.banner.show_text(f"Cannot compare with {label}: {e}")
            return None

    def ask_and_compare(self, parent, runs) -> None:
        """File > Compare with…: a project file, or a run of this document's history."""
        chosen = choose_version(parent, runs)
        if chosen is not None:
            self.compare_with(*chosen)

    def clear(self) -> None:
        self.other, self.diff = None, None
        self._remove_marks()
        self.banner.dismiss()

    def _listen(self) -> None:
        graph = self.doc.project.graph
        if graph is self._graph:
            return
        if self._graph is not None:
            for sig in ("node_added", "node_removed", "node_changed", "edge_added",
                        "edge_removed", "reset"):
                getattr(self._graph.events, sig).disconnect(self._schedule)
        self._graph = graph
        for sig in ("node_added", "node_removed", "node_changed", "edge_added",
                    "edge_removed", "reset"):
            getattr(graph.events, sig).connect(self._schedule)

    def _schedule(self, *_) -> None:
        if self.active:
            self._refresh.start()  # after the canvas has updated its own items

    # ---- drawing -----------------------------------------------------------------------

    def _remove_marks(self) -> None:
        for item in self.marks.values():
            if shiboken6.isValid(item) and item.scene() is not None:
                item.scene().removeItem(item)
        self.marks = {}

    def redraw(self) -> None:
        self._remove_marks()
        if not self.active or not shiboken6.isValid(self.canvas):
            return
        self._listen()
        self.diff = d = diff_projects(self.other, self.doc.project)
        self.banner.show_text(self._banner_text(d))
        if self.doc.levels.depth != 0:
            return  # a block is open: the marks belong to the top graph
        items = self.canvas.nodes
        for node in d.added:
            if node.id in items:
                self._mark(node.id, items[node.id].sceneBoundingRect(), ADDED_COLOUR,
                           f"added since {self.label}")
        for nid, changes in d.changed.items():
            if nid in items:
                text = "\n".join(c.text() for c in changes)
                self._mark(nid, items[nid].sceneBoundingRect(), CHANGED_COLOUR,
                           f"changed since {self.label} (old → new):\n{text}")
        size = next((QRectF(i.sceneBoundingRect()).size() for i in items.values()), None)
        w, h = (size.width(), size.height()) if size is not None else GHOST_SIZE
        for node in d.removed:
            if node.id in items:  # replaced by a node of another type: marked as added
                continue
            rect = QRectF(node.pos[0], node.pos[1], w, h)
            self._ghost(node, rect)

    def _mark(self, nid: str, rect: QRectF, colour: str, tip: str) -> None:
        item = QGraphicsRectItem(rect.adjusted(-5, -5, 5, 5))
        item.setPen(QPen(QColor(colour), 3))
        item.setBrush(QBrush(Qt.BrushStyle.NoBrush))
        self._place(item, nid, tip)

    def _ghost(self, node, rect: QRectF) -> None:
        item = QGraphicsRectItem(rect)
        pen = QPen(QColor(REMOVED_COLOUR), 2, Qt.PenStyle.DashLine)
        item.setPen(pen)
        fill = QColor(REMOVED_COLOUR)
        fill.setAlpha(40)
        item.setBrush(QBrush(fill))
        item.setOpacity(0.8)
        text = QGraphicsSimpleTextItem(f"{node.name}\n{node.type} (removed)", item)
        text.setBrush(QBrush(QColor(REMOVED_COLOUR).darker(140)))
        text.setPos(rect.left() + 10, rect.top() + 8)
        params = ", ".join(f"{k}={v}" for k, v in node.params.items())
        self._place(item, f"removed:{node.id}", f"removed since {self.label}: {node.name} "
                    f"({node.type}{', ' + params if params else ''})")

    def _place(self, item, key: str, tip: str) -> None:
        item.setZValue(MARK_Z)
        item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)  # clicks reach the node below
        item.setToolTip(tip)
        self.canvas.addItem(item)
        self.marks[key] = item

    def _banner_text(self, d: ProjectDiff) -> str:
        lines = [f"Comparing with {self.label}: {d.summary()}"]
        if d.settings:
            lines.append("training: " + "; ".join(c.text() for c in d.settings))
        if d.dataset is not None:
            lines.append(d.dataset.text())
        return "\n".join(lines)


GAP = 6  # px between the banner and the canvas edges


class _Banner(QWidget):
    """A strip at the top of the canvas view: what is compared, and a Close button."""

    def __init__(self, view, on_close):
        super().__init__(view)
        self.setObjectName("compareBanner")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet("#compareBanner { background: rgba(255, 243, 224, 235); "
                           "border: 1px solid #ef6c00; border-radius: 4px; }"
                           "QLabel { color: #4e2600; }")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.close_button = close = QPushButton("End comparison")
        close.clicked.connect(on_close)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        lay.addWidget(self.text, 1)
        lay.addWidget(close)
        self.hide()

    def show_text(self, text: str) -> None:
        self.text.setText(text)
        view = self.parentWidget()
        width = max(240, min(view.width() - 24, 560))
        self.setFixedWidth(width)
        self.adjustSize()
        # the canvas moves down to make room: the banner never covers a card
        view.setViewportMargins(0, self.height() + 2 * GAP, 0, 0)
        self.move(view.width() - width - 24, GAP)  # top right, clear of the scroll bar
        self.show()
        self.raise_()

    def dismiss(self) -> None:
        self.hide()
        self.parentWidget().setViewportMargins(0, 0, 0, 0)


def choose_version(parent, runs) -> tuple[object, str] | None:
    """Ask which version to compare with: a file, or one of this document's runs. Returns
    (project, label) or None; a file that cannot be read is said in a message box."""
    from PySide6.QtWidgets import QMessageBox

    from ...core.project import ProjectError
    from ...experiments.versions import load_version

    choices = ["A project file…"] + [f"Run {r.out_dir.name} ({r.status})" for r in runs]
    if runs:
        picked, ok = QInputDialog.getItem(parent, "Compare with", "Compare the canvas with:",
                                          choices, 0, False)
        if not ok:
            return None
        index = choices.index(picked)
    else:
        index = 0
    if index == 0:
        path, _ = QFileDialog.getOpenFileName(parent, "Compare with project", "",
                                              "netbuilder projects (*.json);;All files (*)")
        if not path:
            return None
        spec, label = path, path.rsplit("/", 1)[-1]
    else:
        run = runs[index - 1].out_dir
        spec, label = str(run), f"run {run.name}"
    try:
        return load_version(spec), label
    except ProjectError as e:
        QMessageBox.warning(parent, "Cannot compare", str(e))
        return None


__all__ = ["CompareOverlay", "choose_version"]
