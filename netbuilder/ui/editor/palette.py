"""The layer palette: every registered layer type, grouped by category, searchable.

Items are dragged onto the canvas (mime type `MIME_LAYER`, payload = type name) or added
with a double-click / Enter (`addRequested`). Selecting an activation plots the function
and its derivative, which shows at a glance why sigmoid and tanh saturate.
"""
from __future__ import annotations

import html
import math

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QDrag, QFont, QFontMetrics, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QHBoxLayout, QLabel, QLineEdit,
                               QScrollArea, QSplitter, QStackedWidget, QToolButton, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from ...core import registry
from ..widgets import theme
from ..widgets.compact import ElidedLabel
from ..widgets.plots import add_legend
from .palette_blocks import block_mime, payload_of

MIME_LAYER = "application/x-netbuilder-layer"
TYPE_ROLE = Qt.ItemDataRole.UserRole

# Sample grid for the activation plot; built from integers so that x = 0 is exact.
PLOT_X = np.arange(-200, 201) / 40.0
_STEP = 1e-4  # central-difference step for f'(x)


def layer_mime(type_name: str) -> QMimeData:
    """The drag payload for one layer type (also plain text, for other drop targets)."""
    mime = QMimeData()
    mime.setData(MIME_LAYER, type_name.encode("utf-8"))
    mime.setText(type_name)
    return mime


def layer_from_mime(mime: QMimeData) -> str | None:
    """The layer type carried by a drag, or None: for the canvas's drop handling."""
    if not mime.hasFormat(MIME_LAYER):
        return None
    name = bytes(mime.data(MIME_LAYER)).decode("utf-8", "replace")
    return name if registry.has(name) else None


