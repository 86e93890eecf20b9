"""Run a function off the UI thread and get its result back on it."""
from __future__ import annotations

import threading
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal



class Background(QObject):
    """Run a function in a Python thread; `done(token, result, error)` arrives on the UI
    thread. A newer `run` makes older results stale: their token is no longer `token`."""

    done = Signal(int, object, object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.token = 0
        self.threads: list[threading.Thread] = []

    def run(self, fn: Callable[[], Any]) -> int:
        self.token += 1
        token = self.token

        def work():
            try:
                result, error = fn(), None
            except Exception as e:  # noqa: BLE001 (shown to the user)
                result, error = None, e
            try:
                self.done.emit(token, result, error)
            except RuntimeError:  # the owner (its window) was deleted meanwhile: no one to tell
                pass
        t = threading.Thread(target=work, daemon=True, name="netbuilder-background")
        self.threads = [x for x in self.threads if x.is_alive()] + [t]
        t.start()
        return token

    @property
    def busy(self) -> bool:
        return any(t.is_alive() for t in self.threads)

    def wait(self, timeout: float = 30.0) -> None:
        for t in self.threads:
            t.join(timeout)
