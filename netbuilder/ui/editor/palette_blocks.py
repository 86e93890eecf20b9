"""The palette's "Blocks" category: this project's own block definitions (kept current from
the library's events) and the classic blocks of the course (core/block_library.py).

An entry carries a payload, (DEFINITION, name) or (CLASSIC, kind); dragging it onto the
canvas or double-clicking it adds a Block node (a classic is defined first, in the same
undo step). The payload travels as MIME_BLOCK, "definition:Name" or "classic:kind".
"""
from __future__ import annotations

from PySide6.QtCore import QMimeData, QObject, Qt, Signal
from PySide6.QtWidgets import QInputDialog, QMenu, QTreeWidgetItem

from ...core.block_library import CLASSICS
from ...core.blocks import BLOCK, BlockError
from ..document.block_commands import DeleteBlock, RenameBlock
from ..widgets import theme

MIME_BLOCK = "application/x-netbuilder-block"
TYPE_ROLE = Qt.ItemDataRole.UserRole  # palette.TYPE_ROLE (palette.py imports this module)
BLOCK_ROLE = Qt.ItemDataRole.UserRole + 1  # the payload of a block entry
DEFINITION, CLASSIC = "definition", "classic"
HEADING = "Blocks"


def block_mime(payload: tuple[str, str]) -> QMimeData:
    mime = QMimeData()
    mime.setData(MIME_BLOCK, f"{payload[0]}:{payload[1]}".encode("utf-8"))
    mime.setText(payload[1])
    return mime


def block_from_mime(mime: QMimeData) -> tuple[str, str] | None:
    if not mime.hasFormat(MIME_BLOCK):
        return None
    kind, _, value = bytes(mime.data(MIME_BLOCK)).decode("utf-8", "replace").partition(":")
    if kind == CLASSIC and value in CLASSICS or kind == DEFINITION and value:
        return kind, value
    return None


def payload_of(item: QTreeWidgetItem | None) -> tuple[str, str] | None:
    data = item.data(0, BLOCK_ROLE) if item is not None else None
    return tuple(data) if data else None


class PaletteBlocks(QObject):
    """Fills the palette's Blocks heading and keeps the project's part of it current; a
    project entry's context menu opens, renames or deletes its definition (undoable)."""

    message = Signal(str)  # an action that could not be done, and why

    def __init__(self, palette, doc):
        super().__init__(palette)
        self.palette, self.doc = palette, doc
        self.head = self._heading()
        self.own: list[QTreeWidgetItem] = []  # this project's definitions
        self.icon_own = theme.dot_icon(theme.category_colour(HEADING), 10)
        self.icon_classic = theme.dot_icon(theme.muted_colour(), 10)
        for kind, classic in CLASSICS.items():
            self._entry(classic.title, (CLASSIC, kind),
                        f"Classic block — {classic.doc}. Adding it defines it in this "
                        f"project, where you can open and edit it.", self.icon_classic)
        self._lib = None
        self.ask_name = lambda parent, title, label, text: QInputDialog.getText(
            parent, title, label, text=text)  # replaced in tests
        tree = palette.tree
        tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        tree.customContextMenuRequested.connect(self._context_menu)
        doc.projectReplaced.connect(self._attach)
        self._attach()

    def _heading(self) -> QTreeWidgetItem:
        tree = self.palette.tree
        for i in range(tree.topLevelItemCount()):
            if tree.topLevelItem(i).text(0) == HEADING:
                return tree.topLevelItem(i)
        head = QTreeWidgetItem([HEADING])
        head.setFlags(Qt.ItemFlag.ItemIsEnabled)
        tree.addTopLevelItem(head)
        head.setExpanded(True)
        return head

    def _entry(self, text, payload, tip, icon, index: int | None = None) -> QTreeWidgetItem:
        item = QTreeWidgetItem([text])
        if index is None:
            self.head.addChild(item)
        else:
            self.head.insertChild(index, item)
        item.setData(0, TYPE_ROLE, BLOCK)  # a Block node, for search and help
        item.setData(0, BLOCK_ROLE, list(payload))
        item.setToolTip(0, tip)
        item.setIcon(0, icon)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                      | Qt.ItemFlag.ItemIsDragEnabled)
        return item

    def _attach(self) -> None:
        lib = self.doc.graph.blocks
        if lib is not self._lib:
            if self._lib is not None:
                ev = self._lib.events
                for sig in (ev.defined, ev.removed, ev.renamed):
                    sig.disconnect(self.refresh)
            self._lib = lib
            for sig in (lib.events.defined, lib.events.removed, lib.events.renamed):
                sig.connect(self.refresh)
        self.refresh()

    def refresh(self, *_) -> None:
        """Rebuild the project's entries from the library (a handful of names); they come
        after the Block, BlockInput and BlockOutput types, before the classics."""
        for item in self.own:
            self.head.removeChild(item)
        lib = self.doc.graph.blocks
        at = sum(1 for i in range(self.head.childCount())
                 if payload_of(self.head.child(i)) is None)
        self.own = []
        for name in sorted(lib.names(), key=str.lower):
            self.own.append(self._entry(
                name, (DEFINITION, name),
                f"Block {name!r} of this project: double-click or drag to add an instance; "
                f"right-click to open, rename or delete it.", self.icon_own,
                at + len(self.own)))
        if self.palette.search.text():
            self.palette.set_filter(self.palette.search.text())

    # ---- a project entry's menu ---------------------------------------------------------------

    def _context_menu(self, pos) -> None:
        item = self.palette.tree.itemAt(pos)
        payload = payload_of(item)
        if not payload or payload[0] != DEFINITION:
            return
        menu = QMenu(self.palette)
        for text, slot in self.menu_actions(payload[1]):
            menu.addAction(text, slot)
        menu.exec(self.palette.tree.viewport().mapToGlobal(pos))

    def menu_actions(self, name: str) -> list:
        return [("Open", lambda: self.open(name)), ("Rename…", lambda: self.rename(name)),
                ("Delete", lambda: self.delete(name))]

    def open(self, name: str) -> None:
        lib = self.doc.graph.blocks
        if name in lib:
            self.doc.levels.show_graph(lib[name])

    def rename(self, name: str, new: str | None = None) -> bool:
        if new is None:
            new, ok = self.ask_name(self.palette.window(), "Rename block", "New name:", name)
            if not ok:
                return False
        new = new.strip()
        if new == name:
            return False
        try:
            self.doc.undo_stack.push(RenameBlock(self.doc.graph, name, new))
        except BlockError as e:
            self.message.emit(str(e)[:1].upper() + str(e)[1:])
            return False
        return True

    def delete(self, name: str) -> bool:
        try:
            self.doc.undo_stack.push(DeleteBlock(self.doc.graph, name))
        except BlockError as e:
            self.message.emit(str(e)[:1].upper() + str(e)[1:])
            return False
        return True

    def names(self) -> list[str]:
        return [item.text(0) for item in self.own]

    def classic_titles(self) -> list[str]:
        return [self.head.child(i).text(0) for i in range(self.head.childCount())
                if (payload_of(self.head.child(i)) or ("",))[0] == CLASSIC]
