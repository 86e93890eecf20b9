"""Read-only views of the analysis: the problem list, the layer summary table, the code.

Each panel rebuilds from the Document when it reports new analysis (`analysisChanged`);
none of them changes the graph. Clicking a row that belongs to a node emits
`nodeActivated(node_id)` so the window can select and show that node.
"""
from __future__ import annotations

import keyword
import re

from PySide6.QtCore import QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QSyntaxHighlighter, QTextCharFormat
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QPlainTextEdit,
                               QStackedWidget, QStyledItemDelegate, QStyleOptionViewItem,
                               QTableWidget, QTableWidgetItem, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from ...core.analysis import ERROR, WARNING
from ...core.shapes import topo_order
from ..widgets import theme
from ..document.document import Document

NODE_ROLE = Qt.ItemDataRole.UserRole


def _fmt(n: int) -> str:
    return f"{n:,}"


class _WrapDelegate(QStyledItemDelegate):
    """Row heights that fit the message wrapped to its column's current width (QTreeView
    alone wraps when painting but sizes rows as if the text were one line)."""

    def __init__(self, view: QTreeWidget):
        super().__init__(view)
        self.view = view

    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:
        hint = super().sizeHint(option, index)
        if index.column() != 0:
            return hint
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        width = self.view.header().sectionSize(0) - opt.decorationSize.width() - 16
        rect = opt.fontMetrics.boundingRect(QRect(0, 0, max(width, 40), 10_000),
                                            Qt.TextFlag.TextWordWrap, opt.text)
        return QSize(hint.width(), max(hint.height(), rect.height() + 6))


class ProblemsPanel(QWidget):
    """Errors and warnings, errors first; a click on one selects its layer."""

    nodeActivated = Signal(str)
    countsChanged = Signal(int, int)  # errors, warnings (e.g. for the dock title)

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.tree = QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Problem", "Layer"])
        self.tree.setRootIsDecorated(False)
        self.tree.setWordWrap(True)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.tree.setItemDelegate(_WrapDelegate(self.tree))
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        # Wrapped rows need their heights recomputed when the message column changes width.
        header.sectionResized.connect(lambda *_: self.tree.scheduleDelayedItemsLayout())
        self.tree.itemClicked.connect(self._activate)
        self.tree.itemActivated.connect(self._activate)

        self.empty = QLabel("✓ No problems", alignment=Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet(f"color: {theme.css(theme.ok_colour())};")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.tree)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

        doc.analysisChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.tree.clear()
        nodes = self.doc.graph.nodes
        for p in self.doc.problems:
            node = nodes.get(p.node_id) if p.node_id else None
            item = QTreeWidgetItem([p.message, node.name if node else "—"])
            item.setIcon(0, theme.severity_icon(p.severity))
            item.setToolTip(0, f"{p.severity}: {p.message}")
            item.setData(0, NODE_ROLE, p.node_id if node else None)
            self.tree.addTopLevelItem(item)
        self.stack.setCurrentWidget(self.tree if self.doc.problems else self.empty)
        self.countsChanged.emit(*self.counts())

    def select_first_error(self):
        """Select (and scroll to) the first error's row; returns that Problem or None."""
        for i, p in enumerate(self.doc.problems):
            if p.severity == ERROR:
                item = self.tree.topLevelItem(i)
                self.tree.setCurrentItem(item)
                self.tree.scrollToItem(item)
                return p
        return None

    def selected_message(self) -> str | None:
        item = self.tree.currentItem()
        return item.text(0) if item is not None and item.isSelected() else None

    def counts(self) -> tuple[int, int]:
        sev = [p.severity for p in self.doc.problems]
        return sev.count(ERROR), sev.count(WARNING)

    def _activate(self, item: QTreeWidgetItem, *_column) -> None:
        node_id = item.data(0, NODE_ROLE)
        if node_id:
            self.nodeActivated.emit(node_id)


