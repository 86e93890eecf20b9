"""Where netbuilder may keep derived files (image-folder indexes) and how much memory decoded
data may take (no torch, no Qt)."""
from __future__ import annotations

import os
from pathlib import Path

from ..core.registry import FLOAT, Param

DEFAULT_RAM_SHARE = 0.25  # a dataset may keep this share of the machine's memory decoded
# The option of every dataset that chooses between in memory and streamed (memory_budget).
MEMORY = Param("memory_mb", FLOAT, 0.0, "how much memory the decoded data may take, in MB; "
               "a larger set is streamed from disk (0: a quarter of this computer's memory)",
               min=0.0, max=1e7)


class Cancelled(Exception):
    """A scan or load stopped because the person asked it to."""


def cache_dir(kind: str) -> Path:
    """NETBUILDER_CACHE_DIR (tests set it), else $XDG_CACHE_HOME/netbuilder, else
    ~/.cache/netbuilder; `kind` is a sub-folder. Never inside the user's data."""
    base = os.environ.get("NETBUILDER_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
        base = os.path.join(os.path.expanduser(xdg), "netbuilder")
    return Path(base) / kind


def total_ram_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: assume 8 GiB
        return 8 << 30


def memory_budget(option_mb: int) -> int:
    """Bytes a dataset may keep decoded in memory: the option memory_mb, or 0 for
    DEFAULT_RAM_SHARE of this machine's memory."""
    if option_mb and option_mb > 0:
        return int(option_mb * (1 << 20))  # a fraction of a MB too (tests)
    return int(total_ram_bytes() * DEFAULT_RAM_SHARE)


def loader_workers() -> int:
    """DataLoader worker processes for decoding: one per core, at most 4 (decoding small
    images beyond that is limited by the training process collecting the batches)."""
    return max(1, min(4, os.cpu_count() or 1))


class ConsoleProgress:
    """progress(message, fraction) for the CLI: one line rewritten in place on a terminal,
    a line every few seconds otherwise (logs stay short); nothing for loads under a second."""

    def __init__(self, stream=None, quiet_s: float = 1.0, every_s: float = 5.0):
        import sys
        import time

        self.stream = stream or sys.stderr
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self.clock = time.perf_counter
        self.start, self.last = self.clock(), float("-inf")
        self.quiet_s, self.every_s, self.shown = quiet_s, every_s, False

    def __call__(self, message: str, fraction: float | None = None) -> None:
        now = self.clock()
        if now - self.start < self.quiet_s or now - self.last < (0.2 if self.tty else
                                                                 self.every_s):
            return
        self.last = now
        pct = f" ({100 * fraction:.0f}%)" if fraction is not None else ""
        line = f"{message}{pct}"
        if self.tty:
            self.stream.write("\r" + line[:110].ljust(110))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown and self.tty:
            self.stream.write("\r" + " " * 110 + "\r")
            self.stream.flush()