def function_and_derivative(spec: registry.LayerSpec, params: dict | None = None
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, f(x), f'(x)) on PLOT_X; f' by central differences. NaN where f fails."""
    p = spec.fill(params or {})

    def f(x: float) -> float:
        try:
            return float(spec.formula(x, p))
        except (ArithmeticError, ValueError):
            return math.nan

    y = np.array([f(x) for x in PLOT_X])
    dy = np.array([(f(x + _STEP) - f(x - _STEP)) / (2 * _STEP) for x in PLOT_X])
    return PLOT_X, y, dy


class LayerTree(QTreeWidget):
    """The tree of layer types; drags carry `MIME_LAYER` and are copies, never moves."""

    activatedByKey = Signal(QTreeWidgetItem)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setRootIsDecorated(True)
        self.setIndentation(14)
        self.setIconSize(QSize(10, 10))
        self.setUniformRowHeights(True)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)

    def mimeTypes(self) -> list[str]:
        return [MIME_LAYER, "text/plain"]

    def mimeData(self, items) -> QMimeData:
        if items and payload_of(items[0]):  # a block entry (palette_blocks.py)
            return block_mime(payload_of(items[0]))
        names = [it.data(0, TYPE_ROLE) for it in items if it.data(0, TYPE_ROLE)]
        return layer_mime(names[0]) if names else QMimeData()

    def startDrag(self, actions) -> None:
        # Our own QDrag with CopyAction only: the default implementation removes the
        # dragged row when a target accepts the drop as a move.
        item = self.currentItem()
        type_name = item.data(0, TYPE_ROLE) if item else None
        if not type_name:
            return
        drag = QDrag(self)
        drag.setMimeData(self.mimeData([item]))
        pix = _chip(item.text(0), registry.get(type_name).category, self.font(),
                    self.devicePixelRatioF())
        drag.setPixmap(pix)
        drag.setHotSpot(QPoint(12, int(pix.height() / pix.devicePixelRatio() / 2)))
        drag.exec(Qt.DropAction.CopyAction, Qt.DropAction.CopyAction)

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentItem():
            self.activatedByKey.emit(self.currentItem())
            return
        super().keyPressEvent(event)


def _chip(text: str, category: str, font: QFont, ratio: float) -> QPixmap:
    """A small rounded label in the category colour, shown under the cursor while dragging."""
    font = QFont(font)
    font.setBold(True)
    fm = QFontMetrics(font)
    w, h = fm.horizontalAdvance(text) + 24, fm.height() + 10
    pix = QPixmap(int(w * ratio), int(h * ratio))
    pix.setDevicePixelRatio(ratio)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    colour = theme.category_colour(category)
    p.setPen(colour.darker(130))
    p.setBrush(colour)
    p.drawRoundedRect(QRectF(0.5, 0.5, w - 1, h - 1), 6, 6)
    p.setFont(font)
    p.setPen(QColor("white"))
    p.drawText(QRectF(0, 0, w, h), Qt.AlignmentFlag.AlignCenter, text)
    p.end()
    return pix


class Palette(QWidget):
    """Search box + categorised layer tree + a help pane for the current layer type.

    The tree comes first: the help pane sits under a splitter, scrolls inside whatever height
    it is given, and folds to one line (the layer's name and the start of its description,
    the whole of it in the tooltip) with the arrow in its header."""

    addRequested = Signal(str)  # a layer type name
    blockRequested = Signal(tuple)  # a block entry's payload (palette_blocks.py)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.search = QLineEdit(placeholderText="Search layers…", clearButtonEnabled=True)
        self.search.textChanged.connect(self.set_filter)
        self.search.returnPressed.connect(self._add_first_match)
        self.search.installEventFilter(self)

        self.tree = LayerTree()
        self.tree.itemDoubleClicked.connect(self._request)
        self.tree.activatedByKey.connect(self._request)
        self.tree.currentItemChanged.connect(lambda cur, _prev: self._show_help(cur))

        self.title = ElidedLabel()
        bold = self.title.font()
        bold.setBold(True)
        self.title.setFont(bold)
        self.help_toggle = QToolButton(checkable=True, checked=True, autoRaise=True)
        self.help_toggle.setArrowType(Qt.ArrowType.DownArrow)
        self.help_toggle.setToolTip("Show or hide the description of the layer")
        self.help_toggle.toggled.connect(self.set_help_expanded)
        self.summary = ElidedLabel()  # the folded pane's one line
        self.summary.setStyleSheet(f"color: {theme.css(theme.muted_colour())};")
        self.summary.hide()
        self.doc = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.doc.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # The plot is made on first use: pyqtgraph costs ~0.5 s to import, and the window
        # should be on screen before that.
        self._plot = None
        self._curves = None
        # Layers without a formula list their parameters in the same fixed-size slot,
        # so selecting an item never resizes the tree under the mouse.
        self.details = QLabel(wordWrap=True, alignment=Qt.AlignmentFlag.AlignTop)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        details_scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        details_scroll.setWidget(self.details)
        self.figure = QStackedWidget()
        self.figure.addWidget(QWidget())  # the plot's slot
        self.figure.addWidget(details_scroll)
        self.figure.setFixedHeight(170)

        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(4, 0, 4, 0)
        body_layout.setSpacing(4)
        body_layout.addWidget(self.doc)
        body_layout.addWidget(self.figure)
        body_layout.addStretch(1)
        self.help_body = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        self.help_body.setWidget(body)
        self.help_body.setMinimumHeight(40)

        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.setSpacing(2)
        head.addWidget(self.help_toggle)
        head.addWidget(self.title, 1)
        help_pane = QWidget()
        help_layout = QVBoxLayout(help_pane)
        help_layout.setContentsMargins(0, 2, 0, 0)
        help_layout.setSpacing(2)
        help_layout.addLayout(head)
        help_layout.addWidget(self.summary)
        help_layout.addWidget(self.help_body, 1)
        self.help_pane = help_pane

        self.split = split = QSplitter(Qt.Orientation.Vertical, childrenCollapsible=False)
        split.addWidget(self.tree)
        split.addWidget(help_pane)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 0)
        split.setSizes([640, 300])  # the list gets about two thirds
        self.tree.setMinimumHeight(120)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(split, 1)

        self._populate()
        self._show_help(None)

    def sizeHint(self) -> QSize:
        # A dock column; without this the plot (a QGraphicsView) asks for 600+ px.
        return QSize(240, 640)

    def set_help_expanded(self, on: bool) -> None:
        """Unfold the help pane (description and plot) or fold it to one line."""
        if self.help_toggle.isChecked() != on:
            self.help_toggle.setChecked(on)  # comes back here through toggled
            return
        self.help_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.help_body.setVisible(on)
        self.summary.setVisible(not on)
        total = sum(self.split.sizes())
        folded = self.help_pane.minimumSizeHint().height()
        help_h = max(folded, int(total * 0.32)) if on else folded
        self.split.setSizes([max(0, total - help_h), help_h])

    def help_expanded(self) -> bool:
        return self.help_toggle.isChecked()

    # ---- building ------------------------------------------------------------------------

    def _populate(self) -> None:
        bold = QFont(self.tree.font())
        bold.setBold(True)
        for category, specs in registry.categories().items():
            head = QTreeWidgetItem([category])
            head.setFont(0, bold)
            head.setFlags(Qt.ItemFlag.ItemIsEnabled)  # a heading: not selectable, not dragged
            self.tree.addTopLevelItem(head)
            icon = theme.dot_icon(theme.category_colour(category), 10)
            for spec in specs:
                item = QTreeWidgetItem(head, [spec.type])
                item.setData(0, TYPE_ROLE, spec.type)
                item.setToolTip(0, spec.doc)
                item.setIcon(0, icon)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                              | Qt.ItemFlag.ItemIsDragEnabled)
            head.setExpanded(True)

    @property
    def plot(self):
        if self._plot is None:
            self._plot = self._make_plot()
            self._curves = (self._plot.plot(name="f(x)"), self._plot.plot(name="f′(x)"))
            self._style_curves()
            old = self.figure.widget(0)
            self.figure.insertWidget(0, self._plot)
            self.figure.removeWidget(old)
            old.deleteLater()
        return self._plot

    @property
    def curves(self):
        self.plot  # noqa: B018 (creates it)
        return self._curves

    def _make_plot(self):
        import pyqtgraph as pg

        pal = self.palette()
        plot = pg.PlotWidget(background=pal.color(QPalette.ColorRole.Base))
        plot.setMinimumWidth(160)
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(False, False)
        plot.hideButtons()
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.setXRange(-5, 5, padding=0.02)
        plot.setToolTip("The function and its derivative on x in [−5, 5]. Where f′ is near 0 "
                        "the layer passes almost no gradient back (it saturates).")
        text = pal.color(QPalette.ColorRole.Text)
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.setPen(pg.mkPen(theme.muted_colour()))
            axis.setTextPen(pg.mkPen(text))
        add_legend(plot, pal, size="8pt")  # under the axis, not over the curves
        return plot

    def _style_curves(self) -> None:
        import pyqtgraph as pg

        f, df = self._curves
        f.setPen(pg.mkPen(self.palette().color(QPalette.ColorRole.Highlight), width=2))
        df.setPen(pg.mkPen(theme.category_colour("Activation"), width=2,
                           style=Qt.PenStyle.DashLine))
        for c in self._curves:
            c.opts["antialias"] = True  # per curve: pg.setConfigOptions would be global

    # ---- filtering -----------------------------------------------------------------------

    def set_filter(self, text: str) -> None:
        """Show the layer types whose name, category or doc contains every word of `text`."""
        words = text.lower().split()
        first_visible = None
        for i in range(self.tree.topLevelItemCount()):
            head = self.tree.topLevelItem(i)
            shown = 0
            for j in range(head.childCount()):
                item = head.child(j)
                spec = registry.get(item.data(0, TYPE_ROLE))
                haystack = f"{spec.type} {spec.category} {spec.doc} {item.text(0)} " \
                    f"{item.toolTip(0) if payload_of(item) else ''}".lower()
                hide = not all(w in haystack for w in words)
                item.setHidden(hide)
                if not hide:
                    shown += 1
                    first_visible = first_visible or item
            head.setHidden(shown == 0)
        current = self.tree.currentItem()
        if current is None or current.isHidden() or not current.data(0, TYPE_ROLE):
            if first_visible is not None:
                self.tree.setCurrentItem(first_visible)
            else:
                self.tree.setCurrentItem(None)
                self._show_help(None)
        elif words:
            self.tree.scrollToItem(current)

    def visible_types(self) -> list[str]:
        """Layer types currently shown, in tree order."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            head = self.tree.topLevelItem(i)
            if not head.isHidden():
                out += [head.child(j).data(0, TYPE_ROLE) for j in range(head.childCount())
                        if not head.child(j).isHidden()]
        return out

    def item_for(self, type_name: str) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            head = self.tree.topLevelItem(i)
            for j in range(head.childCount()):
                if head.child(j).data(0, TYPE_ROLE) == type_name:
                    return head.child(j)
        return None

    def mimeData(self, items) -> QMimeData:
        return self.tree.mimeData(items)

    # ---- adding --------------------------------------------------------------------------

    def _request(self, item: QTreeWidgetItem, *_column) -> None:
        if payload_of(item):
            self.blockRequested.emit(payload_of(item))
            return
        type_name = item.data(0, TYPE_ROLE) if item else None
        if type_name:
            self.addRequested.emit(type_name)

    def _add_first_match(self) -> None:
        """Enter in the search box adds the highlighted match: type "conv", press Enter."""
        item = self.tree.currentItem()
        if item is not None and not item.isHidden():
            self._request(item)

    def eventFilter(self, obj, event) -> bool:
        # Up/Down in the search box walk the list without leaving the keyboard.
        if obj is self.search and event.type() == event.Type.KeyPress and event.key() in (
                Qt.Key.Key_Down, Qt.Key.Key_Up):
            self.tree.setFocus()
            self.tree.keyPressEvent(event)
            return True
        return super().eventFilter(obj, event)

    # ---- help pane -----------------------------------------------------------------------

    def _show_help(self, item: QTreeWidgetItem | None) -> None:
        type_name = item.data(0, TYPE_ROLE) if item else None
        if not type_name:
            query = self.search.text().strip()
            nothing = bool(query) and not self.visible_types()
            self.title.setText("No layer matches" if nothing else "Layers")
            self.doc.setText(f"Nothing contains “{query}”." if nothing else
                             "Drag a layer onto the canvas, or double-click it to add it.")
            self.summary.setText(self.doc.text())
            self.details.setText("")
            self.figure.setCurrentIndex(1)
            return
        spec = registry.get(type_name)
        self.title.setText(f"{spec.type}  ·  {spec.category}")
        self.doc.setText(spec.doc)
        self.summary.setText(spec.doc)
        if payload_of(item):  # a block entry: its own name and description
            self.title.setText(f"{item.text(0)}  ·  {spec.category}")
            self.doc.setText(item.toolTip(0))
            self.summary.setText(item.toolTip(0))
            self.details.setText("")
            self.figure.setCurrentIndex(1)
            return
        if spec.formula is None:
            self.details.setText(_params_html(spec))
            self.figure.setCurrentIndex(1)
            return
        x, y, dy = function_and_derivative(spec)
        self.curves[0].setData(x, y)
        self.curves[1].setData(x, dy)
        finite = np.concatenate([y[np.isfinite(y)], dy[np.isfinite(dy)]])
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
        self.plot.setYRange(min(lo, -0.1), max(hi, 1.0), padding=0.08)
        self.figure.setCurrentIndex(0)


def _params_html(spec: registry.LayerSpec) -> str:
    """The parameters a layer type takes, with defaults and what they mean."""
    if not spec.params:
        return "No parameters to set: sizes follow from the input."
    muted = theme.css(theme.muted_colour())
    rows = [f"<b>{p.name}</b> = {html.escape(_show_default(p.default))} "
            f"<span style='color:{muted}'>— {html.escape(p.doc)}</span>" for p in spec.params]
    return "Parameters:<br>" + "<br>".join(rows)


def _show_default(value) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)