class SummaryPanel(QWidget):
    """Layer by layer in execution order: output shape, parameters, FLOPs, and the totals."""

    nodeActivated = Signal(str)
    COLUMNS = ["Layer", "Type", "Output", "Params", "FLOPs"]

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        t = self.table = QTableWidget(0, len(self.COLUMNS))
        t.setHorizontalHeaderLabels(self.COLUMNS)
        t.verticalHeader().hide()
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setAlternatingRowColors(True)
        t.setShowGrid(False)
        t.setWordWrap(False)
        t.verticalHeader().setDefaultSectionSize(t.fontMetrics().height() + 8)
        # Numbers off the column edges; the header padded alike so titles line up.
        t.setStyleSheet("QTableView::item { padding: 0 8px; } "
                        "QHeaderView::section { padding: 2px 8px; }")
        header = t.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setStretchLastSection(False)
        for col in (3, 4):
            t.horizontalHeaderItem(col).setTextAlignment(
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        t.cellClicked.connect(self._clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(t)
        self._stale = False
        doc.analysisChanged.connect(self._changed)
        self.refresh()

    def _changed(self) -> None:
        # A 2,000-row table costs ~0.2 s: rebuild it only when someone can see it.
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, e) -> None:
        super().showEvent(e)
        if self._stale:
            self.refresh()

    def refresh(self) -> None:
        self._stale = False
        graph, infos = self.doc.graph, self.doc.infos
        order, stuck = topo_order(graph)
        ids = [n for n in order + [n for n in graph.nodes if n in stuck] if n in infos]
        t = self.table
        t.setRowCount(len(ids) + 1)
        for row, nid in enumerate(ids):
            node, info = graph.nodes[nid], infos[nid]
            output = str(info.output) if info.output else ("—" if not node.spec.outputs else "?")
            cells = [node.name, node.type, output, _fmt(info.params), _fmt(info.flops)]
            for col, text in enumerate(cells):
                item = self._cell(text, numeric=col >= 3)
                item.setData(NODE_ROLE, nid)
                if col == 2 and info.output is None and node.spec.outputs:
                    item.setForeground(theme.severity_colour(ERROR))
                    item.setToolTip(info.error or "unknown until the problems upstream are fixed")
                t.setItem(row, col, item)
        params, flops = self.doc.totals()
        bold = QFont(t.font())
        bold.setBold(True)
        for col, text in enumerate(["Total", "", "", _fmt(params), _fmt(flops)]):
            item = self._cell(text, numeric=col >= 3)
            item.setFont(bold)
            t.setItem(len(ids), col, item)
        t.resizeColumnsToContents()
        for col in range(t.columnCount()):  # breathing room between columns
            t.setColumnWidth(col, t.columnWidth(col) + 12)

    @staticmethod
    def _cell(text: str, numeric: bool) -> QTableWidgetItem:
        item = QTableWidgetItem(text)
        if numeric:
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return item

    def totals_row(self) -> list[str]:
        t, row = self.table, self.table.rowCount() - 1
        return [t.item(row, c).text() for c in range(t.columnCount())]

    def _clicked(self, row: int, _col: int) -> None:
        item = self.table.item(row, 0)
        node_id = item.data(NODE_ROLE) if item else None
        if node_id:
            self.nodeActivated.emit(node_id)


class _PythonHighlighter(QSyntaxHighlighter):
    """Just enough colour to read the generated code: comments, keywords, `self.`."""

    def __init__(self, document):
        super().__init__(document)
        pal = theme.palette()
        self.comment = QTextCharFormat()
        self.comment.setForeground(theme.muted_colour(pal))
        self.keyword = QTextCharFormat()
        self.keyword.setForeground(theme.category_colour("Dense"))
        self.keyword.setFontWeight(QFont.Weight.Bold)
        self.words = re.compile(r"\b(" + "|".join(keyword.kwlist) + r")\b")

    def highlightBlock(self, text: str) -> None:
        if text.lstrip().startswith("#"):
            self.setFormat(0, len(text), self.comment)
            return
        for m in self.words.finditer(text):
            self.setFormat(m.start(), m.end() - m.start(), self.keyword)


class CodePanel(QWidget):
    """The PyTorch code the graph compiles to, refreshed shortly after the graph settles."""

    DELAY_MS = 300

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setFont(theme.monospace_font())
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setPlaceholderText("The generated PyTorch code appears here.")
        self._highlighter = _PythonHighlighter(self.text.document())
        # Compiling builds every module, so wait until a burst of edits is over.
        self._timer = QTimer(self, singleShot=True, interval=self.DELAY_MS)
        self._timer.timeout.connect(self.refresh_now)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)
        self._stale = False
        doc.analysisChanged.connect(self._changed)
        if doc.infos:
            self._timer.start()

    def _changed(self) -> None:
        # Compiling a big graph takes a while; do it only while the code is on screen.
        if self.isVisible():
            self._timer.start()
        else:
            self._stale = True

    def showEvent(self, e) -> None:
        super().showEvent(e)
        if self._stale:
            self._stale = False
            self._timer.start()

    def code(self) -> str:
        return self.text.toPlainText()

    def refresh_now(self) -> None:
        self._timer.stop()
        bar = self.text.verticalScrollBar()
        keep = bar.value()  # stay where the reader was
        self.text.setPlainText(generate_code(self.doc))
        bar.setValue(keep)


def _comment(text: str, indent: str = "") -> list[str]:
    return [f"# {indent}{line}".rstrip() for line in str(text).splitlines() or [""]]


def generate_code(doc: Document) -> str:
    """The code text for the panel; never raises (failures become comments)."""
    # Compiling needs torch: never be the one to import it before the analysis has run.
    if not doc.graph.nodes:
        return "# Add layers to the canvas to see the code.\n"
    if not doc.analysis_enabled or not doc.infos:
        return "# Analysing the graph…\n"
    if not doc.valid:
        lines = ["# The graph has errors; fix them to see the code:"]
        for p in doc.problems:
            if p.severity == ERROR:
                lines += _comment(f"- {p.message}")
        return "\n".join(lines) + "\n"
    try:
        import torch

        from ...core.compiler import compile_graph

        # On the meta device no weights are allocated or initialised: the code and the
        # module reprs are the same, and a 10k×10k Linear costs nothing to show.
        with torch.device("meta"):
            gm = compile_graph(doc.graph)
    except Exception as e:  # noqa: BLE001 - a compiler bug must not take the UI down
        return "\n".join(["# Could not compile the graph:",
                          *_comment(f"{type(e).__name__}: {e}", "  ")]) + "\n"
    lines = ["# Submodules (self.<name>):"]
    for name, module in gm.named_children():
        first, *rest = repr(module).splitlines()
        lines.append(f"# {name}: {first}")
        lines += [f"#   {line}" for line in rest]
    body = gm.code.strip("\n")
    return "\n".join(lines) + "\n\n" + body + "\n"
