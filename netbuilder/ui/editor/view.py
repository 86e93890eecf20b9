"""The canvas view (zoom, pan, rubber band, drops from the palette) and its minimap."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import QApplication, QGraphicsView, QLabel

from ..widgets.theme import is_dark
from .items import GRID, LOD_TEXT
from .overview import paint_overview
from .palette import layer_from_mime
from .palette_blocks import block_from_mime
from .scene import Canvas


class CanvasView(QGraphicsView):
    """Zoom with the wheel, pan with the middle button or space+drag, rubber-band select,
    drop layers from the palette (onto a wire to insert them)."""

    zoomChanged = Signal(float)

    def __init__(self, scene: Canvas, parent=None):
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setDragMode(QGraphicsView.RubberBandDrag)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        # Every item sets the pen, brush and font it draws with: no save/restore per item
        # (thousands of them in a zoomed-out overview).
        self.setOptimizationFlags(QGraphicsView.DontSavePainterState
                                  | QGraphicsView.DontAdjustForAntialiasing)
        self.setAcceptDrops(True)
        self.setSceneRect(-50_000, -50_000, 100_000, 100_000)
        self._space = False
        self._pan_from = None
        self.context_menu_hook = None
        self.key_hook = None  # key event -> True when handled (block levels: Esc)
        self.block_drop_hook = None  # (payload, scene pos): a block from the palette
        self.zoomChanged.connect(lambda z: scene.set_detail(z >= LOD_TEXT))

    @property
    def canvas(self) -> Canvas:
        return self.scene()

    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        z = self.zoom() * factor
        if 0.05 <= z <= 4.0:
            self.scale(factor, factor)
            self.zoomChanged.emit(self.zoom())

    def fit_all(self) -> None:
        rect = self.canvas.itemsBoundingRect()
        if rect.isEmpty():
            rect = QRectF(-200, -150, 400, 300)
        self.fitInView(rect.adjusted(-40, -40, 40, 40), Qt.KeepAspectRatio)
        if self.zoom() > 1.25:  # do not blow a tiny graph up
            self.resetTransform()
            self.scale(1.25, 1.25)
            self.centerOn(rect.center())
        self.zoomChanged.emit(self.zoom())

    def center_on_node(self, node_id: str) -> None:
        item = self.canvas.nodes.get(node_id)
        if item is not None:
            self.canvas.select_nodes([node_id])
            self.centerOn(item.sceneBoundingRect().center())

    def extend_context_menu(self, menu, item) -> None:
        if self.context_menu_hook:
            self.context_menu_hook(menu, item)

    def wheelEvent(self, e):
        self.zoom_by(1.0015 ** e.angleDelta().y())

    def keyPressEvent(self, e):
        if e.key() == Qt.Key_Space and not e.isAutoRepeat():
            self._space = True
            self.setDragMode(QGraphicsView.ScrollHandDrag)
            return
        if self.key_hook is not None and self.key_hook(e):
            return
        if e.key() in (Qt.Key_Delete, Qt.Key_Backspace):
            self.canvas.delete_selection()
            return
        super().keyPressEvent(e)

    def keyReleaseEvent(self, e):
        if e.key() == Qt.Key_Space and not e.isAutoRepeat():
            self._space = False
            self.setDragMode(QGraphicsView.RubberBandDrag)
            return
        super().keyReleaseEvent(e)

    def mousePressEvent(self, e):
        if e.button() == Qt.MiddleButton:
            self._pan_from = e.position()
            self.setCursor(Qt.ClosedHandCursor)
            return
        super().mousePressEvent(e)

    def mouseMoveEvent(self, e):
        if self._pan_from is not None:
            d = e.position() - self._pan_from
            self._pan_from = e.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - d.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - d.y())
            return
        super().mouseMoveEvent(e)

    def mouseReleaseEvent(self, e):
        if e.button() == Qt.MiddleButton and self._pan_from is not None:
            self._pan_from = None
            self.unsetCursor()
            return
        super().mouseReleaseEvent(e)

    # palette drops
    def dragEnterEvent(self, e):
        if layer_from_mime(e.mimeData()) or block_from_mime(e.mimeData()):
            e.acceptProposedAction()
        else:
            e.ignore()  # let the window handle project files

    dragMoveEvent = dragEnterEvent

    def dropEvent(self, e):
        type_name = layer_from_mime(e.mimeData())
        block = block_from_mime(e.mimeData())
        if block and self.block_drop_hook is not None:
            self.block_drop_hook(block, self.mapToScene(e.position().toPoint()))
            e.acceptProposedAction()
        elif type_name:
            self.canvas.add_node_at(type_name, self.mapToScene(e.position().toPoint()))
            e.acceptProposedAction()
        else:
            e.ignore()

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        pal = QApplication.palette()
        painter.fillRect(rect, pal.color(QPalette.Window).darker(104 if not is_dark() else 90))
        if self.canvas.overview:
            paint_overview(painter, self.canvas, rect)
        if self.zoom() < 0.35:
            return
        step = GRID * 2
        color = pal.color(QPalette.Mid)
        color.setAlpha(110)
        painter.setPen(QPen(color, 1.6 / max(self.zoom(), 0.1)))
        left = int(rect.left() // step) * step
        top = int(rect.top() // step) * step
        pts = []
        y = top
        while y < rect.bottom():
            x = left
            while x < rect.right():
                pts.append(QPointF(x, y))
                x += step
            y += step
        painter.drawPoints(pts)


class Minimap(QGraphicsView):
    """An overview of the whole graph with the main view's visible area outlined;
    clicking moves the main view there.

    It floats over the canvas, so it must never hide a node: it is shown only when the graph
    does not fit in the view, in the first corner (bottom right, bottom left, top right, top
    left) with no node under it, and not at all when every corner has one."""

    MARGIN = 10

    def __init__(self, view: CanvasView, parent=None):
        super().__init__(view.scene(), parent)
        self.main = view
        self.setInteractive(False)
        # Repainted by refit (after a burst of scene changes settles, or a pan or zoom of
        # the main view), not on every item update: never in the path of an edit.
        self.setViewportUpdateMode(QGraphicsView.NoViewportUpdate)
        self.setRenderHints(QPainter.Antialiasing)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setFixedSize(168, 108)
        self.setFrameShape(QGraphicsView.StyledPanel)
        self.wanted = True  # the user's choice (View > Minimap)
        view.horizontalScrollBar().valueChanged.connect(self.refit)
        view.verticalScrollBar().valueChanged.connect(self.refit)
        view.zoomChanged.connect(self.refit)
        # Scene changes (edits, drags) come in bursts and the corner rarely moves: refit
        # once they settle, off the path from an edit to its repaint.
        self._later = QTimer(self, singleShot=True, interval=120)
        self._later.timeout.connect(self.refit)
        view.scene().changed.connect(self._later.start)
        view.viewport().installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if event.type() in (event.Type.Resize, event.Type.Show):
            self.refit()
        return False

    def set_wanted(self, on: bool) -> None:
        self.wanted = on
        self.refit()

    def _corners(self) -> list[QRectF]:
        """Where the minimap may sit, in the main view's coordinates, best first."""
        vp = self.main.viewport().geometry()
        w, h, m = self.width(), self.height(), self.MARGIN
        left, top = vp.left() + m, vp.top() + m
        right, bottom = vp.right() - m - w + 1, vp.bottom() - m - h + 1
        return [QRectF(x, y, w, h) for x, y in ((right, bottom), (left, bottom),
                                               (right, top), (left, top))]

    def free_corner(self) -> QRectF | None:
        """The first corner with no node under it (None: every corner covers one)."""
        vp_origin = self.main.viewport().geometry().topLeft()
        nodes = self.main.canvas.node_rects()
        for rect in self._corners():
            in_vp = rect.translated(-vp_origin.x(), -vp_origin.y()).toAlignedRect()
            scene_rect = self.main.mapToScene(in_vp).boundingRect()
            if not any(scene_rect.intersects(n) for n in nodes):
                return rect
        return None

    def refit(self, *args) -> None:
        """Shown only when wanted, the graph does not fit in the main view, and a corner of
        the view is free of nodes."""
        self._later.stop()
        rect = self.main.canvas.nodes_rect()
        visible = self.main.mapToScene(self.main.viewport().rect()).boundingRect()
        corner = None
        if self.wanted and not rect.isEmpty() and not visible.contains(rect):
            corner = self.free_corner()
        if corner is None:
            self.hide()
            return
        self.move(int(corner.x()), int(corner.y()))
        self.show()
        self.raise_()
        self.fitInView(rect.adjusted(-80, -80, 80, 80), Qt.KeepAspectRatio)
        self.viewport().update()

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        super().drawBackground(painter, rect)
        if self.main.canvas.overview:  # the cards do not paint themselves then
            paint_overview(painter, self.main.canvas, rect)

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        visible = self.main.mapToScene(self.main.viewport().rect()).boundingRect()
        color = QApplication.palette().color(QPalette.Highlight)
        painter.setPen(QPen(color, 2 / max(self.transform().m11(), 1e-3)))
        fill = QColor(color)
        fill.setAlpha(40)
        painter.setBrush(QBrush(fill))
        painter.drawRect(visible)

    def mousePressEvent(self, e):
        self.main.centerOn(self.mapToScene(e.position().toPoint()))
        self.viewport().update()


class LockBanner(QLabel):
    """Over the canvas while the document is locked (a training run uses the graph): why."""

    def __init__(self, doc, view: QGraphicsView):
        super().__init__(view.viewport())
        self.doc = doc
        self.setStyleSheet("background: #fff3cd; color: #5d4200; border: 1px solid "
                           "#e0c060; border-radius: 4px; padding: 4px 10px;")
        self.hide()
        doc.lockChanged.connect(self._lock_changed)

    def _lock_changed(self, locked: bool) -> None:
        self.setText(self.doc.lock_reason)
        self.adjustSize()
        self.move(12, 10)
        self.setVisible(locked)
