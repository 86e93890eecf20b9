"""Widgets that never force their container to grow: a label that elides its text, and a
scroll area / tab widget whose pages scroll when the dock is smaller than they would like.

A dock's minimum size is its content's minimum size hint; one long status line or one tall
form used to set the window's minimum height (1222 px: taller than the screen)."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (QComboBox, QFrame, QLabel, QScrollArea, QSizePolicy, QStyle,
                               QStyleOptionComboBox, QStylePainter, QTabWidget, QWidget)


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


class FittingCombo(QComboBox):
    """A combo box as wide as its current choice, up to `max_chars` average characters; a
    longer choice is elided with "…" (a plain QComboBox cuts it, and with AdjustToContents
    its minimum stays what it was while the list was empty). The list opens wider."""

    def __init__(self, max_chars: int = 24, parent: QWidget | None = None):
        super().__init__(parent)
        self.max_chars = max_chars
        self.currentIndexChanged.connect(lambda *_: self.updateGeometry())

    def _width_for(self, text: str) -> int:
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        fm = self.fontMetrics()
        cap = fm.averageCharWidth() * self.max_chars
        size = QSize(min(fm.horizontalAdvance(text), cap) + 2, fm.height())
        return self.style().sizeFromContents(QStyle.ContentsType.CT_ComboBox, opt, size,
                                             self).width()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        hint = super().minimumSizeHint()
        return QSize(max(hint.width(), self._width_for(self.currentText())), hint.height())

    def sizeHint(self) -> QSize:  # noqa: N802 (the choice shown, not the longest one)
        return QSize(self.minimumSizeHint().width(), super().sizeHint().height())

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QStylePainter(self)
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        field = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt,
                                            QStyle.SubControl.SC_ComboBoxEditField, self)
        opt.currentText = self.fontMetrics().elidedText(
            opt.currentText, Qt.TextElideMode.ElideRight, field.width() - 2)
        p.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, opt)
        p.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, opt)

    def shown_text(self) -> str:
        """The text as painted (elided when the box is narrower than its choice)."""
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        field = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt,
                                            QStyle.SubControl.SC_ComboBoxEditField, self)
        return self.fontMetrics().elidedText(self.currentText(),
                                             Qt.TextElideMode.ElideRight, field.width() - 2)


class WidthFittingScroll(QScrollArea):
    """A vertically scrolling column (no horizontal scroll bar) at least as wide as its
    content's minimum plus the scroll bar: a fixed minimum cut the content's right edge off
    when a form or table needed more in the font in use."""

    def __init__(self, widget: QWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(widget)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        hint = super().minimumSizeHint()
        inner = self.widget().minimumSizeHint().width() if self.widget() else 0
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        return QSize(inner + bar + 2 * self.frameWidth(), hint.height())

    def viewportEvent(self, e) -> bool:  # noqa: N802
        if e.type() == e.Type.LayoutRequest:  # the content's minimum may have changed
            self.updateGeometry()
        return super().viewportEvent(e)


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
