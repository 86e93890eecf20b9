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
                               QTreeWidget, QTreeWidgetItem, QTreeWidgetItemIterator,
                               QVBoxLayout, QWidget)

from ...core.analysis import ERROR, WARNING
from ...core.blocks import BLOCK, PORT_IN, PORT_OUT, SEP
from ...core.shapes import outputs_text, port_output, topo_order
from ..widgets import theme
from ...core.tuning import split_counts
from ..document.document import Document

NODE_ROLE = Qt.ItemDataRole.UserRole
PATH_ROLE = Qt.ItemDataRole.UserRole + 1  # summary rows: node ids from the top level down
PLACE_ROLE = Qt.ItemDataRole.UserRole + 2  # summary rows: "layer1 › 0 › conv1"
COPIES_ROLE = Qt.ItemDataRole.UserRole + 3  # the repeat copy at each block on the path


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
    blockNodeActivated = Signal(str, str)  # a node inside a block definition: (name, id)
    # a layer deep inside an instance: node ids down to it, and the copy at each block
    pathActivated = Signal(tuple, tuple)
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
        nodes, lib = self.doc.graph.nodes, self.doc.graph.blocks
        for p in self.doc.problems:
            # a problem inside a block definition names a node of that definition
            inside = p.block is not None and p.block in lib
            graph_nodes = lib[p.block].nodes if inside else nodes
            node = graph_nodes.get(p.node_id) if p.node_id else None
            label = node.name if node else "—"
            if p.block is not None:
                label = f"{p.block}{SEP}{label}" if node else p.block
            item = QTreeWidgetItem([p.message, label])
            item.setIcon(0, theme.severity_icon(p.severity))
            item.setToolTip(0, f"{p.severity}: {p.message}")
            item.setData(0, NODE_ROLE, p.node_id if node and not inside else None)
            # where to go: (block name, node id), or node ids down an instance's path
            if inside and node:
                item.setData(0, PATH_ROLE, ["block", p.block, p.node_id])
            elif len(p.path) > 2:
                item.setData(0, PATH_ROLE, ["path", p.path[0], *p.path[2::2]])
                item.setData(0, COPIES_ROLE, list(p.path[1::2]))
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
        where = item.data(0, PATH_ROLE)
        if where and where[0] == "block":
            self.blockNodeActivated.emit(where[1], where[2])
        elif where and where[0] == "path":
            self.pathActivated.emit(tuple(where[1:]), tuple(item.data(0, COPIES_ROLE) or ()))
        elif item.data(0, NODE_ROLE):
            self.nodeActivated.emit(item.data(0, NODE_ROLE))


