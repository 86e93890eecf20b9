"""What outlives a window: the recent-files list and the crash-recovery copy of unsaved work.

Both live in `state_dir()` (NETBUILDER_STATE_DIR overrides it, e.g. for tests). The window
asks the questions (restore? which file?); this module only reads and writes the files.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QStandardPaths

from ...core.files import atomic_write
from ...core.project import Project, ProjectError, parse_project

MAX_RECENT = 8


def state_dir() -> Path:
    """Where recent files and the crash-recovery copy live (overridable for tests)."""
    base = os.environ.get("NETBUILDER_STATE_DIR") or QStandardPaths.writableLocation(
        QStandardPaths.AppLocalDataLocation) or str(Path.home() / ".netbuilder")
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def recent_files(limit: int = MAX_RECENT) -> list[str]:
    try:
        data = json.loads((state_dir() / "recent.json").read_text())
        return [p for p in data if isinstance(p, str)][:limit]
    except (OSError, ValueError):
        return []


def add_recent(path: Path, limit: int = MAX_RECENT) -> None:
    """Put `path` first in the recent list (a failed write only loses the list)."""
    items = [str(path.resolve())] + [p for p in recent_files(limit) if p != str(path.resolve())]
    try:
        atomic_write(state_dir() / "recent.json", json.dumps(items[:limit]))
    except OSError:
        pass


def recovery_path() -> Path:
    return state_dir() / "recovery.json"


def write_recovery(project: Project, path: Path | None) -> None:
    """A copy of unsaved work, replaced atomically (a crash mid-write keeps the old one)."""
    data = {"path": str(path) if path else None, "project": project.to_dict()}
    try:
        text = json.dumps(data)
        atomic_write(recovery_path(), text)  # fsync + rename, follows the umask
    except OSError:
        pass


def clear_recovery() -> None:
    try:
        recovery_path().unlink()
    except FileNotFoundError:
        pass


def read_recovery() -> tuple[Project, Path | None] | None:
    """The recovered (project, its file or None); None when there is none. A copy that does
    not parse is deleted."""
    path = recovery_path()
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        project = parse_project(json.dumps(data["project"]), "recovered project")
    except (OSError, ValueError, KeyError, TypeError, ProjectError):
        clear_recovery()
        return None
    return project, (Path(data["path"]) if data.get("path") else None)
