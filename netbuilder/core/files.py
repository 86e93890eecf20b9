"""Writing files so that nothing is lost: atomic replacement, room checks, and messages for
the errors of the environment (full disk, no permission) that name the path.

Every netbuilder write that must not be half-done (project saves, the editor's recovery
copy, checkpoint files, exports) goes through `write_bytes` or `atomic_write`: the bytes
are written to a temporary file in the target's folder, flushed to the disk, and renamed
over the target in one step, so a reader sees the old file or the new one, never a part.
The temporary file follows the umask like any other file (mkstemp alone makes 0600).
No Qt, no torch: the editor, the trainer and the exporters all use it.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from pathlib import Path


class DiskError(OSError):
    """A write the environment refused; str() is a message for a person naming the path."""

    def __init__(self, message: str, errno_: int | None = None, path=None):
        super().__init__(errno_, message)
        self.message = message
        self.path = Path(path) if path is not None else None  # the file being written

    @property
    def temporary(self) -> bool:
        """The failed write was to a hidden temporary file or folder (name the target)."""
        return self.path is not None and any(
            p.startswith(".") and (".partial" in p or p.endswith(".tmp"))
            for p in self.path.parts)

    def __str__(self) -> str:
        return self.message


def size(n: float) -> str:
    """1.2 MiB, 340.0 KiB, 1000 bytes."""
    for unit, k in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= k:
            return f"{n / k:.1f} {unit}"
    return f"{int(n)} bytes"


def reword(e: OSError, path: str | os.PathLike, needed: int | None = None) -> "DiskError":
    """`e` again, explained for `path` (the file the user named, not a temporary one)."""
    code = getattr(e, "errno", None)
    plain = OSError(code, os.strerror(code)) if code else e
    return DiskError(explain(plain, path, needed), code)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def explain(e: OSError, path: str | os.PathLike, needed: int | None = None) -> str:
    """`e` (raised while writing `path`) as a sentence that says what to do."""
    path = Path(path)
    code = getattr(e, "errno", None)
    if isinstance(e, DiskError):
        return e.message
    if code in (errno.ENOSPC, errno.EDQUOT):
        where = _mount_of(path)
        need = f": {size(needed)} needed" if needed else ""
        return (f"no space left on {where}{need} (while writing {path}); free some space "
                f"or choose another location")
    if code in (errno.EACCES, errno.EPERM):
        return (f"{path}: permission denied; choose a folder you can write to, or change "
                f"its permissions")
    if code == errno.EROFS:
        return f"{path}: the file system is read-only; choose another location"
    if code == errno.ENOTDIR:
        blocker = next((p for p in Path(os.path.abspath(path)).parents
                        if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            return (f"{blocker}: is a file, not a folder, so {path} cannot be made; "
                    f"choose another location")
        return f"{path}: a part of this path is a file, not a folder"
    if code == errno.EISDIR:
        return f"{path}: is a folder; give a file name"
    if code == errno.ENOENT:
        return f"{path}: the folder does not exist"
    return f"{path}: cannot write ({e.strerror or e})"


def _mount_of(path: Path) -> Path:
    p = Path(os.path.abspath(path))
    while not p.exists() and p != p.parent:
        p = p.parent
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return p


def free_bytes(path: str | os.PathLike) -> int | None:
    p = Path(os.path.abspath(path))
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def check_room(folder: str | os.PathLike, needed: int, what: str) -> None:
    """Raise DiskError unless `folder` is (or can become) a writable folder with `needed`
    bytes free. Called before long work, so a full disk is found before it, not after."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise DiskError(f"{folder}: is a file, not a folder; choose a folder for {what}",
                        errno.ENOTDIR) from None
    except OSError as e:
        raise DiskError(explain(e, folder), e.errno) from None
    if not folder.is_dir():
        raise DiskError(f"{folder}: is not a folder; choose a folder for {what}",
                        errno.ENOTDIR)
    try:
        fd, probe = tempfile.mkstemp(prefix=".netbuilder-write-check-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise DiskError(explain(e, folder), e.errno) from None
    free = free_bytes(folder)
    if free is not None and free < needed:
        raise DiskError(f"no space left on {_mount_of(folder)}: {size(needed)} needed for "
                        f"{what}, {size(free)} free; free some space or choose another "
                        f"location", errno.ENOSPC)


def temp_prefix(target: Path) -> str:
    """The name of temporary files staged for `target` carries the writer's process id,
    so leftovers of a killed writer can be told from the files of one still running."""
    return f".{target.name}.{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but not ours to signal
        return True
    return True


def remove_leftovers(target: Path, suffix: str) -> list[Path]:
    """Remove what a killed writer staged for `target` (temp_prefix ... suffix): the
    "next start" clean-up of interrupted saves and exports."""
    target = Path(target)
    removed = []
    pat = re.compile(rf"^\.{re.escape(target.name)}\.(\d+)-.*{re.escape(suffix)}(\..*)?$")
    with contextlib.suppress(OSError):
        for p in target.parent.iterdir():
            m = pat.match(p.name)
            if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        p.unlink()
                removed.append(p)
    return removed


def write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written (the one primitive fault tests break)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def write_bytes(path: str | os.PathLike, data: bytes, *, mode: int = 0o666) -> None:
    """Create or truncate `path` and write `data`, flushed to the disk. Not atomic by
    itself: use it inside a folder nobody reads yet, or use atomic_write. A failure
    removes the partial file and raises DiskError naming the path."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    except OSError as e:
        raise DiskError(explain(e, path, len(data)), e.errno, path) from None
    try:
        write_all(fd, data)
        os.fsync(fd)
    except OSError as e:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise DiskError(explain(e, path, len(data)), e.errno, path) from None
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a rename in `folder` durable (not possible on every system: best effort)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: str | os.PathLike, data: bytes | str) -> None:
    """Replace `path` with `data` in one step: readers see the old or the new content,
    and a failure (full disk, no permission, a kill) leaves the old file as it was and no
    temporary file. The new file gets the umask's permissions, like `open()` gives."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if path.is_dir():
        raise DiskError(f"{path}: is a folder; give a file name", errno.EISDIR)
    remove_leftovers(path, ".tmp")
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise DiskError(explain(e, path, len(data)), e.errno, path) from None
    try:
        try:
            os.fchmod(fd, 0o666 & ~_umask())
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise DiskError(explain(e, path, len(data)), e.errno, path) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