class SummaryPanel(QWidget):
    """Layer by layer in execution order: output shape, parameters, FLOPs, and the totals.
    A block instance is one row that expands into its layers (a repeat into its copies
    first), level by level like `netbuilder summary --depth N`; totals cover every layer."""

    nodeActivated = Signal(str)  # a top-level row: its node id
    # any row: node ids from the top-level node down to it, and the copy at each block
    pathActivated = Signal(tuple, tuple)
    COLUMNS = ["Layer", "Type", "Output", "Params", "FLOPs"]

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        t = self.tree = QTreeWidget()
        t.setColumnCount(len(self.COLUMNS))
        t.setHeaderLabels(self.COLUMNS)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setAlternatingRowColors(True)
        t.setUniformRowHeights(True)
        t.setIndentation(14)
        t.setWordWrap(False)
        t.setStyleSheet("QTreeView::item { padding: 0 8px; } "
                        "QHeaderView::section { padding: 2px 8px; }")
        header = t.header()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setStretchLastSection(False)
        for col in (3, 4):
            t.headerItem().setTextAlignment(
                col, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        t.itemClicked.connect(self._clicked)
        t.itemActivated.connect(self._clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.split_label = QLabel()  # trainable / frozen parameters (fine-tuning)
        self.split_label.setContentsMargins(8, 2, 8, 2)
        layout.addWidget(self.split_label)  # above the table: a short dock never hides it
        layout.addWidget(t)
        self.total_item: QTreeWidgetItem | None = None
        self._expanded: set[str] = set()  # places of the expanded rows, kept over rebuilds
        self._stale = False
        t.itemExpanded.connect(lambda it: self._expanded.add(it.data(0, PLACE_ROLE)))
        t.itemCollapsed.connect(lambda it: self._expanded.discard(it.data(0, PLACE_ROLE)))
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
        t = self.tree
        t.setUpdatesEnabled(False)
        t.clear()
        self._fill(t.invisibleRootItem(), self.doc.graph, self.doc.infos, "", ())
        params, flops = self.doc.totals()
        bold = QFont(t.font())
        bold.setBold(True)
        self.total_item = self._row(t.invisibleRootItem(),
                                    ["Total", "", "", _fmt(params), _fmt(flops)], (), "")
        for col in range(len(self.COLUMNS)):
            self.total_item.setFont(col, bold)
        trainable, frozen = split_counts(self.doc.graph, self.doc.infos)
        self.split_label.setText(f"trainable parameters: {trainable:,}   ·   "
                                 f"frozen parameters: {frozen:,}")
        self._restore(t.invisibleRootItem())
        t.setUpdatesEnabled(True)
        for col in range(t.columnCount()):  # breathing room between columns
            t.resizeColumnToContents(col)
            t.setColumnWidth(col, t.columnWidth(col) + 12)

    def _fill(self, parent: QTreeWidgetItem, graph, infos: dict, prefix: str,
              path: tuple, copies: tuple = ()) -> tuple[int, int]:
        """Rows for `graph`'s nodes under `parent`; blocks get their layers as children.
        `copies`: the repeat copy at each block on `path`. Returns the (params, flops) of
        the rows added."""
        order, stuck = topo_order(graph)
        total = [0, 0]
        for nid in order + [n for n in graph.nodes if n in stuck]:
            node, info = graph.nodes[nid], infos.get(nid)
            if info is None or node.type in (PORT_IN, PORT_OUT):
                continue
            output = outputs_text(info) or ("—" if not node.spec.outputs else "?")
            kind = node.type
            if node.type == BLOCK:
                kind = f"block {node.params['block']}"
                if node.params["repeat"] > 1:
                    kind += f" ×{node.params['repeat']}"
            place = f"{prefix}{node.name}"
            item = self._row(parent, [node.name, kind, output, _fmt(info.params),
                                      _fmt(info.flops)], (*path, nid), place, copies)
            if info.output is None and node.spec.outputs:
                item.setForeground(2, theme.severity_colour(ERROR))
                item.setToolTip(2, info.error or "unknown until the problems upstream are fixed")
            total[0] += info.params
            total[1] += info.flops
            if node.type == BLOCK and info.inner and node.params["block"] in graph.blocks:
                definition = graph.blocks[node.params["block"]]
                inner_infos = info.inner
                if len(inner_infos) == 1:
                    self._fill(item, definition, inner_infos[0], place + SEP, (*path, nid),
                               (*copies, 0))
                    continue
                for k, inner in enumerate(inner_infos):  # a repeat: one row per copy
                    out = port_output(definition, inner)
                    copy = self._row(item, [str(k), f"copy {k + 1} of {len(inner_infos)}",
                                            str(out.output) if out and out.output else "?",
                                            "", ""], (*path, nid), f"{place}{SEP}{k}",
                                     copies)
                    p, f = self._fill(copy, definition, inner, f"{place}{SEP}{k}{SEP}",
                                      (*path, nid), (*copies, k))
                    copy.setText(3, _fmt(p))
                    copy.setText(4, _fmt(f))
        return total[0], total[1]

    def _row(self, parent, cells: list[str], path: tuple, place: str,
             copies: tuple = ()) -> QTreeWidgetItem:
        item = QTreeWidgetItem(parent, cells)
        for col in (3, 4):
            item.setTextAlignment(col, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        item.setData(0, NODE_ROLE, path[0] if path else None)
        item.setData(0, PATH_ROLE, list(path))
        item.setData(0, PLACE_ROLE, place)
        item.setData(0, COPIES_ROLE, list(copies))
        return item

    def _restore(self, parent: QTreeWidgetItem) -> None:
        for i in range(parent.childCount()):
            item = parent.child(i)
            if item.childCount():
                if item.data(0, PLACE_ROLE) in self._expanded:
                    item.setExpanded(True)
                self._restore(item)

    # ---- reading it (tests, the window) ----------------------------------------------------

    def top_rows(self) -> list[QTreeWidgetItem]:
        t = self.tree
        return [t.topLevelItem(i) for i in range(t.topLevelItemCount())
                if t.topLevelItem(i) is not self.total_item]

    def row(self, place: str) -> QTreeWidgetItem | None:
        """The row of a place ("layer1 › 0 › conv1"), or None."""
        it = QTreeWidgetItemIterator(self.tree)
        while it.value():
            if it.value().data(0, PLACE_ROLE) == place:
                return it.value()
            it += 1
        return None

    def texts(self, item: QTreeWidgetItem) -> list[str]:
        return [item.text(c) for c in range(len(self.COLUMNS))]

    def leaves(self) -> list[QTreeWidgetItem]:
        """Every layer row (no block or copy rows), in order."""
        out, it = [], QTreeWidgetItemIterator(self.tree)
        while it.value():
            item = it.value()
            if not item.childCount() and item is not self.total_item:
                out.append(item)
            it += 1
        return out

    def totals_row(self) -> list[str]:
        return self.texts(self.total_item)

    def _clicked(self, item: QTreeWidgetItem, *_column) -> None:
        path = tuple(item.data(0, PATH_ROLE) or ())
        if not path:
            return
        if len(path) == 1 and item.parent() is None:
            self.nodeActivated.emit(path[0])
        else:
            self.pathActivated.emit(path, tuple(item.data(0, COPIES_ROLE) or ()))


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
    try:
        return model_py(doc.project, gm)
    except Exception:  # noqa: BLE001 - e.g. a generic node the exporter cannot write
        pass
    lines = ["# Submodules (self.<name>):"]
    for name, module in gm.named_children():
        first, *rest = repr(module).splitlines()
        lines.append(f"# {name}: {first}")
        lines += [f"#   {line}" for line in rest]
    body = gm.code.strip("\n")
    return "\n".join(lines) + "\n\n" + body + "\n"


def model_py(project, gm) -> str:
    """The exported model.py's text (a class per block definition), written from the
    meta-device module: the same text as File › Export's, without allocating weights."""
    import torch

    from ...export.inputs import probe_inputs
    from ...export.pysource import model_source

    probe = [x.to("meta") for x in probe_inputs(project, 1)]
    with torch.device("meta"):
        return model_source(project, gm, probe)[0]
