"""Ctrl-C on the command line as a request, not a crash: a long command installs its own
SIGINT handler for its duration (only the main thread may) and restores the old one after."""
from __future__ import annotations

import signal
import threading


class CtrlC:
    """A context manager; subclasses say what Ctrl-C does in `_handler(signum, frame)`."""

    old = None

    def _handler(self, signum, frame):  # pragma: no cover - always overridden
        raise KeyboardInterrupt

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.old = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGINT, self.old)
