"""Copy, cut, paste and duplicate of canvas nodes through the system clipboard.

The clipboard carries the nodes as JSON (our own MIME type, plus plain text for other
programs); pasting goes through an undo command on the level the canvas shows (the top
graph or an opened block), like every other edit.
"""
from __future__ import annotations

import json

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication

from ..document import commands

NODES_MIME = "application/x-netbuilder-nodes"


def release_clipboard() -> None:
    """Drop netbuilder's own clipboard data before Qt shuts down: QMimeData handed to the
    clipboard from Python is otherwise deleted twice at exit (a crash on quit)."""
    app = QGuiApplication.instance()
    if app is not None:
        md = app.clipboard().mimeData()
        if md is not None and md.hasFormat(NODES_MIME):
            app.clipboard().clear()


class NodeClipboard:
    """The Edit menu's clipboard actions for one canvas; `say` shows a refusal."""

    def __init__(self, canvas, doc, say):
        self.canvas, self.doc, self.say = canvas, doc, say

    def copy(self) -> None:
        ids = self.canvas.selected_node_ids()
        if not ids:
            return
        data = commands.clipboard_data(self.canvas.graph, ids)
        md = QMimeData()
        md.setData(NODES_MIME, json.dumps(data).encode("utf-8"))
        md.setText(json.dumps(data, indent=1))
        QGuiApplication.clipboard().setMimeData(md)

    def cut(self) -> None:
        self.copy()
        self.canvas.delete_selection()

    def paste(self) -> list[str]:
        md = QGuiApplication.clipboard().mimeData()
        if md is None or not md.hasFormat(NODES_MIME):
            return []
        try:
            data = json.loads(bytes(md.data(NODES_MIME)).decode("utf-8"))
            cmd, ids = commands.paste(self.canvas.graph, data)
        except (ValueError, KeyError, TypeError) as e:
            self.say(f"Cannot paste: {e}")
            return []
        self.doc.undo_stack.push(cmd)
        self.canvas.select_nodes(ids)
        return ids

    def duplicate(self) -> list[str]:
        ids = self.canvas.selected_node_ids()
        if not ids:
            return []
        graph = self.canvas.graph  # the shown level: the top graph or an opened block
        cmd, new = commands.paste(graph, commands.clipboard_data(graph, ids))
        cmd.setText("Duplicate")
        self.doc.undo_stack.push(cmd)
        self.canvas.select_nodes(new)
        return new
