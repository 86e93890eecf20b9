"""Widgets that never force their container to grow: a label that elides its text, and a
scroll area / tab widget whose pages scroll when the dock is smaller than they would like.

A dock's minimum size is its content's minimum size hint; one long status line or one tall
form used to set the window's minimum height (1222 px: taller than the screen)."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSizePolicy, QTabWidget, QWidget


class ElidedLabel(QLabel):
    """One line of plain text, cut with "…" to the width it is given; the whole text is its
    tooltip. Its minimum width is small, so a long status never widens a dock."""

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(text)
        self.setToolTip(text if text else "")
        self.update()

    def minimumSizeHint(self) -> QSize:
        return QSize(20, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:
        return QSize(min(super().sizeHint().width(), 240), super().sizeHint().height())

    def elided_text(self) -> str:
        width = self.contentsRect().width()
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, width)

    def is_elided(self) -> bool:
        return self.elided_text() != self.text()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setPen(self.palette().color(self.foregroundRole()))
        p.drawText(self.contentsRect(), int(self.alignment()) | Qt.AlignmentFlag.AlignVCenter,
                   self.elided_text())
        p.end()


def scrollable(widget: QWidget) -> QScrollArea:
    """`widget` in a frameless scroll area: it fills the area when there is room and
    scrolls when there is not, instead of pushing the window's minimum size up."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(widget)
    area.setMinimumSize(80, 60)
    return area


class ScrollingTabs(QTabWidget):
    """A tab widget whose pages scroll when it is small. Callers still speak of the pages
    themselves: widget(), currentWidget(), indexOf() and setCurrentWidget() see through the
    scroll areas."""

    def addTab(self, widget: QWidget, title: str) -> int:  # noqa: N802
        return super().addTab(scrollable(widget), title)

    def widget(self, index: int) -> QWidget | None:
        area = super().widget(index)
        return area.widget() if isinstance(area, QScrollArea) else area

    def currentWidget(self) -> QWidget | None:  # noqa: N802
        return self.widget(self.currentIndex())

    def indexOf(self, widget: QWidget) -> int:  # noqa: N802
        for i in range(self.count()):
            if self.widget(i) is widget:
                return i
        return super().indexOf(widget)

    def setCurrentWidget(self, widget: QWidget) -> None:  # noqa: N802
        i = self.indexOf(widget)
        if i >= 0:
            self.setCurrentIndex(i)
